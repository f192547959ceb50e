"""Entry points to pipelines: by ref, listing, by run, and pushing runs in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable
from dataclasses import replace
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from gateway.partial_results import report
from resolvers.catalog import CatalogEntity
from resolvers.context import Info
from resolvers.ids import decode_id
from resolvers.pagination import PageInfo, check_first, check_list
from resolvers.pipelines import (
    ExecutionStatusEnum,
    OrchestratorEnum,
    Pipeline,
    PipelineExecution,
    load_execution,
    load_pipeline,
)
from sources.catalog.annotations import SPEC_TYPE_PIPELINE
from sources.catalog.model import EntityFilter, EntityQuery
from sources.catalog.ownership import owns
from sources.catalog.refs import names_kind, parse_ref, ref_or_other_name
from sources.cursors import decode_cursor, encode_cursor
from sources.errors import InputError, NotAllowedError, UpstreamError
from sources.metadb.models import ExecutionStatus, Orchestrator
from sources.pipelines.ids import Origin, origin_of
from sources.pipelines.model import PipelineInfo, StepState, external_pipeline_id

MAX_PIPELINES_SCANNED = 500
_ORCHESTRATOR_OF = {
    Origin.STEP_FUNCTIONS: Orchestrator.STEP_FUNCTIONS,
    Origin.SAGEMAKER: Orchestrator.SAGEMAKER_PIPELINES,
    Origin.EXTERNAL: Orchestrator.EXTERNAL,
    None: None,
}


def pipeline_id_of_entity(info: Info, entity: dict[str, Any]) -> str | None:
    """The pipeline an entity is linked to by its annotations (README documents them)."""
    return info.context.resources.claims.annotations.pipeline_of(entity)


async def pipeline_for_entity(info: Info, entity: dict[str, Any]) -> Pipeline | None:
    pipeline_id = pipeline_id_of_entity(info, entity)
    if pipeline_id is None:
        return None
    pipeline = await load_pipeline(info, pipeline_id)
    if pipeline is not None and pipeline.pipeline.entity_ref is None:
        ref = CatalogEntity.from_entity(entity).ref
        pipeline.pipeline = _with_entity(pipeline.pipeline, ref)
    return pipeline


def _with_entity(pipeline: PipelineInfo, ref: str) -> PipelineInfo:
    return replace(pipeline, entity_ref=ref)


async def resolve_pipeline(info: Info, ref: str) -> Pipeline | None:
    """``pipeline(ref:)``: an ARN; else a catalog ref (kind ``component`` implied); a bare
    name that is no linked catalog component is the name of a pushed pipeline."""
    text = ref.strip()
    if origin_of(text) is not None:
        return await load_pipeline(info, text)
    if text.startswith("arn:"):
        raise InputError(f"{text[:200]!r} is not a Step Functions or SageMaker pipeline ARN")
    entity_ref = ref_or_other_name(text, default_kind="component", field="pipeline(ref:)")
    if entity_ref is not None:
        entity = await info.context.loaders.entities_by_ref.load(str(entity_ref))
        pipeline = await pipeline_for_entity(info, entity) if entity else None
        if pipeline is not None or names_kind(text):  # a ref naming its kind: catalog only
            return pipeline
    return await load_pipeline(info, external_pipeline_id(ref))


@strawberry.input(description="Which pipelines to list.")
class PipelineFilter:
    orchestrator: list[OrchestratorEnum] | None = None  # type: ignore[valid-type]
    owner: str | None = strawberry.field(
        default=None,
        description="Ref of the owning group; kind group and namespace default are implied.",
    )
    text: str | None = None


@strawberry.type
class PipelineEdge:
    cursor: str
    found: strawberry.Private[Pipeline | Exception]

    @strawberry.field(
        description="The pipeline; null (with an error) when describing it or checking "
        "its catalog entity failed."
    )
    def node(self) -> Pipeline | None:
        if isinstance(self.found, Exception):
            raise self.found  # this edge's error only: the other pipelines stand
        return self.found


@strawberry.type(description="A page of pipelines, by name.")
class PipelineConnection:
    edges: list[PipelineEdge]
    page_info: PageInfo


def _offset_cursor(offset: int) -> str:
    return encode_cursor({"pipelines": offset})


def _offset_of(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        offset = decode_cursor(cursor)["pipelines"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(cursor)
        return offset
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError("'after' is not a cursor of this list") from exc


Listed = tuple[str, str, dict[str, Any] | None]
"""A pipeline to list: (name, pipeline id, the catalog entity linking it or None)."""


async def _catalog_linked(
    info: Info, wanted: set[str], owners: tuple[str, ...], text: str | None
) -> list[Listed]:
    query = EntityQuery(
        filter=EntityFilter(spec_types=(SPEC_TYPE_PIPELINE,), owners=owners, text=text),
        limit=MAX_PIPELINES_SCANNED,
    )
    page = await info.context.resources.catalog.query_entities(query, info.context.principal)
    if page.incomplete is not None:  # part of the catalog failed: list what it gave
        report(info, page.incomplete)
    found: list[Listed] = []
    for entity in page.items:
        pipeline_id = pipeline_id_of_entity(info, entity)
        if pipeline_id is None:
            continue
        if wanted and _ORCHESTRATOR_OF[origin_of(pipeline_id)] not in wanted:
            continue
        found.append((str(entity["metadata"]["name"]), pipeline_id, entity))
    return found


async def _pushed(info: Info, text: str | None) -> list[Listed]:
    pushed, _ = await info.context.resources.pipelines.store.list_pipelines(
        [Orchestrator.EXTERNAL], text, MAX_PIPELINES_SCANNED, 0
    )
    return [(p.name, p.id, None) for p in pushed]


async def _or_report(info: Info, listing: Awaitable[list[Listed]]) -> list[Listed]:
    """The source's pipelines; none, with the source's error reported, if it failed."""
    try:
        return await listing
    except UpstreamError as failure:
        report(info, failure)
        return []


@strawberry.input(description="One step of a pushed run.")
class StepInput:
    name: str
    type: str = "Task"
    status: ExecutionStatusEnum  # type: ignore[valid-type]
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    attempts: int = 1
    error: str | None = None
    cause: str | None = None
    resource_arn: str | None = None


@strawberry.input(description="A run pushed in by any orchestrator (EXTERNAL).")
class RecordRunInput:
    pipeline: str = strawberry.field(description="Pipeline name, unique among pushed pipelines.")
    run_id: str = strawberry.field(description="The orchestrator's id for the run.")
    status: ExecutionStatusEnum  # type: ignore[valid-type]
    started_at: datetime
    stopped_at: datetime | None = None
    parameters: JSON | None = None
    error: str | None = None
    cause: str | None = None
    steps: list[StepInput] = strawberry.field(default_factory=list)
    entity_ref: str | None = strawberry.field(
        default=None,
        description="Ref of the catalog entity the pipeline belongs to, kind included "
        "('component:churn-etl'); callers must own it.",
    )


@strawberry.type
class PipelineQuery:
    @strawberry.field(
        description="A pipeline, looked up in this order: a state machine or SageMaker "
        "pipeline ARN; a catalog ref '[kind:][namespace/]name' with kind component implied "
        "(the entity's annotations link the pipeline; a ref naming its kind looks only in "
        "the catalog); else the name of a pipeline whose runs are pushed in. Null when "
        "nothing matches or the claiming entity is hidden from the caller."
    )
    async def pipeline(self, info: Info, ref: str) -> Pipeline | None:
        return await resolve_pipeline(info, ref)

    @strawberry.field(
        description="Pipelines: catalog entities linked to a pipeline, and pipelines whose "
        "runs are pushed in. Ordered by name."
    )
    async def pipelines(
        self,
        info: Info,
        filter: PipelineFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> PipelineConnection:
        limit, offset = check_first(first), _offset_of(after)
        wanted = set(check_list("orchestrator", filter.orchestrator if filter else None))
        text = filter.text if filter else None
        found: list[Listed] = []
        # Each source that fails is reported and the others still answer: with the
        # catalog down, the pushed pipelines are listed (gateway.partial_results).
        if not wanted or wanted & {Orchestrator.STEP_FUNCTIONS, Orchestrator.SAGEMAKER_PIPELINES}:
            owners = (
                (str(parse_ref(filter.owner, default_kind="group", field="filter.owner")),)
                if filter and filter.owner
                else ()
            )
            found += await _or_report(info, _catalog_linked(info, wanted, owners, text))
        if (not wanted or Orchestrator.EXTERNAL in wanted) and not (filter and filter.owner):
            found += await _or_report(info, _pushed(info, text))
        found.sort(key=lambda item: (item[0].lower(), item[1]))
        window = found[offset : offset + limit]
        nodes = await asyncio.gather(
            *(
                pipeline_for_entity(info, linked)
                if linked is not None
                else load_pipeline(info, pipeline_id)
                for _, pipeline_id, linked in window
            ),
            return_exceptions=True,
        )
        edges = []
        for index, node in enumerate(nodes):
            if isinstance(node, BaseException) and not isinstance(node, Exception):
                raise node  # cancelled: not this pipeline's failure
            if node is not None:
                edges.append(PipelineEdge(cursor=_offset_cursor(offset + index + 1), found=node))
        has_next = offset + limit < len(found)

        return PipelineConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next,
                has_previous_page=offset > 0,
                start_cursor=after,
                end_cursor=_offset_cursor(offset + len(window)) if window else after,
            ),
        )

    @strawberry.field(description="A run by its ARN or its global id.")
    async def execution(self, info: Info, ref: str) -> PipelineExecution | None:
        if origin_of(ref) is None:
            type_name, key = decode_id(ref)
            if type_name != "PipelineExecution":
                raise InputError(f"{ref!r} is neither an execution ARN nor an execution id")
            ref = key
        return await load_execution(info, ref)


async def _owns(info: Info, ref: str) -> bool:
    entity = await info.context.loaders.entities_by_ref.load(ref)
    return owns(info.context.principal, ref, entity)


async def _check_can_record(info: Info, pipeline: str, entity_ref: str | None) -> None:
    """A writing service token; or a user owning entityRef and, when the pipeline is
    already stored under another entity, that one too (no re-homing someone's pipeline)."""
    if info.context.principal.can_write:
        return
    refused = NotAllowedError(
        "recording runs needs a service token allowed to write, "
        "or a user who owns the pipeline's entity (entityRef)"
    )
    if entity_ref is None or not await _owns(info, entity_ref):
        raise refused
    stored = await info.context.loaders.pipelines_by_id.load(external_pipeline_id(pipeline))
    current = stored[0].entity_ref if stored else None
    if current is not None and current != entity_ref and not await _owns(info, current):
        raise refused


@strawberry.type
class PipelineMutation:
    @strawberry.mutation(
        description="Record (or update) a run pushed by any orchestrator, with its steps. "
        "Needs a service token allowed to write, or a user owning entityRef."
    )
    async def record_run(self, info: Info, input: RecordRunInput) -> PipelineExecution | None:
        entity_ref = (
            str(parse_ref(input.entity_ref, field="entityRef")) if input.entity_ref else None
        )
        await _check_can_record(info, input.pipeline, entity_ref)
        if input.parameters is not None and not isinstance(input.parameters, dict):
            raise InputError("parameters must be a JSON object of name -> value")
        parameters: dict[str, Any] = dict(input.parameters or {})
        steps = [
            StepState(
                name=s.name,
                type=s.type,
                status=ExecutionStatus(s.status),
                position=i,
                started_at=s.started_at,
                stopped_at=s.stopped_at,
                attempts=s.attempts,
                error=s.error,
                cause=s.cause,
                resource_arn=s.resource_arn,
            )
            for i, s in enumerate(input.steps)
        ]
        execution = await info.context.resources.pipelines.store.record_external_run(
            input.pipeline,
            input.run_id,
            status=ExecutionStatus(input.status),
            started_at=input.started_at,
            stopped_at=input.stopped_at,
            parameters=parameters,
            error=input.error,
            cause=input.cause,
            steps=steps,
            entity_ref=entity_ref,
        )
        await info.context.resources.hub.poke(execution.id)
        return PipelineExecution.of(execution)


@strawberry.type
class PipelineSubscription:
    @strawberry.subscription(
        description="Pushes the run each time its status or any step changes; completes "
        "when the run ends. Give executionId, or pipelineId to follow its newest run."
    )
    async def execution_updated(
        self,
        info: Info,
        pipeline_id: strawberry.ID | None = None,
        execution_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[PipelineExecution | None, None]:
        key = await _execution_key(info, pipeline_id, execution_id)
        loaders = info.context.loaders
        async for execution, steps in info.context.resources.hub.subscribe(key):
            # Fresh data each time: prime this subscription's loaders with the snapshot.
            loaders.steps_by_execution.prime(key, steps, force=True)
            loaders.executions_by_id.prime(key, execution, force=True)
            yield PipelineExecution.of(execution)


async def _execution_key(
    info: Info, pipeline_id: strawberry.ID | None, execution_id: strawberry.ID | None
) -> str:
    if execution_id is not None:
        type_name, key = decode_id(execution_id)
        if type_name != "PipelineExecution":
            raise InputError("executionId is not the id of a PipelineExecution")
        return key
    if pipeline_id is None:
        raise InputError("give executionId, or pipelineId to follow its newest run")
    type_name, key = decode_id(pipeline_id)
    if type_name != "Pipeline":
        raise InputError("pipelineId is not the id of a Pipeline")
    latest = await info.context.loaders.latest_execution_by_pipeline.load(key)
    if latest is None:
        raise InputError("that pipeline has no run to follow yet")
    return latest.id
