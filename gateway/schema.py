"""Assemble the schema from the domain modules, with the limits every request gets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from gateway.config import Settings
from gateway.extensions.error_codes import ErrorCodes
from gateway.extensions.page_size import max_page_size
from resolvers.cards_write import CardMutation
from resolvers.catalog import CatalogQuery
from resolvers.lineage import LineageMutation, LineageQuery
from resolvers.metrics_query import MetricsMutation, MetricsQuery
from resolvers.models_query import ModelQuery
from resolvers.node import NodeQuery
from resolvers.operations import OperationsQuery
from resolvers.pipelines_query import PipelineMutation, PipelineQuery, PipelineSubscription
from resolvers.scalars import SCALAR_OVERRIDES


@strawberry.type(description="Everything a portal page, an analyst or an audit job can read.")
class Query(
    NodeQuery,
    OperationsQuery,
    CatalogQuery,
    PipelineQuery,
    MetricsQuery,
    ModelQuery,
    LineageQuery,
):
    pass


@strawberry.type(description="Writes: pushed runs, metrics, model cards, lineage.")
class Mutation(PipelineMutation, MetricsMutation, CardMutation, LineageMutation):
    pass


@strawberry.type(description="Live updates over graphql-transport-ws.")
class Subscription(PipelineSubscription):
    pass


def extensions_for(settings: Settings) -> list[type[SchemaExtension] | Callable[[], Any]]:
    """Factories, so every operation gets fresh extension instances."""
    return [
        # ErrorCodes first: its on_operation wraps the others and sees their errors.
        ErrorCodes,
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: QueryDepthLimiter(max_depth=settings.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        max_page_size(settings.max_page_size),
        # No ParserCache: it parses in on_parse's set-up, where a syntax error escapes
        # every extension's on_operation and would reach the client without a code.
        lambda: ValidationCache(maxsize=512),
    ]


def build_schema(settings: Settings, query: type = Query) -> strawberry.Schema:
    full = query is Query
    return strawberry.Schema(
        query=query,
        mutation=Mutation if full else None,
        subscription=Subscription if full else None,
        extensions=extensions_for(settings),
        scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
    )


# The schema with default limits, for `strawberry export-schema gateway.schema:schema`.
schema = build_schema(Settings())
