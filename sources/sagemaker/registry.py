"""SageMaker model registry shapes mapped to the model domain: pure functions, no I/O.

Inputs are what botocore returns (timestamps already parsed to ``datetime``):
model package groups and packages, endpoints with their configs and models,
and model cards. SageMaker model cards are passed on raw (``SageMakerCard``);
mapping their content to our card sections is the cards domain's job.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sources.models.model import (
    APPROVAL_FROM_SAGEMAKER,
    Approval,
    ApprovalStatus,
    DeploymentInfo,
    ModelInfo,
    VersionDetail,
    VersionSummary,
)
from sources.sagemaker.pipelines import required_time, utc

log = logging.getLogger("mlmeta.sources.sagemaker")

GROUP_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):\d{12}:model-package-group/(?P<name>[^/]+)$"
)
PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/\S+$")
"""What BatchDescribeModelPackage accepts in ``ModelPackageArnList``."""
ENVIRONMENT_TAGS = ("environment", "env", "stage")
"""Endpoint tag keys naming the environment, most specific first (compared case-insensitively)."""
PACKAGE_TAG = "model-package-arn"
"""Tag on a SageMaker model that names the package its artefact came from, for models
created from a container image and ModelDataUrl rather than from the package itself."""


@dataclass(frozen=True)
class SageMakerCard:
    """One version of a SageMaker model card, content as SageMaker stores it (parsed JSON)."""

    name: str
    arn: str
    version: int
    status: str
    content: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    updated_by: str | None

    @property
    def package_arn(self) -> str | None:
        """The model version the card documents (``model_package_details``), if it says."""
        details = self.content.get("model_package_details")
        arn = details.get("model_package_arn") if isinstance(details, dict) else None
        return arn if isinstance(arn, str) and arn else None


# ---- groups and versions -------------------------------------------------------------------


def group_region_and_name(name_or_arn: str) -> tuple[str, str] | None:
    """(region, name) of a model package group ARN; None for a name or another kind of ARN."""
    match = GROUP_ARN.match(name_or_arn)
    return (match["region"], match["name"]) if match else None


def model_from_group(response: Mapping[str, Any]) -> ModelInfo:
    """DescribeModelPackageGroup or a ListModelPackageGroups summary."""
    return ModelInfo(
        arn=response["ModelPackageGroupArn"],
        name=response["ModelPackageGroupName"],
        description=response.get("ModelPackageGroupDescription") or None,
        created_at=utc(response.get("CreationTime")),
    )


def approval_status(value: str | None) -> ApprovalStatus:
    """SageMaker registers a version as pending when no status is given: so is a missing one."""
    return APPROVAL_FROM_SAGEMAKER.get(value or "", ApprovalStatus.PENDING_MANUAL_APPROVAL)


def version_from_package(response: Mapping[str, Any]) -> VersionSummary | None:
    """A ListModelPackages summary, a BatchDescribeModelPackage summary or a
    DescribeModelPackage response; None for an unversioned package (no group)."""
    group, number = response.get("ModelPackageGroupName"), response.get("ModelPackageVersion")
    if not group or number is None:
        return None
    return VersionSummary(
        arn=response["ModelPackageArn"],
        group=group,
        version=int(number),
        status=approval_status(response.get("ModelApprovalStatus")),
        created_at=required_time(response.get("CreationTime")),
        description=response.get("ModelPackageDescription") or None,
        artifact_uri=artifact_uri(response.get("InferenceSpecification")),
    )


def newest_first(summary: Mapping[str, Any]) -> tuple[float, int]:
    """Sort key for package summaries: newest first, the higher version first on a tie."""
    created = required_time(summary.get("CreationTime")).timestamp()
    return -created, -int(summary.get("ModelPackageVersion") or 0)


def artifact_uri(specification: Mapping[str, Any] | None) -> str | None:
    """ModelDataUrl of the first inference container (or its S3 data source)."""
    containers = (specification or {}).get("Containers") or []
    return container_data_url(containers[0]) if containers else None


def approval_from_package(response: Mapping[str, Any]) -> Approval:
    modified = response.get("LastModifiedBy")
    return Approval(
        status=approval_status(response.get("ModelApprovalStatus")),
        description=response.get("ApprovalDescription") or None,
        decided_at=utc(response.get("LastModifiedTime") or response.get("CreationTime")),
        decided_by=_user(modified) if isinstance(modified, Mapping) else None,
    )


def detail_from_package(response: Mapping[str, Any]) -> VersionDetail | None:
    """DescribeModelPackage; None for an unversioned package (no group)."""
    summary = version_from_package(response)
    if summary is None:
        return None
    metadata = response.get("MetadataProperties") or {}
    return VersionDetail(
        arn=summary.arn,
        group=summary.group,
        version=summary.version,
        created_at=summary.created_at,
        artifact_uri=summary.artifact_uri,
        customer_metadata=dict(response.get("CustomerMetadataProperties") or {}),
        generated_by=metadata.get("GeneratedBy") or None,
        model_metrics=flatten_metrics(response.get("ModelMetrics") or {}),
    )


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """ModelMetrics as ``{'ModelQuality.Statistics': 's3://...'}``: every MetricsSource's S3Uri."""
    flat: dict[str, str] = {}
    for key, value in metrics.items():
        if not isinstance(value, Mapping):
            continue
        path = f"{prefix}{key}"
        if isinstance(value.get("S3Uri"), str):
            flat[path] = value["S3Uri"]
        else:
            flat |= flatten_metrics(value, f"{path}.")
    return flat


# ---- deployments -----------------------------------------------------------------------------


