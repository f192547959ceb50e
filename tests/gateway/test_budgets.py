"""Per-principal budgets: each operation's cost is drawn from its principal's bucket.

Buckets refill with time; the tests move an injected clock instead of sleeping.
Redis-backed buckets need Redis at ``MLMETA_TEST_REDIS_URL`` (see
test_realtime_redis.py for the skip switch).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import ConfigError, Settings, TokenBudget, load_settings
from gateway.limits.budget import (
    REDIS_TIMEOUT_SECONDS,
    Buckets,
    Decision,
    InProcessBuckets,
    Rate,
    RedisBuckets,
    RefusalMemory,
    open_buckets,
)
from tests.conftest import SERVICE_TOKEN, codes
from tests.gateway.test_document_limits import subscribe
from tests.gateway.test_realtime_redis import REDIS_URL, require_redis
from tests.support.redis_process import redis_process

RATE = Rate(per_second=10, burst=100)
QUERY = "{ viewer { subject } }"  # costs 1


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_bucket_lets_its_burst_through_then_refuses() -> None:
    buckets = InProcessBuckets(Clock())
    assert (await buckets.charge("user:alice", 60, RATE)).remaining == 40
    refused = await buckets.charge("user:alice", 60, RATE)
    assert (refused.allowed, refused.remaining, refused.retry_after) == (False, 40, 2)


async def test_a_bucket_refills_with_time() -> None:
    clock = Clock()
    buckets = InProcessBuckets(clock)
    await buckets.charge("user:alice", 100, RATE)
    clock.now += 2
    assert (await buckets.charge("user:alice", 20, RATE)).allowed
    assert not (await buckets.charge("user:alice", 1, RATE)).allowed


async def test_principals_have_their_own_buckets() -> None:
    buckets = InProcessBuckets(Clock())
    await buckets.charge("user:alice", 100, RATE)
    assert (await buckets.charge("user:bob", 100, RATE)).allowed


async def test_a_paused_redis_holds_a_charge_no_longer_than_its_timeout(tmp_path: Path) -> None:
    # Every operation waits for its charge: a Redis that takes connections but never
    # answers (SIGSTOP) must not hold them. Past the timeout the replica counts alone.
    with redis_process(tmp_path) as server:
        async with open_buckets(server.url, Clock()) as buckets:
            assert (await buckets.charge("user:alice", 60, RATE)).remaining == 40  # in Redis
            server.pause()
            started = time.monotonic()
            decision = await buckets.charge("user:alice", 60, RATE)
            waited = time.monotonic() - started

    assert decision.allowed
    assert decision.remaining == 40  # a bucket of this replica's own, full at first
    assert waited < REDIS_TIMEOUT_SECONDS + 1


@pytest.fixture
async def redis_buckets() -> AsyncIterator[tuple[Buckets, Buckets, Clock]]:
    """Two replicas' buckets on one Redis, under a prefix unique to the test."""
    await require_redis()
    prefix, clock = f"mlmeta-test:{uuid4().hex}:", Clock()
    first, second = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)
    yield RedisBuckets(first, clock, prefix), RedisBuckets(second, clock, prefix), clock
    keys = await first.keys(prefix + "*")
    if keys:
        await first.delete(*keys)
    await first.aclose()
    await second.aclose()


async def test_replicas_sharing_redis_draw_on_one_budget(
    redis_buckets: tuple[Buckets, Buckets, Clock],
) -> None:
    one, other, clock = redis_buckets
    assert (await one.charge("user:alice", 70, RATE)).allowed
    refused = await other.charge("user:alice", 70, RATE)
    assert (refused.allowed, refused.remaining, refused.retry_after) == (False, 30, 4)
    clock.now += 4
    assert (await other.charge("user:alice", 70, RATE)).allowed


@pytest.fixture
def tight(settings: Settings) -> Iterator[TestClient]:
    """A gateway whose budgets hold 3 points and refill one every 10 s."""
    configured = settings.replace(
        max_cost=3,
        budget_burst=3,
        budget_per_second=0.1,
        service_token_budgets=(TokenBudget("ci-bot", per_second=0.001, burst=1000),),
    )
    with TestClient(create_app(configured)) as client:
        yield client


def test_over_budget_is_429_with_retry_after(tight: TestClient) -> None:
    for _ in range(3):
        assert tight.post("/graphql", json={"query": QUERY}).status_code == 200
    response = tight.post("/graphql", json={"query": QUERY})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "10"
    body = response.json()
    assert codes(body) == ["RATE_LIMITED"]
    assert body["errors"][0]["extensions"] | {"message": None} == {
        "code": "RATE_LIMITED",
        "remaining": 0,
        "retryAfter": 10,
        "message": None,
    }
    assert body["data"] is None


def test_the_remaining_budget_is_in_every_response(tight: TestClient) -> None:
    body = tight.post("/graphql", json={"query": QUERY}).json()
    assert body["extensions"]["cost"]["budget"] == {"remaining": 2, "burst": 3}


def test_a_service_token_has_its_own_budget(tight: TestClient) -> None:
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    for _ in range(10):
        response = tight.post("/graphql", json={"query": QUERY}, headers=headers)
        assert response.status_code == 200
    assert response.json()["extensions"]["cost"]["budget"] == {"remaining": 990, "burst": 1000}


def test_over_budget_over_the_websocket_is_an_error(tight: TestClient) -> None:
    for _ in range(3):
        assert subscribe(tight, QUERY)["type"] == "next"
    message = subscribe(tight, QUERY)
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["RATE_LIMITED"]


def test_token_budgets_are_configured_like_service_tokens() -> None:
    settings = load_settings(
        environ={"MLMETA_SERVICE_TOKEN_BUDGETS": "ci-bot:50:60000, nightly:5.5:90000"}
    )
    assert settings.service_token_budgets == (
        TokenBudget("ci-bot", 50.0, 60000),
        TokenBudget("nightly", 5.5, 90000),
    )


@pytest.mark.parametrize(
    "entry", ["ci-bot:50", "ci-bot:fast:100", "ci-bot:0:10000", "ci-bot:50:10"]
)
def test_a_bad_token_budget_is_refused(entry: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(environ={"MLMETA_SERVICE_TOKEN_BUDGETS": entry})


def test_once_refused_a_principal_is_refused_unparsed_until_its_retry_after(
    tight: TestClient,
) -> None:
    for _ in range(4):
        tight.post("/graphql", json={"query": QUERY})
    # Not even parsed: a syntax error would be a 400 or 200 with a syntax error.
    response = tight.post("/graphql", json={"query": "{ viewer { "})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 10
    assert codes(response.json()) == ["RATE_LIMITED"]
    other = tight.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}
    )
    assert other.status_code == 200, "another principal is not held by the refusal"


def test_a_standing_refusal_ends_when_its_retry_after_has_passed() -> None:
    clock = Clock()
    memory = RefusalMemory(clock)
    memory.note("user:alice", Decision(False, 0.5, 3))
    clock.now += 2.5
    held = memory.check("user:alice")
    assert held is not None
    assert held.retry_after == 1
    clock.now += 0.5
    assert memory.check("user:alice") is None
