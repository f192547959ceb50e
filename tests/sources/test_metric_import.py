"""Importing training metrics: SageMaker training jobs and their CloudWatch series.

Three fakes, each for what it can show:

- moto server: DescribeTrainingJob (moto completes a job at once, replaces its
  MetricDefinitions with a canned ``test:dcg`` and reports a canned final
  metric ``train:progress`` = 100.0 at the creation time), PutMetricData and
  GetMetricData with MetricStat (moto answers everything in one page).
- botocore's Stubber: GetMetricData pages (NextToken, PartialData) and result
  status codes, checked against the service model.
- a tiny local server answering CloudWatch's throttling error (JSON 1.0, the
  protocol this botocore picks for CloudWatch) to the gateway's own client.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from sources.aws import AwsSettings, open_client
from sources.cloudwatch import CloudWatchSource
from sources.cloudwatch.source import TRAINING_NAMESPACE, effective_period
from sources.errors import InputError, UpstreamError, UpstreamThrottledError
from sources.metrics.model import PointIn
from sources.sagemaker import SageMakerSource
from sources.sagemaker.training import (
    TrainingJob,
    TrainingJobStatus,
    training_job_from_description,
    with_final_steps,
)
from tests.support.aws_calls import CountingClient
from tests.support.http_server import serve_app

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerTrainingRole"
IMAGE = f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1"
JOB_ARN_PREFIX = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job"
METRICS = ["train:loss", "validation:auc", "train:progress"]


def _settings(endpoint: str) -> AwsSettings:
    return AwsSettings(REGION, endpoint, timeout_seconds=5, max_attempts=1)


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _minute(delta: timedelta) -> datetime:
    """A whole minute ``delta`` from now (moto's periods start at the query's start)."""
    return (datetime.now(UTC) + delta).replace(second=0, microsecond=0)


@pytest.fixture
async def clients(moto_endpoint: str) -> AsyncIterator[tuple[Any, Any]]:
    """(sagemaker, cloudwatch) clients on moto."""
    async with AsyncExitStack() as stack:
        settings = _settings(moto_endpoint)
        yield (
            await open_client(stack, "sagemaker", settings),
            await open_client(stack, "cloudwatch", settings),
        )


async def _create_training_job(sagemaker: Any) -> tuple[str, str]:
    name = f"churn-xgb-{uuid.uuid4().hex[:12]}"
    created = await sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": "train:loss", "Regex": r"train-logloss:(\S+)"},
                {"Name": "validation:auc", "Regex": r"validation-auc:(\S+)"},
            ],
        },
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://ml-data/churn/train/",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": "s3://ml-models/churn/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={"eta": "0.1", "num_round": "30"},
    )
    return name, created["TrainingJobArn"]


# ---- SageMakerSource.training_jobs (moto) ---------------------------------------------------


async def test_training_job_maps_what_moto_describes(clients):
    sagemaker, _ = clients
    name, arn = await _create_training_job(sagemaker)
    described = await sagemaker.describe_training_job(TrainingJobName=name)

    [job] = await SageMakerSource(sagemaker, REGION).training_jobs([name])

    created = described["CreationTime"].astimezone(UTC)
    assert job == TrainingJob(
        name=name,
        arn=arn,
        status=TrainingJobStatus.COMPLETED,  # moto: complete at once
        finished=True,
        created_at=created,
        started_at=described["TrainingStartTime"].astimezone(UTC),
        ended_at=described["TrainingEndTime"].astimezone(UTC),
        # moto's canned FinalMetricDataList, stamped with the creation time.
        final_metrics=[PointIn("train:progress", 100.0, step=0, timestamp_ms=_ms(created))],
        # moto replaces the MetricDefinitions it was given with a canned one.
        metric_definitions=["test:dcg"],
        failure_reason=None,
        input_uris=("s3://ml-data/churn/train/",),
        model_artifact=described["ModelArtifacts"]["S3ModelArtifacts"],
    )
    assert job.created_at is not None
    assert job.created_at.tzinfo is UTC


async def test_unknown_jobs_are_none_in_order_and_duplicates_described_once(clients):
    sagemaker, _ = clients
    name, arn = await _create_training_job(sagemaker)
    other_account = arn.replace(ACCOUNT, "210987654321")
    counting = CountingClient(sagemaker)

    jobs = await SageMakerSource(counting, REGION).training_jobs(
        ["no-such-job", arn, name, other_account]
    )

    assert [job and job.name for job in jobs] == [None, name, name, None]
    assert counting.calls == Counter({"describe_training_job": 2})


async def test_malformed_identifiers_are_refused_before_any_call(clients):
    sagemaker, _ = clients
    counting = CountingClient(sagemaker)
    source = SageMakerSource(counting, REGION)
    processing_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/prep"

    for bad in ["", "has_underscore", "x" * 64, processing_arn]:
        with pytest.raises(InputError):
            await source.training_jobs(["fine-name", bad])

    assert counting.total() == 0
    assert await source.training_jobs([]) == []


class InFlight:
    """Delegates DescribeTrainingJob to ``client``, recording the most calls at once."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.running = self.peak = self.calls = 0

    async def describe_training_job(self, **params: Any) -> Any:
        self.calls += 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(0.02)
            return await self._client.describe_training_job(**params)
        finally:
            self.running -= 1


