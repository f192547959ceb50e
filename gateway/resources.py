"""The long-lived clients of one process, made once in the lifespan and closed there."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from gateway.auth.authenticator import Authenticator
from gateway.config import Settings
from gateway.limits.budget import Buckets, open_buckets
from gateway.realtime import ExecutionHub, open_hub
from sources.aws import AwsSettings, open_client
from sources.catalog.annotations import AnnotationKeys
from sources.catalog.backstage import BackstageCatalog
from sources.catalog.claims import ClaimsIndex
from sources.catalog.folder import FolderCatalog
from sources.catalog.model import CatalogSource
from sources.catalog.stale import StaleFallbackCatalog
from sources.cloudwatch import CloudWatchSource
from sources.health import Checkable, HealthCache
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
from sources.resilience.aws import GuardedClient
from sources.resilience.breaker import Breakers
from sources.sagemaker import SageMakerSource
from sources.sagemaker.registry_source import SageMakerRegistry
from sources.stepfunctions import StepFunctionsSource

log = logging.getLogger("mlmeta")

BREAKER_SOURCES = ("catalog", "stepfunctions", "sagemaker", "cloudwatch", "metadb", "redis")
"""Sources with a circuit breaker (one per process each); a folder catalog never trips its."""


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
    claims: ClaimsIndex
    breakers: Breakers
    stepfunctions: StepFunctionsSource | None = None
    sagemaker: SageMakerSource | None = None
    checkables: list[Checkable] = field(default_factory=list)
    budgets: Buckets | None = None  # per-principal query budgets; None when switched off
    health: HealthCache = field(init=False)
    hub: ExecutionHub = field(init=False)


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Open every client the settings ask for; close them all on exit."""
    breakers = Breakers(
        BREAKER_SOURCES,
        failure_threshold=settings.breaker_failures,
        cooldown_seconds=settings.breaker_cooldown_seconds,
    )
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
        metadb = MetaDB.connect(
            settings.database_url,
            statement_timeout=settings.metadb_statement_timeout_seconds,
            connect_timeout=settings.metadb_connect_timeout_seconds,
            pool_size=settings.metadb_pool_size,
            max_overflow=settings.metadb_max_overflow,
            breaker=breakers["metadb"],
        )
        stack.push_async_callback(metadb.close)
        catalog: CatalogSource
        # The claims index keeps its own last good value, so it reads the catalog itself.
        claims_catalog: CatalogSource
        if settings.catalog_backend == "backstage":
            claims_catalog = BackstageCatalog(
                settings.backstage_url,
                http,
                service_token=settings.backstage_token or None,
                timeout=settings.catalog_timeout_seconds,
                batch_size=settings.backstage_batch_size,
                breaker=breakers["catalog"],
            )
            catalog = StaleFallbackCatalog(claims_catalog, settings.max_staleness_seconds)
        else:
            catalog = claims_catalog = FolderCatalog(
                Path(settings.catalog_folder), max_staleness=settings.max_staleness_seconds
            )
        aws = AwsSettings(
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url or None,
            timeout_seconds=settings.aws_timeout_seconds,
            max_attempts=settings.aws_max_attempts,
        )

        async def aws_client(service: str, own_timeout: float) -> GuardedClient:
            """The service's one client, behind its breaker, with its own timeout if set."""
            own = replace(aws, timeout_seconds=own_timeout) if own_timeout > 0 else aws
            return GuardedClient(await open_client(stack, service, own), breakers[service])

        stepfunctions = sagemaker = cloudwatch = registry = None
        if settings.stepfunctions_enabled:
            stepfunctions = StepFunctionsSource(
                await aws_client("stepfunctions", settings.stepfunctions_timeout_seconds),
                region=settings.aws_region,
            )
        if settings.sagemaker_enabled:
            sagemaker_client = await aws_client("sagemaker", settings.sagemaker_timeout_seconds)
            sagemaker = SageMakerSource(sagemaker_client, region=settings.aws_region)
            registry = SageMakerRegistry(
                sagemaker_client,
                settings.aws_region,
                cache_seconds=settings.registry_cache_seconds,
                max_stale_seconds=settings.max_staleness_seconds,
            )
            cloudwatch = CloudWatchSource(
                await aws_client("cloudwatch", settings.cloudwatch_timeout_seconds)
            )
        pipeline_store = PipelineStore(metadb)
        metric_store = MetricStore(metadb)
        cards = CardService(CardStore(metadb), registry)
        claims = ClaimsIndex(
            claims_catalog,
            AnnotationKeys(
                step_functions=settings.annotations_step_functions,
                sagemaker_pipeline=settings.annotations_sagemaker_pipeline,
                model_package_group=settings.annotations_model_package_group,
                dataset_uri=settings.annotations_dataset_uri,
            ),
            ttl=settings.registry_cache_seconds,
            max_stale_seconds=settings.max_staleness_seconds,
        )
        models = ModelService(registry, ModelVersionStore(metadb), claims)
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
                pipeline_store,
                stepfunctions,
                sagemaker,
                settings.max_step_fetches,
                live_seconds=settings.live_cache_seconds,
                definition_seconds=settings.registry_cache_seconds,
            ),
            metrics=metric_store,
            importer=TrainingMetricsImporter(
                metadb, pipeline_store, metric_store, sagemaker, cloudwatch
            ),
            models=models,
            claims=claims,
            breakers=breakers,
            cards=cards,
            lineage=LineageService(lineage_store, cards, LineageIngestor(metadb), derived),
            stepfunctions=stepfunctions,
            sagemaker=sagemaker,
        )
        resources.checkables += [
            c for c in (metadb, catalog, stepfunctions, sagemaker) if c is not None
        ]
        resources.health = HealthCache(
            resources.checkables,
            settings.readiness_timeout_seconds,
            settings.readiness_cache_seconds,
        )
        if settings.budget_per_second > 0:
            resources.budgets = await stack.enter_async_context(
                open_buckets(settings.redis_url, breaker=breakers["redis"])
            )
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
