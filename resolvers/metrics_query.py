"""Comparing runs side by side, and logging metric points through GraphQL."""

from __future__ import annotations

import asyncio
from datetime import datetime

import strawberry

from resolvers.context import Info
from resolvers.metrics_write import execution_key, log_metrics
from resolvers.pipelines import PipelineExecution
from resolvers.prefetch import prefetch_runs
from resolvers.run_table import RunTableValue, run_table
from sources.errors import InputError
from sources.metrics.model import MAX_BATCH_POINTS, PointIn

MAX_COMPARED_RUNS = 500


@strawberry.input(description="One metric value at one step.")
class MetricPointInput:
    name: str
    value: float
    step: int | None = strawberry.field(default=None, description="Defaults to 0.")
    timestamp: datetime | None = None


@strawberry.input(description=f"Points for one run (at most {MAX_BATCH_POINTS} per call).")
class LogMetricsInput:
    execution_id: strawberry.ID = strawberry.field(description="Global id or ARN of the run.")
    points: list[MetricPointInput]
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retried call with the same key stores nothing twice."
    )


@strawberry.type(description="What logMetrics stored.")
class LogMetricsPayload:
    accepted: int
    duplicates: int = strawberry.field(
        description="Points whose (run, name, step) was already stored; kept as first stored."
    )


@strawberry.type
class MetricsQuery:
    @strawberry.field(
        description="Runs side by side, in the order asked: each row's parameters and "
        f"metrics aligned (at most {MAX_COMPARED_RUNS} runs). `metrics` limits which metrics."
    )
    async def compare_runs(
        self, info: Info, execution_ids: list[strawberry.ID], metrics: list[str] | None = None
    ) -> list[PipelineExecution | None]:
        if len(execution_ids) > MAX_COMPARED_RUNS:
            raise InputError(f"compareRuns takes at most {MAX_COMPARED_RUNS} runs")
        keys = [execution_key(i) for i in execution_ids]
        loader = info.context.loaders.executions_by_id
        # One run's failure (a throttled DescribeExecution) nulls its row only: its
        # exception stays in the list, which graphql-core reports as that item's error.
        loaded = await asyncio.gather(*(loader.load(k) for k in keys), return_exceptions=True)
        wanted = tuple(metrics) if metrics is not None else None
        rows: list[PipelineExecution | Exception | None] = []
        for execution in loaded:
            if execution is None or isinstance(execution, Exception):
                rows.append(execution)
                continue
            if isinstance(execution, BaseException):
                raise execution  # cancelled: not this row's failure
            row = PipelineExecution.of(execution)
            row.metric_filter = wanted
            rows.append(row)
        await prefetch_runs(info, [row for row in rows if isinstance(row, PipelineExecution)], ())
        return rows  # type: ignore[return-value]

    @strawberry.field(
        description="compareRuns as one table of aligned columns (RunTable), in the order "
        "asked; runs that do not exist are left out."
    )
    async def compare_runs_table(
        self, info: Info, execution_ids: list[strawberry.ID], metrics: list[str] | None = None
    ) -> RunTableValue | None:
        if len(execution_ids) > MAX_COMPARED_RUNS:
            raise InputError(f"compareRunsTable takes at most {MAX_COMPARED_RUNS} runs")
        keys = [execution_key(i) for i in execution_ids]
        loaded = await info.context.loaders.executions_by_id.load_many(keys)
        found = [
            (str(global_id), execution)
            for global_id, execution in zip(execution_ids, loaded, strict=True)
            if execution is not None and not isinstance(execution, BaseException)
        ]
        return await run_table(info, [i for i, _ in found], [e for _, e in found], metrics)


@strawberry.type
class MetricsMutation:
    @strawberry.mutation(
        description="Store metric points of a run (all or nothing; idempotent on run, name "
        "and step, and on idempotencyKey). Needs a service token allowed to write, or a "
        "user owning the pipeline's entity."
    )
    async def log_metrics(self, info: Info, input: LogMetricsInput) -> LogMetricsPayload | None:
        if len(input.points) > MAX_BATCH_POINTS:
            raise InputError(
                f"{len(input.points)} points in one call; the limit is {MAX_BATCH_POINTS}"
            )
        points = [
            PointIn(
                name=p.name,
                value=p.value,
                step=p.step if p.step is not None else 0,
                timestamp_ms=int(p.timestamp.timestamp() * 1000) if p.timestamp else None,
            )
            for p in input.points
        ]
        result = await log_metrics(
            info.context.resources,
            info.context.principal,
            input.execution_id,
            points,
            input.idempotency_key,
        )
        return LogMetricsPayload(accepted=result.accepted, duplicates=result.duplicates)
