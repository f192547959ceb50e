"""Charge each operation's cost to its principal's budget; refuse it when spent.

Runs in ``on_validate`` after ``cost``: an operation over budget is refused
before anything runs with code ``RATE_LIMITED``, the points left and the seconds
to wait in ``extensions``; over HTTP the response is a 429 with ``Retry-After``
(set on the context's response, which Strawberry's view copies into the real
one). Over a websocket there is no status: the error alone says it. Refused
and invalid operations are not charged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

from graphql import GraphQLError
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from gateway.auth.principal import PrincipalKind
from gateway.limits.budget import Rate


def budget_check(default: Rate, per_token: Mapping[str, Rate]) -> Callable[[], SchemaExtension]:
    """An extension factory (a fresh instance per operation)."""

    class BudgetCheck(SchemaExtension):
        async def on_validate(self) -> AsyncIterator[None]:
            context = self.execution_context
            cost = context.extensions_results.get("cost")
            request_context = context.context
            resources = getattr(request_context, "resources", None)
            buckets = getattr(resources, "budgets", None)
            if buckets is not None and cost is not None and not context.pre_execution_errors:
                key, rate = _bucket_of(request_context, default, per_token)
                decision = await buckets.charge(key, max(1, cost["requested"]), rate)
                cost["budget"] = {"remaining": int(decision.remaining), "burst": int(rate.burst)}
                if not decision.allowed:
                    context.pre_execution_errors = [
                        _rate_limited(decision.remaining, decision.retry_after)
                    ]
                    response = getattr(request_context, "response", None)
                    if isinstance(response, Response):
                        response.status_code = 429
                        response.headers["Retry-After"] = str(decision.retry_after)
            yield

    return BudgetCheck


def _bucket_of(
    request_context: object, default: Rate, per_token: Mapping[str, Rate]
) -> tuple[str, Rate]:
    """Users by subject, service tokens by name (with their own rate if configured),
    anonymous callers by client address."""
    principal = getattr(request_context, "principal", None)
    if principal is None or principal.kind is PrincipalKind.ANONYMOUS:
        request = getattr(request_context, "request", None)
        client = getattr(request, "client", None)
        return f"anonymous:{client.host if client else 'unknown'}", default
    if principal.kind is PrincipalKind.SERVICE:
        return f"service:{principal.subject}", per_token.get(principal.subject, default)
    return f"user:{principal.subject}", default


def _rate_limited(remaining: float, retry_after: int) -> GraphQLError:
    return GraphQLError(
        f"Query budget spent: retry in {retry_after} s, or ask for less.",
        extensions={
            "code": "RATE_LIMITED",
            "remaining": int(remaining),
            "retryAfter": retry_after,
        },
    )
