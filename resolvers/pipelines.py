"""Pipelines and their executions, live step by step, from every orchestrator."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.partial_results import Partial, answer
from resolvers.catalog import CatalogEntity, KeyValue, load_entity
from resolvers.context import Info
from resolvers.ids import encode_id
from resolvers.items import each_or_error
from resolvers.metrics import (
    MetricEvolution,
    MetricSeries,
    MetricValue,
    RunMetricPoint,
    series_request,
    serves_only_encoded_columns,
)
from resolvers.node import Node, keys, register_node
from resolvers.pagination import PageInfo, check_first
from resolvers.prefetch import MISSING, peek, prefetch_runs
from resolvers.run_table import RunTableValue, run_table
from sources.errors import InputError
from sources.metadb.models import ExecutionStatus, Orchestrator
from sources.metrics.model import EvolutionRequest, MetricSummary
from sources.pipelines.model import ExecutionInfo, PipelineGraph, PipelineInfo, StepState

if TYPE_CHECKING:
    from resolvers.datasets import Dataset
    from resolvers.models import Model, ModelVersion

ExecutionStatusEnum = strawberry.enum(
    ExecutionStatus, name="ExecutionStatus", description="Where a run (or a step of it) stands."
)
OrchestratorEnum = strawberry.enum(
    Orchestrator,
    name="Orchestrator",
    description="What runs a pipeline; EXTERNAL: runs pushed in by any orchestrator.",
)


def _duration(started: datetime | None, stopped: datetime | None) -> float | None:
    if started is None or stopped is None:
        return None
    return round((stopped - started).total_seconds(), 3)


@strawberry.type(description="Why a run or a step failed.")
class ExecutionError:
    error: str | None
    cause: str | None

    @staticmethod
    def of(error: str | None, cause: str | None) -> ExecutionError | None:
        return ExecutionError(error=error, cause=cause) if error or cause else None


@strawberry.type(description="A step of the pipeline's static graph.")
class PipelineGraphNode:
    name: str
    type: str = strawberry.field(description="Task, Choice, Parallel, Map, Training, ...")
    parent: str | None = strawberry.field(
        description="The Parallel or Map step this one runs inside."
    )


@strawberry.type(description="A transition between two steps.")
class PipelineGraphEdge:
    from_: str = strawberry.field(name="from")
    to: str


@strawberry.type(
    name="PipelineGraph",
    description="The static graph of steps, to draw a pipeline before it runs.",
)
class PipelineGraphType:
    nodes: list[PipelineGraphNode]
    edges: list[PipelineGraphEdge]

    @staticmethod
    def of(graph: PipelineGraph) -> PipelineGraphType:
        return PipelineGraphType(
            nodes=[
                PipelineGraphNode(name=n.name, type=n.type, parent=n.parent) for n in graph.nodes
            ],
            edges=[PipelineGraphEdge(from_=e.source, to=e.target) for e in graph.edges],
        )


@strawberry.type(description="One step of a run, live while the run is going.")
class StepExecution:
    name: str
    type: str = strawberry.field(description="Task, Training, Processing, Map, Choice, ...")
    status: ExecutionStatusEnum  # type: ignore[valid-type]
    started_at: datetime | None
    stopped_at: datetime | None
    duration_seconds: float | None
    attempts: int = strawberry.field(description="Tries including retries.")
    error: ExecutionError | None
    resource_arn: str | None = strawberry.field(
        description="ARN of the job the step ran (training/processing job, Lambda, ...)."
    )

    @staticmethod
    def of(step: StepState) -> StepExecution:
        return StepExecution(
            name=step.name,
            type=step.type,
            status=step.status,
            started_at=step.started_at,
            stopped_at=step.stopped_at,
            duration_seconds=_duration(step.started_at, step.stopped_at),
            attempts=step.attempts,
            error=ExecutionError.of(step.error, step.cause),
            resource_arn=step.resource_arn,
        )


@strawberry.type(description="One run of a pipeline.", directives=keys("arn"))
class PipelineExecution(Node):
    name: str
    arn: str | None
    console_url: str | None = strawberry.field(description="Deep link to the AWS console.")
    status: ExecutionStatusEnum  # type: ignore[valid-type]
    started_at: datetime
    stopped_at: datetime | None
    duration_seconds: float | None
    execution: strawberry.Private[ExecutionInfo]
    metric_filter: strawberry.Private[tuple[str, ...] | None] = None

    @staticmethod
    def of(execution: ExecutionInfo) -> PipelineExecution:
        return PipelineExecution(
            id=strawberry.ID(encode_id("PipelineExecution", execution.id)),
            name=execution.name,
            arn=execution.arn,
            console_url=execution.console_url,
            status=execution.status,
            started_at=execution.started_at,
            stopped_at=execution.stopped_at,
            duration_seconds=_duration(execution.started_at, execution.stopped_at),
            execution=execution,
        )

    async def _detailed(self, info: Info) -> ExecutionInfo | None:
        if self.execution.detailed:
            return self.execution
        detailed: ExecutionInfo | None = await info.context.loaders.executions_by_id.load(
            self.execution.id
        )
        return detailed

    @strawberry.field(description="The pipeline this is a run of.")
    async def pipeline(self, info: Info) -> Pipeline | None:
        return await load_pipeline(info, self.execution.pipeline_id)

    # error and parameters answer at once when the run is already detailed (stored
    # runs: most of a list) and only await the loader for list summaries; a coroutine
    # per row would cost each of them a trip through the event loop.
    @strawberry.field(description="Why the run failed, if it did.")
    def error(self, info: Info) -> ExecutionError | None:
        if self.execution.detailed:
            return ExecutionError.of(self.execution.error, self.execution.cause)

        async def later() -> ExecutionError | None:
            detailed = await self._detailed(info)
            return ExecutionError.of(detailed.error, detailed.cause) if detailed else None

        return later()  # type: ignore[return-value]

    @strawberry.field(description="The run's input parameters.")
    def parameters(self, info: Info) -> list[KeyValue] | None:
        if self.execution.detailed:
            return _pairs(self.execution.parameters)

        async def later() -> list[KeyValue]:
            detailed = await self._detailed(info)
            return _pairs(detailed.parameters if detailed else {})

        return later()  # type: ignore[return-value]

    # metrics and metricSeries answer at once when the list the run came from has
    # loaded them for all its runs (resolvers.prefetch), else through the loader.
    @strawberry.field(description="The last reported value of each metric.")
    def metrics(self, info: Info) -> list[MetricValue] | None:
        loader = info.context.loaders.metrics_by_execution
        found = peek(loader, self.execution.id)
        if found is not MISSING:
            return self._metric_values(info, found)

        async def later() -> list[MetricValue]:
            return self._metric_values(info, await loader.load(self.execution.id))

        return later()  # type: ignore[return-value]

    def _metric_values(self, info: Info, found: Partial[list[MetricSummary]]) -> list[MetricValue]:
        wanted = self.metric_filter
        summaries = answer(info, found)
        return [MetricValue.of(m) for m in summaries if wanted is None or m.name in wanted]

    @strawberry.field(
        description="Full series, downsampled in the database to at most maxPoints per "
        "series: each bucket keeps its min and max, first and last points always kept."
    )
    def metric_series(
        self,
        info: Info,
        names: list[str] | None = None,
        max_points: int = 500,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> list[MetricSeries] | None:
        request = series_request(
            self.execution.id,
            names,
            max_points,
            min_step,
            max_step,
            encoded=serves_only_encoded_columns(info._raw_info.field_nodes),
        )
        loader = info.context.loaders.series_by_request
        found = peek(loader, request)
        if found is not MISSING:
            return [MetricSeries.of(s) for s in answer(info, found)]

        async def later() -> list[MetricSeries]:
            return [MetricSeries.of(s) for s in answer(info, await loader.load(request))]

        return later()  # type: ignore[return-value]

    @strawberry.field(
        description="Datasets the run consumed (lineage CONSUMED edges: pushed, OpenLineage, "
        "or the input channels of the SageMaker training jobs it ran)."
    )
    async def inputs(
        self, info: Info
    ) -> list[Annotated[Dataset, strawberry.lazy("resolvers.datasets")]] | None:
        from resolvers.datasets import Dataset

        refs = await info.context.loaders.inputs_by_execution.load(self.execution.id)
        return [Dataset.of(ref) for ref in refs]

    @strawberry.field(description="Model versions the run produced (lineage PRODUCED edges).")
    async def produced_models(
        self, info: Info
    ) -> list[Annotated[ModelVersion, strawberry.lazy("resolvers.models")] | None] | None:
        from resolvers.models import load_version

        arns = await info.context.loaders.models_by_execution.load(self.execution.id)
        return await each_or_error(load_version(info, arn) for arn in arns)

    @strawberry.field(description="Per-step state, live while the run is going.")
    async def steps(self, info: Info) -> list[StepExecution] | None:
        steps = await info.context.loaders.steps_by_execution.load(self.execution.id)
        return [StepExecution.of(s) for s in sorted(steps or [], key=lambda s: s.position)]


def _pairs(params: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=str(k), value=_scalar(v)) for k, v in sorted(params.items())]


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@strawberry.type
class PipelineExecutionEdge:
    cursor: str
    node: PipelineExecution


@strawberry.type(description="A page of runs, newest first.")
class PipelineExecutionConnection:
    edges: list[PipelineExecutionEdge]
    page_info: PageInfo

    @strawberry.field(
        description="This page's runs as one table of aligned columns (parameters and the "
        "last value of each metric, optionally only `metrics`): what a data grid takes, "
        "and far cheaper to serve than the same runs as objects."
    )
    async def table(self, info: Info, metrics: list[str] | None = None) -> RunTableValue | None:
        runs = [edge.node for edge in self.edges]
        return await run_table(info, [r.id for r in runs], [r.execution for r in runs], metrics)


@strawberry.type(description="An ML pipeline, whatever orchestrates it.", directives=keys())
class Pipeline(Node):
    name: str
    orchestrator: OrchestratorEnum  # type: ignore[valid-type]
    arn: str | None = strawberry.field(description="State machine or SageMaker pipeline ARN.")
    console_url: str | None
    graph: PipelineGraphType = strawberry.field(
        description="The static graph of steps, to draw the pipeline before/while it runs."
    )
    pipeline: strawberry.Private[PipelineInfo]

    @staticmethod
    def of(pipeline: PipelineInfo, graph: PipelineGraph) -> Pipeline:
        return Pipeline(
            id=strawberry.ID(encode_id("Pipeline", pipeline.id)),
            name=pipeline.name,
            orchestrator=pipeline.orchestrator,
            arn=pipeline.arn,
            console_url=pipeline.console_url,
            graph=PipelineGraphType.of(graph),
            pipeline=pipeline,
        )

    @strawberry.field(
        description="The catalog entity this pipeline belongs to: the ml-pipeline entity "
        "whose annotations link it, or the entityRef its runs were pushed for."
    )
    async def entity(self, info: Info) -> CatalogEntity | None:
        ref = self.pipeline.entity_ref
        return await load_entity(info, ref) if ref else None

    @strawberry.field(description="Runs, newest first.")
    async def executions(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        status: list[ExecutionStatusEnum] | None = None,  # type: ignore[valid-type]
        since: datetime | None = None,
    ) -> PipelineExecutionConnection | None:
        key = (self.pipeline.id, tuple(status or ()), since, check_first(first), after)
        page = await info.context.loaders.executions_page.load(key)
        loader = info.context.loaders.executions_by_id
        edges = []
        cursors = page.item_cursors or [""] * len(page.items)
        if page.item_cursors is None and page.items and page.next_token:
            cursors[-1] = page.next_token
        for execution, cursor in zip(page.items, cursors, strict=True):
            if execution.detailed:
                loader.prime(execution.id, execution)
            edges.append(PipelineExecutionEdge(cursor=cursor, node=PipelineExecution.of(execution)))
        await prefetch_runs(info, [edge.node for edge in edges], ("edges", "node"))
        return PipelineExecutionConnection(
            edges=edges,
            page_info=PageInfo.forward(after, page.next_token),
        )

    @strawberry.field(
        description="Models this pipeline trains: ml-model entities that dependsOn the "
        "pipeline's catalog entity."
    )
    async def models(
        self, info: Info
    ) -> list[Annotated[Model, strawberry.lazy("resolvers.models")] | None] | None:
        from resolvers.models import load_model

        ref = self.pipeline.entity_ref
        if ref is None:
            return []
        groups = await info.context.loaders.models_trained_by_entity.load(ref.lower())
        return await each_or_error(load_model(info, g) for g in groups)

    @strawberry.field(description="Names of every metric any run of this pipeline reported.")
    async def metric_names(self, info: Info) -> list[str] | None:
        names: list[str] = await info.context.loaders.metric_names_by_pipeline.load(
            self.pipeline.id
        )
        return names

    @strawberry.field(
        description="How each metric's final value evolved over the last runs (oldest "
        "first): the cross-run graph. A run that did not report a metric has a null value."
    )
    async def metric_evolution(
        self,
        info: Info,
        metrics: list[str],
        last_runs: int = 50,
        since: datetime | None = None,
    ) -> list[MetricEvolution] | None:
        if not 1 <= last_runs <= 1000:
            raise InputError(f"lastRuns must be between 1 and 1000, got {last_runs}")
        if not 1 <= len(metrics) <= 50:
            raise InputError("metricEvolution takes 1 to 50 metric names")
        request = EvolutionRequest(self.pipeline.id, tuple(metrics), last_runs, since)
        evolutions = await info.context.loaders.evolution_by_request.load(request)
        return [
            MetricEvolution(
                metric=e.metric,
                points=[
                    RunMetricPoint(
                        started_at=p.started_at, value=p.value, execution_id=p.execution_id
                    )
                    for p in e.points
                ],
            )
            for e in evolutions
        ]

    @strawberry.field(description="The newest run.")
    async def latest_execution(self, info: Info) -> PipelineExecution | None:
        latest = await info.context.loaders.latest_execution_by_pipeline.load(self.pipeline.id)
        return PipelineExecution.of(latest) if latest else None


async def load_pipeline(info: Info, pipeline_id: str) -> Pipeline | None:
    """A pipeline, linked to the catalog entity that claims it however it was reached (ARN,
    node id, a run). Reading it follows the caller's access to that entity, as for models:
    null when the entity is hidden from the caller; an unclaimed pipeline is readable."""
    loaders = info.context.loaders
    described = await loaders.pipelines_by_id.load(pipeline_id)
    if described is None:
        return None
    pipeline, graph = described
    if pipeline.entity_ref is None:  # pushed pipelines carry the entity they were pushed for
        claim = await loaders.pipeline_entity_by_id.load(pipeline_id)
        if claim is not None:
            if await loaders.entities_by_ref.load(claim.ref) is None:
                return None
            pipeline = replace(pipeline, entity_ref=claim.ref)
    return Pipeline.of(pipeline, graph)


async def load_execution(info: Info, execution_id: str) -> PipelineExecution | None:
    execution = await info.context.loaders.executions_by_id.load(execution_id)
    return PipelineExecution.of(execution) if execution else None


register_node("Pipeline", load_pipeline)
register_node("PipelineExecution", load_execution)
