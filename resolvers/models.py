"""Registered models, their versions and where they are deployed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from resolvers.catalog import CatalogEntity, KeyValue, load_entity
from resolvers.context import Info
from resolvers.ids import encode_id
from resolvers.metrics import MetricValue
from resolvers.node import Node, keys, register_node
from resolvers.pagination import PageInfo, check_first
from sources.errors import InputError
from sources.models.model import (
    ApprovalStatus,
    DeploymentInfo,
    ModelInfo,
    VersionSummary,
    group_name,
)

if TYPE_CHECKING:
    from resolvers.cards import ModelCard
    from resolvers.pipelines import PipelineExecution

ApprovalStatusEnum = strawberry.enum(
    ApprovalStatus, name="ApprovalStatus", description="A version's review decision."
)


async def model_visible(info: Info, group: str) -> bool:
    """Reading a model follows the caller's access to the catalog entity that claims it.

    A model no entity claims is readable by any authenticated caller.
    """
    claimed = await info.context.loaders.model_entity_by_group.load(group)
    if claimed is None:
        return True
    return await info.context.loaders.entities_by_ref.load(claimed.ref) is not None


async def load_model(info: Info, name_or_arn: str) -> Model | None:
    group = group_name(name_or_arn)
    model = await info.context.loaders.models_by_key.load(group)
    if model is None or not await model_visible(info, model.name):
        return None
    return Model.of(model)


async def load_version(info: Info, arn: str) -> ModelVersion | None:
    version = await info.context.loaders.versions_by_arn.load(arn)
    if version is None or not await model_visible(info, version.group):
        return None
    return ModelVersion.of(version)


@strawberry.type(
    description="A registered model: a SageMaker model package group.", directives=keys()
)
class Model(Node):
    name: str
    arn: str
    description: str | None
    created_at: datetime | None
    model: strawberry.Private[ModelInfo]

    @staticmethod
    def of(model: ModelInfo) -> Model:
        return Model(
            id=strawberry.ID(encode_id("Model", model.arn)),
            name=model.name,
            arn=model.arn,
            description=model.description,
            created_at=model.created_at,
            model=model,
        )

    @strawberry.field(description="The catalog entity that claims this model (spec.type ml-model).")
    async def entity(self, info: Info) -> CatalogEntity | None:
        claimed = await info.context.loaders.model_entity_by_group.load(self.name)
        return await load_entity(info, claimed.ref) if claimed else None

    @strawberry.field(description="Versions, newest first; `status` keeps only those decisions.")
    async def versions(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        status: ApprovalStatusEnum | None = None,  # type: ignore[valid-type]
    ) -> ModelVersionConnection | None:
        key = (self.name, status, check_first(first), after)
        page = await info.context.loaders.versions_page.load(key)
        loader = info.context.loaders.versions_by_arn
        edges = []
        cursors = page.item_cursors or [page.next_token or ""] * len(page.items)
        for version, cursor in zip(page.items, cursors, strict=True):
            if version.artifact_uri is not None:
                loader.prime(version.arn, version)
            edges.append(ModelVersionEdge(cursor=cursor, node=ModelVersion.of(version)))
        return ModelVersionConnection(
            edges=edges,
            page_info=PageInfo.forward(after, page.next_token),
        )

    @strawberry.field(
        description="The newest version, or the newest with this approval status "
        "(e.g. APPROVED: what production should run)."
    )
    async def latest_version(
        self,
        info: Info,
        status: ApprovalStatusEnum | None = None,  # type: ignore[valid-type]
    ) -> ModelVersion | None:
        version = await info.context.loaders.latest_version_by_model.load((self.name, status))
        return ModelVersion.of(version) if version else None


@strawberry.type(description="A review decision on a version: who decided, when and why.")
class ApprovalDecision:
    status: ApprovalStatusEnum  # type: ignore[valid-type]
    description: str | None = strawberry.field(description="The reviewer's reason.")
    decided_at: datetime | None = strawberry.field(
        description="When the version was last changed in the registry (the decision)."
    )
    decided_by: str | None = strawberry.field(
        description="Studio user profile or IAM identity that made the change."
    )


@strawberry.type(
    description="One registered version of a model (a SageMaker model package).",
    directives=keys("arn"),
)
class ModelVersion(Node):
    arn: str
    version: str = strawberry.field(description="The version number, as text.")
    number: int = strawberry.field(description="The version number.")
    status: ApprovalStatusEnum  # type: ignore[valid-type]
    created_at: datetime
    description: str | None
    summary: strawberry.Private[VersionSummary]

    @staticmethod
    def of(version: VersionSummary) -> ModelVersion:
        return ModelVersion(
            id=strawberry.ID(encode_id("ModelVersion", version.arn)),
            arn=version.arn,
            version=str(version.version),
            number=version.version,
            status=version.status,
            created_at=version.created_at,
            description=version.description,
            summary=version,
        )

    @strawberry.field(description="The model this is a version of.")
    async def model(self, info: Info) -> Model | None:
        return await load_model(info, self.summary.group)

    @strawberry.field(
        description="Who approved or rejected it, when and why: read fresh from the "
        "registry (one DescribeModelPackage per version asked, 8 at a time)."
    )
    async def approval(self, info: Info) -> ApprovalDecision | None:
        found = await info.context.loaders.approval_by_version.load(self.arn)
        if found is None:
            return None
        return ApprovalDecision(
            status=found.status,
            description=found.description,
            decided_at=found.decided_at,
            decided_by=found.decided_by,
        )

    @strawberry.field(description="Where the model artefact lives (ModelDataUrl).")
    async def artifact_uri(self, info: Info) -> str | None:
        if self.summary.artifact_uri is not None:
            return self.summary.artifact_uri
        detail = await info.context.loaders.version_details_by_arn.load(self.arn)
        return detail.artifact_uri if detail else None

    @strawberry.field(
        description="The pipeline run that trained this version: the run the registering "
        "pipeline recorded, or the run whose step ran the recorded training job."
    )
    async def trained_by(
        self, info: Info
    ) -> Annotated[PipelineExecution, strawberry.lazy("resolvers.pipelines")] | None:
        from resolvers.pipelines import load_execution

        run = await info.context.loaders.trained_by_version.load(self.arn)
        return await load_execution(info, run) if run else None

    @strawberry.field(
        description="Metrics the pipeline attached to the version when it registered it."
    )
    async def metrics(self, info: Info) -> list[MetricValue] | None:
        detail = await info.context.loaders.version_details_by_arn.load(self.arn)
        if detail is None:
            return []
        return [
            MetricValue(name=name, value=value, step=None, timestamp=None)
            for name, value in sorted(detail.metrics.items())
        ]

    @strawberry.field(
        description="The registration's customer metadata (CustomerMetadataProperties)."
    )
    async def metadata(self, info: Info) -> list[KeyValue] | None:
        detail = await info.context.loaders.version_details_by_arn.load(self.arn)
        items = sorted(detail.customer_metadata.items()) if detail else []
        return [KeyValue(key=k, value=v) for k, v in items]

    @strawberry.field(
        description="The evaluation reports registered with the version (ModelMetrics), "
        "e.g. {key: 'ModelQuality.Statistics', value: 's3://.../evaluation.json'}."
    )
    async def reports(self, info: Info) -> list[KeyValue] | None:
        detail = await info.context.loaders.version_details_by_arn.load(self.arn)
        items = sorted(detail.model_metrics.items()) if detail else []
        return [KeyValue(key=k, value=v) for k, v in items]

    @strawberry.field(description="Endpoints serving this version, one per production variant.")
    async def deployments(self, info: Info) -> list[Deployment] | None:
        artifact = await self.artifact_uri(info)
        found = await info.context.loaders.deployments_by_version.load((self.arn, artifact))
        return [Deployment.of(d, self.summary) for d in found]

    @strawberry.field(
        description="The card in force: the newest APPROVED card, from mlmeta or "
        "SageMaker; else the newest saved card of either (by updatedAt); else a draft "
        "pre-filled from what mlmeta knows (revision 0). A newer draft or import never "
        "hides an approved card; `cards` lists them all."
    )
    async def card(
        self, info: Info
    ) -> Annotated[ModelCard, strawberry.lazy("resolvers.cards")] | None:
        from resolvers.cards import card_of_version

        return await card_of_version(info, self.summary)

    @strawberry.field(
        description="Every saved card of this version, whichever tool holds it; never merged."
    )
    async def cards(
        self, info: Info
    ) -> list[Annotated[ModelCard, strawberry.lazy("resolvers.cards")]] | None:
        from resolvers.cards import saved_cards_of_version

        return await saved_cards_of_version(info, self.summary)


@strawberry.type
class ModelVersionEdge:
    cursor: str
    node: ModelVersion


@strawberry.type(description="A page of versions, newest first.")
class ModelVersionConnection:
    edges: list[ModelVersionEdge]
    page_info: PageInfo


@strawberry.type(
    description="A SageMaker endpoint variant serving a model version.", directives=keys()
)
class Deployment(Node):
    name: str = strawberry.field(description="Endpoint name (and variant, when several).")
    endpoint_name: str
    variant: str
    environment: str | None = strawberry.field(
        description="From the endpoint's `environment`, `env` or `stage` tag."
    )
    status: str = strawberry.field(description="EndpointStatus, e.g. InService, Updating.")
    deployed_at: datetime | None
    model_version: ModelVersion
    arn: str

    @staticmethod
    def of(deployment: DeploymentInfo, version: VersionSummary) -> Deployment:
        return Deployment(
            id=strawberry.ID(encode_id("Deployment", deployment.arn)),
            name=deployment.name,
            endpoint_name=deployment.endpoint_name,
            variant=deployment.variant,
            environment=deployment.environment,
            status=deployment.status,
            deployed_at=deployment.updated_at or deployment.created_at,
            model_version=ModelVersion.of(version),
            arn=deployment.arn,
        )


def package_arn(model_arn: str, version: str) -> str:
    """The package ARN of a version, from its group's ARN and number."""
    if not version.isdigit():
        raise InputError(f"a version is a number, got {version[:50]!r}")
    head, sep, name = model_arn.partition(":model-package-group/")
    if not sep:
        raise InputError(f"{model_arn[:200]!r} is not a model package group ARN")
    return f"{head}:model-package/{name}/{int(version)}"


async def _model_node(info: Info, key: str) -> Model | None:
    return await load_model(info, key)


async def _version_node(info: Info, key: str) -> ModelVersion | None:
    return await load_version(info, key)


async def _deployment_node(info: Info, key: str) -> Deployment | None:
    """A deployment by endpoint (variant) ARN: null unless it serves a registered version."""
    deployment = await info.context.loaders.deployment_by_arn.load(key)
    if deployment is None or deployment.model_package_arn is None:
        return None
    version = await info.context.loaders.versions_by_arn.load(deployment.model_package_arn)
    if version is None or not await model_visible(info, version.group):
        return None
    return Deployment.of(deployment, version)


register_node("Model", _model_node)
register_node("ModelVersion", _version_node)
register_node("Deployment", _deployment_node)
