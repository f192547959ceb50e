"""AwsLineage: the edges the demo's registry, training jobs and endpoints imply.

Against the session's moto server with the demo seeded (other tests' groups
and endpoints live there too: anything made here has a unique name, and the
endpoint made here is deleted afterwards). Each test has its own metadb.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gateway.demo import DemoSummary
from sources.aws import AwsSettings, open_client
from sources.catalog.claims import ClaimsIndex
from sources.catalog.folder import FolderCatalog
from sources.lineage.derive import AwsLineage, DeriveReport
from sources.lineage.model import Direction, Edge
from sources.metadb import MetaDB
from sources.metadb.lineage import LineageStore
from sources.metadb.model_versions import ModelVersionStore
from sources.metadb.models import ExecutionStatus, LineageEdgeKind, utcnow
from sources.metadb.pipelines import PipelineStore
from sources.models.service import ModelService
from sources.pipelines.model import StepState
from sources.sagemaker import SageMakerSource
from sources.sagemaker.registry_source import SageMakerRegistry
from sources.sagemaker.training import training_job_from_description
from tests.support.aws_calls import CountingClient

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlmeta-test"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
V3 = f"ModelVersion:arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-model/3"
RUN = (
    f"PipelineExecution:arn:aws:states:{REGION}:{ACCOUNT}"
    ":execution:churn-training-pipeline:tuned-600-rounds"
)
PROD = f"Deployment:arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/churn-model-prod"
TRAINING_DATA = "s3://mlmeta-demo-datasets/churn/training/2026-11-01/train.csv"
JOB_INPUT = "s3://mlmeta-demo-artifacts/churn/preprocessed/tuned-600-rounds"
TTL = 60.0
CONSUMED, PRODUCED, DEPLOYED = (
    LineageEdgeKind.CONSUMED,
    LineageEdgeKind.PRODUCED,
    LineageEdgeKind.DEPLOYED,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    derive: AwsLineage
    lineage: LineageStore
    sm: CountingClient
    clock: Clock
    pipelines: PipelineStore


@pytest.fixture
async def world(
    demo_aws: DemoSummary,
    moto_endpoint: str,
    migrated_sqlite: Path,
    catalog_folder: Path,
    tmp_path: Path,
) -> AsyncIterator[World]:
    shutil.copy(migrated_sqlite, tmp_path / "metadb.sqlite")
    db = MetaDB.connect(f"sqlite+aiosqlite:///{tmp_path / 'metadb.sqlite'}")
    settings = AwsSettings(REGION, moto_endpoint, timeout_seconds=5, max_attempts=1)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(db.close)
        sm = CountingClient(await open_client(stack, "sagemaker", settings))
        # No deployment cache: an endpoint switch shows at the next refresh.
        registry = SageMakerRegistry(sm, REGION, cache_seconds=0)
        models = ModelService(
            registry, ModelVersionStore(db), ClaimsIndex(FolderCatalog(catalog_folder))
        )
        lineage, clock, pipelines = LineageStore(db), Clock(), PipelineStore(db)
        derive = AwsLineage(
            models,
            registry,
            SageMakerSource(sm, REGION),
            pipelines,
            lineage,
            ttl_seconds=TTL,
            clock=clock,
        )
        yield World(derive, lineage, sm, clock, pipelines)


def triples(edges: list[Edge]) -> set[tuple[str, str, str]]:
    return {(e.from_key, e.to_key, e.kind) for e in edges}


def throttled() -> Exception:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Call")


# ---- what is derived -----------------------------------------------------------------------


async def test_the_run_that_trained_a_version_produced_it(world: World) -> None:
    report = await world.derive.refresh()

    assert report.skipped_reason is None
    assert report.recorded > 0
    upstream = await world.lineage.neighbours([V3], Direction.UPSTREAM)
    assert (RUN, V3, PRODUCED) in triples(upstream)
    assert {e.origin for e in upstream} == {"aws"}


async def test_the_production_endpoint_is_deployed_from_the_version_it_serves(
    world: World,
) -> None:
    await world.derive.refresh()

    assert (V3, PROD, DEPLOYED) in triples(
        await world.lineage.neighbours([V3], Direction.DOWNSTREAM)
    )


async def test_the_run_consumed_its_training_data_and_its_jobs_inputs(world: World) -> None:
    await world.derive.refresh()

    consumed = triples(await world.lineage.neighbours([RUN], Direction.UPSTREAM))
    assert {
        (f"Dataset:{TRAINING_DATA}", RUN, CONSUMED),
        (f"Dataset:{JOB_INPUT}", RUN, CONSUMED),
    } <= consumed
    stored = await world.lineage.datasets_by_ids([TRAINING_DATA, JOB_INPUT])
    assert [d.uri if d else None for d in stored] == [TRAINING_DATA, JOB_INPUT]


async def test_a_version_naming_no_run_is_traced_by_its_model_artifact(world: World) -> None:
    sm, name = world.sm, f"tderive-art-{uuid.uuid4().hex[:10]}"
    job = await sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://t/{name}"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    described = await sm.describe_training_job(TrainingJobName=name)
    step = StepState(
        name="train",
        type="Training",
        status=ExecutionStatus.SUCCEEDED,
        position=0,
        started_at=utcnow(),
        resource_arn=job["TrainingJobArn"],
    )
    run = await world.pipelines.record_external_run(
        "airflow/train", name, status=ExecutionStatus.SUCCEEDED, started_at=utcnow(), steps=[step]
    )
    await sm.create_model_package_group(ModelPackageGroupName=name)
    made = await sm.create_model_package(  # no customer metadata: only the artefact tells
        ModelPackageGroupName=name,
        InferenceSpecification={
            "Containers": [
                {"Image": IMAGE, "ModelDataUrl": described["ModelArtifacts"]["S3ModelArtifacts"]}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )

    await world.derive.refresh()

    version = f"ModelVersion:{made['ModelPackageArn']}"
    upstream = await world.lineage.neighbours([version], Direction.UPSTREAM)
    assert (f"PipelineExecution:{run.id}", version, PRODUCED) in triples(upstream)


def test_a_training_job_description_gives_its_s3_inputs_and_model_artifact() -> None:
    job = training_job_from_description(
        {
            "TrainingJobName": "j",
            "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/j",
            "TrainingJobStatus": "Completed",
            "InputDataConfig": [
                {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/train"}}},
                {
                    "ChannelName": "fs",
                    "DataSource": {"FileSystemDataSource": {"FileSystemId": "fs-1"}},
                },
                {"ChannelName": "test", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/test"}}},
            ],
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/model.tar.gz"},
        }
    )

    assert job.input_uris == ("s3://b/train", "s3://b/test")
    assert job.model_artifact == "s3://b/model.tar.gz"


# ---- cached, bounded -----------------------------------------------------------------------


async def test_a_second_refresh_within_the_ttl_makes_no_aws_call(world: World) -> None:
    await world.derive.refresh()
    world.sm.calls.clear()

    assert await world.derive.refresh() == DeriveReport(0, 0, None)
    assert world.sm.total() == 0


async def test_after_the_ttl_nothing_is_recorded_twice_or_described_again(world: World) -> None:
    await world.derive.refresh()
    world.sm.calls.clear()
    world.clock.now += TTL + 1

    report = await world.derive.refresh()

    assert (report.recorded, report.skipped_reason) == (0, None)
    assert world.sm.calls["describe_model_package"] == 0
    assert world.sm.calls["describe_training_job"] == 0
    assert world.sm.calls["list_model_package_groups"] == 1


async def test_concurrent_callers_share_one_refresh(world: World) -> None:
    first, second = await asyncio.gather(world.derive.refresh(), world.derive.refresh())

    assert first == second
    assert first.recorded > 0
    assert world.sm.calls["list_model_package_groups"] == 1


# ---- deployments over time -----------------------------------------------------------------


async def _version(sm: Any, group: str, number: int) -> str:
    made = await sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://t/{group}/{number}.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    return str(made["ModelPackageArn"])


async def _serving(sm: Any, name: str, package_arn: str) -> str:
    """A model made from the version's artefact, tagged with its package (as the demo does),
    and an endpoint config serving it; the config's name."""
    await sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://t/model.tar.gz"},
        ExecutionRoleArn=ROLE,
        Tags=[{"Key": "model-package-arn", "Value": package_arn}],
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    await sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    return name


