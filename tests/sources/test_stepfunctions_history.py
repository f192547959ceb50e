"""fold_history on recorded and hand-written histories, without a server.

``stepfunctions_cases/moto-*.json`` were recorded from moto's interpreter
running ``stepfunctions_cases.machines`` (the live tests in
test_stepfunctions.py run the same machines again). The AWS-shaped history
below is written by hand after the event shapes in the Step Functions API
reference: moto runs neither Lambda functions nor ``.sync`` integrations.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sources.metadb.models import ExecutionStatus
from sources.stepfunctions.history import fold_history

S = ExecutionStatus
CASES = Path(__file__).parent / "stepfunctions_cases"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:prepare-data"
JOB = "arn:aws:sagemaker:us-east-1:123456789012:training-job/churn-7"


def recorded(case: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((CASES / f"moto-{case}.json").read_text())
    for event in events:
        event["timestamp"] = datetime.fromisoformat(event["timestamp"])
    return events


def statuses(events: list[dict[str, Any]]) -> dict[str, tuple[S, int]]:
    return {s.name: (s.status, s.attempts) for s in fold_history(events)}


def ev(event_id: int, previous: int, kind: str, **details: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id,
        "previousEventId": previous,
        "type": kind,
        "timestamp": T0 + timedelta(seconds=event_id),
    }
    if details:
        key = "state" + kind.split("State")[-1] if "StateE" in kind else kind
        event[key[0].lower() + key[1:] + "EventDetails"] = details
    return event


AWS_SHAPED = [
    ev(1, 0, "ExecutionStarted", input="{}", roleArn="arn:aws:iam::123456789012:role/sfn"),
    ev(2, 0, "TaskStateEntered", name="Prepare", input="{}"),
    ev(3, 2, "LambdaFunctionScheduled", resource=LAMBDA, input="{}"),
    ev(4, 3, "LambdaFunctionStarted"),
    ev(5, 4, "LambdaFunctionSucceeded", output='{"rows": 10}'),
    ev(6, 5, "TaskStateExited", name="Prepare", output='{"rows": 10}'),
    ev(7, 6, "TaskStateEntered", name="Train", input="{}"),
    ev(
        8,
        7,
        "TaskScheduled",
        resourceType="sagemaker",
        resource="createTrainingJob.sync",
        region="us-east-1",
        parameters='{"TrainingJobName": "churn-7", "RoleArn": "arn:aws:iam::1:role/sm"}',
    ),
    ev(9, 8, "TaskStarted", resourceType="sagemaker", resource="createTrainingJob.sync"),
    ev(10, 9, "TaskTimedOut", error="States.Timeout", cause="heartbeat"),
    ev(11, 10, "TaskScheduled", resourceType="sagemaker", resource="createTrainingJob.sync"),
    ev(12, 11, "TaskStarted", resourceType="sagemaker", resource="createTrainingJob.sync"),
    ev(13, 12, "TaskSubmitted", output=json.dumps({"TrainingJobArn": JOB})),
    ev(
        14,
        13,
        "TaskSucceeded",
        output=json.dumps({"RoleArn": "arn:aws:iam::1:role/sm", "TrainingJobArn": JOB}),
    ),
    ev(15, 14, "TaskStateExited", name="Train", output="{}"),
    ev(16, 15, "TaskStateEntered", name="Notify", input="{}"),
    ev(
        17,
        16,
        "TaskScheduled",
        resourceType="lambda",
        resource="invoke",
        parameters=json.dumps({"FunctionName": LAMBDA, "Payload": {}}),
    ),
    ev(18, 17, "TaskStarted", resourceType="lambda", resource="invoke"),
]


def test_retries_count_every_attempt_and_the_job_arn_comes_from_the_output() -> None:
    steps = fold_history(AWS_SHAPED)
    assert [(s.name, s.status, s.attempts, s.resource_arn) for s in steps] == [
        ("Prepare", S.SUCCEEDED, 1, LAMBDA),
        ("Train", S.SUCCEEDED, 2, JOB),
        ("Notify", S.RUNNING, 1, LAMBDA),  # the invoke's FunctionName
    ]
    train = steps[1]
    assert (train.error, train.cause) == (None, None)  # the retry succeeded
    assert (train.started_at, train.stopped_at) == (
        T0 + timedelta(seconds=7),
        T0 + timedelta(seconds=15),
    )
    assert steps[2].stopped_at is None


def test_an_integration_without_a_job_is_named_by_its_resource() -> None:
    events = [
        ev(2, 0, "TaskStateEntered", name="Count"),
        ev(3, 2, "TaskScheduled", resourceType="aws-sdk:s3", resource="listObjectsV2"),
    ]
    [count] = fold_history(events)
    assert count.resource_arn == "arn:aws:states:::aws-sdk:s3:listObjectsV2"


def test_timed_out_execution_times_out_its_open_states() -> None:
    events = [*AWS_SHAPED, ev(19, 18, "ExecutionTimedOut", error="States.Timeout")]
    notify = fold_history(events)[2]
    assert (notify.status, notify.error) == (S.TIMED_OUT, "States.Timeout")
    assert notify.stopped_at == T0 + timedelta(seconds=19)


def test_retried_task_in_moto_fails_after_three_attempts() -> None:
    [fetch] = fold_history(recorded("retried"))
    assert (fetch.name, fetch.type, fetch.status, fetch.attempts) == ("Fetch", "Task", S.FAILED, 3)
    assert fetch.error == "s3.NoSuchBucketException"


def test_caught_error_fails_the_task_and_the_handler_runs() -> None:
    assert statuses(recorded("caught")) == {
        "Fetch": (S.FAILED, 1),
        "Recover": (S.SUCCEEDED, 1),
        "Done": (S.SUCCEEDED, 1),
    }


def test_failed_branch_fails_its_parallel_and_aborts_the_sibling() -> None:
    assert statuses(recorded("parallel-fails")) == {
        "Features": (S.FAILED, 1),
        "Slow": (S.ABORTED, 1),
        "Broken": (S.FAILED, 1),
    }


def test_events_after_the_execution_failed_do_not_reopen_states() -> None:
    # moto logs the other two iterations' TaskFailed after ExecutionFailed.
    events = recorded("map-fails")
    assert events[-1]["type"] == "MapIterationFailed"
    steps = fold_history(events)
    assert [(s.name, s.type, s.status, s.attempts) for s in steps] == [
        ("Score", "Map", S.FAILED, 1),
        ("Fetch", "Task", S.FAILED, 3),
    ]
    failed_at = next(e["timestamp"] for e in events if e["type"] == "ExecutionFailed")
    assert steps[0].stopped_at == failed_at


def test_concurrent_iterations_are_told_apart_by_the_event_chain() -> None:
    # Iteration 1 succeeds while iteration 0 is still running; by arrival
    # order alone the exit would close the wrong one.
    events = [
        ev(2, 0, "MapStateEntered", name="Each"),
        ev(3, 2, "MapStateStarted"),
        ev(4, 3, "MapIterationStarted", name="Each", index=0),
        ev(5, 3, "MapIterationStarted", name="Each", index=1),
        ev(6, 4, "TaskStateEntered", name="Work"),
        ev(7, 5, "TaskStateEntered", name="Work"),
        ev(8, 6, "TaskScheduled", resourceType="lambda", resource="invoke"),
        ev(9, 7, "TaskScheduled", resourceType="lambda", resource="invoke"),
        ev(10, 9, "TaskFailed", error="Boom", cause="iteration 1"),
        ev(11, 10, "TaskScheduled", resourceType="lambda", resource="invoke"),
        ev(12, 11, "TaskSucceeded", output="{}"),
        ev(13, 12, "TaskStateExited", name="Work"),
    ]
    [each, work] = fold_history(events)
    assert (each.status, work.status, work.attempts) == (S.RUNNING, S.RUNNING, 3)
    assert work.error is None
    events += [
        ev(14, 8, "TaskFailed", error="Boom", cause="iteration 0"),
        ev(15, 14, "MapStateFailed"),
        ev(16, 15, "ExecutionFailed", error="Boom", cause="iteration 0"),
    ]
    [each, work] = fold_history(events)
    assert (each.status, work.status) == (S.FAILED, S.FAILED)
    assert (work.error, work.cause) == ("Boom", "iteration 0")
    assert (each.error, each.cause) == ("Boom", "iteration 0")


def test_a_broken_event_chain_falls_back_to_the_latest_open_state() -> None:
    events = [
        ev(2, 0, "TaskStateEntered", name="Only"),
        ev(3, 99, "TaskScheduled", resourceType="lambda", resource="invoke"),
        ev(4, 98, "TaskFailed", error="E", cause="c"),
        ev(5, 97, "ExecutionFailed", error="E", cause="c"),
    ]
    [only] = fold_history(events)
    assert (only.status, only.attempts, only.error) == (S.FAILED, 1, "E")


def test_no_events_no_steps() -> None:
    assert fold_history([]) == []


def test_a_redriven_state_is_judged_by_its_runs_since_the_redrive() -> None:
    events = [
        ev(2, 0, "TaskStateEntered", name="Prepare"),
        ev(3, 2, "TaskStateExited", name="Prepare"),
        ev(4, 3, "TaskStateEntered", name="Train"),
        ev(5, 4, "TaskScheduled", resourceType="sagemaker", resource="createTrainingJob.sync"),
        ev(6, 5, "TaskFailed", error="SageMaker.ResourceLimitExceeded", cause="quota"),
        ev(7, 6, "ExecutionFailed", error="SageMaker.ResourceLimitExceeded", cause="quota"),
        ev(8, 7, "ExecutionRedriven", redriveCount=1),
        ev(9, 8, "TaskStateEntered", name="Train"),
        ev(10, 9, "TaskScheduled", resourceType="sagemaker", resource="createTrainingJob.sync"),
        ev(11, 10, "TaskSucceeded", output=json.dumps({"TrainingJobArn": JOB})),
        ev(12, 11, "TaskStateExited", name="Train"),
        ev(13, 12, "ExecutionSucceeded"),
    ]
    prepare, train = fold_history(events)
    assert (prepare.status, prepare.attempts) == (S.SUCCEEDED, 1)
    assert (train.status, train.attempts, train.error) == (S.SUCCEEDED, 2, None)
    assert (train.started_at, train.stopped_at) == (
        T0 + timedelta(seconds=4),
        T0 + timedelta(seconds=12),
    )
    assert train.resource_arn == JOB
