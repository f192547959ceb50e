"""Refuse an oversized document before graphql-core validates it.

Runs in ``on_validate`` ahead of validation: when it sets
``pre_execution_errors``, Strawberry skips validation (and so does
``validation.GuardedValidationCache``), for queries, mutations and
subscriptions alike, as all of them are prepared by the same code. The
measuring is linear in the document's text (``gateway.limits.document``), so a
refusal takes milliseconds whatever the document's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gateway.limits.document import Measures, measure


@dataclass(frozen=True)
class DocumentLimits:
    depth: int
    aliases: int
    selections: int
    expanded: int

    def refusals(self, measures: Measures) -> list[GraphQLError]:
        checks = [
            ("selections", measures.selections, self.selections,
             "The document has {actual} selections; at most {limit} are allowed."),
            ("expanded", measures.expanded, self.expanded,
             "The document expands to {actual} fields once its fragments are spread; "
             "at most {limit} are allowed."),
            ("depth", measures.depth, self.depth,
             "The operation's depth is {actual}, which exceeds the maximum operation "
             "depth of {limit}."),
            ("aliases", measures.aliases, self.aliases,
             "The document has {actual} aliases (counted where fragments are spread); "
             "at most {limit} are allowed."),
        ]  # fmt: skip
        return [
            GraphQLError(
                message.format(actual=actual, limit=limit),
                extensions={
                    "code": "QUERY_TOO_COMPLEX",
                    "measure": name,
                    "limit": limit,
                    "actual": actual,
                },
            )
            for name, actual, limit, message in checks
            if actual > limit
        ]


def document_limits(limits: DocumentLimits) -> Callable[[], SchemaExtension]:
    """An extension factory (a fresh instance per operation) enforcing ``limits``."""

    class DocumentLimitsExtension(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            document = context.graphql_document
            if document is not None and not context.pre_execution_errors:
                refusals = limits.refusals(measure(document))
                if refusals:
                    context.pre_execution_errors = refusals
            yield

    return DocumentLimitsExtension