def tag_map(tags: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """ListTags' ``[{Key, Value}]``, keys lower-cased (tag conventions vary in case)."""
    return {str(t["Key"]).lower(): str(t.get("Value", "")) for t in tags if "Key" in t}


def environment_from_tags(tags: Mapping[str, str]) -> str | None:
    return next((tags[key] for key in ENVIRONMENT_TAGS if tags.get(key)), None)


def container_data_url(container: Mapping[str, Any]) -> str | None:
    if url := container.get("ModelDataUrl"):
        return str(url)
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    return str(source["S3Uri"]) if source.get("S3Uri") else None


def model_containers(model: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A model's containers, the primary one first (a model has one or the other)."""
    primary = model.get("PrimaryContainer")
    return ([primary] if primary else []) + list(model.get("Containers") or [])


def package_arn_of_model(model: Mapping[str, Any], tags: Mapping[str, str]) -> str | None:
    """The package a model was created from (a container's ModelPackageName), else its tag."""
    for container in model_containers(model):
        if name := container.get("ModelPackageName"):
            return str(name)
    return tags.get(PACKAGE_TAG) or None


def data_url_of_model(model: Mapping[str, Any]) -> str | None:
    return next(filter(None, map(container_data_url, model_containers(model))), None)


@dataclass(frozen=True)
class ModelFacts:
    """What a variant needs of its SageMaker model (DescribeModel plus, maybe, its tags)."""

    package_arn: str | None
    data_url: str | None


def deployments_of_endpoint(
    endpoint: Mapping[str, Any],
    config: Mapping[str, Any],
    models: Mapping[str, ModelFacts],
    environment: str | None,
) -> list[DeploymentInfo]:
    """One DeploymentInfo per production variant of the endpoint's current config.

    DescribeEndpoint's variants carry no model name: the config's do. A variant
    whose model is gone (models can be deleted under a running endpoint) keeps
    its model name, with no package or artefact.
    """
    variants = [v for v in config.get("ProductionVariants") or [] if v.get("VariantName")]
    arn, name = endpoint["EndpointArn"], endpoint["EndpointName"]
    several = len(variants) > 1
    deployments: list[DeploymentInfo] = []
    for variant in variants:
        facts = models.get(variant.get("ModelName", ""), ModelFacts(None, None))
        deployments.append(
            DeploymentInfo(
                arn=f"{arn}#{variant['VariantName']}" if several else arn,
                name=f"{name}/{variant['VariantName']}" if several else name,
                endpoint_name=name,
                variant=variant["VariantName"],
                status=endpoint.get("EndpointStatus") or "Unknown",
                created_at=utc(endpoint.get("CreationTime")),
                updated_at=utc(endpoint.get("LastModifiedTime")),
                environment=environment,
                model_name=variant.get("ModelName", ""),
                model_package_arn=facts.package_arn,
                model_data_url=facts.data_url,
            )
        )
    return deployments


def deployments_serving(
    deployments: Sequence[DeploymentInfo], versions: Sequence[tuple[str, str | None]]
) -> list[list[DeploymentInfo]]:
    """For each (package ARN, artefact URI): the variants serving that version.

    A variant made from a package matches by ARN (case-insensitively: SageMaker
    lower-cases names in ARNs); one made from an image and a ModelDataUrl, with
    no package known, matches a version whose artefact is that same URL.
    """
    by_package: dict[str, list[DeploymentInfo]] = {}
    by_url: dict[str, list[DeploymentInfo]] = {}
    for deployment in deployments:
        if deployment.model_package_arn:
            by_package.setdefault(deployment.model_package_arn.lower(), []).append(deployment)
        elif deployment.model_data_url:
            by_url.setdefault(deployment.model_data_url, []).append(deployment)
    return [
        by_package.get(arn.lower(), []) + (by_url.get(uri, []) if uri else [])
        for arn, uri in versions
    ]


# ---- model cards ---------------------------------------------------------------------------


def card_from_description(
    response: Mapping[str, Any], listed_modified: datetime | None = None
) -> SageMakerCard:
    """DescribeModelCard. ``listed_modified`` is the LastModifiedTime a list call gave
    for the same version: moto's describe repeats the creation time there, so the
    later of the two is taken."""
    modified = [t for t in (response.get("LastModifiedTime"), listed_modified) if t is not None]
    created = required_time(response.get("CreationTime"))
    return SageMakerCard(
        name=response["ModelCardName"],
        arn=response["ModelCardArn"],
        version=int(response.get("ModelCardVersion") or 1),
        status=response.get("ModelCardStatus") or "Draft",
        content=_content(response.get("Content"), response["ModelCardName"]),
        created_at=created,
        updated_at=required_time(max(modified)) if modified else created,
        updated_by=_user(response.get("LastModifiedBy") or response.get("CreatedBy")),
    )


def _content(raw: Any, name: str) -> dict[str, Any]:
    try:
        content = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        content = None
    if not isinstance(content, dict):
        log.warning("model card %s has content that is not a JSON object", name)
        return {}
    return content


def _user(context: Mapping[str, Any] | None) -> str | None:
    """A Studio user profile name, else the IAM identity, else the profile ARN."""
    if not context:
        return None
    identity = context.get("IamIdentity") or {}
    for value in (
        context.get("UserProfileName"),
        identity.get("Arn"),
        context.get("UserProfileArn"),
    ):
        if value:
            return str(value)
    return None


def latest_card_per_package(cards: Iterable[SageMakerCard]) -> dict[str, SageMakerCard]:
    """Lower-cased package ARN -> the most recently modified card documenting it."""
    index: dict[str, SageMakerCard] = {}
    for card in cards:
        if (arn := card.package_arn) is None:
            continue
        key = arn.lower()
        if key not in index or (card.updated_at, card.name) > (
            index[key].updated_at,
            index[key].name,
        ):
            index[key] = card
    return index
