"""Seeds the SageMaker side: registry groups, approvals, an endpoint, the fraud pipeline, cards.

Every step first looks at what exists, so seeding twice changes nothing.
Clients are aiobotocore clients (``Any``-typed).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from gateway.demo.names import (
    ACCOUNT_ID,
    CHURN_GROUP,
    FRAUD_GROUP,
    FRAUD_PIPELINE,
    SAGEMAKER_ROLE,
    SCORING_MODEL,
    XGBOOST_IMAGE,
    role_arn,
)
from gateway.demo.plan import TRAINING_RUNS, TrainingRun
from gateway.demo.registry import (
    CHURN_CARD_ARCHIVED,
    CHURN_CARD_DRAFT,
    FRAUD_CARD,
    FRAUD_VERSIONS,
    churn_card,
    fraud_card,
    fraud_pipeline_definition,
)

log = logging.getLogger("mlmeta.demo")

GROUPS = {
    CHURN_GROUP: "Customer churn classifier (XGBoost), trained by churn-training-pipeline.",
    FRAUD_GROUP: "Card-fraud detector (LightGBM), trained by the fraud-detector-training pipeline.",
}
OWNERS = {CHURN_GROUP: "ml-platform", FRAUD_GROUP: "fraud-team"}
ENDPOINT = "churn-model-prod"
ENDPOINT_CONFIG = "churn-model-prod-config"


async def ensure_groups(sm: Any, created: list[str]) -> None:
    for name, description in GROUPS.items():
        try:
            await sm.describe_model_package_group(ModelPackageGroupName=name)
        except ClientError:
            await sm.create_model_package_group(
                ModelPackageGroupName=name,
                ModelPackageGroupDescription=description,
                Tags=[
                    {"Key": "team", "Value": OWNERS[name]},
                    {"Key": "app", "Value": "mlmeta-demo"},
                ],
            )
            created.append(f"model-package-group/{name}")


async def list_versions(sm: Any, group: str) -> list[dict[str, Any]]:
    """Summaries of a group's versions, oldest first."""
    summaries: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ModelPackageGroupName": group, "MaxResults": 100}
    while True:
        page = await sm.list_model_packages(**kwargs)
        summaries += page.get("ModelPackageSummaryList", [])
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return sorted(summaries, key=lambda s: int(s.get("ModelPackageVersion", 0)))


def succeeded_runs() -> list[TrainingRun]:
    """The runs that register churn-model versions, in version order."""
    return [run for run in TRAINING_RUNS if run.expect == "SUCCEEDED"]


async def set_churn_approvals(sm: Any) -> None:
    """The pipeline registers every version as pending; reviewers decided on some."""
    versions = await list_versions(sm, CHURN_GROUP)
    for run, summary in zip(succeeded_runs(), versions, strict=False):
        if run.approval and summary.get("ModelApprovalStatus") != run.approval:
            kwargs: dict[str, Any] = {
                "ModelPackageArn": summary["ModelPackageArn"],
                "ModelApprovalStatus": run.approval,
            }
            if run.approval_note:
                kwargs["ApprovalDescription"] = run.approval_note
            # moto (unlike AWS) replaces the custom properties with whatever the
            # update carries, nothing included: send them back unchanged.
            package = await sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            if properties := package.get("CustomerMetadataProperties"):
                kwargs["CustomerMetadataProperties"] = properties
            await sm.update_model_package(**kwargs)


