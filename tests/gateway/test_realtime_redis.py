"""Live execution updates across replicas, through a real Redis.

Each replica is a hub with its own Redis bus, Redis leases and fetch counter,
all on one upstream. Redis is expected at ``MLMETA_TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379``); when it is not there these tests fail, unless
``MLMETA_TEST_SKIP_REDIS=1``. Keys and channels carry a prefix unique to the
test, so runs in parallel do not meet.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.realtime import ExecutionHub, RedisBus
from gateway.realtime.bus import Handler
from sources.errors import UpstreamError
from tests.gateway.test_realtime import ARN, POLL, RUN, Upstream, drain, take

REDIS_URL = os.environ.get("MLMETA_TEST_REDIS_URL", "redis://127.0.0.1:6379")

Replica = Callable[..., Awaitable[ExecutionHub]]


async def require_redis() -> None:
    """Fail (or skip, when asked to) unless Redis answers."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        if os.environ.get("MLMETA_TEST_SKIP_REDIS") == "1":
            pytest.skip(f"Redis is not reachable at {REDIS_URL} (MLMETA_TEST_SKIP_REDIS=1)")
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}). Start one (e.g. "
            "`docker run --rm -p 6379:6379 redis:8`), point MLMETA_TEST_REDIS_URL at one, "
            "or set MLMETA_TEST_SKIP_REDIS=1 to skip the multi-replica tests."
        )
    finally:
        await client.aclose()


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
async def replica(upstream: Upstream) -> AsyncIterator[Replica]:
    """Start a replica named ``name``; all of them stop at the end of the test."""
    prefix = f"mlmeta-test:{uuid4().hex}:"
    started: list[tuple[ExecutionHub, RedisBus]] = []

    async def start(
        name: str, poll: float = POLL, bus: RedisBus | None = None, **options: Any
    ) -> ExecutionHub:
        if not started:
            await require_redis()
        bus = bus or RedisBus(REDIS_URL)
        await bus.open()
        options.setdefault("max_backoff", POLL * 2)
        hub = ExecutionHub(
            upstream.fetcher(name), bus, poll, redis_url=REDIS_URL, key_prefix=prefix, **options
        )
        started.append((hub, bus))
        return hub

    yield start
    for hub, bus in started:
        await hub.close()
        await bus.close()
    if started:
        client = Redis.from_url(REDIS_URL)
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def poller(upstream: Upstream, names: tuple[str, ...] = ("a", "b")) -> str:
    """The one replica that fetched; fails when none or several did."""
    fetched = [name for name in names if upstream.calls[name]]
    assert len(fetched) == 1, dict(upstream.calls)
    return fetched[0]


async def test_one_replica_polls_and_every_replica_streams_every_change(
    replica: Replica, upstream: Upstream
) -> None:
    upstream.set(ARN, RUN[0])
    a, b = await replica("a"), await replica("b")
    streams = [a.subscribe(ARN), a.subscribe(ARN), b.subscribe(ARN)]
    assert await asyncio.gather(*(take(s) for s in streams)) == [RUN[0]] * 3
    for state in RUN[1:-1]:
        upstream.set(ARN, state)
        assert await asyncio.gather(*(take(s) for s in streams)) == [state] * 3
    upstream.set(ARN, RUN[-1])
    assert await asyncio.gather(*(drain(s) for s in streams)) == [[RUN[-1]]] * 3
    poller(upstream)


async def test_another_replica_takes_over_when_the_poller_stops(
    replica: Replica, upstream: Upstream
) -> None:
    upstream.set(ARN, RUN[0])
    hubs = {"a": await replica("a"), "b": await replica("b")}
    streams = {name: hub.subscribe(ARN) for name, hub in hubs.items()}
    await asyncio.gather(*(take(s) for s in streams.values()))
    owner = poller(upstream)
    other = "b" if owner == "a" else "a"

    await hubs[owner].close()  # frees the lease and says so: no wait for it to expire
    assert await drain(streams[owner]) == []
    upstream.set(ARN, RUN[1])
    assert await take(streams[other], seconds=1.0) == RUN[1]
    assert upstream.calls[other] > 0


