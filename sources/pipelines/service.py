"""Pipelines from every source, with finished executions served from the metadb.

This is where the AWS bill is decided:
- a finished execution (and its steps) is fetched once, written to the metadb
  and never asked of AWS again;
- list views come from list summaries plus the metadb, never one describe per row;
- step details are fetched only for executions not finished-and-stored, at
  most ``max_concurrency`` at a time;
- what may still change (a running execution, its steps, a run list) is shared
  by the requests asking for it within ``live_seconds`` (one call, however many
  requests), and a pipeline's definition is reused for ``definition_seconds``.
  Live updates (``execution_snapshot``) always ask AWS, and what they learn is
  what the next reads get.
Every method is batch-shaped: DataLoaders call them with all the keys of a tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sources.errors import MlmetaError, NotFoundError
from sources.metadb.models import ExecutionStatus, Orchestrator
from sources.metadb.pipelines import PipelineStore
from sources.pipelines.ids import (
    SAGEMAKER_NAME_PREFIX,
    Origin,
    origin_of,
    sagemaker_execution_pipeline,
    sfn_execution_state_machine,
)
from sources.pipelines.model import (
    ExecutionInfo,
    ExecutionPage,
    PipelineGraph,
    PipelineInfo,
    StepState,
)
from sources.pipelines.paging import collect
from sources.sagemaker import SageMakerSource
from sources.sagemaker.concurrency import SharedAnswers
from sources.stepfunctions import StepFunctionsSource

log = logging.getLogger("mlmeta.pipelines")
T = TypeVar("T")
Described = tuple[PipelineInfo, PipelineGraph]
Detail = tuple[ExecutionInfo, list[StepState]]


class PipelineService:
    def __init__(
        self,
        store: PipelineStore,
        stepfunctions: StepFunctionsSource | None,
        sagemaker: SageMakerSource | None,
        max_concurrency: int = 8,
        *,
        live_seconds: float = 0.0,
        definition_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.stepfunctions = stepfunctions
        self.sagemaker = sagemaker
        self._limit = asyncio.Semaphore(max_concurrency)
        self._definitions: SharedAnswers[str, Described] = SharedAnswers(
            definition_seconds, name="pipeline_definitions"
        )
        self._described: SharedAnswers[str, ExecutionInfo | None] = SharedAnswers(
            live_seconds, name="live_executions"
        )
        self._details: SharedAnswers[str, Detail | None] = SharedAnswers(
            live_seconds, name="live_execution_steps"
        )
        self._pages: SharedAnswers[tuple[Any, ...], ExecutionPage] = SharedAnswers(
            live_seconds, name="run_lists"
        )

    # ------------------------------------------------------------ pipelines

    async def pipelines_by_ids(self, keys: Sequence[str]) -> list[Described | Exception | None]:
        """Pipelines and their static graphs, in key order; None when unknown."""
        external = [k for k in keys if origin_of(k) is Origin.EXTERNAL]
        stored = dict(zip(external, await self.store.pipelines_by_ids(external), strict=True))

        async def one(key: str) -> Described | None:
            origin = origin_of(key)
            if origin is Origin.EXTERNAL:
                info = stored.get(key)
                return (info, PipelineGraph(nodes=[], edges=[])) if info else None
            describe: Callable[[str], Awaitable[Described]]
            try:
                if origin is Origin.STEP_FUNCTIONS and self.stepfunctions is not None:
                    describe = self.stepfunctions.describe_pipeline
                    name_or_arn = key
                elif origin is Origin.SAGEMAKER and self.sagemaker is not None:
                    describe = self.sagemaker.describe_pipeline
                    name_or_arn = key.removeprefix(SAGEMAKER_NAME_PREFIX)
                else:
                    return None
                return await self._definitions.get(
                    key, lambda: self._bounded(describe, name_or_arn)
                )
            except NotFoundError:
                return None  # an unknown pipeline is null, like an unknown entity

        return await _gather_keyed(one, keys)

    # ----------------------------------------------------------- executions

    async def executions_by_ids(self, ids: Sequence[str]) -> list[ExecutionInfo | Exception | None]:
        stored = await self.store.executions_by_ids(ids)
        results: list[ExecutionInfo | Exception | None] = list(stored)
        # Only runs that may still change, and only AWS ones, are asked upstream; the
        # rest (most of a list) answer as stored, without a coroutine each.
        asked = [
            index
            for index, (key, known) in enumerate(zip(ids, stored, strict=True))
            if not (known is not None and known.finished)
            and origin_of(key) not in (None, Origin.EXTERNAL)
        ]
        if not asked:
            return results

        async def one(key: str, _known: ExecutionInfo | None) -> ExecutionInfo | None:
            info = await self._describe(key)
            if info is not None and info.finished:
                # Fetch its steps now too: once stored, AWS is never asked again.
                steps = await self._steps(key)
                await self._remember(_pipeline_of(key), info, steps)
            return info

        described = await _gather_pairs(one, [ids[i] for i in asked], [stored[i] for i in asked])
        for index, result in zip(asked, described, strict=True):
            results[index] = result
        return results

    async def steps_by_execution_ids(
        self, ids: Sequence[str]
    ) -> list[list[StepState] | Exception | None]:
        finished = await self.store.finished_steps_by_execution_ids(ids)
        external = [i for i, f in zip(ids, finished, strict=True) if f is None and _is_ext(i)]
        pushed = dict(zip(external, await self.store.steps_by_execution_ids(external), strict=True))

        async def one(key: str, known: list[StepState] | None) -> list[StepState] | None:
            if known is not None:
                return known
            if origin_of(key) is Origin.EXTERNAL:
                return pushed.get(key)
            detail = await self._detail(key)
            return detail[1] if detail else None

        return await _gather_pairs(one, ids, finished)

    async def list_executions(
        self,
        pipeline_id: str,
        *,
        statuses: Sequence[ExecutionStatus] | None,
        since: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> ExecutionPage:
        """Newest first. Summaries are replaced by stored records where the metadb has them."""
        statuses = statuses or None  # no status asked: every status
        origin = origin_of(pipeline_id)
        if origin is Origin.EXTERNAL:
            return await self.store.list_executions(pipeline_id, statuses, since, limit, cursor)
        if origin is Origin.STEP_FUNCTIONS and self.stepfunctions is not None:
            sfn = self.stepfunctions
            single = statuses[0] if statuses and len(statuses) == 1 else None

            async def fetch(token: str | None, size: int) -> ExecutionPage:
                return await self._pages.get(
                    (pipeline_id, single, size, token),
                    lambda: sfn.list_executions(
                        pipeline_id, status=single, max_results=size, next_token=token
                    ),
                )

            source = "stepfunctions"
        elif origin is Origin.SAGEMAKER and self.sagemaker is not None:
            sm = self.sagemaker

            name_or_arn = pipeline_id.removeprefix(SAGEMAKER_NAME_PREFIX)

            async def fetch(token: str | None, size: int) -> ExecutionPage:
                return await self._pages.get(
                    (pipeline_id, None, min(size, 100), token),
                    lambda: sm.list_pipeline_executions(
                        name_or_arn, status=None, max_results=min(size, 100), next_token=token
                    ),
                )

            source = "sagemaker"
        else:
            raise NotFoundError(f"no pipeline source serves {pipeline_id!r}")
        page = await collect(
            fetch, statuses=statuses, since=since, limit=limit, cursor=cursor, source=source
        )
        stored = await self.store.executions_by_ids([e.id for e in page.items])
        # A stored run still going (kept for the metrics logged to it) is older news
        # than the summary just listed: only a finished record replaces it.
        merged = [
            s if s is not None and s.finished else e
            for e, s in zip(page.items, stored, strict=True)
        ]
        return ExecutionPage(
            items=merged, next_token=page.next_token, item_cursors=page.item_cursors
        )

    async def latest_by_pipeline_ids(
        self, pipeline_ids: Sequence[str]
    ) -> list[ExecutionInfo | Exception | None]:
        external = [p for p in pipeline_ids if _is_ext(p)]
        latest = dict(zip(external, await self.store.latest_executions(external), strict=True))

        async def one(key: str) -> ExecutionInfo | None:
            if _is_ext(key):
                return latest.get(key)
            page = await self.list_executions(key, statuses=None, since=None, limit=1, cursor=None)
            return page.items[0] if page.items else None

        return await _gather_keyed(one, pipeline_ids)

    async def ensure_stored(self, execution_id: str) -> PipelineInfo:
        """Make sure the metadb holds the run (metrics hang off it); return its pipeline."""
        [stored] = await self.store.executions_by_ids([execution_id])
        if stored is None:
            if origin_of(execution_id) in (None, Origin.EXTERNAL):
                raise NotFoundError(f"no run {execution_id!r}", source="pipelines")
            detail = await self._detail(execution_id)  # stores it when finished
            if detail is None:
                raise NotFoundError(f"no run {execution_id!r}", source="pipelines")
            if not detail[0].finished:
                await self._remember(_pipeline_of(execution_id), *detail)
            stored = detail[0]
        [pipeline] = await self.store.pipelines_by_ids([stored.pipeline_id])
        if pipeline is None:
            raise NotFoundError(f"no pipeline for run {execution_id!r}", source="pipelines")
        return pipeline

    async def execution_snapshot(self, execution_id: str) -> Detail:
        """An execution and its steps as they are now: what live updates poll."""
        if origin_of(execution_id) is Origin.EXTERNAL:
            [info] = await self.store.executions_by_ids([execution_id])
            [steps] = await self.store.steps_by_execution_ids([execution_id])
            if info is None:
                raise NotFoundError(f"no run {execution_id!r}", source="pipelines")
            return info, steps
        [stored] = await self.store.executions_by_ids([execution_id])
        if stored is not None and stored.finished:
            [steps_or_none] = await self.store.finished_steps_by_execution_ids([execution_id])
            return stored, steps_or_none or []
        detail = await self._fetch_detail(execution_id)
        if detail is None:
            raise NotFoundError(f"no run {execution_id!r}", source="pipelines")
        self._details.put(execution_id, detail)
        self._described.put(execution_id, detail[0])
        return detail

    # -------------------------------------------------------------- helpers

    async def _describe(self, execution_id: str) -> ExecutionInfo | None:
        return await self._described.get(execution_id, lambda: self._fetch_info(execution_id))

    async def _fetch_info(self, execution_id: str) -> ExecutionInfo | None:
        origin = origin_of(execution_id)
        try:
            if origin is Origin.STEP_FUNCTIONS and self.stepfunctions is not None:
                return await self._bounded(self.stepfunctions.describe_execution, execution_id)
            if origin is Origin.SAGEMAKER and self.sagemaker is not None:
                return await self._bounded(self.sagemaker.describe_pipeline_execution, execution_id)
        except NotFoundError:
            return None
        return None

    async def _steps(self, execution_id: str) -> list[StepState]:
        origin = origin_of(execution_id)
        if origin is Origin.STEP_FUNCTIONS and self.stepfunctions is not None:
            return await self._bounded(self.stepfunctions.execution_steps, execution_id)
        if origin is Origin.SAGEMAKER and self.sagemaker is not None:
            return await self._bounded(self.sagemaker.pipeline_execution_steps, execution_id)
        return []

    async def _detail(self, execution_id: str) -> Detail | None:
        """Execution and steps as fetched within ``live_seconds``; stored when finished."""
        return await self._details.get(execution_id, lambda: self._fetch_detail(execution_id))

    async def _fetch_detail(self, execution_id: str) -> Detail | None:
        """Execution and steps from AWS; stored when finished (then never fetched again)."""
        origin = origin_of(execution_id)
        try:
            if origin is Origin.STEP_FUNCTIONS and self.stepfunctions is not None:
                detail = await self._bounded(self.stepfunctions.execution_detail, execution_id)
            elif origin is Origin.SAGEMAKER and self.sagemaker is not None:
                detail = await self._bounded(self.sagemaker.execution_detail, execution_id)
            else:
                return None
        except NotFoundError:
            return None
        info, steps = detail
        if info.finished:
            await self._remember(_pipeline_of(execution_id), info, steps)
        return info, steps

    async def _remember(
        self, pipeline: PipelineInfo, info: ExecutionInfo, steps: list[StepState]
    ) -> None:
        try:
            await self.store.save_pipeline(pipeline)
            await self.store.save_execution(info, steps)
        except MlmetaError:
            # The answer is still right; it will simply be fetched again next time.
            log.warning("could not store finished execution %s", info.id, exc_info=True)

    async def _bounded(self, call: Callable[[str], Awaitable[T]], key: str) -> T:
        async with self._limit:
            return await call(key)


def _pipeline_of(execution_id: str) -> PipelineInfo:
    """The pipeline row a cached execution hangs off, from the execution's ARN."""
    if origin_of(execution_id) is Origin.SAGEMAKER:
        arn = sagemaker_execution_pipeline(execution_id)
        return PipelineInfo(
            id=arn,
            orchestrator=Orchestrator.SAGEMAKER_PIPELINES,
            name=arn.rsplit("/", 1)[-1],
            arn=arn,
        )
    arn = sfn_execution_state_machine(execution_id)
    return PipelineInfo(
        id=arn, orchestrator=Orchestrator.STEP_FUNCTIONS, name=arn.rsplit(":", 1)[-1], arn=arn
    )


def _is_ext(key: str) -> bool:
    return origin_of(key) is Origin.EXTERNAL


async def _gather_keyed(
    one: Callable[[str], Awaitable[T | None]], keys: Sequence[str]
) -> list[T | Exception | None]:
    results = await asyncio.gather(*(one(k) for k in keys), return_exceptions=True)
    return [_as_result(r) for r in results]


async def _gather_pairs(
    one: Callable[[str, Any], Awaitable[T | None]], keys: Sequence[str], known: Sequence[Any]
) -> list[T | Exception | None]:
    results = await asyncio.gather(
        *(one(k, v) for k, v in zip(keys, known, strict=True)), return_exceptions=True
    )
    return [_as_result(r) for r in results]


def _as_result(result: Any) -> Any:
    if isinstance(result, BaseException) and not isinstance(result, Exception):
        raise result  # cancellation and the like are not per-key failures
    return result
