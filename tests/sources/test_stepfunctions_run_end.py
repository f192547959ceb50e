"""A run that ends between the two reads of ``execution_detail`` keeps its last steps.

DescribeExecution and GetExecutionHistory are asked at once. When the run ends in
between, the description says SUCCEEDED while the history was read before its last
steps; a finished run is stored once and never read again, so the history is read
once more. A tiny Step Functions-shaped ASGI app on a real port answers, the client
is the gateway's own (``open_client``).
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import AsyncExitStack
from typing import Any

from sources.aws import AwsSettings, open_client
from sources.metadb.models import ExecutionStatus
from sources.stepfunctions import StepFunctionsSource
from tests.support.http_server import serve_app

REGION = "us-east-1"
MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:m"
EXECUTION = f"arn:aws:states:{REGION}:123456789012:execution:m:e"
T0 = 1_795_000_000.0
STATES = ("Prepare", "Train", "Evaluate")


def history(states: int, ended: bool) -> list[dict[str, Any]]:
    """The events of a run of Pass states that has passed ``states`` of them."""
    events: list[dict[str, Any]] = [
        {"type": "ExecutionStarted", "executionStartedEventDetails": {}}
    ]
    for name in STATES[:states]:
        events += [
            {"type": "PassStateEntered", "stateEnteredEventDetails": {"name": name}},
            {"type": "PassStateExited", "stateExitedEventDetails": {"name": name}},
        ]
    if ended:
        events.append({"type": "ExecutionSucceeded", "executionSucceededEventDetails": {}})
    for number, event in enumerate(events, start=1):
        event |= {"id": number, "previousEventId": number - 1, "timestamp": T0 + number}
    return events


class EndingStepFunctions:
    """Describes the run as SUCCEEDED; its history holds ``histories`` in turn (the last
    one from then on)."""

    def __init__(self, *histories: list[dict[str, Any]]) -> None:
        self.histories = list(histories)
        self.operations: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        operation = dict(scope["headers"])[b"x-amz-target"].decode().split(".")[-1]
        self.operations[operation] += 1
        while (await receive()).get("more_body"):
            pass
        if operation == "DescribeExecution":
            answer: dict[str, Any] = {
                "executionArn": EXECUTION,
                "stateMachineArn": MACHINE,
                "name": "e",
                "status": "SUCCEEDED",
                "startDate": T0,
                "stopDate": T0 + 60,
                "input": "{}",
            }
        else:
            events = self.histories.pop(0) if len(self.histories) > 1 else self.histories[0]
            answer = {"events": events}
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-amz-json-1.0")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


async def detail(app: EndingStepFunctions) -> tuple[Any, list[Any]]:
    with serve_app(app, lifespan="off") as url:
        settings = AwsSettings(REGION, url, timeout_seconds=5, max_attempts=1)
        async with AsyncExitStack() as stack:
            source = StepFunctionsSource(
                await open_client(stack, "stepfunctions", settings), REGION
            )
            return await source.execution_detail(EXECUTION)


async def test_a_history_read_before_the_run_ended_is_read_again() -> None:
    app = EndingStepFunctions(history(2, ended=False), history(3, ended=True))

    info, steps = await detail(app)

    assert info.status is ExecutionStatus.SUCCEEDED
    assert [(s.name, s.status) for s in steps] == [
        (name, ExecutionStatus.SUCCEEDED) for name in STATES
    ]
    assert app.operations == Counter({"DescribeExecution": 1, "GetExecutionHistory": 2})


async def test_a_history_that_holds_the_end_is_read_once() -> None:
    app = EndingStepFunctions(history(3, ended=True))

    info, steps = await detail(app)

    assert info.status is ExecutionStatus.SUCCEEDED
    assert [s.name for s in steps] == list(STATES)
    assert app.operations == Counter({"DescribeExecution": 1, "GetExecutionHistory": 1})
