"""Live execution updates in one replica: the hub, its codec and the events endpoint.

The upstream is a script: the n-th fetch of an execution returns its n-th
answer (the last one repeats), so a test knows exactly how many fetches one
shared poller makes.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.realtime import (
    SECRET_HEADER,
    ExecutionHub,
    InProcessBus,
    Snapshot,
    decode_snapshot,
    encode_snapshot,
    stepfunctions_events_endpoint,
)
from sources.errors import (
    MlmetaError,
    NotFoundError,
    UpstreamError,
    UpstreamTimeoutError,
)
from sources.metadb.models import ExecutionStatus
from sources.pipelines.model import ExecutionInfo, StepState

POLL = 0.02
TIMEOUT = 2.0
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:churn"
ARN = "arn:aws:states:us-east-1:123456789012:execution:churn:run-1"
OTHER_ARN = "arn:aws:states:us-east-1:123456789012:execution:churn:run-2"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def snap(status: str, *steps: tuple[str, str] | tuple[str, str, int]) -> Snapshot:
    """An execution of ``churn`` with ``steps`` as (name, status[, attempts])."""
    execution_status = ExecutionStatus(status)
    finished = execution_status not in (ExecutionStatus.RUNNING, ExecutionStatus.PENDING)
    info = ExecutionInfo(
        id=ARN,
        pipeline_id=MACHINE,
        name="run-1",
        status=execution_status,
        started_at=T0,
        stopped_at=T0 + timedelta(hours=1) if finished else None,
        arn=ARN,
    )
    states = []
    for position, (name, step_status, *attempts) in enumerate(steps):
        done = step_status != "RUNNING"
        states.append(
            StepState(
                name=name,
                type="Task",
                status=ExecutionStatus(step_status),
                position=position,
                started_at=T0 + timedelta(minutes=position),
                stopped_at=T0 + timedelta(minutes=position + 1) if done else None,
                attempts=attempts[0] if attempts else 1,
            )
        )
    return info, states


RUN = [
    snap("RUNNING"),
    snap("RUNNING", ("prepare", "RUNNING")),
    snap("RUNNING", ("prepare", "SUCCEEDED"), ("train", "RUNNING")),
    snap("RUNNING", ("prepare", "SUCCEEDED"), ("train", "RUNNING", 2)),
    snap("SUCCEEDED", ("prepare", "SUCCEEDED"), ("train", "SUCCEEDED", 2)),
]


class Upstream:
    """Scripted answers per execution; counts fetches per replica."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Snapshot | Exception]] = {}
        self.served: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.fetched = asyncio.Condition()

    def script(self, execution_id: str, *answers: Snapshot | Exception) -> None:
        self.scripts[execution_id] = list(answers)
        self.served[execution_id] = 0

    def set(self, execution_id: str, answer: Snapshot | Exception) -> None:
        """From now on every fetch of the execution returns ``answer``."""
        self.script(execution_id, answer)

    def fetcher(self, replica: str = "a") -> Callable[[str], Awaitable[Snapshot]]:
        async def fetch(execution_id: str) -> Snapshot:
            async with self.fetched:
                self.calls[replica] += 1
                self.fetched.notify_all()
            answers = self.scripts[execution_id]
            answer = answers[min(self.served[execution_id], len(answers) - 1)]
            self.served[execution_id] += 1
            if isinstance(answer, Exception):
                raise answer
            return answer

        return fetch

    async def wait_calls(self, count: int, replica: str = "a") -> None:
        """Until ``replica`` has fetched ``count`` times in all."""
        async with asyncio.timeout(TIMEOUT), self.fetched:
            await self.fetched.wait_for(lambda: self.calls[replica] >= count)


async def take(stream: AsyncIterator[Snapshot], seconds: float = TIMEOUT) -> Snapshot:
    return await asyncio.wait_for(anext(stream), seconds)


async def drain(stream: AsyncIterator[Snapshot], seconds: float = TIMEOUT) -> list[Snapshot]:
    """Every snapshot until the stream ends."""
    async with asyncio.timeout(seconds):
        return [item async for item in stream]


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
async def make_hub(upstream: Upstream) -> AsyncIterator[Callable[..., ExecutionHub]]:
    hubs: list[ExecutionHub] = []

    def make(poll: float = POLL, **options: Any) -> ExecutionHub:
        options.setdefault("max_backoff", POLL * 2)
        hub = ExecutionHub(upstream.fetcher(), InProcessBus(), poll, **options)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.close()


@pytest.fixture
def hub(make_hub: Callable[..., ExecutionHub]) -> ExecutionHub:
    return make_hub()


