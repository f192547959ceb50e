"""The model-registry domain: models, their versions, deployments and cards.

Ids are natural keys: a model is its SageMaker model package group ARN, a
version its model package ARN, a deployment its endpoint ARN. GraphQL ids are
derived from these (``Model:<group arn>``, ``ModelVersion:<package arn>``,
``Deployment:<endpoint arn>``); the same strings, prefixed with the GraphQL
type name, are the node keys of the lineage graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sources.errors import InputError
from sources.metadb.models import ModelCardStatus


def group_name(name_or_arn: str) -> str:
    """``churn-model`` from a group name or a model-package-group ARN."""
    value = name_or_arn.strip()
    if value.startswith("arn:"):
        _, sep, name = value.partition(":model-package-group/")
        if not sep or not name:
            raise InputError(f"{value[:200]!r} is not a model package group ARN")
        return name
    if not value:
        raise InputError("a model name must not be empty")
    return value


class ApprovalStatus(StrEnum):
    PENDING_MANUAL_APPROVAL = "PENDING_MANUAL_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


SAGEMAKER_APPROVAL = {
    ApprovalStatus.PENDING_MANUAL_APPROVAL: "PendingManualApproval",
    ApprovalStatus.APPROVED: "Approved",
    ApprovalStatus.REJECTED: "Rejected",
}
APPROVAL_FROM_SAGEMAKER = {value: key for key, value in SAGEMAKER_APPROVAL.items()}


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: a SageMaker model package group."""

    arn: str
    name: str
    description: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class VersionSummary:
    """What ListModelPackages / BatchDescribeModelPackage say of a version."""

    arn: str
    group: str
    version: int
    status: ApprovalStatus
    created_at: datetime
    description: str | None = None
    artifact_uri: str | None = None
    """ModelDataUrl of the first inference container (not in ListModelPackages)."""


@dataclass(frozen=True)
class ModelPage:
    items: list[ModelInfo]
    next_token: str | None
    item_cursors: list[str]
    """For each item, a token resuming right after it (Relay edge cursors)."""


@dataclass(frozen=True)
class VersionPage:
    items: list[VersionSummary]
    next_token: str | None
    item_cursors: list[str] | None = None
    """For each item, a token resuming right after it (Relay edge cursors)."""


@dataclass(frozen=True)
class VersionDetail:
    """The facts of a version that never change once registered (DescribeModelPackage).

    Stored in the metadb once fetched; approval status is not one of them and
    always comes fresh from the registry.
    """

    arn: str
    group: str
    version: int
    created_at: datetime
    artifact_uri: str | None
    customer_metadata: dict[str, str] = field(default_factory=dict)
    generated_by: str | None = None
    """MetadataProperties.GeneratedBy: usually the ARN of the run that registered it."""
    model_metrics: dict[str, str] = field(default_factory=dict)
    """ModelMetrics report URIs by report, e.g. {'ModelQuality.Statistics': 's3://...'}."""

    @property
    def metrics(self) -> dict[str, float]:
        """Numeric customer metadata: the metrics a pipeline attached to the version."""
        values: dict[str, float] = {}
        for key, raw in self.customer_metadata.items():
            if ":" in key:
                continue  # namespaced keys (mlmeta:..., sagemaker:...) are not metrics
            try:
                value = float(raw)
            except ValueError:
                continue
            if value == value and value not in (float("inf"), float("-inf")):
                values[key] = value
        return values


@dataclass(frozen=True)
class Approval:
    """The current review decision on a version: read fresh, it changes."""

    status: ApprovalStatus
    description: str | None
    """ApprovalDescription: the reviewer's reason."""
    decided_at: datetime | None
    """LastModifiedTime of the package (the decision, for a reviewed version)."""
    decided_by: str | None
    """LastModifiedBy: Studio user profile, user name or IAM identity."""


@dataclass(frozen=True)
class DeploymentInfo:
    """A SageMaker endpoint production variant serving a model version."""

    arn: str
    """The endpoint ARN; with several variants, ``<endpoint arn>#<variant>``."""
    name: str
    endpoint_name: str
    variant: str
    status: str
    created_at: datetime | None
    updated_at: datetime | None
    environment: str | None
    model_name: str
    model_package_arn: str | None
    """Set when the variant's model was created from a model package."""
    model_data_url: str | None


class CardSource(StrEnum):
    MLMETA = "mlmeta"
    SAGEMAKER = "sagemaker"


@dataclass(frozen=True)
class EvaluationResult:
    metric: str
    value: float
    dataset: str | None = None
    slice: str | None = None
    threshold: float | None = None
    passed: bool | None = None


@dataclass(frozen=True)
class IntendedUse:
    primary_uses: list[str] = field(default_factory=list)
    primary_users: list[str] = field(default_factory=list)
    out_of_scope: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DatasetRef:
    """A dataset named by a card: its URI and, when known, version."""

    uri: str
    version: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class CardContent:
    """The sections of 'Model Cards for Model Reporting' (Mitchell et al., 2019)."""

    overview: str | None = None
    owners: list[str] = field(default_factory=list)
    version: str | None = None
    license: str | None = None
    references: list[str] = field(default_factory=list)
    intended_use: IntendedUse | None = None
    factors: list[str] = field(default_factory=list)
    evaluation: list[EvaluationResult] = field(default_factory=list)
    training_data: list[DatasetRef] = field(default_factory=list)
    evaluation_data: list[DatasetRef] = field(default_factory=list)
    quantitative_analyses: list[str] = field(default_factory=list)
    ethical_considerations: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    """Source fields with no section of their own, kept for exports (e.g. risk_rating)."""


@dataclass(frozen=True)
class CardRecord:
    """One revision of a card, from either place a card can live."""

    model_version_arn: str
    source: CardSource
    revision: int
    """mlmeta: 1, 2, ...; SageMaker: the model card version. 0: not saved yet (pre-filled)."""
    status: ModelCardStatus
    updated_at: datetime
    updated_by: str | None
    content: CardContent
    name: str | None = None
    """The SageMaker model card name (SageMaker cards only)."""