async def ensure_scoring_model(sm: Any, region: str, created: list[str]) -> None:
    """The SageMaker model batch scoring uses: churn-model version 3's artefact."""
    try:
        await sm.describe_model(ModelName=SCORING_MODEL)
        return
    except ClientError:
        pass
    versions = await list_versions(sm, CHURN_GROUP)
    if len(versions) < 3:
        log.warning("churn-model has %d versions, cannot create %s", len(versions), SCORING_MODEL)
        return
    package = await sm.describe_model_package(ModelPackageName=versions[2]["ModelPackageArn"])
    container = package["InferenceSpecification"]["Containers"][0]
    await sm.create_model(
        ModelName=SCORING_MODEL,
        PrimaryContainer={
            "Image": container.get("Image", XGBOOST_IMAGE.format(region=region)),
            "ModelDataUrl": container["ModelDataUrl"],
        },
        ExecutionRoleArn=role_arn(SAGEMAKER_ROLE),
        Tags=[{"Key": "model-package-arn", "Value": versions[2]["ModelPackageArn"]}],
    )
    created.append(f"model/{SCORING_MODEL}")


async def ensure_endpoint(sm: Any, region: str, created: list[str]) -> None:
    """Production serves churn-model version 3: an endpoint on the scoring model.

    The model was made from the version's artefact, not from the package, so
    the registry finds the version through the model's ``model-package-arn``
    tag. moto's endpoints are InService at once and serve nothing.
    """
    try:
        await sm.describe_endpoint(EndpointName=ENDPOINT)
        return
    except ClientError:
        pass
    try:
        await sm.describe_model(ModelName=SCORING_MODEL)
    except ClientError:
        log.warning("no model %s in %s, cannot create endpoint %s", SCORING_MODEL, region, ENDPOINT)
        return
    try:
        await sm.describe_endpoint_config(EndpointConfigName=ENDPOINT_CONFIG)
    except ClientError:
        await sm.create_endpoint_config(
            EndpointConfigName=ENDPOINT_CONFIG,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": SCORING_MODEL,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 1.0,
                }
            ],
            Tags=[{"Key": "app", "Value": "mlmeta-demo"}],
        )
        created.append(f"endpoint-config/{ENDPOINT_CONFIG}")
    await sm.create_endpoint(
        EndpointName=ENDPOINT,
        EndpointConfigName=ENDPOINT_CONFIG,
        Tags=[
            {"Key": "environment", "Value": "production"},
            {"Key": "team", "Value": OWNERS[CHURN_GROUP]},
            {"Key": "app", "Value": "mlmeta-demo"},
        ],
    )
    created.append(f"endpoint/{ENDPOINT}")


async def endpoint_names(sm: Any) -> list[str]:
    """The demo's endpoints that exist (for the seed's summary)."""
    page = await sm.list_endpoints(NameContains=ENDPOINT, MaxResults=100)
    return sorted(e["EndpointName"] for e in page.get("Endpoints", []))


async def ensure_fraud_pipeline(sm: Any, region: str, created: list[str]) -> dict[str, str]:
    """The SageMaker pipeline and one execution per fraud version: display name -> ARN."""
    try:
        await sm.describe_pipeline(PipelineName=FRAUD_PIPELINE)
    except ClientError:
        await sm.create_pipeline(
            PipelineName=FRAUD_PIPELINE,
            PipelineDisplayName="Fraud detector training",
            PipelineDescription="Prepares card transactions, trains LightGBM, registers the model.",
            PipelineDefinition=json.dumps(fraud_pipeline_definition(region)),
            RoleArn=role_arn(SAGEMAKER_ROLE),
            Tags=[{"Key": "team", "Value": "fraud-team"}],
        )
        created.append(f"pipeline/{FRAUD_PIPELINE}")
    page = await sm.list_pipeline_executions(PipelineName=FRAUD_PIPELINE)
    runs = {
        s.get("PipelineExecutionDisplayName", ""): s["PipelineExecutionArn"]
        for s in page.get("PipelineExecutionSummaries", [])
    }
    for version in FRAUD_VERSIONS:
        if version.pipeline_run not in runs:
            started = await sm.start_pipeline_execution(
                PipelineName=FRAUD_PIPELINE,
                PipelineExecutionDisplayName=version.pipeline_run,
                PipelineExecutionDescription=version.description,
                PipelineParameters=[{"Name": "LearningRate", "Value": "0.05"}],
                ClientRequestToken=f"mlmeta-demo-{version.pipeline_run}",
            )
            runs[version.pipeline_run] = started["PipelineExecutionArn"]
            created.append(f"pipeline-execution/{version.pipeline_run}")
    return runs