@pytest.fixture
async def switched_endpoint(world: World) -> AsyncIterator[dict[str, str]]:
    """An endpoint serving v1 of a group of its own, and a config serving v2; deleted after."""
    sm, prefix = world.sm, f"tderive-{uuid.uuid4().hex[:10]}"
    await sm.create_model_package_group(ModelPackageGroupName=prefix)
    v1, v2 = [await _version(sm, prefix, n) for n in (1, 2)]
    await sm.create_endpoint(
        EndpointName=prefix, EndpointConfigName=await _serving(sm, f"{prefix}-a", v1)
    )
    described = await sm.describe_endpoint(EndpointName=prefix)
    try:
        yield {
            "v1": f"ModelVersion:{v1}",
            "v2": f"ModelVersion:{v2}",
            "endpoint": f"Deployment:{described['EndpointArn']}",
            "next_config": await _serving(sm, f"{prefix}-b", v2),
            "name": prefix,
        }
    finally:
        await sm.delete_endpoint(EndpointName=prefix)


async def test_an_endpoint_switch_retires_the_old_deployed_edge(
    world: World, switched_endpoint: dict[str, str]
) -> None:
    v1, v2, endpoint = (switched_endpoint[k] for k in ("v1", "v2", "endpoint"))
    await world.derive.refresh()
    before = utcnow()
    # moto has no UpdateEndpoint: the endpoint is made again under its name (same ARN).
    await world.sm.delete_endpoint(EndpointName=switched_endpoint["name"])
    await world.sm.create_endpoint(
        EndpointName=switched_endpoint["name"],
        EndpointConfigName=switched_endpoint["next_config"],
    )

    report = await world.derive.refresh(force=True)

    assert (report.recorded, report.retired) == (1, 1)
    then = await world.lineage.neighbours([endpoint], Direction.UPSTREAM, as_of=before)
    now = await world.lineage.neighbours([endpoint], Direction.UPSTREAM)
    assert triples(then) == {(v1, endpoint, DEPLOYED)}
    assert triples(now) == {(v2, endpoint, DEPLOYED)}


