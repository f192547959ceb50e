"""A wall-clock limit per query or mutation (``MLMETA_MAX_EXECUTION_SECONDS``).

GitHub kills requests after 10 s; we do better than a dropped connection: at the
deadline every field still waiting for data fails with ``QUERY_TIMEOUT``, and the
caller gets everything that was ready. Per the GraphQL spec a field error nulls
only that field (or its nearest nullable parent), so the partial answer comes
from graphql-core's ordinary error handling, not from a rebuilt response.

How pending work is stopped: each async resolver is awaited under the deadline
(``asyncio.timeout_at``). When it passes, the resolver coroutine is cancelled, and
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
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from sources.errors import MlmetaError


class QueryTimeoutError(MlmetaError):
    """The operation ran out of time before this field's data arrived."""

    code = "QUERY_TIMEOUT"


class ExecutionDeadline(SchemaExtension):
    """Cancels the async fields still pending ``limit_seconds`` after the operation began."""

    def __init__(self, *, limit_seconds: float) -> None:
        self.limit_seconds = limit_seconds
        self._started: float | None = None
        self._deadline: float | None = None
        self._mutation = False

    def on_operation(self) -> Iterator[None]:
        # Parsing and validation count towards the limit: the caller waits for them too.
        with contextlib.suppress(RuntimeError):  # execute_sync has no loop, nothing to await
            self._started = asyncio.get_running_loop().time()
        yield

    def on_execute(self) -> Iterator[None]:
        kind = self.execution_context.operation_type
        if self._started is not None and kind is not OperationType.SUBSCRIPTION:
            self._deadline = self._started + self.limit_seconds
            self._mutation = kind is OperationType.MUTATION
        yield

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        result = _next(root, info, *args, **kwargs)
        if self._deadline is None or not optimized_is_awaitable(result):
            return result
        if self._mutation and info.path.prev is None:
            return result
        return self._bounded(result, self._deadline)

    async def _bounded(self, pending: Awaitable[Any], deadline: float) -> Any:
        try:
            async with asyncio.timeout_at(deadline):
                return await pending
        except TimeoutError:
            raise self._timeout() from None
        except asyncio.CancelledError:
            # Two fields may await one DataLoader future; the first one's timeout
            # cancels it under the second. That is this field's timeout too, not a
            # cancellation of the request (which would abort the whole response).
            task = asyncio.current_task()
            late = asyncio.get_running_loop().time() >= deadline
            if late and task is not None and task.cancelling() == 0:
                raise self._timeout() from None
            raise

    def _timeout(self) -> QueryTimeoutError:
        return QueryTimeoutError(
            f"The operation exceeded its time limit of {self.limit_seconds:g} s; "
            "this field was cancelled. Ask for less, or for the rest in another request."
        )


def execution_deadline(limit_seconds: float) -> Callable[[], SchemaExtension]:
    """A factory for ``extensions=``: a fresh instance (and deadline) per operation."""
    return lambda: ExecutionDeadline(limit_seconds=limit_seconds)