async def test_at_most_eight_describes_run_at_once(clients):
    sagemaker, _ = clients
    probe = InFlight(sagemaker)

    jobs = await SageMakerSource(probe, REGION).training_jobs([f"missing-{i}" for i in range(20)])

    assert jobs == [None] * 20
    assert (probe.calls, probe.peak) == (20, 8)


async def test_a_throttled_describe_fails_the_call(clients):
    sagemaker, _ = clients
    counting = CountingClient(sagemaker)
    counting.fail["describe_training_job"] = lambda: ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
        "DescribeTrainingJob",
    )

    with pytest.raises(UpstreamThrottledError) as raised:
        await SageMakerSource(counting, REGION).training_jobs(["a", "b"])

    assert raised.value.source == "sagemaker"


# ---- training job mapping (AWS-shaped descriptions) -----------------------------------------


def _at(minute: int) -> datetime:
    return datetime(2026, 11, 16, 10, minute, 30, 250_000, tzinfo=UTC)


def test_a_failed_job_keeps_reason_times_and_every_usable_final_metric():
    job = training_job_from_description(
        {
            "TrainingJobName": "churn-xgb-2026-11-16",
            "TrainingJobArn": f"{JOB_ARN_PREFIX}/churn-xgb-2026-11-16",
            "TrainingJobStatus": "Failed",
            "SecondaryStatus": "Failed",
            "FailureReason": "AlgorithmError: out of memory",
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": "train:loss", "Regex": "x"},
                    {"Name": "validation:auc", "Regex": "y"},
                ],
            },
            "CreationTime": _at(0),
            "TrainingStartTime": _at(3),
            "TrainingEndTime": _at(40),
            "FinalMetricDataList": [
                {"MetricName": "train:loss", "Value": 0.25, "Timestamp": _at(39)},
                {"MetricName": "validation:auc", "Value": math.nan, "Timestamp": _at(39)},
                {"MetricName": "validation:auc", "Value": 0.91},
            ],
        }
    )

    assert (job.status, job.finished) == (TrainingJobStatus.FAILED, True)
    assert job.failure_reason == "AlgorithmError: out of memory"
    assert (job.created_at, job.started_at, job.ended_at) == (_at(0), _at(3), _at(40))
    assert job.metric_definitions == ["train:loss", "validation:auc"]
    assert job.final_metrics == [
        PointIn("train:loss", 0.25, step=0, timestamp_ms=_ms(_at(39))),
        PointIn("validation:auc", 0.91, step=0, timestamp_ms=None),
    ]


