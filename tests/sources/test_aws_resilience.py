"""AWS sources when AWS fails: the breaker in front of each client, and stale registry indexes.

AWS is played by a small local server speaking the services' JSON protocol
(``FakeAws``), which counts the calls that reach it and can answer 500 to all
of them; a refused connection is a closed port. Nothing of ours is patched.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sources.aws import AwsSettings, open_client
from sources.errors import NotFoundError, UpstreamError
from sources.resilience.aws import GuardedClient
from sources.resilience.breaker import CircuitBreaker, CircuitOpenError, CircuitState
from sources.resilience.stale import StaleLog, current_stale_log
from sources.sagemaker.registry_source import SageMakerRegistry
from sources.stepfunctions import StepFunctionsSource
from tests.support.http_server import serve_app

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/1"
CARD = {
    "ModelCardName": "churn-card",
    "ModelCardArn": "arn:aws:sagemaker:us-east-1:123456789012:model-card/churn-card",
    "ModelCardVersion": 1,
    "ModelCardStatus": "Approved",
    "Content": json.dumps({"model_package_details": {"model_package_arn": PACKAGE}}),
    "CreationTime": 1_700_000_000,
    "LastModifiedTime": 1_700_000_000,
}
ANSWERS: dict[str, Any] = {
    "ListStateMachines": {"stateMachines": []},
    "ListModelCards": {
        "ModelCardSummaries": [
            {
                "ModelCardName": "churn-card",
                "ModelCardArn": CARD["ModelCardArn"],
                "ModelCardStatus": "Approved",
                "CreationTime": 1_700_000_000,
                "LastModifiedTime": 1_700_000_000,
            }
        ]
    },
    "DescribeModelCard": CARD,
}


class FakeAws:
    """Answers ``X-Amz-Target`` JSON calls from ``ANSWERS``; ``error`` answers all with it."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.error: tuple[int, str] | None = None
        self.body: bytes | None = None
        """Answered with 200 instead of the JSON, when set (a proxy's page, say)."""

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self._answer, methods=["POST"])])

    async def _answer(self, request: Request) -> Response:
        operation = request.headers["x-amz-target"].rsplit(".", 1)[-1]
        self.calls[operation] += 1
        status, body = 200, ANSWERS.get(operation, {})
        if self.error is not None:
            status, body = self.error[0], {"__type": self.error[1], "message": "boom"}
        raw = self.body if self.body is not None else json.dumps(body).encode()
        return Response(raw, status, media_type="application/x-amz-json-1.1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeAws, str]]:
    fake = FakeAws()
    with serve_app(fake.app()) as url:
        yield fake, url


@pytest.fixture
def fake(served: tuple[FakeAws, str]) -> FakeAws:
    served[0].calls.clear()
    served[0].error = None
    served[0].body = None
    return served[0]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("stepfunctions", failure_threshold=2, cooldown_seconds=30, clock=clock)


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as opened:
        yield opened


async def guarded(
    stack: AsyncExitStack, service: str, url: str, breaker: CircuitBreaker
) -> GuardedClient:
    settings = AwsSettings(region="us-east-1", endpoint_url=url, timeout_seconds=2, max_attempts=1)
    return GuardedClient(await open_client(stack, service, settings), breaker)


@pytest.fixture
def stale_log() -> Iterator[StaleLog]:
    log = StaleLog()
    token = current_stale_log.set(log)
    yield log
    current_stale_log.reset(token)


# -- circuit breaker


async def test_after_n_failures_calls_fail_fast_without_reaching_aws(
    served: tuple[FakeAws, str], fake: FakeAws, breaker: CircuitBreaker, stack: AsyncExitStack
) -> None:
    source = StepFunctionsSource(await guarded(stack, "stepfunctions", served[1], breaker))
    fake.error = (500, "InternalFailure")
    for _ in range(2):
        with pytest.raises(UpstreamError, match="InternalFailure"):
            await source.list_state_machines()
    with pytest.raises(CircuitOpenError, match="stepfunctions is unavailable: circuit open"):
        await source.list_state_machines()
    assert fake.calls["ListStateMachines"] == 2


async def test_the_probe_after_the_cooldown_closes_the_circuit(
    served: tuple[FakeAws, str],
    fake: FakeAws,
    breaker: CircuitBreaker,
    clock: Clock,
    stack: AsyncExitStack,
) -> None:
    source = StepFunctionsSource(await guarded(stack, "stepfunctions", served[1], breaker))
    fake.error = (500, "InternalFailure")
    for _ in range(2):
        with pytest.raises(UpstreamError):
            await source.list_state_machines()
    fake.error = None
    clock.now += 30
    assert await source.list_state_machines() == []
    assert breaker.state is CircuitState.CLOSED
    assert fake.calls["ListStateMachines"] == 3


async def test_throttling_counts_as_a_failure(
    served: tuple[FakeAws, str], fake: FakeAws, breaker: CircuitBreaker, stack: AsyncExitStack
) -> None:
    source = StepFunctionsSource(await guarded(stack, "stepfunctions", served[1], breaker))
    fake.error = (400, "ThrottlingException")
    for _ in range(2):
        with pytest.raises(UpstreamError) as caught:
            await source.list_state_machines()
        assert caught.value.code == "UPSTREAM_THROTTLED"
    assert breaker.state is CircuitState.OPEN


async def test_a_success_whose_body_is_not_json_is_the_upstream_failing(
    served: tuple[FakeAws, str], fake: FakeAws, breaker: CircuitBreaker, stack: AsyncExitStack
) -> None:
    # botocore would read it as an empty answer, and the adapter fail on a missing key.
    source = StepFunctionsSource(await guarded(stack, "stepfunctions", served[1], breaker))
    fake.body = b"<html>a login page, not AWS</html>"
    for _ in range(2):
        with pytest.raises(UpstreamError, match="answered in an unexpected shape") as caught:
            await source.list_state_machines()
        assert caught.value.source == "stepfunctions"
        assert caught.value.code == "UPSTREAM_UNAVAILABLE"
    assert breaker.state is CircuitState.OPEN


async def test_an_answer_about_the_request_is_not_a_failure(
    served: tuple[FakeAws, str], fake: FakeAws, breaker: CircuitBreaker, stack: AsyncExitStack
) -> None:
    source = StepFunctionsSource(await guarded(stack, "stepfunctions", served[1], breaker))
    fake.error = (400, "ExecutionDoesNotExist")
    for _ in range(4):
        with pytest.raises(NotFoundError):
            await source.describe_execution(
                "arn:aws:states:us-east-1:123456789012:execution:churn:run-1"
            )
    assert breaker.state is CircuitState.CLOSED


async def test_a_refused_connection_opens_the_circuit(
    breaker: CircuitBreaker, stack: AsyncExitStack
) -> None:
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = StepFunctionsSource(
        await guarded(stack, "stepfunctions", f"http://127.0.0.1:{port}", breaker)
    )
    for _ in range(2):
        with pytest.raises(UpstreamError, match="cannot be reached"):
            await source.check()
    assert breaker.state is CircuitState.OPEN


# -- stale registry indexes


async def registry(
    stack: AsyncExitStack, url: str, breaker: CircuitBreaker, max_stale: float
) -> SageMakerRegistry:
    client = await guarded(stack, "sagemaker", url, breaker)
    return SageMakerRegistry(client, cache_seconds=0.05, max_stale_seconds=max_stale)


async def test_the_card_index_is_served_stale_while_sagemaker_fails(
    served: tuple[FakeAws, str], fake: FakeAws, stack: AsyncExitStack, stale_log: StaleLog
) -> None:
    breaker = CircuitBreaker("sagemaker", failure_threshold=1)
    cards = await registry(stack, served[1], breaker, max_stale=60)
    [fresh] = await cards.card_for_versions([PACKAGE])
    assert fresh is not None
    assert fresh.name == "churn-card"
    fake.error = (500, "InternalFailure")
    await asyncio.sleep(0.1)  # past the cache's 0.05 s: the next read re-reads
    [stale] = await cards.card_for_versions([PACKAGE])
    assert stale == fresh
    [entry] = stale_log.report()
    assert entry["source"] == "sagemaker"
    calls = sum(fake.calls.values())
    await cards.card_for_versions([PACKAGE])  # the circuit is open: served without a call
    assert sum(fake.calls.values()) == calls


async def test_past_max_staleness_the_index_read_fails(
    served: tuple[FakeAws, str], fake: FakeAws, stack: AsyncExitStack, stale_log: StaleLog
) -> None:
    breaker = CircuitBreaker("sagemaker", failure_threshold=0)
    cards = await registry(stack, served[1], breaker, max_stale=0.1)
    await cards.card_for_versions([PACKAGE])
    fake.error = (500, "InternalFailure")
    await asyncio.sleep(0.2)
    with pytest.raises(UpstreamError):
        await cards.card_for_versions([PACKAGE])
    assert stale_log.report() == []
