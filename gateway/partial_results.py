"""Errors of a field that still answers: part of its value is missing, the rest stands.

Per the GraphQL spec a resolver either returns a value or raises, and an error
nulls the field. A root list that merges sources (``pipelines``: catalog-linked
pipelines and pushed ones) should instead answer with what the working sources
gave and say what is missing. Such a resolver calls ``report``; the error is
added to the operation's errors when graphql-core builds the response, so the
error log, classification (``extensions.code``/``source``) and deduplication
treat it like any other field error.

A loader whose value may lack a failed source's part hands out a ``Partial``
(the value and why it is incomplete); the resolver passes it to ``answer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import strawberry
from graphql import ExecutionResult, ExperimentalIncrementalExecutionResults, located_error

from gateway.executor import GatewayExecutor

if TYPE_CHECKING:  # the context's loaders hand out Partial values
    from gateway.context import Context

T = TypeVar("T")


@dataclass(frozen=True)
class Partial(Generic[T]):
    """A value without the part a failed source would have added, and that failure."""

    value: T
    missing: Exception | None = None
    """Why the value is incomplete (None: it is whole)."""


def report(info: strawberry.Info[Context, None], error: Exception) -> None:
    """Record ``error`` at this field's path; the field's own value is still returned."""
    # Strawberry's Info does not expose the field's AST nodes (the error's locations).
    located = located_error(error, info._raw_info.field_nodes, info.path.as_list())
    info.context.reported_errors.append(located)


def answer(info: strawberry.Info[Context, None], partial: Partial[T]) -> T:
    """The value, reporting at this field what it lacks."""
    if partial.missing is not None:
        report(info, partial.missing)
    return partial.value


class ReportingExecutor(GatewayExecutor):
    """The gateway's executor (``gateway.executor``), adding reported errors
    to those it collected while executing, before the response is built."""

    def build_response(
        self, data: dict[str, Any] | None
    ) -> ExecutionResult | ExperimentalIncrementalExecutionResults:
        reported = getattr(self.context_value, "reported_errors", None)
        if reported:
            # Taken, not copied: a subscription builds one response per event.
            self.collected_errors.errors.extend(reported)
            reported.clear()
        return super().build_response(data)
