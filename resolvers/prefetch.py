"""Load what a list's rows will ask for before handing the rows out, so they answer at once.

Every run of a page asking its ``metrics`` through a loader is one coroutine,
one future and a trip through the event loop per run, though the loader makes
one batch of them all: a few milliseconds for 200 runs, more than the query.
A list resolver that sees its rows' selection ask for such a field loads the
batch itself (the same single batch call), and each row's field then finds its
value already in the loader (``peek``) and answers synchronously.

Only an optimisation: a selection this module does not follow (a field under
a directive, a different argument) is simply loaded the ordinary way by the
row's own field, with the same result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Hashable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionNode,
)
from graphql.execution.values import VariableValues, get_argument_values
from strawberry.dataloader import DataLoader

from gateway.executor import prepare
from resolvers.context import Info
from resolvers.metrics import MetricSeries, MetricValue, series_request, serves_only_encoded_columns
from sources.errors import InputError
from sources.metrics.model import SeriesRequest

if TYPE_CHECKING:
    from resolvers.pipelines import PipelineExecution

MISSING: Any = object()
"""What ``peek`` returns when the loader does not hold the value yet."""


def peek(loader: DataLoader[Any, Any], key: Hashable) -> Any:
    """The value ``loader`` already holds for ``key`` (loaded without error), else MISSING."""
    if not loader.cache:
        return MISSING
    future = loader.cache_map.get(key)
    if future is None or not future.done() or future.cancelled() or future.exception():
        return MISSING
    return future.result()


async def prefetch_runs(info: Info, runs: Sequence[PipelineExecution], path: Sequence[str]) -> None:
    """Load the ``metrics`` and ``metricSeries`` that the runs at ``path`` below this
    field will ask for, one batch per loader as their own fields would make, and
    hand each run its values (``gateway.executor.prepare``)."""
    if not runs:
        return
    loaders = info.context.loaders
    ids = [run.execution.id for run in runs]
    pending: list[Awaitable[Any]] = []
    metric_keys = list(selected(info, path, "metrics"))
    if metric_keys:
        pending += [loaders.metrics_by_execution.load(i) for i in ids]
    series_keys: list[tuple[str, list[SeriesRequest]]] = []
    series_fields = selected(info, path, "metricSeries")
    if series_fields:
        run_type = info._raw_info.schema.get_type("PipelineExecution")
        assert isinstance(run_type, GraphQLObjectType)
        definition = run_type.fields["metricSeries"]
        # Strawberry hands resolvers the coerced dict where graphql-core types the container.
        given: Any = info._raw_info.variable_values
        variables = given if isinstance(given, VariableValues) else VariableValues({}, given)
        for key, nodes in series_fields.items():
            try:
                args = get_argument_values(definition, nodes[0], variables)
                encoded = serves_only_encoded_columns(nodes)
                requests = [
                    series_request(
                        execution_id,
                        args.get("names"),
                        args["maxPoints"],
                        args.get("minStep"),
                        args.get("maxStep"),
                        encoded=encoded,
                    )
                    for execution_id in ids
                ]
            except (GraphQLError, InputError, KeyError, TypeError):
                continue  # each run's own field reports what is wrong with its arguments
            pending += [loaders.series_by_request.load(r) for r in requests]
            series_keys.append((key, requests))
    if not pending:
        return
    # Failures stay in the loader for each run's field to report, as without this.
    await asyncio.gather(*pending, return_exceptions=True)
    # A run's value is handed over only whole: one lacking a failed source's part goes
    # through its field, which reports what is missing at its own path.
    for key in metric_keys:
        for run in runs:
            summaries = peek(loaders.metrics_by_execution, run.execution.id)
            if summaries is not MISSING and summaries.missing is None:
                wanted = run.metric_filter
                values = [
                    MetricValue.of(m) for m in summaries.value if wanted is None or m.name in wanted
                ]
                prepare(run, key, values)
    for key, requests in series_keys:
        for run, request in zip(runs, requests, strict=True):
            series = peek(loaders.series_by_request, request)
            if series is not MISSING and series.missing is None:
                prepare(run, key, [MetricSeries.of(s) for s in series.value])


def selected(info: Info, path: Sequence[str], name: str) -> dict[str, list[FieldNode]]:
    """The fields called ``name`` below this one at ``path`` (field names), by response key."""
    raw = info._raw_info
    fragments = raw.fragments
    nodes: list[FieldNode] = list(raw.field_nodes)
    for step in path:
        nodes = [node for node in _children(nodes, fragments) if node.name.value == step]
    found: dict[str, list[FieldNode]] = {}
    for node in _children(nodes, fragments):
        if node.name.value == name:
            found.setdefault((node.alias or node.name).value, []).append(node)
    return found


def _children(nodes: Iterable[FieldNode], fragments: dict[str, Any]) -> Iterator[FieldNode]:
    for node in nodes:
        if node.selection_set is not None:
            yield from _fields(node.selection_set.selections, fragments)


def _fields(selections: Iterable[SelectionNode], fragments: dict[str, Any]) -> Iterator[FieldNode]:
    for selection in selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set.selections, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set.selections, fragments)
