"""Models, versions, deployments and cards: the registry, the metadb and the catalog together.

Every method is batch-shaped (one call per loader tick): the registry is asked
once per batch, version facts are read from the metadb and fetched from the
registry only the first time, and the catalog entities that claim models and
datasets come from the shared ``ClaimsIndex``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sources.catalog.claims import ClaimsIndex, EntityClaim
from sources.errors import UpstreamError
from sources.metadb.model_versions import ModelVersionStore
from sources.models.model import (
    Approval,
    ApprovalStatus,
    DeploymentInfo,
    ModelInfo,
    ModelPage,
    VersionDetail,
    VersionPage,
    VersionSummary,
    group_name,
)

if TYPE_CHECKING:
    from sources.sagemaker.registry_source import SageMakerRegistry

log = logging.getLogger("mlmeta.models")

EXECUTION_KEYS = ("mlmeta:execution-arn", "mlmeta:pipeline-execution-arn")
TRAINING_JOB_KEY = "mlmeta:training-job-arn"


class ModelService:
    def __init__(
        self,
        registry: SageMakerRegistry | None,
        versions: ModelVersionStore,
        claims: ClaimsIndex,
    ) -> None:
        self._registry = registry
        self._versions = versions
        self._claims = claims

    @property
    def registry(self) -> SageMakerRegistry:
        if self._registry is None:
            raise UpstreamError(
                "the SageMaker model registry is not configured", source="sagemaker"
            )
        return self._registry

    # ---- models ----------------------------------------------------------------------------

    async def models_by_keys(self, keys: Sequence[str]) -> list[ModelInfo | None]:
        """Models by group name or ARN, in key order; None for an unknown one."""
        return await self.registry.describe_groups([group_name(k) for k in keys])

    async def entities_of_models(self) -> dict[str, EntityClaim]:
        """Group name -> the catalog entity that claims it (``ml-model`` with the annotation)."""
        return (await self._claims.claims()).models

    async def models_depending_on(self, refs: Sequence[str]) -> list[list[str]]:
        """For each entity ref (a pipeline's), the groups of the models that dependsOn it."""
        models = (await self._claims.claims()).models
        return [sorted(g for g, e in models.items() if ref in e.depends_on) for ref in refs]

    async def dataset_entities(self, uris: Sequence[str]) -> list[EntityClaim | None]:
        """Per dataset URI, the entity whose ``mlmeta.io/dataset-uri`` is its longest prefix."""
        datasets = (await self._claims.claims()).datasets
        prefixes = sorted(datasets.items(), key=lambda item: -len(item[0]))
        return [next((e for p, e in prefixes if uri.startswith(p)), None) for uri in uris]

    # ---- versions --------------------------------------------------------------------------

    async def list_versions(
        self, group: str, status: ApprovalStatus | None, first: int, after: str | None
    ) -> VersionPage:
        return await self.registry.list_versions(
            group_name(group), status=status, max_results=first, next_token=after
        )

    async def latest_versions(
        self, keys: Sequence[tuple[str, ApprovalStatus | None]]
    ) -> list[VersionSummary | None]:
        return list(
            await asyncio.gather(
                *(self.registry.latest_version(group_name(g), status) for g, status in keys)
            )
        )

    async def versions_by_arns(self, arns: Sequence[str]) -> list[VersionSummary | None]:
        return await self.registry.versions_by_arns(arns)

    async def details_by_arns(self, arns: Sequence[str]) -> list[VersionDetail | None]:
        """Registration facts: from the metadb, or fetched once and stored.

        The metadb only keeps these facts (a registration never changes), so
        while it fails they are fetched from the registry and not kept: the
        fields built on them (deployments, metrics, reports) still answer, and
        nothing is missing from them that an error would have to report.
        """
        try:
            stored = await self._versions.details(arns)
        except UpstreamError as exc:
            if exc.source != self._versions.name:
                raise
            log.info("version facts not read from the metadb (%s): asking SageMaker", exc)
            stored = [None] * len(arns)
        missing = [arn for arn, detail in zip(arns, stored, strict=True) if detail is None]
        if not missing:
            return stored
        fetched = await self.registry.version_details(missing)
        try:
            await self._versions.save([d for d in fetched if d is not None])
        except UpstreamError as exc:
            if exc.source != self._versions.name:
                raise
            log.info("version facts not kept in the metadb (%s)", exc)
        by_arn = {arn: d for arn, d in zip(missing, fetched, strict=True)}
        return [
            d if d is not None else by_arn.get(arn) for arn, d in zip(arns, stored, strict=True)
        ]

    async def approvals(self, arns: Sequence[str]) -> list[Approval | None]:
        return await self.registry.approvals(arns)

    async def deployments_for(
        self, versions: Sequence[tuple[str, str | None]]
    ) -> list[list[DeploymentInfo]]:
        return await self.registry.deployments_for(versions)

    async def list_models(self, first: int, after: str | None) -> ModelPage:
        return await self.registry.list_groups(max_results=first, next_token=after)

    async def deployments_by_arns(self, arns: Sequence[str]) -> list[DeploymentInfo | None]:
        by_arn = {d.arn: d for d in await self.registry.deployments()}
        return [by_arn.get(arn) for arn in arns]

    async def trained_by(self, details: Sequence[VersionDetail]) -> list[str | None]:
        """The run that trained each version, from what the registering pipeline recorded.

        In order: the run ARN the pipeline put in the customer metadata, the
        registration's ``GeneratedBy`` when it is a run ARN, else the stored run
        whose step ran the training job named in the customer metadata.
        """
        found: list[str | None] = []
        jobs: dict[int, str] = {}
        for index, detail in enumerate(details):
            run = next(
                (
                    detail.customer_metadata[k]
                    for k in EXECUTION_KEYS
                    if detail.customer_metadata.get(k)
                ),
                None,
            )
            if run is None and detail.generated_by and _is_run_arn(detail.generated_by):
                run = detail.generated_by
            if run is None and (job := detail.customer_metadata.get(TRAINING_JOB_KEY)):
                jobs[index] = job
            found.append(run)
        if jobs:
            runs = await self._versions.executions_by_job_arns(list(jobs.values()))
            for index, run in zip(jobs, runs, strict=True):
                found[index] = run
        return found


def _is_run_arn(arn: str) -> bool:
    return (arn.startswith("arn:aws") and ":execution:" in arn) or (
        ":pipeline/" in arn and "/execution/" in arn
    )
