"""StepFunctionsSource against moto executing real state machines.

One moto server for the module (``start_moto``: ``execute_state_machine``
on, the previous config put back at the end). The state machines of
``stepfunctions_cases.machines`` all run at once in a module fixture (~5 s,
mostly the retried task's back-offs), with names unique to this run: moto's
state is process-wide. Each test opens its own aiobotocore client through
``open_client`` (``max_attempts=1``).

moto answers GetExecutionHistory in one page whatever ``maxResults`` says,
so the paging test cuts moto's real history into pages (``PagedHistory``).
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config

from gateway.demo import MotoHandle, start_moto
from sources.aws import AwsSettings, open_client
from sources.errors import NotFoundError
from sources.metadb.models import ExecutionStatus, Orchestrator
from sources.pipelines.model import StepState
from sources.stepfunctions import StepFunctionsSource
from sources.stepfunctions.graph import graph_from_definition
from tests.sources.stepfunctions_cases import machines
from tests.support.aws_calls import CountingClient

REGION = "us-east-1"
ACCOUNT = "123456789012"
S = ExecutionStatus
# The slow ones first: the retried task's two 1 s back-offs, the 1 s timeout.
FINISHING: dict[str, tuple[dict[str, Any], Any]] = {
    "retried": (machines.RETRIED, {}),
    "times-out": (machines.TIMES_OUT, {}),
    "success": (machines.SUCCESS, {"job_name": "set below", "dataset": "s3://d/train.csv"}),
    "fail-state": (machines.FAIL_STATE, {}),
    "caught": (machines.CAUGHT, {}),
    "parallel": (machines.PARALLEL, {}),
    "parallel-fails": (machines.PARALLEL_FAILS, {}),
    "map": (machines.MAP, {"shards": ["a", "b", "c"]}),
    "map-fails": (machines.MAP_FAILS, {"shards": [1, 2, 3]}),
    "echo": (machines.ECHO, [1, 2]),
}
SWITCH_RUNS = 7
SWITCH_FAILURES = {2, 5}  # which of the 7 runs are asked to fail


class PagedHistory(CountingClient):
    """Serves moto's whole execution history in pages of ``maxResults``, with a token."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.asked: list[int] = []  # maxResults of each call
        self.served: list[int] = []  # events in each page
        self.history_length = 0

    async def get_execution_history(
        self, executionArn: str, maxResults: int, nextToken: str | None = None
    ) -> dict[str, Any]:
        answer = await self._client.get_execution_history(executionArn=executionArn)
        events = answer["events"]
        self.history_length = len(events)
        start = int(nextToken or 0)
        page: dict[str, Any] = {"events": events[start : start + maxResults]}
        self.asked.append(maxResults)
        self.served.append(len(page["events"]))
        if start + maxResults < len(events):
            page["nextToken"] = str(start + maxResults)
        return page


@dataclass
class Seeded:
    token: str
    machines: dict[str, str] = field(default_factory=dict)  # case -> state machine ARN
    runs: dict[str, str] = field(default_factory=dict)  # case -> execution ARN
    switch_runs: dict[str, bool] = field(default_factory=dict)  # execution ARN -> failed?


def _wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "moto executions did not get there in time"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoHandle]:
    handle = start_moto()
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seeded(moto: MotoHandle) -> Iterator[Seeded]:
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=moto.endpoint_url,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1}),
    )
    seed = Seeded(token=secrets.token_hex(4))

    def machine(case: str, definition: dict[str, Any]) -> str:
        made = sfn.create_state_machine(
            name=f"mlmeta-test-{seed.token}-{case}",
            definition=json.dumps(definition),
            roleArn=machines.ROLE_ARN,
        )
        seed.machines[case] = made["stateMachineArn"]
        return str(made["stateMachineArn"])

    def start(machine_arn: str, name: str, payload: Any) -> str:
        started = sfn.start_execution(
            stateMachineArn=machine_arn, name=name, input=json.dumps(payload)
        )
        return str(started["executionArn"])

    for case, (definition, payload) in FINISHING.items():
        if case == "success":
            payload = {**payload, "job_name": f"mlmeta-test-{seed.token}-train"}
        seed.runs[case] = start(machine(case, definition), f"{case}-run", payload)
    for case in ("waiting", "aborted"):
        seed.runs[case] = start(machine(case, machines.LONG_WAIT), f"{case}-run", {})
    switch = machine("switch", machines.SWITCH)
    for i in range(SWITCH_RUNS):
        arn = start(switch, f"run-{i}", {"fail": i in SWITCH_FAILURES, "run": i})
        seed.switch_runs[arn] = i in SWITCH_FAILURES

    def history(arn: str) -> list[dict[str, Any]]:
        return list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])

    def status(arn: str) -> str:
        return str(sfn.describe_execution(executionArn=arn)["status"])

    aborted = seed.runs["aborted"]
    _wait_for(lambda: any(e["type"] == "WaitStateEntered" for e in history(aborted)))
    sfn.stop_execution(executionArn=aborted, error="Manual", cause="stopped by a test")
    waiting = seed.runs["waiting"]
    _wait_for(lambda: any(e["type"] == "WaitStateEntered" for e in history(waiting)))
    finishing = [seed.runs[case] for case in FINISHING] + list(seed.switch_runs)
    _wait_for(lambda: all(status(arn) != "RUNNING" for arn in finishing))
    yield seed
    sfn.stop_execution(executionArn=waiting)


