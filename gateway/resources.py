"""The long-lived clients of one process, made once in the lifespan and closed there."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.auth.authenticator import Authenticator
from gateway.config import Settings
from gateway.realtime import ExecutionHub, open_hub
from sources.aws import AwsSettings, open_client
from sources.catalog.backstage import BackstageCatalog
from sources.catalog.folder import FolderCatalog
from sources.catalog.model import CatalogSource
from sources.cloudwatch import CloudWatchSource
from sources.health import Checkable
from sources.lineage.derive import AwsLineage
from sources.lineage.openlineage import LineageIngestor
from sources.lineage.service import LineageService
from sources.metadb import MetaDB, upgrade
from sources.metadb.cards import CardStore
from sources.metadb.lineage import LineageStore
from sources.metadb.metrics import MetricStore
from sources.metadb.model_versions import ModelVersionStore
from sources.metadb.pipelines import PipelineStore
from sources.metrics.importer import TrainingMetricsImporter
from sources.models.cards import CardService
from sources.models.service import ModelService
from sources.pipelines.service import PipelineService
from sources.sagemaker import SageMakerSource
from sources.sagemaker.registry_source import SageMakerRegistry
from sources.stepfunctions import StepFunctionsSource

log = logging.getLogger("mlmeta")


@dataclass
class Resources:
    settings: Settings
    http: httpx.AsyncClient
    metadb: MetaDB
    authenticator: Authenticator
    catalog: CatalogSource
    pipelines: PipelineService
    metrics: MetricStore
    importer: TrainingMetricsImporter
    models: ModelService
    cards: CardService
    lineage: LineageService
    stepfunctions: StepFunctionsSource | None = None
    sagemaker: SageMakerSource | None = None
    checkables: list[Checkable] = field(default_factory=list)
    hub: ExecutionHub = field(init=False)


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Open every client the settings ask for; close them all on exit."""
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
        )
        if settings.is_sqlite:
            Path(settings.database_url.split("///", 1)[-1]).parent.mkdir(
                parents=True, exist_ok=True
            )
            if settings.auto_migrate:
                await upgrade(settings.database_url)
        metadb = MetaDB.connect(settings.database_url)
        stack.push_async_callback(metadb.close)
        catalog: CatalogSource
        if settings.catalog_backend == "backstage":
            catalog = BackstageCatalog(
                settings.backstage_url, http, service_token=settings.backstage_token or None
            )
        else:
            catalog = FolderCatalog(Path(settings.catalog_folder))
        aws = AwsSettings(
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url or None,
            timeout_seconds=settings.aws_timeout_seconds,
            max_attempts=settings.aws_max_attempts,
        )
        stepfunctions = sagemaker = cloudwatch = registry = None
        if settings.stepfunctions_enabled:
            stepfunctions = StepFunctionsSource(
                await open_client(stack, "stepfunctions", aws), region=settings.aws_region
            )
        if settings.sagemaker_enabled:
            sagemaker_client = await open_client(stack, "sagemaker", aws)
            sagemaker = SageMakerSource(sagemaker_client, region=settings.aws_region)
            registry = SageMakerRegistry(
                sagemaker_client,
                settings.aws_region,
                cache_seconds=settings.registry_cache_seconds,
            )
            cloudwatch = CloudWatchSource(await open_client(stack, "cloudwatch", aws))
        pipeline_store = PipelineStore(metadb)
        metric_store = MetricStore(metadb)
        cards = CardService(CardStore(metadb), registry)
        models = ModelService(
            registry, ModelVersionStore(metadb), catalog, index_ttl=settings.registry_cache_seconds
        )
        lineage_store = LineageStore(metadb)
        derived = None
        if registry is not None:
            derived = AwsLineage(
                models,
                registry,
                sagemaker,
                pipeline_store,
                lineage_store,
                ttl_seconds=settings.registry_cache_seconds,
            )
        resources = Resources(
            settings=settings,
            http=http,
            metadb=metadb,
            authenticator=Authenticator(settings, http),
            catalog=catalog,
            pipelines=PipelineService(
                pipeline_store, stepfunctions, sagemaker, settings.max_step_fetches
            ),
            metrics=metric_store,
            importer=TrainingMetricsImporter(
                metadb, pipeline_store, metric_store, sagemaker, cloudwatch
            ),
            models=models,
            cards=cards,
            lineage=LineageService(lineage_store, cards, LineageIngestor(metadb), derived),
            stepfunctions=stepfunctions,
            sagemaker=sagemaker,
        )
        resources.checkables += [
            c for c in (metadb, catalog, stepfunctions, sagemaker) if c is not None
        ]
        # Entered last, so it is closed before the clients its pollers use.
        resources.hub = await stack.enter_async_context(
            open_hub(settings, resources.pipelines.execution_snapshot)
        )
        if settings.allow_anonymous:
            log.warning(
                "ANONYMOUS ACCESS IS ON: requests without a token are served as 'anonymous'. "
                "Use this for the embedded demo only."
            )
        yield resources
