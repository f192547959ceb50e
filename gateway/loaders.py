"""Every DataLoader of a request, built fresh for it (never shared across requests).

Named ``<target>_by_<key>``; each calls exactly one batch method of a source,
so the upstream calls of a query grow with its depth, not with its width.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from gateway.auth.principal import Principal
from sources.catalog.model import Entity
from sources.metadb.models import ExecutionStatus
from sources.metrics.model import Evolution, EvolutionRequest, MetricSummary, Series, SeriesRequest
from sources.pipelines.model import (
    ExecutionInfo,
    ExecutionPage,
    PipelineGraph,
    PipelineInfo,
    StepState,
)

if TYPE_CHECKING:
    from gateway.resources import Resources

PageKey = tuple[str, tuple[ExecutionStatus, ...], datetime | None, int, str | None]


@dataclass
class Loaders:
    entities_by_ref: DataLoader[str, Entity | None]
    pipelines_by_id: DataLoader[str, tuple[PipelineInfo, PipelineGraph] | None]
    executions_by_id: DataLoader[str, ExecutionInfo | None]
    steps_by_execution: DataLoader[str, list[StepState] | None]
    latest_execution_by_pipeline: DataLoader[str, ExecutionInfo | None]
    executions_page: DataLoader[PageKey, ExecutionPage]
    metrics_by_execution: DataLoader[str, list[MetricSummary]]
    series_by_request: DataLoader[SeriesRequest, list[Series]]
    metric_names_by_pipeline: DataLoader[str, list[str]]
    evolution_by_request: DataLoader[EvolutionRequest, list[Evolution]]

    @classmethod
    def build(cls, resources: Resources, principal: Principal) -> Loaders:
        catalog = resources.catalog
        pipelines = resources.pipelines
        metrics = resources.metrics
        importer = resources.importer

        async def load_summaries(ids: list[str]) -> list[list[MetricSummary]]:
            await importer.import_for(ids)  # finished AWS training jobs, once ever
            return await metrics.summaries(ids)

        async def load_series(requests: list[SeriesRequest]) -> list[list[Series]]:
            await importer.import_for(sorted({r.execution_id for r in requests}))
            return await metrics.series(requests)

        async def load_entities(refs: list[str]) -> list[Entity | Exception | None]:
            return await catalog.entities_by_refs(refs, principal)

        async def load_pages(keys: list[PageKey]) -> list[ExecutionPage | Exception]:
            results = await asyncio.gather(
                *(
                    pipelines.list_executions(
                        pipeline_id, statuses=statuses, since=since, limit=first, cursor=after
                    )
                    for pipeline_id, statuses, since, first, after in keys
                ),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, Exception):
                    raise result  # cancellation is not a per-key failure
            return list(results)  # type: ignore[arg-type]

        async def load_evolutions(requests: list[EvolutionRequest]) -> list[list[Evolution]]:
            return list(await asyncio.gather(*(metrics.evolution(r) for r in requests)))

        return cls(
            entities_by_ref=DataLoader(load_fn=load_entities),
            pipelines_by_id=DataLoader(load_fn=pipelines.pipelines_by_ids),
            executions_by_id=DataLoader(load_fn=pipelines.executions_by_ids),
            steps_by_execution=DataLoader(load_fn=pipelines.steps_by_execution_ids),
            latest_execution_by_pipeline=DataLoader(load_fn=pipelines.latest_by_pipeline_ids),
            executions_page=DataLoader(load_fn=load_pages, cache_key_fn=_page_key),
            metrics_by_execution=DataLoader(load_fn=load_summaries),
            series_by_request=DataLoader(load_fn=load_series),
            metric_names_by_pipeline=DataLoader(load_fn=metrics.metric_names_for_pipelines),
            evolution_by_request=DataLoader(load_fn=load_evolutions),
        )


def _page_key(key: PageKey) -> Hashable:
    return key
