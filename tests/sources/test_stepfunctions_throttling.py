"""A throttled Step Functions call leaves every source method as UpstreamThrottledError.

A tiny ASGI app on a real port answers every call the way Step Functions
does when it throttles; the client is the gateway's own (``open_client``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from sources.aws import AwsSettings, open_client
from sources.errors import UpstreamThrottledError
from sources.stepfunctions import StepFunctionsSource
from tests.support.http_server import serve_app

REGION = "us-east-1"
MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:m"
EXECUTION = f"arn:aws:states:{REGION}:123456789012:execution:m:e"
Call = Callable[[StepFunctionsSource], Awaitable[Any]]
# method -> (how to call it, the operations it asks for)
CALLS: dict[str, tuple[Call, Counter[str]]] = {
    "check": (lambda s: s.check(), Counter(["ListStateMachines"])),
    "describe_pipeline": (
        lambda s: s.describe_pipeline(MACHINE),
        Counter(["DescribeStateMachine"]),
    ),
    "list_state_machines": (lambda s: s.list_state_machines(), Counter(["ListStateMachines"])),
    "list_executions": (lambda s: s.list_executions(MACHINE), Counter(["ListExecutions"])),
    "describe_execution": (
        lambda s: s.describe_execution(EXECUTION),
        Counter(["DescribeExecution"]),
    ),
    "execution_steps": (
        lambda s: s.execution_steps(EXECUTION),
        Counter(["GetExecutionHistory"]),
    ),
    "execution_detail": (
        lambda s: s.execution_detail(EXECUTION),
        Counter(["DescribeExecution", "GetExecutionHistory"]),
    ),
}


class ThrottlingStepFunctions:
    """Answers ``400 ThrottlingException: Rate exceeded`` to everything."""

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
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", b"application/x-amz-json-1.0")],
            }
        )
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def throttling() -> Iterator[tuple[str, ThrottlingStepFunctions]]:
    app = ThrottlingStepFunctions()
    with serve_app(app, lifespan="off") as url:
        yield url, app


@pytest.mark.parametrize("method", list(CALLS))
async def test_throttling_is_upstream_throttled_from_stepfunctions(
    throttling: tuple[str, ThrottlingStepFunctions], method: str
) -> None:
    url, app = throttling
    call, operations = CALLS[method]
    app.operations.clear()
    settings = AwsSettings(REGION, url, timeout_seconds=5, max_attempts=1)
    async with AsyncExitStack() as stack:
        source = StepFunctionsSource(await open_client(stack, "stepfunctions", settings), REGION)
        with pytest.raises(UpstreamThrottledError) as caught:
            await call(source)
    assert caught.value.source == "stepfunctions"
    assert caught.value.code == "UPSTREAM_THROTTLED"
    assert "Rate exceeded" not in caught.value.message
    # Each operation asked once, none retried. execution_detail asks two at once and
    # stops at the first throttled answer: the other may be cancelled before it is sent.
    assert app.operations
    assert all(count <= operations[op] for op, count in app.operations.items())
    if len(operations) == 1:
        assert app.operations == operations
