"""The circuit breaker's promises, on an injectable clock (no sleeping, no network)."""

from __future__ import annotations

import asyncio

import pytest

from sources.errors import NotFoundError, UpstreamError, UpstreamTimeoutError
from sources.resilience.breaker import (
    Breakers,
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("catalog", failure_threshold=3, cooldown_seconds=30, clock=clock)


async def fail(breaker: CircuitBreaker, error: Exception | None = None) -> None:
    with pytest.raises(type(error) if error else UpstreamError):
        async with breaker.guard():
            raise error or UpstreamError("catalog failed with HTTP 500", source="catalog")


async def succeed(breaker: CircuitBreaker) -> None:
    async with breaker.guard():
        pass


async def test_the_circuit_opens_after_n_consecutive_failures(breaker: CircuitBreaker) -> None:
    for _ in range(2):
        await fail(breaker)
    assert breaker.state is CircuitState.CLOSED
    await fail(breaker, UpstreamTimeoutError("slow", source="catalog"))
    assert breaker.state is CircuitState.OPEN


async def test_an_open_circuit_fails_fast_saying_until_when(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        await fail(breaker)
    ran = False
    with pytest.raises(CircuitOpenError, match=r"circuit open until \d{4}-.* after 3") as caught:
        async with breaker.guard():
            ran = True
    assert not ran
    assert caught.value.code == "UPSTREAM_UNAVAILABLE"
    assert caught.value.source == "catalog"
    assert breaker.status().rejected_calls == 1


async def test_a_success_resets_the_count_of_consecutive_failures(breaker: CircuitBreaker) -> None:
    await fail(breaker)
    await fail(breaker)
    await succeed(breaker)
    await fail(breaker)
    await fail(breaker)
    assert breaker.state is CircuitState.CLOSED


async def test_answers_about_the_request_are_not_failures(breaker: CircuitBreaker) -> None:
    for _ in range(5):
        await fail(breaker, NotFoundError("no such entity", source="catalog"))
    assert breaker.state is CircuitState.CLOSED


async def test_after_the_cooldown_exactly_one_probe_goes_through(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    for _ in range(3):
        await fail(breaker)
    clock.now += 30
    assert breaker.state is CircuitState.HALF_OPEN
    probe_entered = asyncio.Event()
    release = asyncio.Event()

    async def probe() -> None:
        async with breaker.guard():
            probe_entered.set()
            await release.wait()

    task = asyncio.create_task(probe())
    await probe_entered.wait()
    with pytest.raises(CircuitOpenError, match="probe call is in flight"):
        await succeed(breaker)
    release.set()
    await task
    assert breaker.state is CircuitState.CLOSED


async def test_a_failed_probe_opens_the_circuit_for_another_cooldown(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    for _ in range(3):
        await fail(breaker)
    clock.now += 30
    await fail(breaker)
    assert breaker.state is CircuitState.OPEN
    clock.now += 29
    with pytest.raises(CircuitOpenError):
        await succeed(breaker)
    clock.now += 1
    await succeed(breaker)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.status().times_opened == 2


async def test_a_cancelled_probe_lets_the_next_caller_probe(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    for _ in range(3):
        await fail(breaker)
    clock.now += 30

    async def hang() -> None:
        async with breaker.guard():
            await asyncio.sleep(60)

    task = asyncio.create_task(hang())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await succeed(breaker)
    assert breaker.state is CircuitState.CLOSED


async def test_a_threshold_of_zero_never_opens(clock: Clock) -> None:
    breaker = CircuitBreaker("catalog", failure_threshold=0, clock=clock)
    for _ in range(10):
        await fail(breaker)
    assert breaker.state is CircuitState.CLOSED


async def test_the_registry_reads_every_breaker_for_metrics(clock: Clock) -> None:
    breakers = Breakers(["metadb", "catalog"], failure_threshold=1, clock=clock)
    await fail(breakers["catalog"])
    statuses = {s.source: s for s in breakers.statuses()}
    assert [s.source for s in breakers.statuses()] == ["catalog", "metadb"]
    assert statuses["catalog"].state is CircuitState.OPEN
    assert statuses["catalog"].open_until is not None
    assert statuses["metadb"].state is CircuitState.CLOSED
    assert breakers.state("cloudwatch") is CircuitState.CLOSED  # no breaker: nothing to trip