async def ensure_fraud_versions(
    sm: Any, region: str, pipeline_runs: dict[str, str], created: list[str]
) -> None:
    existing = await list_versions(sm, FRAUD_GROUP)
    image = f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/fraud-lightgbm:0.9.2"
    for number, version in enumerate(FRAUD_VERSIONS[len(existing) :], start=len(existing) + 1):
        prefix = f"s3://mlmeta-demo-artifacts/fraud/{version.pipeline_run}"
        await sm.create_model_package(
            ModelPackageGroupName=FRAUD_GROUP,
            ModelPackageDescription=version.description,
            ModelApprovalStatus=version.approval,
            InferenceSpecification={
                "Containers": [{"Image": image, "ModelDataUrl": f"{prefix}/model.tar.gz"}],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"{prefix}/evaluation.json",
                    }
                }
            },
            CustomerMetadataProperties={
                "mlmeta:pipeline-execution-arn": pipeline_runs.get(version.pipeline_run, ""),
                **{name: str(value) for name, value in version.metrics.items()},
            },
        )
        created.append(f"model-package/{FRAUD_GROUP}/{number}")


async def _card_versions(sm: Any, name: str) -> int:
    try:
        page = await sm.list_model_card_versions(ModelCardName=name)
    except ClientError:
        return 0
    return len(page.get("ModelCardVersionSummaryList", []))


async def _create_card(
    sm: Any, name: str, content: dict[str, Any], status: str, created: list[str]
) -> None:
    await sm.create_model_card(
        ModelCardName=name,
        Content=json.dumps(content),
        ModelCardStatus=status,
        Tags=[{"Key": "app", "Value": "mlmeta-demo"}],
    )
    created.append(f"model-card/{name}")


async def ensure_model_cards(sm: Any, region: str, created: list[str]) -> None:
    churn = await list_versions(sm, CHURN_GROUP)
    fraud = await list_versions(sm, FRAUD_GROUP)
    runs = succeeded_runs()

    def churn_content(index: int, *, complete: bool) -> dict[str, Any]:
        run = runs[index]
        job = f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:training-job/churn-train-{run.name}"
        package = churn[index]["ModelPackageArn"]
        return churn_card(run, index + 1, package, job, region, complete=complete)

    if len(churn) >= 1 and await _card_versions(sm, CHURN_CARD_ARCHIVED) == 0:
        await _create_card(
            sm, CHURN_CARD_ARCHIVED, churn_content(0, complete=True), "Archived", created
        )
    if len(churn) >= 3:
        versions = await _card_versions(sm, CHURN_CARD_DRAFT)
        if versions == 0:
            await _create_card(
                sm, CHURN_CARD_DRAFT, churn_content(2, complete=False), "Draft", created
            )
            versions = 1
        if versions == 1:
            # The reviewed card: ethical considerations and slices added, approved.
            await sm.update_model_card(
                ModelCardName=CHURN_CARD_DRAFT,
                Content=json.dumps(churn_content(2, complete=True)),
                ModelCardStatus="Approved",
            )
            created.append(f"model-card/{CHURN_CARD_DRAFT}@2")
    if fraud and await _card_versions(sm, FRAUD_CARD) == 0:
        content = fraud_card(fraud[0]["ModelPackageArn"], FRAUD_VERSIONS[0], region)
        await _create_card(sm, FRAUD_CARD, content, "PendingReview", created)


async def card_version_counts(sm: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in (CHURN_CARD_ARCHIVED, CHURN_CARD_DRAFT, FRAUD_CARD):
        if versions := await _card_versions(sm, name):
            counts[name] = versions
    return counts