# ------------------------------------------------------------------- streams


async def test_a_subscriber_gets_the_current_state_then_each_change_until_the_end(
    hub: ExecutionHub, upstream: Upstream
) -> None:
    upstream.script(ARN, *RUN)
    assert await drain(hub.subscribe(ARN)) == RUN
    assert upstream.calls["a"] == len(RUN)
    assert hub.watched == frozenset()


async def test_unchanged_snapshots_are_not_sent_again(
    hub: ExecutionHub, upstream: Upstream
) -> None:
    upstream.script(ARN, RUN[0], RUN[0], RUN[1], RUN[1], RUN[1], RUN[4])
    assert await drain(hub.subscribe(ARN)) == [RUN[0], RUN[1], RUN[4]]
    assert upstream.calls["a"] == 6


async def test_subscribers_of_one_execution_share_one_poller(
    hub: ExecutionHub, upstream: Upstream
) -> None:
    upstream.script(ARN, *RUN)
    streams = [hub.subscribe(ARN) for _ in range(3)]
    received = await asyncio.gather(*(drain(s) for s in streams))
    assert received == [RUN, RUN, RUN]
    assert upstream.calls["a"] == len(RUN)  # one poller's worth, not three


async def test_a_late_subscriber_gets_the_latest_snapshot_without_a_fetch(
    make_hub: Callable[..., ExecutionHub], upstream: Upstream
) -> None:
    hub = make_hub(poll=60)
    upstream.script(ARN, RUN[1], RUN[2])
    first = hub.subscribe(ARN)
    assert await take(first) == RUN[1]
    late = hub.subscribe(ARN)
    assert await take(late) == RUN[1]
    assert upstream.calls["a"] == 1


async def test_each_execution_has_its_own_poller(hub: ExecutionHub, upstream: Upstream) -> None:
    upstream.script(ARN, *RUN)
    other = [(replace(info, id=OTHER_ARN, arn=OTHER_ARN), steps) for info, steps in RUN[3:]]
    upstream.script(OTHER_ARN, *other)
    mine, theirs = await asyncio.gather(drain(hub.subscribe(ARN)), drain(hub.subscribe(OTHER_ARN)))
    assert (mine, theirs) == (RUN, other)


async def test_a_finished_execution_is_sent_once_and_not_polled(
    hub: ExecutionHub, upstream: Upstream
) -> None:
    upstream.script(ARN, RUN[-1])
    assert await drain(hub.subscribe(ARN)) == [RUN[-1]]
    await asyncio.sleep(POLL * 5)
    assert upstream.calls["a"] == 1
    assert hub.watched == frozenset()


async def test_the_poller_stops_when_the_last_subscriber_leaves(
    hub: ExecutionHub, upstream: Upstream
) -> None:
    upstream.script(ARN, RUN[0])
    closed, cancelled = hub.subscribe(ARN), hub.subscribe(ARN)
    await take(closed)
    consumer = asyncio.create_task(drain(cancelled, seconds=60))

    await closed.aclose()  # one left: polling goes on
    await upstream.wait_calls(upstream.calls["a"] + 3)

    consumer.cancel()  # the last one leaves by cancellation
    await asyncio.gather(consumer, return_exceptions=True)
    assert hub.watched == frozenset()
    await asyncio.sleep(POLL)  # the poller winds down (a fetch under way may finish)
    polled = upstream.calls["a"]
    await asyncio.sleep(POLL * 5)
    assert upstream.calls["a"] == polled


async def test_a_poke_makes_the_poller_poll_at_once(
    make_hub: Callable[..., ExecutionHub], upstream: Upstream
) -> None:
    hub = make_hub(poll=60)
    upstream.script(ARN, RUN[0], RUN[1])
    stream = hub.subscribe(ARN)
    assert await take(stream) == RUN[0]
    await hub.poke(ARN)
    assert await take(stream, seconds=1.0) == RUN[1]
    assert upstream.calls["a"] == 2


async def test_a_poke_of_an_unwatched_execution_does_nothing(
    hub: ExecutionHub, upstream: Upstream
) -> None:
    await hub.poke(ARN)
    assert upstream.calls["a"] == 0


async def test_transient_fetch_errors_are_retried(hub: ExecutionHub, upstream: Upstream) -> None:
    flaky = UpstreamError("Step Functions is unavailable.", source="stepfunctions")
    slow = UpstreamTimeoutError("Step Functions timed out.", source="stepfunctions")
    upstream.script(ARN, RUN[0], flaky, slow, RuntimeError("boom"), RUN[1], RUN[4])
    assert await drain(hub.subscribe(ARN)) == [RUN[0], RUN[1], RUN[4]]


