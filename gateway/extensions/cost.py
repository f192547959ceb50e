"""Static cost analysis: refuse an operation over the cost limit before anything runs.

Runs in ``on_validate`` right after validation (``GuardedValidationCache`` has set
``pre_execution_errors`` to ``[]`` for a valid document), so a refused operation
calls no upstream, over HTTP and over websockets alike. The same walk refuses
any `first`/`last` over the page size. Every response to a valid document carries
``extensions.cost = {"requested": N, "limit": L}``; there is no "actual": counting
what was really resolved would need a second walk of the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gateway.limits.cost import operation_cost


def cost_limit(max_cost: int, max_page_size: int) -> Callable[[], SchemaExtension]:
    """An extension factory (a fresh instance per operation)."""

    class CostLimit(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            document = context.graphql_document
            if document is not None and not context.pre_execution_errors:
                cost = operation_cost(
                    context.schema._schema,
                    document.definitions,
                    context.variables,
                    context.operation_name,
                    max_page_size,
                )
                context.extensions_results["cost"] = {
                    "requested": cost.requested,
                    "limit": max_cost,
                }
                if cost.page_errors:
                    context.pre_execution_errors = cost.page_errors
                elif cost.requested > max_cost:
                    context.pre_execution_errors = [too_costly(cost.requested, max_cost)]
            yield

    return CostLimit


def too_costly(requested: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"The operation's cost is {requested}, over the limit of {limit}: ask for smaller "
        "pages, fewer nested lists, or split it (README: 'Errors and limits').",
        extensions={
            "code": "QUERY_TOO_COMPLEX",
            "measure": "cost",
            "cost": requested,
            "limit": limit,
            "actual": requested,
        },
    )
