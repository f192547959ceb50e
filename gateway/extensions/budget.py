"""Charge each operation's cost to its principal's budget; refuse it when spent.

Runs in ``on_validate`` after ``cost``: an operation over budget is refused
before anything runs with code ``RATE_LIMITED``, the points left and the seconds
to wait in ``extensions`` (and until those seconds pass, the principal's next
requests are refused on arrival, unparsed: ``standing_refusal``); over HTTP
the response is a 429 with ``Retry-After`` (set on the context's response,
which Strawberry's view copies into the real one). Over a websocket there is
no status: the error alone says it. Refused and invalid operations are not
charged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

from graphql import GraphQLError
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from gateway.auth.principal import PrincipalKind
from gateway.limits.budget import Buckets, Decision, Rate


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
                key = bucket_key(request_context)
                rate = _rate_of(request_context, default, per_token)
                decision = await buckets.charge(key, max(1, cost["requested"]), rate)
                cost["budget"] = {"remaining": int(decision.remaining), "burst": int(rate.burst)}
                if not decision.allowed:
                    buckets.refusals.note(key, decision)
                    context.pre_execution_errors = [refusal(decision, request_context)]
            yield

    return BudgetCheck


def bucket_key(request_context: object) -> str:
    """Users by subject, service tokens by name, anonymous callers by client address."""
    principal = getattr(request_context, "principal", None)
    if principal is None or principal.kind is PrincipalKind.ANONYMOUS:
        request = getattr(request_context, "request", None)
        client = getattr(request, "client", None)
        return f"anonymous:{client.host if client else 'unknown'}"
    if principal.kind is PrincipalKind.SERVICE:
        return f"service:{principal.subject}"
    return f"user:{principal.subject}"


def _rate_of(request_context: object, default: Rate, per_token: Mapping[str, Rate]) -> Rate:
    """A service token's own rate if configured, else the default."""
    principal = getattr(request_context, "principal", None)
    if principal is not None and principal.kind is PrincipalKind.SERVICE:
        return per_token.get(principal.subject, default)
    return default


def refusal(decision: Decision, request_context: object) -> GraphQLError:
    """RATE_LIMITED; over HTTP also the 429 and its Retry-After."""
    response = getattr(request_context, "response", None)
    if isinstance(response, Response):
        response.status_code = 429
        response.headers["Retry-After"] = str(decision.retry_after)
    return _rate_limited(decision.remaining, decision.retry_after)


def _rate_limited(remaining: float, retry_after: int) -> GraphQLError:
    return GraphQLError(
        f"Query budget spent: retry in {retry_after} s, or ask for less.",
        extensions={
            "code": "RATE_LIMITED",
            "remaining": int(remaining),
            "retryAfter": retry_after,
        },
    )


def standing_refusal(buckets: Buckets | None, request_context: object) -> GraphQLError | None:
    """The refusal a principal told to wait is still under, if any (nothing parsed yet)."""
    if buckets is None:
        return None
    decision = buckets.refusals.check(bucket_key(request_context))
    return None if decision is None else refusal(decision, request_context)