@pytest.fixture
async def client(moto: MotoHandle) -> AsyncIterator[CountingClient]:
    settings = AwsSettings(REGION, moto.endpoint_url, timeout_seconds=5, max_attempts=1)
    async with AsyncExitStack() as stack:
        yield CountingClient(await open_client(stack, "stepfunctions", settings))


@pytest.fixture
def source(client: CountingClient) -> StepFunctionsSource:
    return StepFunctionsSource(client, REGION)


def by_name(steps: list[StepState]) -> dict[str, StepState]:
    return {step.name: step for step in steps}


def summary(steps: list[StepState]) -> list[tuple[str, str, S, int]]:
    return [(s.name, s.type, s.status, s.attempts) for s in steps]


# ------------------------------------------------------------- pipelines


async def test_describe_pipeline_gives_info_and_the_definitions_graph(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    arn = seeded.machines["parallel"]
    info, graph = await source.describe_pipeline(arn)
    assert info.id == info.arn == arn
    assert info.orchestrator is Orchestrator.STEP_FUNCTIONS
    assert info.name == f"mlmeta-test-{seeded.token}-parallel"
    assert info.console_url == (
        f"https://{REGION}.console.aws.amazon.com/states/home?region={REGION}"
        f"#/statemachines/view/{arn}"
    )
    assert graph == graph_from_definition(machines.PARALLEL)
    assert {n.name: n.parent for n in graph.nodes}["UsageWindow"] == "Features"


async def test_describe_missing_pipeline_is_not_found(source: StepFunctionsSource) -> None:
    with pytest.raises(NotFoundError) as caught:
        await source.describe_pipeline(
            f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:mlmeta-test-never-made"
        )
    assert caught.value.source == "stepfunctions"


async def test_list_state_machines_includes_every_machine(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    listed = {p.arn: p for p in await source.list_state_machines()}
    assert set(seeded.machines.values()) <= set(listed)
    switch = listed[seeded.machines["switch"]]
    assert switch.name == f"mlmeta-test-{seeded.token}-switch"
    assert switch.console_url is not None
    assert switch.console_url.endswith(f"#/statemachines/view/{switch.arn}")


# ------------------------------------------------------------ executions


async def test_list_executions_pages_through_every_run_once_with_summaries_only(
    seeded: Seeded, source: StepFunctionsSource, client: CountingClient
) -> None:
    names: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = await source.list_executions(
            seeded.machines["switch"], status=None, max_results=3, next_token=token
        )
        pages += 1
        assert len(page.items) <= 3
        names += [e.name for e in page.items]
        assert all(not e.detailed and e.parameters == {} for e in page.items)
        token = page.next_token
        if token is None:
            break
    assert pages == 3
    assert sorted(names) == sorted(f"run-{i}" for i in range(SWITCH_RUNS))
    assert client.calls == Counter({"list_executions": 3})


async def test_list_executions_summaries_carry_status_dates_and_links(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    page = await source.list_executions(seeded.machines["switch"], max_results=100)
    for item in page.items:
        assert item.arn is not None
        assert item.id == item.arn
        assert item.pipeline_id == seeded.machines["switch"]
        failed = seeded.switch_runs[item.arn]
        assert item.status is (S.FAILED if failed else S.SUCCEEDED)
        assert item.stopped_at is not None
        assert item.stopped_at >= item.started_at
        assert item.console_url == (
            f"https://{REGION}.console.aws.amazon.com/states/home?region={REGION}"
            f"#/v2/executions/details/{item.arn}"
        )


async def test_list_executions_filters_by_status(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    arn = seeded.machines["switch"]
    failed = await source.list_executions(arn, status=S.FAILED, max_results=100)
    succeeded = await source.list_executions(arn, status=S.SUCCEEDED, max_results=100)
    assert sorted(e.name for e in failed.items) == sorted(f"run-{i}" for i in SWITCH_FAILURES)
    assert len(succeeded.items) == SWITCH_RUNS - len(SWITCH_FAILURES)
    assert {e.status for e in succeeded.items} == {S.SUCCEEDED}


async def test_pending_filter_is_an_empty_page_without_a_call(
    seeded: Seeded, source: StepFunctionsSource, client: CountingClient
) -> None:
    page = await source.list_executions(seeded.machines["switch"], status=S.PENDING)
    assert page.items == []
    assert page.next_token is None
    assert client.calls == Counter()


async def test_running_and_aborted_runs_are_listed_with_their_status(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    for case, status in (("waiting", S.RUNNING), ("aborted", S.ABORTED)):
        page = await source.list_executions(seeded.machines[case], max_results=10)
        assert [(e.name, e.status) for e in page.items] == [(f"{case}-run", status)]
        assert (page.items[0].stopped_at is None) is (status is S.RUNNING)


async def test_describe_execution_parses_an_object_input_into_parameters(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    info = await source.describe_execution(seeded.runs["success"])
    assert info.detailed
    assert info.status is S.SUCCEEDED
    assert info.parameters == {
        "job_name": f"mlmeta-test-{seeded.token}-train",
        "dataset": "s3://d/train.csv",
    }
    assert info.pipeline_id == seeded.machines["success"]
    assert (info.error, info.cause) == (None, None)
    assert info.console_url is not None
    assert info.console_url.endswith(f"#/v2/executions/details/{seeded.runs['success']}")


async def test_describe_execution_keeps_any_other_input_whole(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    info = await source.describe_execution(seeded.runs["echo"])
    assert info.parameters == {"input": "[1, 2]"}


async def test_describe_failed_execution_has_error_and_cause(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    info = await source.describe_execution(seeded.runs["fail-state"])
    assert info.status is S.FAILED
    assert info.error == "ModelQualityGateFailed"
    assert info.cause == "AUC 0.71 is below 0.85"
    assert info.finished


async def test_describe_missing_execution_is_not_found(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    missing = seeded.runs["echo"].replace("echo-run", "never-ran")
    with pytest.raises(NotFoundError):
        await source.describe_execution(missing)
    with pytest.raises(NotFoundError):  # not wrapped in the ExceptionGroup of the TaskGroup
        await source.execution_detail(missing)


# ----------------------------------------------------------------- steps


async def test_success_path_steps_in_order_with_the_training_job(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    steps = await source.execution_steps(seeded.runs["success"])
    assert summary(steps) == [
        ("Prepare", "Pass", S.SUCCEEDED, 1),
        ("Gate", "Choice", S.SUCCEEDED, 1),
        ("Train", "Task", S.SUCCEEDED, 1),
        ("Done", "Succeed", S.SUCCEEDED, 1),
    ]
    assert [s.position for s in steps] == [0, 1, 2, 3]
    train = steps[2]
    assert train.resource_arn == (
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/mlmeta-test-{seeded.token}-train"
    )
    assert all(s.started_at and s.stopped_at and s.started_at <= s.stopped_at for s in steps)
    assert all(s.error is None for s in steps)


async def test_fail_state_is_failed_with_the_executions_error(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    steps = await source.execution_steps(seeded.runs["fail-state"])
    assert summary(steps) == [
        ("Check", "Pass", S.SUCCEEDED, 1),
        ("Reject", "Fail", S.FAILED, 1),
    ]
    assert (steps[1].error, steps[1].cause) == ("ModelQualityGateFailed", "AUC 0.71 is below 0.85")
    assert steps[1].stopped_at is not None


async def test_caught_task_error_fails_the_step_not_the_run(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    steps = await source.execution_steps(seeded.runs["caught"])
    assert summary(steps) == [
        ("Fetch", "Task", S.FAILED, 1),
        ("Recover", "Pass", S.SUCCEEDED, 1),
        ("Done", "Succeed", S.SUCCEEDED, 1),
    ]
    fetch = steps[0]
    assert fetch.error == "s3.NoSuchBucketException"
    assert fetch.cause is not None
    assert "does not exist" in fetch.cause
    assert fetch.resource_arn == "arn:aws:states:::aws-sdk:s3:getObject"
    assert (await source.describe_execution(seeded.runs["caught"])).status is S.SUCCEEDED


async def test_retried_task_counts_every_attempt(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    steps = await source.execution_steps(seeded.runs["retried"])
    assert summary(steps) == [("Fetch", "Task", S.FAILED, 3)]
    assert steps[0].error == "s3.NoSuchBucketException"
    assert steps[0].stopped_at is not None
    assert steps[0].started_at is not None
    assert (steps[0].stopped_at - steps[0].started_at).total_seconds() >= 2  # two 1 s back-offs


async def test_parallel_branches_are_steps_of_their_own(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    steps = await source.execution_steps(seeded.runs["parallel"])
    # Branches run concurrently: their states may be entered in either order.
    assert sorted(summary(steps)) == [
        ("Customers", "Pass", S.SUCCEEDED, 1),
        ("Done", "Pass", S.SUCCEEDED, 1),
        ("Features", "Parallel", S.SUCCEEDED, 1),
        ("Usage", "Pass", S.SUCCEEDED, 1),
        ("UsageWindow", "Task", S.SUCCEEDED, 1),
    ]
    assert [s.name for s in steps][0::4] == ["Features", "Done"]
    assert [s.position for s in steps] == [0, 1, 2, 3, 4]
    found = by_name(steps)
    assert found["Usage"].position < found["UsageWindow"].position
    features, window = found["Features"], found["UsageWindow"]
    assert features.started_at is not None
    assert features.stopped_at is not None
    assert window.stopped_at is not None
    assert features.started_at <= window.stopped_at <= features.stopped_at


async def test_failing_branch_fails_the_parallel_and_aborts_its_sibling(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    steps = await source.execution_steps(seeded.runs["parallel-fails"])
    assert {s.name: s.status for s in steps} == {
        "Features": S.FAILED,
        "Slow": S.ABORTED,
        "Settle": S.SUCCEEDED,
        "Broken": S.FAILED,
    }
    assert by_name(steps)["Broken"].error == "BranchFailed"
    assert by_name(steps)["Features"].error == "BranchFailed"


async def test_map_iterations_fold_into_one_step_per_state(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    steps = await source.execution_steps(seeded.runs["map"])
    assert summary(steps) == [
        ("Score", "Map", S.SUCCEEDED, 1),
        ("Load", "Pass", S.SUCCEEDED, 3),
        ("Predict", "Task", S.SUCCEEDED, 3),
        ("Done", "Succeed", S.SUCCEEDED, 1),
    ]
    assert (
        by_name(steps)["Predict"].resource_arn == "arn:aws:states:::aws-sdk:sts:getCallerIdentity"
    )


async def test_failed_map_iteration_fails_the_state_and_the_map(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    # moto keeps logging the other iterations' failures after ExecutionFailed.
    steps = await source.execution_steps(seeded.runs["map-fails"])
    assert summary(steps) == [
        ("Score", "Map", S.FAILED, 1),
        ("Fetch", "Task", S.FAILED, 3),
    ]
    assert steps[0].error == steps[1].error == "s3.NoSuchBucketException"


async def test_state_of_a_running_execution_is_running(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    [sleep] = await source.execution_steps(seeded.runs["waiting"])
    assert (sleep.name, sleep.type, sleep.status) == ("Sleep", "Wait", S.RUNNING)
    assert sleep.started_at is not None
    assert sleep.stopped_at is None


async def test_states_open_when_a_run_stops_take_its_status(
    seeded: Seeded, source: StepFunctionsSource
) -> None:
    [aborted] = await source.execution_steps(seeded.runs["aborted"])
    [timed_out] = await source.execution_steps(seeded.runs["times-out"])
    assert (aborted.status, timed_out.status) == (S.ABORTED, S.TIMED_OUT)
    assert aborted.stopped_at is not None
    assert timed_out.stopped_at is not None


async def test_execution_steps_follow_every_history_page(
    seeded: Seeded, client: CountingClient
) -> None:
    arn = seeded.runs["map"]
    whole = await StepFunctionsSource(client, REGION).execution_steps(arn)
    paged = PagedHistory(client)
    small_pages = StepFunctionsSource(paged, REGION, history_page_size=7)
    assert await small_pages.execution_steps(arn) == whole
    assert len(paged.asked) == math.ceil(paged.history_length / 7) >= 3
    assert set(paged.asked) == {7}
    assert sum(paged.served) == paged.history_length


async def test_execution_detail_describes_and_folds_together(
    seeded: Seeded, source: StepFunctionsSource, client: CountingClient
) -> None:
    info, steps = await source.execution_detail(seeded.runs["fail-state"])
    assert info.error == "ModelQualityGateFailed"
    assert [s.name for s in steps] == ["Check", "Reject"]
    assert client.calls == Counter({"describe_execution": 1, "get_execution_history": 1})
