"""SageMakerSource as a pipeline source.

Three fakes, each for what it can show:

- moto server: pipelines, executions and parameters (its executions succeed
  at once, and it ignores MaxResults/NextToken on ListPipelineExecutions).
- botocore's Stubber: ListPipelineExecutionSteps, which moto does not
  implement, and exact paging requests; responses are checked against the
  service model, so they have the documented shape.
- a small JSON 1.1 server, where calls run concurrently (the Stubber answers
  calls in a fixed order).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sources.aws import AwsSettings, open_client
from sources.errors import InputError, NotFoundError, UpstreamError
from sources.metadb.models import ExecutionStatus, Orchestrator
from sources.pipelines.model import GraphEdge, GraphNode
from sources.sagemaker import SageMakerSource
from sources.sagemaker.pipelines import (
    execution_console_url,
    execution_status,
    graph_from_pipeline_definition,
    pipeline_console_url,
    split_failure_reason,
    steps_from_sagemaker,
)
from tests.support.http_server import serve_app

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerPipelineRole"
IMAGE = f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1"


def _settings(endpoint: str) -> AwsSettings:
    return AwsSettings(REGION, endpoint, timeout_seconds=5, max_attempts=1)


# ---- A realistic pipeline: Processing -> Training -> Condition -> RegisterModel / Fail ----

AUC = "Steps.TrainModel.FinalMetricDataList['validation:auc'].Value"


def churn_definition() -> dict[str, Any]:
    """What the SageMaker Python SDK writes for a preprocess/train/check/register pipeline."""
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {"Name": "InputData", "Type": "String", "DefaultValue": "s3://ml-data/churn/"},
            {"Name": "MinAuc", "Type": "Float", "DefaultValue": 0.8},
        ],
        "PipelineExperimentConfig": {
            "ExperimentName": {"Get": "Execution.PipelineName"},
            "TrialName": {"Get": "Execution.PipelineExecutionId"},
        },
        "Steps": [
            {
                "Name": "PrepareData",
                "Type": "Processing",
                "Arguments": {
                    "ProcessingResources": {
                        "ClusterConfig": {
                            "InstanceType": "ml.m5.xlarge",
                            "InstanceCount": 1,
                            "VolumeSizeInGB": 30,
                        }
                    },
                    "AppSpecification": {
                        "ImageUri": IMAGE,
                        "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/prepare.py"],
                    },
                    "RoleArn": ROLE,
                    "ProcessingInputs": [
                        {
                            "InputName": "raw",
                            "S3Input": {
                                "S3Uri": {"Get": "Parameters.InputData"},
                                "LocalPath": "/opt/ml/processing/input",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                            },
                        }
                    ],
                    "ProcessingOutputConfig": {
                        "Outputs": [
                            {
                                "OutputName": "train",
                                "S3Output": {
                                    "S3Uri": "s3://ml-artifacts/churn/train",
                                    "LocalPath": "/opt/ml/processing/train",
                                    "S3UploadMode": "EndOfJob",
                                },
                            }
                        ]
                    },
                },
            },
            {
                "Name": "TrainModel",
                "Type": "Training",
                "RetryPolicies": [
                    {
                        "ExceptionType": ["SageMaker.CAPACITY_ERROR"],
                        "IntervalSeconds": 60,
                        "BackoffRate": 2.0,
                        "MaxAttempts": 3,
                    }
                ],
                "Arguments": {
                    "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
                    "OutputDataConfig": {"S3OutputPath": "s3://ml-artifacts/churn/models"},
                    "ResourceConfig": {
                        "InstanceType": "ml.m5.2xlarge",
                        "InstanceCount": 1,
                        "VolumeSizeInGB": 50,
                    },
                    "RoleArn": ROLE,
                    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                    "InputDataConfig": [
                        {
                            "ChannelName": "train",
                            "DataSource": {
                                "S3DataSource": {
                                    "S3DataType": "S3Prefix",
                                    "S3Uri": {
                                        "Get": "Steps.PrepareData.ProcessingOutputConfig"
                                        ".Outputs['train'].S3Output.S3Uri"
                                    },
                                }
                            },
                        }
                    ],
                },
            },
            {
                "Name": "CheckAuc",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "GreaterThanOrEqualTo",
                            "LeftValue": {"Get": AUC},
                            "RightValue": {"Get": "Parameters.MinAuc"},
                        }
                    ],
                    "IfSteps": [
                        {
                            "Name": "RegisterModel",
                            "Type": "RegisterModel",
                            "Arguments": {
                                "ModelPackageGroupName": "churn-model",
                                "ModelApprovalStatus": "PendingManualApproval",
                                "InferenceSpecification": {
                                    "Containers": [
                                        {
                                            "Image": IMAGE,
                                            "ModelDataUrl": {
                                                "Get": "Steps.TrainModel.ModelArtifacts"
                                                ".S3ModelArtifacts"
                                            },
                                        }
                                    ],
                                    "SupportedContentTypes": ["text/csv"],
                                    "SupportedResponseMIMETypes": ["text/csv"],
                                },
                            },
                        }
                    ],
                    "ElseSteps": [
                        {
                            "Name": "AucTooLow",
                            "Type": "Fail",
                            "Arguments": {
                                "ErrorMessage": {
                                    "Std:Join": {
                                        "On": " ",
                                        "Values": ["AUC", {"Get": AUC}, "is below the threshold"],
                                    }
                                }
                            },
                        }
                    ],
                },
            },
        ],
    }


@pytest.fixture(scope="module")
def churn_pipeline(moto_endpoint: str) -> dict[str, Any]:
    """A pipeline with three executions (moto: all Succeeded), made once for the module."""
    name = f"churn-training-{uuid.uuid4().hex[:8]}"

    async def create() -> dict[str, Any]:
        async with AsyncExitStack() as stack:
            sm = await open_client(stack, "sagemaker", _settings(moto_endpoint))
            created = await sm.create_pipeline(
                PipelineName=name,
                PipelineDisplayName="Churn training",
                PipelineDefinition=json.dumps(churn_definition()),
                RoleArn=ROLE,
            )
            executions = []
            for number, rate in enumerate(["0.1", "0.05", "0.02"], start=1):
                started = await sm.start_pipeline_execution(
                    PipelineName=name,
                    PipelineExecutionDisplayName=f"weekly-{number}",
                    PipelineParameters=[{"Name": "LearningRate", "Value": rate}],
                    ClientRequestToken=uuid.uuid4().hex,
                )
                executions.append(started["PipelineExecutionArn"])
            return {"name": name, "arn": created["PipelineArn"], "executions": executions}

    return asyncio.run(create())


@pytest.fixture
async def source(moto_endpoint: str) -> AsyncIterator[SageMakerSource]:
    async with AsyncExitStack() as stack:
        client = await open_client(stack, "sagemaker", _settings(moto_endpoint))
        yield SageMakerSource(client, REGION)


# ---- describe_pipeline (moto) ---------------------------------------------------------------


async def test_describe_pipeline_identifies_it_by_arn(source, churn_pipeline):
    info, _ = await source.describe_pipeline(churn_pipeline["name"])

    assert info.id == churn_pipeline["arn"]
    assert info.arn == churn_pipeline["arn"]
    assert info.name == churn_pipeline["name"]
    assert info.orchestrator == Orchestrator.SAGEMAKER_PIPELINES


async def test_describe_pipeline_builds_the_graph_from_its_definition(source, churn_pipeline):
    _, graph = await source.describe_pipeline(churn_pipeline["name"])

    assert graph.nodes == [
        GraphNode("PrepareData", "Processing"),
        GraphNode("TrainModel", "Training"),
        GraphNode("CheckAuc", "Condition"),
        GraphNode("RegisterModel", "RegisterModel"),
        GraphNode("AucTooLow", "Fail"),
    ]
    assert {(e.source, e.target) for e in graph.edges} == {
        ("PrepareData", "TrainModel"),
        ("TrainModel", "CheckAuc"),
        ("CheckAuc", "RegisterModel"),
        ("CheckAuc", "AucTooLow"),
        ("TrainModel", "RegisterModel"),
        ("TrainModel", "AucTooLow"),
    }


async def test_describe_pipeline_accepts_its_arn(source, churn_pipeline):
    info, _ = await source.describe_pipeline(churn_pipeline["arn"])

    assert info.name == churn_pipeline["name"]


async def test_describe_pipeline_links_to_the_studio_domain_when_configured(
    moto_endpoint, churn_pipeline
):
    async with AsyncExitStack() as stack:
        client = await open_client(stack, "sagemaker", _settings(moto_endpoint))
        info, _ = await SageMakerSource(
            client, REGION, studio_domain_id="d-4bfvsrdwpq7k"
        ).describe_pipeline(churn_pipeline["name"])

    assert info.console_url == (
        "https://studio-d-4bfvsrdwpq7k.studio.us-east-1.sagemaker.aws"
        f"/pipelines/view/{churn_pipeline['name']}"
    )


async def test_describe_unknown_pipeline_is_not_found(source):
    with pytest.raises(NotFoundError) as caught:
        await source.describe_pipeline(f"no-such-pipeline-{uuid.uuid4().hex[:8]}")

    assert caught.value.source == "sagemaker"


# ---- list_pipeline_executions (moto) --------------------------------------------------------


async def test_list_executions_returns_summaries(source, churn_pipeline):
    page = await source.list_pipeline_executions(churn_pipeline["name"])

    assert {e.id for e in page.items} == set(churn_pipeline["executions"])
    assert {e.name for e in page.items} == {"weekly-1", "weekly-2", "weekly-3"}
    assert all(e.pipeline_id == churn_pipeline["arn"] for e in page.items)
    assert all(e.status == ExecutionStatus.SUCCEEDED for e in page.items)
    assert not any(e.detailed for e in page.items)
    assert page.next_token is None


async def test_list_executions_pages_through_all_of_them(source, churn_pipeline):
    seen: list[str] = []
    token = None
    for _ in range(3):
        page = await source.list_pipeline_executions(
            churn_pipeline["arn"], max_results=1, next_token=token
        )
        assert len(page.items) == 1
        seen.append(page.items[0].id)
        token = page.next_token

    assert token is None
    assert sorted(seen) == sorted(churn_pipeline["executions"])


async def test_list_executions_filters_by_status_client_side(source, churn_pipeline):
    page = await source.list_pipeline_executions(
        churn_pipeline["name"], status=ExecutionStatus.FAILED
    )

    assert page.items == []
    assert page.next_token is None


async def test_list_executions_rejects_a_foreign_token(source, churn_pipeline):
    with pytest.raises(InputError):
        await source.list_pipeline_executions(churn_pipeline["name"], next_token="not-ours")


async def test_list_executions_rejects_too_many_results(source, churn_pipeline):
    with pytest.raises(InputError):
        await source.list_pipeline_executions(churn_pipeline["name"], max_results=500)


# ---- describe_pipeline_execution (moto) -----------------------------------------------------


async def test_describe_execution_reads_its_parameters(source, churn_pipeline):
    execution = await source.describe_pipeline_execution(churn_pipeline["executions"][1])

    assert execution.parameters == {"LearningRate": "0.05"}
    assert execution.detailed


async def test_describe_execution_reports_status_and_times(source, churn_pipeline):
    arn = churn_pipeline["executions"][0]
    execution = await source.describe_pipeline_execution(arn)

    assert execution.id == arn
    assert execution.pipeline_id == churn_pipeline["arn"]
    assert execution.name == "weekly-1"
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.error is None
    assert execution.started_at.tzinfo is UTC
    assert execution.stopped_at is not None


async def test_describe_execution_links_to_its_graph(moto_endpoint, churn_pipeline):
    arn = churn_pipeline["executions"][0]
    async with AsyncExitStack() as stack:
        client = await open_client(stack, "sagemaker", _settings(moto_endpoint))
        source = SageMakerSource(client, REGION, studio_domain_id="d-4bfvsrdwpq7k")
        execution = await source.describe_pipeline_execution(arn)

    execution_id = arn.rsplit("/", 1)[-1]
    assert execution.console_url == (
        "https://studio-d-4bfvsrdwpq7k.studio.us-east-1.sagemaker.aws/pipelines/view/"
        f"{churn_pipeline['name']}/executions/{execution_id}/graph"
    )


async def test_describe_unknown_execution_is_not_found(source, churn_pipeline):
    missing = f"{churn_pipeline['arn']}/execution/zzzzzzzzzzzz"

    with pytest.raises(NotFoundError):
        await source.describe_pipeline_execution(missing)


async def test_execution_detail_fails_when_steps_cannot_be_listed(source, churn_pipeline):
    # moto does not implement ListPipelineExecutionSteps (HTTP 500).
    with pytest.raises(UpstreamError):
        await source.execution_detail(churn_pipeline["executions"][0])


# ---- ListPipelineExecutionSteps, documented shapes (Stubber) -------------------------------

EXECUTION = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/churn-training/execution/k2v1x9q4r7zd"
JOB = "pipelines-k2v1x9q4r7zd"


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 16, hour, minute, second, tzinfo=UTC)


def _job_arn(kind: str, step: str, suffix: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{JOB}-{step}-{suffix}".lower()


PREPARE: dict[str, Any] = {
    "StepName": "PrepareData",
    "StepDisplayName": "Prepare data",
    "StartTime": _at(10, 0, 5),
    "EndTime": _at(10, 6, 40),
    "StepStatus": "Succeeded",
    "AttemptCount": 1,
    "Metadata": {"ProcessingJob": {"Arn": _job_arn("processing-job", "PrepareData", "Ab12Cd")}},
}
TRAIN_RETRIED: dict[str, Any] = {
    "StepName": "TrainModel",
    "StartTime": _at(10, 6, 42),
    "EndTime": _at(10, 31, 10),
    "StepStatus": "Succeeded",
    "AttemptCount": 2,
    "Metadata": {"TrainingJob": {"Arn": _job_arn("training-job", "TrainModel", "Ef34Gh")}},
}
TRAIN_FAILED: dict[str, Any] = {
    "StepName": "TrainModel",
    "StartTime": _at(10, 6, 42),
    "EndTime": _at(10, 12, 3),
    "StepStatus": "Failed",
    "AttemptCount": 1,
    "FailureReason": (
        'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "ValueError: '
        "Input contains NaN, infinity or a value too large for dtype('float32').\"\n"
        'Command "/miniconda3/bin/python3 train.py --max_depth 6"'
    ),
    "Metadata": {"TrainingJob": {"Arn": _job_arn("training-job", "TrainModel", "Ij56Kl")}},
}
CHECK: dict[str, Any] = {
    "StepName": "CheckAuc",
    "StartTime": _at(10, 31, 12),
    "EndTime": _at(10, 31, 13),
    "StepStatus": "Succeeded",
    "AttemptCount": 1,
    "Metadata": {"Condition": {"Outcome": "True"}},
}
REGISTER: dict[str, Any] = {
    "StepName": "RegisterModel",
    "StartTime": _at(10, 31, 15),
    "EndTime": _at(10, 31, 18),
    "StepStatus": "Succeeded",
    "AttemptCount": 1,
    "Metadata": {
        "RegisterModel": {
            "Arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn-model/4"
        }
    },
}


@pytest.fixture
async def stubbed() -> AsyncIterator[tuple[SageMakerSource, Stubber]]:
    """A source whose client is answered by a Stubber: no request leaves the process."""
    async with AsyncExitStack() as stack:
        client = await open_client(stack, "sagemaker", _settings("http://127.0.0.1:9"))
        with Stubber(client) as stubber:
            yield SageMakerSource(client, REGION), stubber
            stubber.assert_no_pending_responses()


def _steps_request(token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "PipelineExecutionArn": EXECUTION,
        "SortOrder": "Ascending",
        "MaxResults": 100,
    }
    if token:
        request["NextToken"] = token
    return request


async def test_steps_are_read_across_pages(stubbed):
    source, stubber = stubbed
    token = "AAMA-EFRSURBSGhZeWN2SDZ0bHVtUWx0dGlwb0hUSnZ3"
    stubber.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": [PREPARE, TRAIN_RETRIED], "NextToken": token},
        _steps_request(),
    )
    stubber.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": [CHECK, REGISTER]},
        _steps_request(token),
    )

    steps = await source.pipeline_execution_steps(EXECUTION)

    assert [s.name for s in steps] == ["PrepareData", "TrainModel", "CheckAuc", "RegisterModel"]
    assert [s.position for s in steps] == [0, 1, 2, 3]


async def test_failed_training_step_reports_its_error_and_job(stubbed):
    source, stubber = stubbed
    stubber.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": [PREPARE, TRAIN_FAILED]},
        _steps_request(),
    )

    _, train = await source.pipeline_execution_steps(EXECUTION)

    assert train.status == ExecutionStatus.FAILED
    assert train.type == "Training"
    assert train.error == "AlgorithmError"
    assert train.cause is not None
    assert train.cause.startswith("ExecuteUserScriptError:\nExitCode 1")
    assert train.resource_arn == TRAIN_FAILED["Metadata"]["TrainingJob"]["Arn"]
    assert train.stopped_at == _at(10, 12, 3)


async def test_retried_step_reports_its_attempts(stubbed):
    source, stubber = stubbed
    stubber.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": [TRAIN_RETRIED]},
        _steps_request(),
    )

    [train] = await source.pipeline_execution_steps(EXECUTION)

    assert train.attempts == 2
    assert train.status == ExecutionStatus.SUCCEEDED


async def test_unknown_execution_steps_are_not_found(stubbed):
    source, stubber = stubbed
    stubber.add_client_error(
        "list_pipeline_execution_steps",
        service_error_code="ResourceNotFound",
        service_message=f"Pipeline execution {EXECUTION} does not exist.",
        http_status_code=400,
        expected_params=_steps_request(),
    )

    with pytest.raises(NotFoundError):
        await source.pipeline_execution_steps(EXECUTION)


def _summary(number: int, status: str) -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/churn-training/execution/run{number:08d}"
    return {
        "PipelineExecutionArn": arn,
        "StartTime": _at(9, number),
        "PipelineExecutionStatus": status,
        "PipelineExecutionDisplayName": f"weekly-{number}",
    }


def _executions_request(size: int, token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "PipelineName": "churn-training",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": size,
    }
    if token:
        request["NextToken"] = token
    return request


async def test_filtered_page_resumes_inside_an_upstream_page(stubbed):
    source, stubber = stubbed
    first = [
        _summary(9, "Succeeded"),
        _summary(8, "Failed"),
        _summary(7, "Succeeded"),
        _summary(6, "Failed"),
        _summary(5, "Failed"),
    ]
    upstream_page = {"PipelineExecutionSummaries": first, "NextToken": "page-2"}
    stubber.add_response("list_pipeline_executions", upstream_page, _executions_request(100))
    # The second page re-reads the same upstream page from where the first stopped.
    stubber.add_response("list_pipeline_executions", upstream_page, _executions_request(100))
    stubber.add_response(
        "list_pipeline_executions",
        {"PipelineExecutionSummaries": [_summary(4, "Failed")]},
        _executions_request(100, "page-2"),
    )
    failed = ExecutionStatus.FAILED

    one = await source.list_pipeline_executions("churn-training", status=failed, max_results=2)
    two = await source.list_pipeline_executions(
        "churn-training", status=failed, max_results=2, next_token=one.next_token
    )

    assert [e.name for e in one.items] == ["weekly-8", "weekly-6"]
    assert [e.name for e in two.items] == ["weekly-5", "weekly-4"]
    assert two.next_token is None


# ---- execution_detail over a JSON 1.1 server (concurrent calls) ---------------------------


class FakeSageMaker:
    """Answers ``X-Amz-Target: SageMaker.<Operation>`` with canned bodies; counts calls."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.calls: Counter[str] = Counter()

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> JSONResponse:
            operation = request.headers.get("x-amz-target", "").removeprefix("SageMaker.")
            await request.body()
            self.calls[operation] += 1
            if operation not in self.answers:
                error = {"__type": "UnknownOperationException", "message": operation}
                return JSONResponse(error, status_code=400)
            return JSONResponse(self.answers[operation], media_type="application/x-amz-json-1.1")

        return Starlette(routes=[Route("/", endpoint, methods=["POST"])])


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _wire(step: dict[str, Any]) -> dict[str, Any]:
    return {k: _epoch(v) if isinstance(v, datetime) else v for k, v in step.items()}