@pytest.mark.parametrize(
    ("status", "expected", "finished"),
    [
        ("InProgress", TrainingJobStatus.IN_PROGRESS, False),
        ("Stopping", TrainingJobStatus.STOPPING, False),
        ("Stopped", TrainingJobStatus.STOPPED, True),
        ("Completed", TrainingJobStatus.COMPLETED, True),
        ("Deleting", TrainingJobStatus.IN_PROGRESS, False),  # unknown: look again later
    ],
)
def test_status_and_finished(status, expected, finished):
    job = training_job_from_description(
        {"TrainingJobName": "j", "TrainingJobArn": "arn", "TrainingJobStatus": status}
    )

    assert (job.status, job.finished, job.started_at, job.final_metrics) == (
        expected,
        finished,
        None,
        [],
    )


def test_final_metrics_move_to_the_last_step_of_their_series():
    job = training_job_from_description(
        {
            "TrainingJobName": "j",
            "TrainingJobArn": "arn",
            "TrainingJobStatus": "Completed",
            "FinalMetricDataList": [
                {"MetricName": "train:loss", "Value": 0.2, "Timestamp": _at(9)},
                {"MetricName": "validation:auc", "Value": 0.9, "Timestamp": _at(9)},
                {"MetricName": "epoch", "Value": 3.0, "Timestamp": _at(9)},
            ],
        }
    )
    series = {
        "train:loss": [PointIn("train:loss", 1.0 - i / 10, step=i) for i in range(8)],
        "validation:auc": [],
    }

    moved = with_final_steps(job, series)

    assert [(p.name, p.step) for p in moved.final_metrics] == [
        ("train:loss", 7),
        ("validation:auc", 0),
        ("epoch", 0),
    ]
    assert [p.value for p in moved.final_metrics] == [0.2, 0.9, 3.0]


# ---- CloudWatchSource.training_series (moto) ------------------------------------------------


async def test_series_of_two_jobs_are_ordered_with_steps(clients):
    sagemaker, cloudwatch = clients
    job, _ = await _create_training_job(sagemaker)
    other = f"churn-lgbm-{uuid.uuid4().hex[:12]}"
    start = _minute(-timedelta(hours=1))

    def value(job_index: int, metric_index: int, minute: int) -> float:
        return job_index * 100 + metric_index * 10 + minute / 4

    for job_index, job_name in enumerate([job, other]):
        data = [
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "Host", "Value": f"{job_name}/algo-1"}],
                "Timestamp": start + timedelta(minutes=minute, seconds=20),
                "Value": value(job_index, metric_index, minute),
            }
            for metric_index, metric in enumerate(METRICS)
            for minute in reversed(range(30))
        ]
        await cloudwatch.put_metric_data(Namespace=TRAINING_NAMESPACE, MetricData=data)
    counting = CountingClient(cloudwatch)

    series = await CloudWatchSource(counting).training_series(
        [(job, METRICS), (other, [*METRICS, "never:published"])],
        start,
        start + timedelta(minutes=30),
    )

    assert counting.calls == Counter({"get_metric_data": 1})
    assert [list(s) for s in series] == [METRICS, [*METRICS, "never:published"]]
    for job_index, job_series in enumerate(series):
        for metric_index, metric in enumerate(METRICS):
            assert job_series[metric] == [
                PointIn(
                    metric,
                    value(job_index, metric_index, minute),
                    step=minute,
                    timestamp_ms=_ms(start + timedelta(minutes=minute)),
                )
                for minute in range(30)
            ]
    assert series[1]["never:published"] == []

    # The moto job's canned final metric lands at the end of its series.
    [described] = await SageMakerSource(sagemaker, REGION).training_jobs([job])
    assert described is not None
    final = with_final_steps(described, series[0]).final_metrics
    assert [(p.name, p.value, p.step) for p in final] == [("train:progress", 100.0, 29)]


