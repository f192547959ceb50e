"""SharedAnswers: what may still change upstream is asked once per key per TTL, however many ask."""

from __future__ import annotations

import asyncio

import pytest

from sources.errors import UpstreamError
from sources.sagemaker.concurrency import SharedAnswers


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Upstream:
    """Counts loads; each answers the call's number, after ``gate`` opens."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def load(self) -> int:
        self.calls += 1
        call = self.calls
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return call


async def test_concurrent_asks_for_a_key_share_one_call() -> None:
    upstream, cache = Upstream(), SharedAnswers[str, int](1.0, name="test")
    upstream.gate.clear()
    waiting = [asyncio.create_task(cache.get("run-a", upstream.load)) for _ in range(50)]
    await asyncio.sleep(0)
    upstream.gate.set()
    assert await asyncio.gather(*waiting) == [1] * 50
    assert upstream.calls == 1


async def test_an_answer_is_kept_for_the_ttl_then_asked_again() -> None:
    clock, upstream = Clock(), Upstream()
    cache = SharedAnswers[str, int](1.0, name="test", clock=clock)
    assert await cache.get("run-a", upstream.load) == 1
    clock.now += 0.9
    assert await cache.get("run-a", upstream.load) == 1
    clock.now += 0.2
    assert await cache.get("run-a", upstream.load) == 2
    assert await cache.get("run-b", upstream.load) == 3  # keys are apart


async def test_with_ttl_zero_only_concurrent_asks_share() -> None:
    upstream, cache = Upstream(), SharedAnswers[str, int](0.0, name="test")
    upstream.gate.clear()
    both = asyncio.gather(cache.get("k", upstream.load), cache.get("k", upstream.load))
    await asyncio.sleep(0)
    upstream.gate.set()
    assert await both == [1, 1]
    assert await cache.get("k", upstream.load) == 2


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    upstream, cache = Upstream(), SharedAnswers[str, int](60.0, name="test")
    upstream.gate.clear()
    upstream.fail = UpstreamError("throttled", source="stepfunctions")
    waiting = [asyncio.create_task(cache.get("k", upstream.load)) for _ in range(3)]
    await asyncio.sleep(0)
    upstream.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, UpstreamError) for r in results)
    upstream.fail = None
    assert await cache.get("k", upstream.load) == 2
    assert upstream.calls == 2


async def test_a_cancelled_asker_does_not_cancel_the_call_others_wait_for() -> None:
    upstream, cache = Upstream(), SharedAnswers[str, int](60.0, name="test")
    upstream.gate.clear()
    impatient = asyncio.create_task(cache.get("k", upstream.load))
    patient = asyncio.create_task(cache.get("k", upstream.load))
    await asyncio.sleep(0)
    impatient.cancel()
    upstream.gate.set()
    assert await patient == 1
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert await cache.get("k", upstream.load) == 1


async def test_put_answers_the_next_asks_and_the_oldest_answers_go_first() -> None:
    upstream, cache = Upstream(), SharedAnswers[str, int](60.0, name="test", max_entries=2)
    cache.put("a", 10)
    cache.put("b", 20)
    cache.put("c", 30)  # "a" goes
    assert [await cache.get(k, upstream.load) for k in ("b", "c")] == [20, 30]
    assert upstream.calls == 0
    assert await cache.get("a", upstream.load) == 1