async def test_persistent_fetch_errors_end_the_stream_with_the_error(
    hub: ExecutionHub, upstream: Upstream
) -> None:
    down = UpstreamError("Step Functions is unavailable.", source="stepfunctions")
    upstream.script(ARN, RUN[0], down)
    stream = hub.subscribe(ARN)
    assert await take(stream) == RUN[0]
    with pytest.raises(UpstreamError) as raised:
        await take(stream)
    assert (raised.value.code, raised.value.source) == ("UPSTREAM_UNAVAILABLE", "stepfunctions")
    assert raised.value.message == "Step Functions is unavailable."
    assert upstream.calls["a"] == 1 + 5
    with pytest.raises(StopAsyncIteration):
        await take(stream)
    assert hub.watched == frozenset()


async def test_every_subscriber_gets_its_own_error(hub: ExecutionHub, upstream: Upstream) -> None:
    upstream.script(ARN, UpstreamTimeoutError("Step Functions timed out.", source="stepfunctions"))
    errors = await asyncio.gather(
        drain(hub.subscribe(ARN)), drain(hub.subscribe(ARN)), return_exceptions=True
    )
    assert [type(e) for e in errors] == [UpstreamTimeoutError, UpstreamTimeoutError]
    assert errors[0] is not errors[1]


async def test_an_unknown_execution_ends_the_stream_at_once(
    hub: ExecutionHub, upstream: Upstream
) -> None:
    upstream.script(ARN, NotFoundError("No execution run-1.", source="stepfunctions"))
    with pytest.raises(NotFoundError):
        await drain(hub.subscribe(ARN))
    assert upstream.calls["a"] == 1


async def test_unexpected_fetch_errors_are_masked(hub: ExecutionHub, upstream: Upstream) -> None:
    upstream.script(ARN, KeyError("internal detail s3://secret-bucket"))
    with pytest.raises(MlmetaError) as raised:
        await drain(hub.subscribe(ARN))
    assert (raised.value.code, raised.value.message) == (
        "INTERNAL_SERVER_ERROR",
        "Unexpected error.",
    )


async def test_closing_the_hub_ends_the_streams_and_stops_polling(
    make_hub: Callable[..., ExecutionHub], upstream: Upstream
) -> None:
    hub = make_hub()
    upstream.script(ARN, RUN[0])
    stream = hub.subscribe(ARN)
    assert await take(stream) == RUN[0]
    await hub.close()
    with pytest.raises(StopAsyncIteration):
        await take(stream)
    polled = upstream.calls["a"]
    await asyncio.sleep(POLL * 5)
    assert upstream.calls["a"] == polled
    with pytest.raises(RuntimeError, match="closed"):
        await take(hub.subscribe(ARN))


async def test_a_lagging_subscriber_keeps_the_latest_snapshots(
    make_hub: Callable[..., ExecutionHub], upstream: Upstream
) -> None:
    hub = make_hub(queue_size=2)
    upstream.script(ARN, *RUN)
    stream = hub.subscribe(ARN)
    assert await take(stream) == RUN[0]
    await upstream.wait_calls(len(RUN))  # all fetched while it does not read
    assert await drain(stream) == RUN[-2:]


# --------------------------------------------------------------------- codec


def test_a_snapshot_survives_its_json_form() -> None:
    info, _ = RUN[-1]
    full = (
        ExecutionInfo(
            id=info.id,
            pipeline_id=info.pipeline_id,
            name=info.name,
            status=ExecutionStatus.FAILED,
            started_at=T0,
            stopped_at=T0 + timedelta(seconds=90, microseconds=5),
            arn=info.arn,
            error="States.TaskFailed",
            cause="out of memory",
            parameters={"date": "2025-03-01", "limits": {"rows": 10}},
            console_url="https://console.aws.amazon.com/states/home",
            detailed=False,
        ),
        [
            StepState(
                name="train",
                type="Task",
                status=ExecutionStatus.FAILED,
                position=1,
                started_at=T0,
                stopped_at=T0 + timedelta(seconds=80),
                attempts=3,
                error="States.TaskFailed",
                cause="out of memory",
                resource_arn="arn:aws:sagemaker:us-east-1:123456789012:training-job/t-1",
            )
        ],
    )
    assert decode_snapshot(json.loads(json.dumps(encode_snapshot(full)))) == full


