"""A wall-clock limit per query or mutation (``MLMETA_MAX_EXECUTION_SECONDS``).

GitHub kills requests after 10 s; we do better than a dropped connection: at the
deadline every field still waiting for data fails with ``QUERY_TIMEOUT``, and the
caller gets everything that was ready. Per the GraphQL spec a field error nulls
only that field (or its nearest nullable parent), so the partial answer comes
from graphql-core's ordinary error handling, not from a rebuilt response.

How pending work is stopped: each async resolver is awaited under the deadline
(``asyncio.timeout_at``), by the executor (``gateway.executor``), which finds the
operation's deadline in ``active_deadline``: no per-field hook, so fields that
need no awaiting cost nothing extra. When it passes, the resolver coroutine is cancelled, and
with it the DataLoader future it awaits; Strawberry's DataLoader cancels a
batch's dispatch task (the upstream call in flight) once every future of the
batch is cancelled. No task is left running for an answer nobody will read.

Not limited:
- synchronous fields: they cost microseconds, and a clock read per field would
  tax every query (the CPU side is bounded by the other limits);
- the root fields of a mutation, i.e. the writes themselves: cutting one halfway
  could leave a card saved in SageMaker but not in the metadb. What a mutation
  reads back is limited like a query;
- subscriptions, which are meant to last.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from sources.errors import MlmetaError


class QueryTimeoutError(MlmetaError):
    """The operation ran out of time before this field's data arrived."""

    code = "QUERY_TIMEOUT"


class Deadline:
    """The running operation's deadline, on the event loop's clock."""

    def __init__(self, at: float, limit_seconds: float, *, mutation: bool) -> None:
        self.at = at
        self.limit_seconds = limit_seconds
        self.mutation = mutation

    def bound(self, pending: Awaitable[Any], *, root: bool) -> Awaitable[Any]:
        """``pending`` (a resolver's result) cut off at the deadline; a mutation's root
        fields (the writes) are left alone."""
        if self.mutation and root:
            return pending
        return self._bounded(pending)

    async def _bounded(self, pending: Awaitable[Any]) -> Any:
        try:
            async with asyncio.timeout_at(self.at):
                return await pending
        except TimeoutError:
            raise self._timeout() from None
        except asyncio.CancelledError:
            # Two fields may await one DataLoader future; the first one's timeout
            # cancels it under the second. That is this field's timeout too, not a
            # cancellation of the request (which would abort the whole response).
            task = asyncio.current_task()
            late = asyncio.get_running_loop().time() >= self.at
            if late and task is not None and task.cancelling() == 0:
                raise self._timeout() from None
            raise

    def _timeout(self) -> QueryTimeoutError:
        return QueryTimeoutError(
            f"The operation exceeded its time limit of {self.limit_seconds:g} s; "
            "this field was cancelled. Ask for less, or for the rest in another request."
        )


active_deadline: ContextVar[Deadline | None] = ContextVar("mlmeta_deadline", default=None)
"""The executing operation's deadline (None: no limit), read by ``gateway.executor``."""


class ExecutionDeadline(SchemaExtension):
    """Cancels the async fields still pending ``limit_seconds`` after the operation began."""

    def __init__(self, *, limit_seconds: float) -> None:
        self.limit_seconds = limit_seconds
        self._started: float | None = None

    def on_operation(self) -> Iterator[None]:
        # Parsing and validation count towards the limit: the caller waits for them too.
        with contextlib.suppress(RuntimeError):  # execute_sync has no loop, nothing to await
            self._started = asyncio.get_running_loop().time()
        yield

    def on_execute(self) -> Iterator[None]:
        kind = self.execution_context.operation_type
        if self._started is None or kind is OperationType.SUBSCRIPTION:
            yield
            return
        deadline = Deadline(
            self._started + self.limit_seconds,
            self.limit_seconds,
            mutation=kind is OperationType.MUTATION,
        )
        token = active_deadline.set(deadline)
        try:
            yield
        finally:
            active_deadline.reset(token)


def execution_deadline(limit_seconds: float) -> Callable[[], SchemaExtension]:
    """A factory for ``extensions=``: a fresh instance (and deadline) per operation."""
    return lambda: ExecutionDeadline(limit_seconds=limit_seconds)
