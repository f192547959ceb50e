"""Assemble the schema from the domain modules, with the limits every request gets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import MaxTokensLimiter, SchemaExtension

from gateway.config import Settings
from gateway.extensions.budget import budget_check
from gateway.extensions.concurrency import concurrency_limit
from gateway.extensions.cost import cost_limit
from gateway.extensions.deadline import execution_deadline
from gateway.extensions.document_limits import DocumentLimits, document_limits
from gateway.extensions.error_codes import ErrorCodes
from gateway.extensions.introspection_cache import introspection_cache
from gateway.extensions.observe import ObserveOperation
from gateway.extensions.parse_cache import parse_cache
from gateway.extensions.stale import StaleReport
from gateway.extensions.validation import GuardedValidationCache
from gateway.federation import FederatedSchema, PlainSchema
from gateway.limits.budget import Rate
from gateway.limits.weights import annotate_costs
from gateway.partial_results import ReportingExecutor
from gateway.upstreams import annotate_sources
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
        # Outermost: times whole operations and counts errors as the client gets them.
        ObserveOperation,
        # ErrorCodes next: its on_operation wraps the others and sees their errors.
        ErrorCodes,
        # graphql-core's parser stops at max_tokens: linear, so it stays.
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        # A text parsed before is not parsed again (only texts that parsed are kept).
        parse_cache(),
        # The on_validate hooks run in this order, each only if nothing was refused yet:
        # bounded measuring, then graphql-core's validation, then cost, then budget.
        document_limits(
            DocumentLimits(
                depth=settings.max_depth,
                aliases=settings.max_aliases,
                selections=settings.max_selections,
                expanded=settings.max_expanded_selections,
            )
        ),
        lambda: GuardedValidationCache(maxsize=512),
        cost_limit(settings.max_cost, settings.max_page_size),
        budget_check(
            Rate(settings.budget_per_second, settings.budget_burst),
            {b.name: Rate(b.per_second, b.burst) for b in settings.service_token_budgets},
        ),
        *execution_bounds(settings),
        StaleReport,
        # Innermost on_execute: a cached introspection result skips only the execution.
        introspection_cache(),
    ]


def execution_bounds(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Limits on running operations; one at 0 is off and costs nothing per field."""
    bounds = []
    if settings.max_concurrent_operations > 0:
        bounds.append(concurrency_limit(settings.max_concurrent_operations))
    if settings.max_execution_seconds > 0:
        bounds.append(execution_deadline(settings.max_execution_seconds))
    return bounds


def build_schema(settings: Settings, query: type = Query) -> strawberry.Schema:
    full = query is Query
    # A subgraph (gateway.federation) or the plain schema: the same types and limits.
    schema_class = FederatedSchema if settings.federation else PlainSchema
    built = schema_class(
        query=query,
        mutation=Mutation if full else None,
        subscription=Subscription if full else None,
        extensions=extensions_for(settings),
        scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
        execution_context_class=ReportingExecutor,
    )
    annotate_sources(built._schema)
    annotate_costs(built._schema)
    return built


# The schema with default limits, for `strawberry export-schema gateway.schema:schema`.
schema = build_schema(Settings())