@pytest.fixture
def fake_sagemaker() -> Iterator[tuple[FakeSageMaker, str]]:
    fake = FakeSageMaker(
        {
            "DescribePipelineExecution": {
                "PipelineArn": EXECUTION.split("/execution/")[0],
                "PipelineExecutionArn": EXECUTION,
                "PipelineExecutionDisplayName": "weekly-2026-11-16",
                "PipelineExecutionStatus": "Failed",
                "FailureReason": "Step failure: One or multiple steps failed.",
                "CreationTime": _epoch(_at(10, 0)),
                "LastModifiedTime": _epoch(_at(10, 12, 5)),
            },
            "ListPipelineParametersForExecution": {
                "PipelineParameters": [{"Name": "MinAuc", "Value": "0.85"}]
            },
            "ListPipelineExecutionSteps": {
                "PipelineExecutionSteps": [_wire(PREPARE), _wire(TRAIN_FAILED)]
            },
        }
    )
    with serve_app(fake.app(), lifespan="off") as base_url:
        yield fake, base_url


async def test_execution_detail_returns_the_execution_and_its_steps(fake_sagemaker):
    fake, base_url = fake_sagemaker
    async with AsyncExitStack() as stack:
        client = await open_client(stack, "sagemaker", _settings(base_url))
        execution, steps = await SageMakerSource(client, REGION).execution_detail(EXECUTION)

    assert execution.status == ExecutionStatus.FAILED
    assert execution.error == "Step failure: One or multiple steps failed."
    assert execution.parameters == {"MinAuc": "0.85"}
    assert execution.stopped_at == _at(10, 12, 5)
    assert [(s.name, s.status) for s in steps] == [
        ("PrepareData", ExecutionStatus.SUCCEEDED),
        ("TrainModel", ExecutionStatus.FAILED),
    ]
    assert fake.calls == {
        "DescribePipelineExecution": 1,
        "ListPipelineParametersForExecution": 1,
        "ListPipelineExecutionSteps": 1,
    }


