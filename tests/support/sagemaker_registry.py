"""What the SageMakerRegistry tests share: the account, region and image, the
client settings, and builders of groups, endpoints and cards on moto."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from sources.aws import AwsSettings

REGION = "us-east-1"
ACCOUNT = "123456789012"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def registry_settings(endpoint: str) -> AwsSettings:
    return AwsSettings(REGION, endpoint, timeout_seconds=5, max_attempts=1)


def unique_name(prefix: str) -> str:
    return f"t{prefix}-{uuid.uuid4().hex[:10]}"


def artifact_url(group: str, number: int) -> str:
    return f"s3://mlmeta-test-artifacts/{group}/v{number}/model.tar.gz"


async def make_group(sm: Any, statuses: list[str], name: str | None = None) -> list[str]:
    """A group with one version per status (version 1 first); their ARNs."""
    group = name or unique_name("model")
    await sm.create_model_package_group(
        ModelPackageGroupName=group, ModelPackageGroupDescription=f"{group} for tests"
    )
    arns = []
    for number, status in enumerate(statuses, start=1):
        made = await sm.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=f"version {number}",
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": artifact_url(group, number)}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            MetadataProperties={"GeneratedBy": f"arn:run/{group}/{number}"},
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://q/{number}"}
                },
                "Bias": {
                    "Report": {"ContentType": "application/json", "S3Uri": f"s3://b/{number}"}
                },
            },
            CustomerMetadataProperties={"roc_auc": "0.91", "mlmeta:run": "r1"},
        )
        arns.append(made["ModelPackageArn"])
    sm.calls.clear()
    return arns


async def make_endpoint(sm: Any, name: str, models: list[str], tags: dict[str, str]) -> None:
    variants = [
        {
            "VariantName": f"v{index}",
            "ModelName": model,
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
        }
        for index, model in enumerate(models)
    ]
    await sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config", ProductionVariants=variants
    )
    await sm.create_endpoint(
        EndpointName=name,
        EndpointConfigName=f"{name}-config",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


def _card_content(name: str, package: str) -> str:
    return json.dumps(
        {
            "model_overview": {"model_description": name},
            "model_package_details": {"model_package_arn": package},
        }
    )


async def put_card(sm: Any, name: str, package: str, status: str | None = None) -> None:
    """Create the card, or (``status`` given) update it; moto, unlike AWS, drops the
    content of an update that carries none, so it is always sent."""
    if status is None:
        await sm.create_model_card(
            ModelCardName=name, Content=_card_content(name, package), ModelCardStatus="Draft"
        )
    else:
        await sm.update_model_card(
            ModelCardName=name, Content=_card_content(name, package), ModelCardStatus=status
        )
    await asyncio.sleep(0.01)  # distinct modification times at moto's millisecond resolution