class RecordingClient(CountingClient):
    """A CountingClient that also keeps each GetMetricData request."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.requests: list[dict[str, Any]] = []

    async def get_metric_data(self, **params: Any) -> Any:
        self.calls["get_metric_data"] += 1
        self.requests.append(params)
        return await self._client.get_metric_data(**params)


async def test_600_queries_take_exactly_two_calls(clients):
    _, cloudwatch = clients
    recording = RecordingClient(cloudwatch)
    jobs = [(f"sweep-{uuid.uuid4().hex[:8]}-{i}", METRICS[:3]) for i in range(200)]
    start = _minute(-timedelta(days=2))  # no data there: moto answers 600 queries fast

    series = await CloudWatchSource(recording).training_series(
        [*jobs, jobs[0]], start, start + timedelta(minutes=2)
    )

    assert recording.calls == Counter({"get_metric_data": 2})
    sizes = sorted(len(r["MetricDataQueries"]) for r in recording.requests)
    assert sizes == [100, 500]
    for request in recording.requests:
        queries = request["MetricDataQueries"]
        assert [q["Id"] for q in queries] == [f"m{i}" for i in range(len(queries))]
        assert {(q["MetricStat"]["Period"], q["MetricStat"]["Stat"]) for q in queries} == {
            (60, "Average")
        }
    assert len(series) == 201
    assert all(s == {name: [] for name in METRICS[:3]} for s in series)


async def test_check_lists_metrics_of_the_training_namespace(clients):
    _, cloudwatch = clients
    counting = CountingClient(cloudwatch)

    await CloudWatchSource(counting).check()

    assert counting.calls == Counter({"list_metrics": 1})


@pytest.mark.parametrize(
    ("start", "end", "period", "names"),
    [
        (datetime(2026, 11, 16, 10), datetime(2026, 11, 16, 11), 60, ["a"]),
        (_at(30), _at(30), 60, ["a"]),
        (_at(30), _at(0), 60, ["a"]),
        (_at(0), _at(30), 90, ["a"]),
        (_at(0), _at(30), 0, ["a"]),
        (_at(0), _at(30), 60, "train:loss"),
    ],
    ids=["naive", "empty-range", "reversed", "period-90", "period-0", "names-as-string"],
)
async def test_bad_arguments_are_refused_before_any_call(start, end, period, names):
    counting = CountingClient(object())

    with pytest.raises(InputError):
        await CloudWatchSource(counting).training_series(
            [("job", names)], start, end, period=period
        )

    assert counting.total() == 0


async def test_nothing_asked_makes_no_call():
    counting = CountingClient(object())
    source = CloudWatchSource(counting)

    assert await source.training_series([], _at(0), _at(30)) == []
    assert await source.training_series([("job", [])], _at(0), _at(30)) == [{}]
    assert counting.total() == 0


@pytest.mark.parametrize(
    ("period", "age", "expected"),
    [
        (60, timedelta(hours=1), 60),
        (1, timedelta(hours=1), 1),
        (1, timedelta(hours=4), 60),
        (30, timedelta(days=2), 60),
        (60, timedelta(days=20), 300),
        (600, timedelta(days=20), 600),
        (360, timedelta(days=20), 600),
        (60, timedelta(days=90), 3600),
    ],
)
def test_the_period_is_raised_to_what_cloudwatch_keeps(period, age, expected):
    now = datetime(2026, 11, 16, 12, tzinfo=UTC)

    assert effective_period(period, now - age, now) == expected


class _EmptyCloudWatch:
    async def get_metric_data(self, **params: Any) -> dict[str, Any]:
        return {"MetricDataResults": []}


async def test_an_old_start_asks_for_a_coarser_period():
    now = datetime(2026, 11, 16, 12, tzinfo=UTC)
    client = RecordingClient(_EmptyCloudWatch())

    await CloudWatchSource(client, clock=lambda: now).training_series(
        [("job", ["a"])], now - timedelta(days=30), now - timedelta(days=29)
    )

    [request] = client.requests
    assert request["MetricDataQueries"][0]["MetricStat"]["Period"] == 300


# ---- GetMetricData pages and statuses (Stubber) ---------------------------------------------


@pytest.fixture
async def stubbed() -> AsyncIterator[tuple[CloudWatchSource, Stubber]]:
    """A source whose client is answered by a Stubber: no request leaves the process."""
    async with AsyncExitStack() as stack:
        client = await open_client(stack, "cloudwatch", _settings("http://127.0.0.1:9"))
        with Stubber(client) as stubber:
            yield CloudWatchSource(client), stubber
            stubber.assert_no_pending_responses()


def _request(names: list[str], token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "MetricDataQueries": [
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": TRAINING_NAMESPACE,
                        "MetricName": name,
                        "Dimensions": [{"Name": "Host", "Value": "job-1/algo-1"}],
                    },
                    "Period": 60,
                    "Stat": "Average",
                },
                "ReturnData": True,
            }
            for index, name in enumerate(names)
        ],
        "StartTime": _at(0),
        "EndTime": _at(30),
        "ScanBy": "TimestampAscending",
    }
    if token:
        request["NextToken"] = token
    return request


def _result(query_id: str, minutes: list[int], status: str = "Complete") -> dict[str, Any]:
    return {
        "Id": query_id,
        "Label": query_id,
        "Timestamps": [_at(m) for m in minutes],
        "Values": [float(m) for m in minutes],
        "StatusCode": status,
    }


def _clock() -> datetime:
    return _at(0) + timedelta(hours=1)


async def test_next_token_pages_are_merged_in_time_order(stubbed):
    source, stubber = stubbed
    source._clock = _clock
    names = ["train:loss", "validation:auc"]
    stubber.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                _result("m0", [0, 1], "PartialData"),
                _result("m1", [0], "PartialData"),
            ],
            "NextToken": "page-2",
        },
        _request(names),
    )
    stubber.add_response(
        "get_metric_data",
        {"MetricDataResults": [_result("m0", [3, 2]), _result("m1", [])]},
        _request(names, "page-2"),
    )

    [series] = await source.training_series([("job-1", names)], _at(0), _at(30))

    assert [(p.step, p.value, p.timestamp_ms) for p in series["train:loss"]] == [
        (step, float(m), _ms(_at(m))) for step, m in enumerate([0, 1, 2, 3])
    ]
    assert [p.step for p in series["validation:auc"]] == [0]


@pytest.mark.parametrize("status", ["InternalError", "Forbidden"])
async def test_a_failed_query_fails_the_call(stubbed, status):
    source, stubber = stubbed
    source._clock = _clock
    stubber.add_response(
        "get_metric_data",
        {"MetricDataResults": [_result("m0", [], status)]},
        _request(["train:loss"]),
    )

    with pytest.raises(UpstreamError) as raised:
        await source.training_series([("job-1", ["train:loss"])], _at(0), _at(30))

    assert raised.value.source == "cloudwatch"


# ---- throttling (a local CloudWatch-shaped server) ------------------------------------------


class ThrottlingCloudWatch:
    """Answers every call the way CloudWatch throttles over JSON 1.0 (the protocol
    botocore picks for it): 400, ``ThrottlingException`` in the body and the
    query-compatible code ``Throttling`` in ``x-amzn-query-error``."""

    def __init__(self) -> None:
        # First attempts only, by operation: botocore's retries are not ours.
        self.operations: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        headers = dict(scope["headers"])
        if b"attempt=1" in headers.get(b"amz-sdk-request", b"").split(b"; "):
            self.operations[headers[b"x-amz-target"].decode().split(".")[-1]] += 1
        while (await receive()).get("more_body"):
            pass
        body = json.dumps(
            {
                "__type": "com.amazon.coral.availability#ThrottlingException",
                "message": "Rate exceeded",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/x-amz-json-1.0"),
                    (b"x-amzn-query-error", b"Throttling;Sender"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def throttling() -> Iterator[tuple[str, ThrottlingCloudWatch]]:
    app = ThrottlingCloudWatch()
    with serve_app(app, lifespan="off") as url:
        yield url, app


async def test_throttling_is_upstream_throttled(throttling):
    url, app = throttling
    async with AsyncExitStack() as stack:
        client = await open_client(stack, "cloudwatch", _settings(url))
        source = CloudWatchSource(client)

        with pytest.raises(UpstreamThrottledError) as series_error:
            await source.training_series(
                [("job-1", ["train:loss"])],
                _minute(-timedelta(minutes=30)),
                _minute(timedelta(0)),
            )
        with pytest.raises(UpstreamThrottledError) as check_error:
            await source.check()

    assert series_error.value.source == check_error.value.source == "cloudwatch"
    assert app.operations == Counter({"GetMetricData": 1, "ListMetrics": 1})
