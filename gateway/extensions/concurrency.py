"""At most N operations running at once per principal (``MLMETA_MAX_CONCURRENT_OPERATIONS``).

One caller firing many heavy requests in parallel must not take the whole
process from everyone else. Over the limit the operation is not executed: over
HTTP the answer is 429 with ``Retry-After: 1`` and code
``TOO_MANY_CONCURRENT_OPERATIONS`` (distinct from a spent budget: waiting for one
of your own requests to finish is enough); over a websocket the same error is
the operation's result.

The principal key is the user's subject, the service token's name, or for
anonymous callers their client address (so one anonymous client cannot lock
out all the others). Subscriptions are not counted: they last, and their events
are pushed at the server's pace, not the caller's.

The count is per process; with several workers or replicas each has its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from graphql import ExecutionResult, GraphQLError
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from gateway.auth.principal import PrincipalKind
from gateway.context import Context

CODE = "TOO_MANY_CONCURRENT_OPERATIONS"
RETRY_AFTER_SECONDS = 1


class OperationSlots:
    """Running operations per principal key; shared by all operations of a schema."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running: dict[str, int] = {}

    def acquire(self, key: str) -> bool:
        running = self._running.get(key, 0)
        if running >= self.limit:
            return False
        self._running[key] = running + 1
        return True

    def release(self, key: str) -> None:
        running = self._running.get(key, 0) - 1
        if running > 0:
            self._running[key] = running
        else:
            # Forget idle principals: the table holds only who is running now.
            self._running.pop(key, None)

    def running(self, key: str) -> int:
        return self._running.get(key, 0)


def principal_key(context: Context) -> str:
    principal = context.principal
    if principal.kind is PrincipalKind.ANONYMOUS:
        client = context.request.client if context.request is not None else None
        return f"anonymous@{client.host if client is not None else 'unknown'}"
    return f"{principal.kind.value.lower()}:{principal.subject}"


class ConcurrencyLimit(SchemaExtension):
    def __init__(self, *, slots: OperationSlots) -> None:
        self.slots = slots

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        if execution.operation_type is OperationType.SUBSCRIPTION or not isinstance(
            context, Context
        ):
            yield
            return
        key = principal_key(context)
        if not self.slots.acquire(key):
            # A result set before execution makes Strawberry skip executing.
            execution.result = ExecutionResult(data=None, errors=[_refusal(self.slots.limit)])
            if isinstance(context.response, Response):
                context.response.status_code = 429
                context.response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            yield
            return
        try:
            yield
        finally:
            self.slots.release(key)


def _refusal(limit: int) -> GraphQLError:
    return GraphQLError(
        f"You already have {limit} operations running; wait for one to finish and retry.",
        extensions={"code": CODE, "limit": limit},
    )


def concurrency_limit(limit: int) -> Callable[[], SchemaExtension]:
    """A factory for ``extensions=``: fresh instances, one slot table per schema."""
    slots = OperationSlots(limit)
    return lambda: ConcurrencyLimit(slots=slots)
