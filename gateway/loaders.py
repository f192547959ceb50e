"""Every DataLoader of a request, built fresh for it (never shared across requests).

Named ``<target>_by_<key>``; each calls exactly one batch method of a source,
so the upstream calls of a query grow with its depth, not with its width.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import Histogram
from strawberry.dataloader import DataLoader

from gateway.auth.principal import Principal
from gateway.partial_results import Partial
from sources.catalog.claims import EntityClaim
from sources.catalog.model import Entity
from sources.lineage.model import (
    DatasetRow,
)
from sources.metadb.models import ExecutionStatus
from sources.metrics.model import Evolution, EvolutionRequest, MetricSummary, Series, SeriesRequest
from sources.models.model import (
    Approval,
    ApprovalStatus,
    CardRecord,
    DatasetRef,
    DeploymentInfo,
    ModelInfo,
    ModelPage,
    VersionDetail,
    VersionPage,
    VersionSummary,
)
from sources.pipelines.model import (
    ExecutionInfo,
    ExecutionPage,
    PipelineGraph,
    PipelineInfo,
    StepState,
)
from sources.telemetry import LOADER_BATCH_SIZE

if TYPE_CHECKING:
    from gateway.resources import Resources

PageKey = tuple[str, tuple[ExecutionStatus, ...], datetime | None, int, str | None]
VersionPageKey = tuple[str, ApprovalStatus | None, int, str | None]
K = TypeVar("K")
V = TypeVar("V")


@dataclass
class Loaders:
    entities_by_ref: DataLoader[str, Entity | None]
    pipelines_by_id: DataLoader[str, tuple[PipelineInfo, PipelineGraph] | None]
    pipeline_entity_by_id: DataLoader[str, EntityClaim | None]
    executions_by_id: DataLoader[str, ExecutionInfo | None]
    steps_by_execution: DataLoader[str, list[StepState] | None]
    latest_execution_by_pipeline: DataLoader[str, ExecutionInfo | None]
    executions_page: DataLoader[PageKey, ExecutionPage]
    metrics_by_execution: DataLoader[str, Partial[list[MetricSummary]]]
    series_by_request: DataLoader[SeriesRequest, Partial[list[Series]]]
    metric_names_by_pipeline: DataLoader[str, list[str]]
    evolution_by_request: DataLoader[EvolutionRequest, list[Evolution]]
    models_by_key: DataLoader[str, ModelInfo | None]
    models_page: DataLoader[tuple[int, str | None], ModelPage]
    model_entity_by_group: DataLoader[str, EntityClaim | None]
    versions_page: DataLoader[VersionPageKey, VersionPage]
    latest_version_by_model: DataLoader[tuple[str, ApprovalStatus | None], VersionSummary | None]
    versions_by_arn: DataLoader[str, VersionSummary | None]
    version_details_by_arn: DataLoader[str, VersionDetail | None]
    trained_by_version: DataLoader[str, str | None]
    deployments_by_version: DataLoader[tuple[str, str | None], list[DeploymentInfo]]
    deployment_by_arn: DataLoader[str, DeploymentInfo | None]
    approval_by_version: DataLoader[str, Approval | None]
    models_trained_by_entity: DataLoader[str, list[str]]
    cards_by_version: DataLoader[str, list[CardRecord]]
    card_history: DataLoader[CardRecord, list[CardRecord]]
    inputs_by_execution: DataLoader[str, list[DatasetRef]]
    models_by_execution: DataLoader[str, list[str]]
    datasets_by_key: DataLoader[str, DatasetRow | None]
    dataset_entity_by_uri: DataLoader[str, EntityClaim | None]

    @classmethod
    def build(cls, resources: Resources, principal: Principal) -> Loaders:
        catalog = resources.catalog
        pipelines = resources.pipelines
        metrics = resources.metrics
        importer = resources.importer

        # What the metadb holds, once finished AWS training jobs are imported (once ever);
        # a run whose import failed answers without them, and the failure is reported.
        async def load_summaries(ids: list[str]) -> list[Partial[list[MetricSummary]]]:
            failed = await importer.import_for(ids)
            found = await metrics.summaries(ids)
            return [Partial(s, failed.get(i)) for i, s in zip(ids, found, strict=True)]

        async def load_series(requests: list[SeriesRequest]) -> list[Partial[list[Series]]]:
            failed = await importer.import_for(sorted({r.execution_id for r in requests}))
            found = await metrics.series(requests)
            return [
                Partial(s, failed.get(r.execution_id)) for r, s in zip(requests, found, strict=True)
            ]

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

        models = resources.models

        async def load_model_entities(groups: list[str]) -> list[EntityClaim | None]:
            index = await models.entities_of_models()
            return [index.get(group) for group in groups]

        async def load_version_pages(keys: list[VersionPageKey]) -> list[VersionPage]:
            return list(
                await asyncio.gather(*(models.list_versions(g, s, f, a) for g, s, f, a in keys))
            )

        async def load_model_pages(keys: list[tuple[int, str | None]]) -> list[ModelPage]:
            return list(await asyncio.gather(*(models.list_models(f, a) for f, a in keys)))

        details_loader: DataLoader[str, VersionDetail | None] = DataLoader(
            load_fn=models.details_by_arns
        )

        async def load_trained_by(arns: list[str]) -> list[str | None]:
            details = await details_loader.load_many(arns)
            known = [(i, d) for i, d in enumerate(details) if d is not None]
            runs = await models.trained_by([d for _, d in known])
            found: list[str | None] = [None] * len(arns)
            for (index, _), run in zip(known, runs, strict=True):
                found[index] = run
            unknown = [arn for arn, run in zip(arns, found, strict=True) if run is None]
            if unknown:  # else the run with a PRODUCED edge into it (API, OpenLineage)
                produced = dict(zip(unknown, await lineage.producers(unknown), strict=True))
                found = [run or produced.get(arn) for arn, run in zip(arns, found, strict=True)]
            return found

        cards = resources.cards
        lineage = resources.lineage

        async def load_histories(keys: list[CardRecord]) -> list[list[CardRecord]]:
            return list(await asyncio.gather(*(cards.history(card) for card in keys)))

        loaders = cls(
            models_trained_by_entity=DataLoader(load_fn=models.models_depending_on),
            cards_by_version=DataLoader(load_fn=cards.saved_cards),
            card_history=DataLoader(load_fn=load_histories, cache_key_fn=_card_key),
            inputs_by_execution=DataLoader(load_fn=lineage.inputs),
            models_by_execution=DataLoader(load_fn=lineage.produced_versions),
            datasets_by_key=DataLoader(load_fn=lineage.store.datasets_by_ids),
            dataset_entity_by_uri=DataLoader(load_fn=models.dataset_entities),
            models_by_key=DataLoader(load_fn=models.models_by_keys),
            models_page=DataLoader(load_fn=load_model_pages),
            model_entity_by_group=DataLoader(load_fn=load_model_entities),
            versions_page=DataLoader(load_fn=load_version_pages),
            latest_version_by_model=DataLoader(load_fn=models.latest_versions),
            versions_by_arn=DataLoader(load_fn=models.versions_by_arns),
            version_details_by_arn=details_loader,
            trained_by_version=DataLoader(load_fn=load_trained_by),
            deployments_by_version=DataLoader(load_fn=models.deployments_for),
            deployment_by_arn=DataLoader(load_fn=models.deployments_by_arns),
            approval_by_version=DataLoader(load_fn=models.approvals),
            entities_by_ref=DataLoader(load_fn=load_entities),
            pipelines_by_id=DataLoader(load_fn=pipelines.pipelines_by_ids),
            pipeline_entity_by_id=DataLoader(load_fn=resources.claims.pipeline_entities),
            executions_by_id=DataLoader(load_fn=pipelines.executions_by_ids),
            steps_by_execution=DataLoader(load_fn=pipelines.steps_by_execution_ids),
            latest_execution_by_pipeline=DataLoader(load_fn=pipelines.latest_by_pipeline_ids),
            executions_page=DataLoader(load_fn=load_pages, cache_key_fn=_page_key),
            metrics_by_execution=DataLoader(load_fn=load_summaries),
            series_by_request=DataLoader(load_fn=load_series),
            metric_names_by_pipeline=DataLoader(load_fn=metrics.metric_names_for_pipelines),
            evolution_by_request=DataLoader(load_fn=load_evolutions),
        )
        _measure_batches(loaders)
        return loaders


def _measure_batches(loaders: Loaders) -> None:
    """Each batch's size goes to ``mlmeta_loader_batch_size`` under the loader's name."""
    for name in _loader_names():
        loader = getattr(loaders, name)
        loader.load_fn = _measured(name, loader.load_fn)


@cache
def _loader_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Loaders))


@cache
def _batch_sizes(name: str) -> Histogram:
    return LOADER_BATCH_SIZE.labels(name)


def _measured(
    name: str, load_fn: Callable[[list[K]], Awaitable[V]]
) -> Callable[[list[K]], Awaitable[V]]:
    # Per request for every loader: only a closure here; the histogram when a batch runs.
    def load(keys: list[K]) -> Awaitable[V]:
        _batch_sizes(name).observe(len(keys))
        return load_fn(keys)

    return load


def _page_key(key: PageKey) -> Hashable:
    return key


def _card_key(card: CardRecord) -> Hashable:
    return (card.source, card.model_version_arn, card.name)