def test_snapshot_times_are_iso_utc() -> None:
    paris = timezone(timedelta(hours=1))
    info, steps = snap("RUNNING", ("prepare", "RUNNING"))
    local = replace(info, started_at=datetime(2025, 3, 1, 9, tzinfo=paris))
    encoded = encode_snapshot((local, steps))
    assert encoded["execution"]["started_at"] == "2025-03-01T08:00:00+00:00"
    assert encoded["execution"]["status"] == "RUNNING"
    assert decode_snapshot(encoded)[0].started_at == T0


def test_a_malformed_snapshot_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a snapshot"):
        decode_snapshot({"execution": {"id": ARN}, "steps": []})


# ----------------------------------------------------------- events endpoint

SECRET = "s3cret-events-token-0123456789"


def event(arn: str = ARN, **changes: Any) -> dict[str, Any]:
    """A 'Step Functions Execution Status Change' event as EventBridge delivers it."""
    body: dict[str, Any] = {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2025-03-01T08:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": MACHINE,
            "name": arn.rsplit(":", 1)[-1],
            "status": "SUCCEEDED",
            "startDate": 1740816000000,
            "stopDate": 1740819600000,
            "input": "{}",
            "output": "{}",
        },
    }
    body.update(changes)
    return body


class RecordingHub:
    def __init__(self, fails: bool = False) -> None:
        self.poked: list[str] = []
        self.fails = fails

    async def poke(self, execution_id: str) -> None:
        if self.fails:
            raise UpstreamError("Could not publish to Redis.", source="redis")
        self.poked.append(execution_id)


def events_client(hub: RecordingHub, secret: str = SECRET) -> TestClient:
    endpoint = stepfunctions_events_endpoint(hub, secret)
    app = Starlette(routes=[Route("/api/v1/events/stepfunctions", endpoint, methods=["POST"])])
    return TestClient(app)


def post(client: TestClient, body: object, secret: str | None = SECRET) -> Any:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/api/v1/events/stepfunctions", content=content, headers=headers)


def code(response: Any) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


def test_an_event_with_the_secret_pokes_the_execution() -> None:
    hub = RecordingHub()
    response = post(events_client(hub), event())
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    assert hub.poked == [ARN]


def test_a_batch_of_events_pokes_each_execution_once() -> None:
    hub = RecordingHub()
    response = post(events_client(hub), [event(), event(OTHER_ARN), event()])
    assert response.status_code == 202
    assert response.json() == {"accepted": 3}
    assert hub.poked == [ARN, OTHER_ARN]


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
def test_an_event_without_the_right_secret_is_401(secret: str | None) -> None:
    hub = RecordingHub()
    response = post(events_client(hub), event(), secret=secret)
    assert response.status_code == 401
    assert code(response) == "AuthenticationError"
    assert hub.poked == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        [],
        "a string",
        event(**{"detail-type": "Step Functions State Machine Status Change"}),
        event(source="aws.sagemaker"),
        event(detail={"status": "SUCCEEDED"}),
        event(detail={"executionArn": MACHINE}),
        event(detail="not an object"),
        [event(), {"source": "aws.states"}],
    ],
    ids=[
        "not-json",
        "empty-batch",
        "not-an-object",
        "wrong-detail-type",
        "wrong-source",
        "no-execution-arn",
        "not-an-execution-arn",
        "detail-not-an-object",
        "one-bad-event-in-a-batch",
    ],
)
def test_a_malformed_event_is_400_and_pokes_nothing(body: object) -> None:
    hub = RecordingHub()
    response = post(events_client(hub), body)
    assert response.status_code == 400
    assert code(response) == "InputError"
    assert hub.poked == []


def test_the_endpoint_is_off_without_a_secret() -> None:
    hub = RecordingHub()
    response = post(events_client(hub, secret=""), event(), secret="")
    assert response.status_code == 404
    assert hub.poked == []


def test_an_event_that_cannot_be_forwarded_is_503_so_eventbridge_retries() -> None:
    response = post(events_client(RecordingHub(fails=True)), event())
    assert response.status_code == 503
    assert code(response) == "UPSTREAM_UNAVAILABLE"


async def test_an_event_brings_the_update_to_subscribers_at_once(
    make_hub: Callable[..., ExecutionHub], upstream: Upstream
) -> None:
    hub = make_hub(poll=60)
    upstream.script(ARN, RUN[3], RUN[4])
    endpoint = stepfunctions_events_endpoint(hub, SECRET)
    app = Starlette(routes=[Route("/events", endpoint, methods=["POST"])])
    stream = hub.subscribe(ARN)
    assert await take(stream) == RUN[3]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        response = await client.post("/events", json=event(), headers={SECRET_HEADER: SECRET})
    assert response.status_code == 202
    assert await take(stream, seconds=1.0) == RUN[4]