class InTurn(dict[str, Any]):
    """Canned answers; a list holds an operation's answers in turn (the last from then on)."""

    def __getitem__(self, operation: str) -> Any:
        answer = super().__getitem__(operation)
        if isinstance(answer, list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return answer


async def test_steps_listed_before_the_execution_ended_are_listed_again(fake_sagemaker):
    fake, base_url = fake_sagemaker
    train_running = {k: v for k, v in TRAIN_FAILED.items() if k not in ("EndTime", "FailureReason")}
    fake.answers = InTurn(fake.answers)
    fake.answers["ListPipelineExecutionSteps"] = [
        {
            "PipelineExecutionSteps": [
                _wire(PREPARE),
                _wire(train_running | {"StepStatus": "Executing"}),
            ]
        },
        {"PipelineExecutionSteps": [_wire(PREPARE), _wire(TRAIN_FAILED)]},
    ]
    async with AsyncExitStack() as stack:
        client = await open_client(stack, "sagemaker", _settings(base_url))
        execution, steps = await SageMakerSource(client, REGION).execution_detail(EXECUTION)

    assert execution.status == ExecutionStatus.FAILED
    assert [(s.name, s.status) for s in steps] == [
        ("PrepareData", ExecutionStatus.SUCCEEDED),
        ("TrainModel", ExecutionStatus.FAILED),
    ]
    assert fake.calls["ListPipelineExecutionSteps"] == 2


# ---- pure mappings ---------------------------------------------------------------------------


def test_steps_are_positioned_by_start_time():
    not_started = {"StepName": "RegisterModel", "StepStatus": "Starting"}
    # ListPipelineExecutionSteps lists the newest step first by default.
    steps = steps_from_sagemaker([not_started, CHECK, TRAIN_RETRIED, PREPARE])

    assert [(s.name, s.position) for s in steps] == [
        ("PrepareData", 0),
        ("TrainModel", 1),
        ("CheckAuc", 2),
        ("RegisterModel", 3),
    ]


@pytest.mark.parametrize(
    ("metadata", "expected_type", "expected_arn"),
    [
        pytest.param(
            PREPARE["Metadata"],
            "Processing",
            PREPARE["Metadata"]["ProcessingJob"]["Arn"],
            id="processing",
        ),
        pytest.param(
            {"TransformJob": {"Arn": "arn:aws:sagemaker:us-east-1:123456789012:transform-job/t"}},
            "Transform",
            "arn:aws:sagemaker:us-east-1:123456789012:transform-job/t",
            id="transform",
        ),
        pytest.param(
            {"Model": {"Arn": "arn:aws:sagemaker:us-east-1:123456789012:model/churn"}},
            "Model",
            "arn:aws:sagemaker:us-east-1:123456789012:model/churn",
            id="model",
        ),
        pytest.param(
            REGISTER["Metadata"],
            "RegisterModel",
            REGISTER["Metadata"]["RegisterModel"]["Arn"],
            id="register",
        ),
        pytest.param(
            {"Lambda": {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:notify"}},
            "Lambda",
            "arn:aws:lambda:us-east-1:123456789012:function:notify",
            id="lambda",
        ),
        pytest.param(
            {
                "QualityCheck": {
                    "CheckType": "DATA_QUALITY",
                    "CheckJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/qc",
                }
            },
            "QualityCheck",
            "arn:aws:sagemaker:us-east-1:123456789012:processing-job/qc",
            id="quality-check",
        ),
        pytest.param(
            {"EMR": {"ClusterId": "j-2AXXXXXXGAPLF", "StepId": "s-1XXXXXXX"}}, "EMR", None, id="emr"
        ),
        pytest.param(CHECK["Metadata"], "Condition", None, id="condition"),
        pytest.param({}, "Unknown", None, id="no-metadata-yet"),
    ],
)
def test_step_type_and_resource_come_from_its_metadata(metadata, expected_type, expected_arn):
    [step] = steps_from_sagemaker(
        [{"StepName": "S", "StepStatus": "Executing", "Metadata": metadata}]
    )

    assert (step.type, step.resource_arn) == (expected_type, expected_arn)


def test_fail_step_reports_its_error_message():
    fail = {
        "StepName": "AucTooLow",
        "StartTime": _at(10, 31, 12),
        "EndTime": _at(10, 31, 12),
        "StepStatus": "Failed",
        "Metadata": {"Fail": {"ErrorMessage": "AUC 0.71 is below the threshold"}},
    }

    [step] = steps_from_sagemaker([fail])

    assert (step.type, step.error) == ("Fail", "AUC 0.71 is below the threshold")


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        ("Executing", ExecutionStatus.RUNNING),
        ("Stopping", ExecutionStatus.RUNNING),
        ("Stopped", ExecutionStatus.ABORTED),
        ("Failed", ExecutionStatus.FAILED),
        ("Succeeded", ExecutionStatus.SUCCEEDED),
    ],
)
def test_execution_statuses_map_to_the_domain(upstream, expected):
    assert execution_status(upstream) == expected


def test_failure_reason_splits_into_error_and_cause():
    assert split_failure_reason("ClientError: Failed to invoke sagemaker:CreateTrainingJob.") == (
        "ClientError",
        "Failed to invoke sagemaker:CreateTrainingJob.",
    )


def test_graph_follows_depends_on():
    graph = graph_from_pipeline_definition(
        {
            "Steps": [
                {"Name": "Notify", "Type": "Lambda", "DependsOn": ["Train"]},
                {"Name": "Train", "Type": "Training", "Arguments": {}},
            ]
        }
    )

    assert graph.edges == [GraphEdge("Train", "Notify")]


def test_graph_ignores_references_to_parameters_and_unknown_steps():
    graph = graph_from_pipeline_definition(
        {
            "Steps": [
                {
                    "Name": "Train",
                    "Type": "Training",
                    "Arguments": {
                        "A": {"Get": "Parameters.InputData"},
                        "B": {"Get": "Steps.Deleted.Properties.S3Uri"},
                        "C": {"Get": "Execution.PipelineExecutionArn"},
                    },
                }
            ]
        }
    )

    assert graph.edges == []


def test_graph_of_an_empty_definition_is_empty():
    graph = graph_from_pipeline_definition({})

    assert (graph.nodes, graph.edges) == ([], [])


def test_console_links_fall_back_to_the_studio_page_without_a_domain():
    pipeline = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:pipeline/churn-training"
    landing = (
        "https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1#/studio-landing"
    )

    assert pipeline_console_url(pipeline, None) == landing
    assert execution_console_url(f"{pipeline}/execution/k2v1x9q4r7zd", None) == landing
