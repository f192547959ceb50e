"""The embedded demo: moto really runs the seeded pipelines, and the catalog points at them.

One moto server and one seed for the whole module (seeding takes ~10 s, most
of it the TIMED_OUT run waiting for its pipeline's timeout). moto's state is
process-wide, so assertions look only at the demo's own names.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto.core.config import default_user_config

from gateway.auth.principal import Principal
from gateway.demo import DemoSummary, MotoHandle, seed_aws, start_moto, write_catalog
from gateway.demo.plan import SCORING_RUNS, TRAINING_RUNS
from sources.catalog.folder import FolderCatalog

pytestmark = pytest.mark.slow

TRAINING = "churn-training-pipeline"
SCORING = "churn-batch-scoring"
ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoHandle]:
    previous_port = os.environ.get("MOTO_PORT")
    previous_config = dict(default_user_config["stepfunctions"])
    handle = start_moto()
    yield handle
    handle.stop()
    assert os.environ.get("MOTO_PORT") == previous_port
    assert default_user_config["stepfunctions"] == previous_config


@pytest.fixture(scope="module")
def summary(moto: MotoHandle) -> DemoSummary:
    return asyncio.run(seed_aws(moto.endpoint_url, REGION))


@pytest.fixture(scope="module")
def sfn(moto: MotoHandle) -> Any:
    return boto3.client("stepfunctions", endpoint_url=moto.endpoint_url, region_name=REGION)


@pytest.fixture(scope="module")
def sagemaker(moto: MotoHandle) -> Any:
    return boto3.client("sagemaker", endpoint_url=moto.endpoint_url, region_name=REGION)


def execution_arn(machine: str, name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"


def state_types(states: dict[str, Any]) -> set[str]:
    """Every state type of a definition, nested Parallel branches and Map processors included."""
    found: set[str] = set()
    for state in states.values():
        found.add(state["Type"])
        for branch in state.get("Branches", []):
            found |= state_types(branch["States"])
        if "ItemProcessor" in state:
            found |= state_types(state["ItemProcessor"]["States"])
    return found


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    return list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])


# --------------------------------------------------------------- moto server


def test_start_moto_turns_on_the_state_machine_interpreter(moto: MotoHandle) -> None:
    assert os.environ["MOTO_PORT"] == str(moto.port)
    assert moto.endpoint_url == f"http://127.0.0.1:{moto.port}"
    assert os.environ.get("AWS_ACCESS_KEY_ID")
    assert default_user_config["stepfunctions"]["execute_state_machine"] is True


# ------------------------------------------------------------ step functions


def test_state_machines_are_ml_pipelines_in_real_asl(summary: DemoSummary, sfn: Any) -> None:
    arns = summary.state_machine_arns
    assert arns[TRAINING] == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{TRAINING}"
    training = json.loads(sfn.describe_state_machine(stateMachineArn=arns[TRAINING])["definition"])
    scoring = json.loads(sfn.describe_state_machine(stateMachineArn=arns[SCORING])["definition"])

    assert {"Task", "Parallel", "Wait", "Choice", "Fail"} <= state_types(training["States"])
    assert [b["StartAt"] for b in training["States"]["BuildFeatures"]["Branches"]] == [
        "CustomerFeatures",
        "UsageFeatures",
    ]
    gate = training["States"]["QualityGate"]
    assert [c["Next"] for c in gate["Choices"]] == ["PassedNotRegistered", "RegisterModel"]
    assert gate["Default"] == "ModelQualityGateFailed"
    assert {"Map", "Wait", "Task"} <= state_types(scoring["States"])
    assert scoring["TimeoutSeconds"] > 0


def test_executions_exist_in_every_status(summary: DemoSummary, sfn: Any) -> None:
    counts = summary.status_counts
    assert counts["SUCCEEDED"] == 6  # 4 training + 2 scoring
    assert counts["FAILED"] == 2
    assert counts["RUNNING"] == 1
    assert counts["ABORTED"] == 1
    assert counts["TIMED_OUT"] == 1
    for run in (*TRAINING_RUNS, *SCORING_RUNS):
        machine = TRAINING if run in TRAINING_RUNS else SCORING
        assert summary.execution(machine, run.name).status == run.expect, run.name
    listed = sfn.list_executions(
        stateMachineArn=summary.state_machine_arns[SCORING], statusFilter="TIMED_OUT"
    )["executions"]
    assert [e["name"] for e in listed] == ["score-2026-11-23"]


def test_failed_executions_carry_the_fail_states_error_and_cause(
    summary: DemoSummary, sfn: Any
) -> None:
    gate = sfn.describe_execution(executionArn=execution_arn(TRAINING, "high-learning-rate"))
    assert gate["status"] == "FAILED"
    assert gate["error"] == "ModelQualityGateFailed"
    assert "0.85" in gate["cause"]
    data = sfn.describe_execution(executionArn=execution_arn(TRAINING, "missing-snapshot"))
    assert data["error"] == "DataValidationFailed"
    assert "snapshot" in data["cause"]


def test_succeeded_run_has_per_state_history_with_real_jobs(summary: DemoSummary, sfn: Any) -> None:
    events = history(sfn, summary.execution(TRAINING, "baseline-xgb").arn)
    types = [e["type"] for e in events]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    assert types[0] == "ExecutionStarted"
    assert types[-1] == "ExecutionSucceeded"
    assert {
        "TaskStateEntered",
        "TaskScheduled",
        "TaskSucceeded",
        "ParallelStateEntered",
        "WaitStateEntered",
        "ChoiceStateEntered",
    } <= set(types)
    assert entered[:4] == ["ValidateData", "Preprocess", "WaitForPreprocessing", "BuildFeatures"]
    assert {"CustomerFeatures", "UsageFeatures", "Train", "QualityGate", "RegisterModel"} <= set(
        entered
    )
    outputs = [
        e["taskSucceededEventDetails"]["output"] for e in events if e["type"] == "TaskSucceeded"
    ]
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/churn-train-baseline-xgb"
    assert any(job in output for output in outputs)
    started = json.loads(events[0]["executionStartedEventDetails"]["input"])
    assert started["hyperparameters"]["learning_rate"] == 0.1
    assert started["dataset"]["uri"].startswith("s3://mlmeta-demo-datasets/churn/training/")


def test_scoring_run_maps_over_every_shard(summary: DemoSummary, sfn: Any) -> None:
    run = next(r for r in SCORING_RUNS if r.name == "score-2026-11-22")
    types = [e["type"] for e in history(sfn, summary.execution(SCORING, run.name).arn)]
    assert "MapStateEntered" in types
    assert types.count("MapIterationSucceeded") == run.shards
    assert types[-1] == "ExecutionSucceeded"


def test_running_aborted_and_timed_out_runs_stop_where_expected(
    summary: DemoSummary, sfn: Any
) -> None:
    running = history(sfn, summary.execution(TRAINING, "nightly").arn)
    assert running[-1]["type"] == "WaitStateEntered"
    assert running[-1]["stateEnteredEventDetails"]["name"] == "WaitForTraining"
    aborted = history(sfn, summary.execution(TRAINING, "manual-rerun").arn)
    assert aborted[-1]["type"] == "ExecutionAborted"
    assert "WaitStateEntered" in [e["type"] for e in aborted]
    timed_out = history(sfn, summary.execution(SCORING, "score-2026-11-23").arn)
    assert timed_out[-1]["type"] == "ExecutionTimedOut"


# ----------------------------------------------------------------- sagemaker


def test_model_versions_in_every_approval_status(summary: DemoSummary, sagemaker: Any) -> None:
    arns = summary.model_package_arns["churn-model"]
    statuses = [
        sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        for arn in arns
    ]
    assert statuses == ["Approved", "Rejected", "Approved", "PendingManualApproval"]
    assert len(summary.model_package_arns["fraud-detector"]) == 2
    assert summary.approval_counts == {"Approved": 3, "Rejected": 1, "PendingManualApproval": 2}


def test_registered_version_links_back_to_its_training_run(
    summary: DemoSummary, sagemaker: Any
) -> None:
    package = sagemaker.describe_model_package(
        ModelPackageName=summary.model_package_arns["churn-model"][2]
    )
    properties = package["CustomerMetadataProperties"]
    assert properties["mlmeta:execution-arn"] == execution_arn(TRAINING, "tuned-600-rounds")
    assert properties["auc"] == "0.903"
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"].endswith("churn-train-tuned-600-rounds/output/model.tar.gz")
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(
        "tuned-600-rounds/evaluation.json"
    )


def test_model_cards_follow_the_sagemaker_schema_with_history(
    summary: DemoSummary, sagemaker: Any
) -> None:
    assert summary.model_card_versions == {
        "churn-model-v1": 1,
        "churn-model-v3": 2,
        "fraud-detector-v1": 1,
    }
    first = sagemaker.describe_model_card(ModelCardName="churn-model-v3", ModelCardVersion=1)
    latest = sagemaker.describe_model_card(ModelCardName="churn-model-v3")
    assert (first["ModelCardStatus"], latest["ModelCardStatus"]) == ("Draft", "Approved")
    content = json.loads(latest["Content"])
    assert {
        "model_overview",
        "intended_uses",
        "training_details",
        "evaluation_details",
        "additional_information",
        "model_package_details",
    } <= set(content)
    assert "additional_information" not in json.loads(first["Content"])
    assert (
        content["model_package_details"]["model_package_arn"]
        == (summary.model_package_arns["churn-model"][2])
    )


def test_sagemaker_pipeline_has_runs(summary: DemoSummary, sagemaker: Any) -> None:
    runs = sagemaker.list_pipeline_executions(PipelineName="fraud-detector-training")
    names = {r["PipelineExecutionDisplayName"] for r in runs["PipelineExecutionSummaries"]}
    assert names == set(summary.sagemaker_pipeline_executions)


async def test_seeding_twice_creates_nothing_new(summary: DemoSummary, moto: MotoHandle) -> None:
    again = await seed_aws(moto.endpoint_url, REGION)
    assert again.created == []
    assert str(again).endswith("0 created by this seed")
    assert sorted(e.arn for e in again.executions) == sorted(e.arn for e in summary.executions)
    assert again.model_package_arns == summary.model_package_arns
    assert again.model_card_versions == summary.model_card_versions
    assert again.state_machine_arns == summary.state_machine_arns


# ------------------------------------------------------------------- catalog

NAME = re.compile(r"^[a-zA-Z0-9]([-_.]?[a-zA-Z0-9])*$")
REQUIRED_SPEC = {
    "component": {"type", "lifecycle", "owner"},
    "api": {"type", "lifecycle", "owner", "definition"},
    "resource": {"type", "owner"},
    "system": {"owner"},
    "domain": {"owner"},
    "group": {"type", "children"},
    "user": {"memberOf"},
    "location": set(),
}


@pytest.fixture
def catalog_folder(tmp_path: Path) -> Path:
    assert write_catalog(tmp_path) == 25
    return tmp_path


async def test_catalog_loads_with_the_expected_refs(catalog_folder: Path) -> None:
    refs = [
        "component:default/churn-training-pipeline",
        "component:default/churn-batch-scoring",
        "resource:default/churn-model",
        "resource:default/churn-training-set",
        "group:default/ml-platform",
        "user:default/alice",
        "system:default/customer-intelligence",
        "api:default/mlmeta-graphql",
        "location:default/mlmeta-demo",
    ]
    found = await FolderCatalog(catalog_folder).entities_by_refs(refs, Principal.anonymous())
    assert all(isinstance(entity, dict) for entity in found), dict(zip(refs, found, strict=True))
    pipeline, _, model, dataset = found[:4]
    assert pipeline is not None
    assert model is not None
    assert dataset is not None
    assert pipeline["spec"]["type"] == "ml-pipeline"
    assert pipeline["spec"]["owner"] == "group:default/ml-platform"
    assert model["spec"]["type"] == "ml-model"
    assert "resource:default/churn-training-set" in model["spec"]["dependsOn"]
    assert dataset["spec"]["type"] == "dataset"


async def test_catalog_annotations_name_the_seeded_aws_objects(
    catalog_folder: Path, summary: DemoSummary, moto: MotoHandle
) -> None:
    catalog = FolderCatalog(catalog_folder)
    refs = [
        "component:default/churn-training-pipeline",
        "component:default/churn-batch-scoring",
        "resource:default/churn-model",
        "resource:default/fraud-detector",
    ]
    training, scoring, churn, fraud = await catalog.entities_by_refs(refs, Principal.anonymous())
    for entity, machine in ((training, TRAINING), (scoring, SCORING)):
        annotations = entity["metadata"]["annotations"]
        assert annotations["mlmeta.io/step-functions-arn"] == summary.state_machine_arns[machine]
        assert (
            annotations["aws.amazon.com/step-functions-arn"] == summary.state_machine_arns[machine]
        )
    for entity in (churn, fraud):
        group = entity["metadata"]["annotations"]["mlmeta.io/model-package-group"]
        assert summary.model_package_arns[group]

    s3 = boto3.client("s3", endpoint_url=moto.endpoint_url, region_name=REGION)
    datasets = [e for e in yaml.safe_load_all((catalog_folder / "datasets.yaml").read_text())]
    for dataset in datasets:
        uri = dataset["metadata"]["annotations"]["mlmeta.io/dataset-uri"]
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if dataset["metadata"]["name"] != "churn-scores":  # written by scoring runs only
            assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] > 0, uri


def test_catalog_entities_are_valid_backstage(catalog_folder: Path) -> None:
    entities = [
        doc
        for path in sorted(catalog_folder.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    ]
    refs = {f"{e['kind'].lower()}:default/{e['metadata']['name']}" for e in entities}
    for entity in entities:
        kind, name = entity["kind"].lower(), entity["metadata"]["name"]
        assert entity["apiVersion"] == "backstage.io/v1alpha1"
        assert NAME.match(name), name
        assert len(name) <= 63, name
        assert REQUIRED_SPEC[kind] <= set(entity["spec"]), name
        spec = entity["spec"]
        targets = [spec.get("owner"), spec.get("system"), spec.get("domain"), spec.get("parent")]
        targets += spec.get("dependsOn", []) + spec.get("memberOf", [])
        targets += spec.get("children", []) + spec.get("providesApis", [])
        for target in filter(None, targets):
            assert target in refs, f"{name} -> {target}"


def test_write_catalog_overwrites_and_can_move_region(tmp_path: Path) -> None:
    (tmp_path / "pipelines.yaml").write_text("stale: true\n")
    assert write_catalog(tmp_path) == write_catalog(tmp_path) == 25
    assert "churn-training-pipeline" in (tmp_path / "pipelines.yaml").read_text()
    moved = tmp_path / "eu"
    write_catalog(moved, region="eu-west-1")
    text = (moved / "pipelines.yaml").read_text()
    assert "arn:aws:states:eu-west-1:123456789012:stateMachine:churn-training-pipeline" in text
    assert "us-east-1" not in text