async def test_the_lease_of_a_dead_poller_expires_and_another_replica_takes_over(
    replica: Replica, upstream: Upstream
) -> None:
    upstream.set(ARN, RUN[0])
    hubs = {name: await replica(name, lease_seconds=0.3) for name in ("a", "b")}
    streams = {name: hub.subscribe(ARN) for name, hub in hubs.items()}
    await asyncio.gather(*(take(s) for s in streams.values()))
    owner = poller(upstream)
    other = "b" if owner == "a" else "a"

    async def dies_holding_it(key: str, token: str) -> bool:
        return False

    hubs[owner]._leases.release = dies_holding_it  # type: ignore[method-assign]
    await hubs[owner].close()
    upstream.set(ARN, RUN[1])
    assert await take(streams[other], seconds=2.0) == RUN[1]
    assert upstream.calls[other] > 0


async def test_a_poke_on_any_replica_reaches_the_poller(
    replica: Replica, upstream: Upstream
) -> None:
    upstream.set(ARN, RUN[0])
    hubs = {name: await replica(name, poll=60) for name in ("a", "b")}
    streams = [hub.subscribe(ARN) for hub in hubs.values()]
    await asyncio.gather(*(take(s) for s in streams))
    owner = poller(upstream)
    other = "b" if owner == "a" else "a"

    upstream.set(ARN, RUN[1])
    await hubs[other].poke(ARN)
    assert await asyncio.gather(*(take(s, seconds=1.0) for s in streams)) == [RUN[1]] * 2
    poller(upstream)


async def test_a_replica_joining_later_gets_the_current_state_from_the_poller(
    replica: Replica, upstream: Upstream
) -> None:
    upstream.set(ARN, RUN[0])
    a, b = await replica("a", poll=60), await replica("b", poll=60)
    first = a.subscribe(ARN)
    assert await take(first) == RUN[0]
    upstream.set(ARN, RUN[1])
    late = b.subscribe(ARN)
    # Not a poll interval (60 s) later. The poller's publication of RUN[0] may
    # still be on its way and arrive first: then RUN[1] follows at once.
    seen = [await take(late, seconds=1.0)]
    if seen[0] == RUN[0]:
        seen.append(await take(late, seconds=1.0))
    assert seen[-1] == RUN[1]
    assert await take(first, seconds=1.0) == RUN[1]
    assert upstream.calls["b"] == 0


class DeafBus(RedisBus):
    """A Redis bus that loses every message while ``deaf`` (a connection blip)."""

    deaf = False

    async def subscribe(self, channel: str, handler: Handler) -> None:
        await super().subscribe(channel, self._lossy(handler))

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        await super().unsubscribe(channel, self._lossy(handler))

    def _lossy(self, handler: Handler) -> Handler:
        return _Lossy(self, handler)


@dataclass(frozen=True)
class _Lossy:
    bus: DeafBus
    handler: Handler

    def __call__(self, message: str) -> None:
        if not self.bus.deaf:
            self.handler(message)


async def test_a_replica_that_missed_a_change_catches_up_within_a_lease_period(
    replica: Replica, upstream: Upstream
) -> None:
    upstream.set(ARN, RUN[0])
    a = await replica("a", lease_seconds=0.3)
    b = await replica("b", lease_seconds=0.3, bus=DeafBus(REDIS_URL))
    first = a.subscribe(ARN)
    assert await take(first) == RUN[0]
    second = b.subscribe(ARN)
    assert await take(second) == RUN[0]
    assert poller(upstream) == "a"

    b._bus.deaf = True  # type: ignore[attr-defined]
    upstream.set(ARN, RUN[1])
    assert await take(first) == RUN[1]
    await asyncio.sleep(POLL * 2)  # the change went by while b was not listening
    b._bus.deaf = False  # type: ignore[attr-defined]
    assert await take(second, seconds=1.0) == RUN[1]


async def test_when_polling_gives_up_every_replica_gets_the_error(
    replica: Replica, upstream: Upstream
) -> None:
    upstream.set(ARN, RUN[0])
    a, b = await replica("a"), await replica("b")
    streams = [a.subscribe(ARN), b.subscribe(ARN)]
    await asyncio.gather(*(take(s) for s in streams))
    upstream.set(ARN, UpstreamError("Step Functions is unavailable.", source="stepfunctions"))
    errors = await asyncio.gather(*(drain(s) for s in streams), return_exceptions=True)
    assert [type(e) for e in errors] == [UpstreamError, UpstreamError]
    assert [(e.code, e.source) for e in errors if isinstance(e, UpstreamError)] == [
        ("UPSTREAM_UNAVAILABLE", "stepfunctions")
    ] * 2


async def test_an_unreachable_redis_stops_the_bus_from_opening() -> None:
    bus = RedisBus("redis://127.0.0.1:1")
    with pytest.raises(UpstreamError, match="Redis is unreachable"):
        await bus.open()