# ---- failures ------------------------------------------------------------------------------


async def test_a_failing_upstream_is_reported_and_what_was_recorded_stays(world: World) -> None:
    world.sm.fail["describe_training_job"] = throttled

    report = await world.derive.refresh()

    assert report.skipped_reason is not None
    assert "throttling" in report.skipped_reason
    assert report.recorded > 0
    around_v3 = triples(await world.lineage.neighbours([V3], Direction.BOTH))
    assert {(RUN, V3, PRODUCED), (V3, PROD, DEPLOYED)} <= around_v3
    assert not await world.lineage.neighbours([f"Dataset:{JOB_INPUT}"], Direction.DOWNSTREAM)


async def test_a_failed_refresh_is_kept_for_queries_to_report_until_one_completes(
    world: World,
) -> None:
    world.sm.fail["describe_training_job"] = throttled
    await world.derive.refresh()
    assert world.derive.incomplete is not None
    assert world.derive.incomplete.source == "sagemaker"
    assert world.derive.incomplete.code == "UPSTREAM_THROTTLED"

    await world.derive.refresh()  # within the TTL: still what the last refresh left
    assert world.derive.incomplete is not None
    del world.sm.fail["describe_training_job"]
    await world.derive.refresh(force=True)
    assert world.derive.incomplete is None


async def test_a_failed_refresh_waits_for_the_ttl_and_a_forced_one_completes_it(
    world: World,
) -> None:
    world.sm.fail["list_model_package_groups"] = throttled
    assert (await world.derive.refresh()).skipped_reason is not None
    del world.sm.fail["list_model_package_groups"]
    world.sm.calls.clear()

    assert await world.derive.refresh() == DeriveReport(0, 0, None)
    assert world.sm.total() == 0
    report = await world.derive.refresh(force=True)
    assert report.skipped_reason is None
    assert report.recorded > 0


async def test_without_a_registry_nothing_is_derived(world: World, tmp_path: Path) -> None:
    derive = AwsLineage(
        world.derive._models,
        None,
        None,
        world.derive._pipelines,
        world.lineage,
        ttl_seconds=TTL,
    )

    report = await derive.refresh()

    assert (report.recorded, report.retired) == (0, 0)
    assert report.skipped_reason == "the SageMaker model registry is not configured"
    assert derive.incomplete is None  # nothing to derive is not a failure to report
