"""Metric series of runs, and how each metric evolves across runs.

Three shapes for a series, from friendliest to fastest: `points` (objects,
capped), `steps`/`values`/`timestamps` (plain lists), and `columns` (one scalar
holding the three lists: what chart libraries consume directly, ~10x cheaper
to serve than objects).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import strawberry
from graphql import FieldNode

from gateway.executor import reads
from resolvers.context import Info
from resolvers.scalars import SeriesColumnsValue
from sources.errors import InputError
from sources.metrics.model import (
    MAX_OBJECT_POINTS,
    MAX_SERIES_POINTS,
    MetricSummary,
    Series,
    SeriesRequest,
)

if TYPE_CHECKING:
    from resolvers.pipelines import PipelineExecution

LazyExecution = Annotated["PipelineExecution", strawberry.lazy("resolvers.pipelines")]


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@strawberry.type(description="The value of a metric at one step of a run.")
class MetricValue:
    name: str
    value: float
    step: int | None
    timestamp: datetime | None

    @staticmethod
    def of(summary: MetricSummary) -> MetricValue:
        return MetricValue(
            name=summary.name,
            value=summary.value,
            step=summary.step,
            timestamp=_time(summary.timestamp_ms),
        )


@strawberry.type(description="One point of a series.")
class MetricPoint:
    step: int
    timestamp: datetime | None
    value: float


@strawberry.type(description="One metric of one run, downsampled server-side to maxPoints.")
class MetricSeries:
    name: str
    count: int = strawberry.field(
        description="Points stored in the requested step range, before downsampling."
    )
    downsampled: bool = strawberry.field(
        description="True when buckets' min and max (plus first and last) stand for the range."
    )
    min: float | None
    max: float | None
    last: float | None
    series: strawberry.Private[Series]
    columns_value: strawberry.Private[SeriesColumnsValue]

    @staticmethod
    def of(series: Series) -> MetricSeries:
        return MetricSeries(
            name=series.name,
            count=series.count,
            downsampled=series.downsampled,
            min=series.min,
            max=series.max,
            last=series.last,
            series=series,
            columns_value=_columns(series),
        )

    @strawberry.field(description="The run this series belongs to.")
    async def execution(self, info: Info) -> LazyExecution | None:
        from resolvers.pipelines import load_execution

        return await load_execution(info, self.series.execution_id)

    @strawberry.field(description=f"Points in step order (at most {MAX_OBJECT_POINTS}).")
    def points(self) -> list[MetricPoint]:
        s = _lists(self.series)
        if len(s.steps) > MAX_OBJECT_POINTS:
            raise InputError(
                f"{len(s.steps)} points are more than the object form serves "
                f"({MAX_OBJECT_POINTS}); lower maxPoints or use steps/values or columns"
            )
        return [
            MetricPoint(step=st, value=v, timestamp=_time(ts))
            for st, v, ts in zip(s.steps, s.values, s.timestamps_ms, strict=True)
        ]

    @strawberry.field(description="Steps, in order (the x axis).")
    def steps(self) -> list[int]:
        return _lists(self.series).steps

    @strawberry.field(description="Values, aligned with steps.")
    def values(self) -> list[float]:
        return _lists(self.series).values

    @strawberry.field(description="Timestamps, aligned with steps (null where not reported).")
    def timestamps(self) -> list[datetime | None]:
        return [_time(ms) for ms in _lists(self.series).timestamps_ms]

    @strawberry.field(description="steps, values and timestamps in one scalar, for charts.")
    @reads("columns_value")
    def columns(self) -> SeriesColumnsValue:
        return self.columns_value


def _columns(series: Series) -> SeriesColumnsValue:
    if series.encoded_columns is not None:
        # The database's JSON of the columns, written into the response as it is.
        return SeriesColumnsValue(orjson.Fragment(series.encoded_columns))
    return SeriesColumnsValue(
        {"steps": series.steps, "values": series.values, "timestamps": series.timestamps_ms}
    )


def _lists(series: Series) -> Series:
    """The series with its lists filled (decoded when it came as JSON)."""
    if series.encoded_columns is None:
        return series
    columns: dict[str, Any] = orjson.loads(series.encoded_columns)
    return replace(
        series,
        steps=columns["steps"],
        values=columns["values"],
        timestamps_ms=columns["timestamps"],
        encoded_columns=None,
    )


_LIST_FIELDS = frozenset({"points", "steps", "values", "timestamps"})


def serves_only_encoded_columns(field_nodes: Iterable[FieldNode]) -> bool:
    """True when the selection under a ``metricSeries`` field (its nodes) asks for
    ``columns`` and none of the list fields, by plain fields only: the series may
    then come as JSON."""
    columns = False
    for node in field_nodes:
        if node.selection_set is None:
            return False
        for selection in node.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.name.value in _LIST_FIELDS:
                return False
            columns = columns or selection.name.value == "columns"
    return columns


def series_request(
    execution_id: str,
    names: list[str] | None,
    max_points: int,
    min_step: int | None,
    max_step: int | None,
    *,
    encoded: bool = False,
) -> SeriesRequest:
    if not 4 <= max_points <= MAX_SERIES_POINTS:
        raise InputError(f"maxPoints must be between 4 and {MAX_SERIES_POINTS}, got {max_points}")
    if names is not None and len(names) > 100:
        raise InputError(f"at most 100 metric names per series query, got {len(names)}")
    if min_step is not None and max_step is not None and min_step > max_step:
        raise InputError("minStep is greater than maxStep")
    return SeriesRequest(
        execution_id=execution_id,
        names=tuple(sorted(set(names))) if names is not None else None,
        max_points=max_points,
        min_step=min_step,
        max_step=max_step,
        encoded=encoded,
    )


@strawberry.type(description="One run's final value of a metric: a point of the cross-run graph.")
class RunMetricPoint:
    started_at: datetime
    value: float | None = strawberry.field(description="Null when the run did not report it.")
    execution_id: strawberry.Private[str]

    @strawberry.field(description="The run.")
    async def execution(self, info: Info) -> LazyExecution | None:
        from resolvers.pipelines import load_execution

        return await load_execution(info, self.execution_id)


@strawberry.type(description="One metric across successive runs of a pipeline: one point per run.")
class MetricEvolution:
    metric: str
    points: list[RunMetricPoint]
