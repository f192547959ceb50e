"""The Backstage catalog when the portal fails: its circuit breaker and stale fallback.

Faults come from a real Backstage-shaped server (``FakeBackstage.fail()``), and
``fake.calls`` proves which calls reached it; time is an injectable clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from gateway.auth.principal import Principal, PrincipalKind
from sources.catalog.backstage import BackstageCatalog
from sources.catalog.claims import ClaimsIndex
from sources.catalog.model import EntityFilter, EntityQuery
from sources.catalog.stale import StaleFallbackCatalog
from sources.errors import UpstreamError
from sources.resilience.breaker import CircuitBreaker, CircuitOpenError, CircuitState
from sources.resilience.stale import StaleLog, current_stale_log
from tests.support.fake_backstage import FakeBackstage
from tests.support.http_server import serve_app

SERVICE_TOKEN = "gateway-service-token-0123456789"
ALICE_TOKEN, BOB_TOKEN = "alice-token", "bob-token"
ALICE = Principal("user:default/alice", PrincipalKind.USER, token=ALICE_TOKEN)
BOB = Principal("user:default/bob", PrincipalKind.USER, token=BOB_TOKEN)
CI = Principal("ci-bot", PrincipalKind.SERVICE)
MODEL = "component:default/churn-model"
ENTITIES = [
    {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "ml-model", "lifecycle": "production", "owner": "ml-platform"},
    }
    for name in ("churn-model", "fraud-model")
]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeBackstage, str]]:
    fake = FakeBackstage(ENTITIES, tokens={SERVICE_TOKEN, ALICE_TOKEN, BOB_TOKEN})
    with serve_app(fake.app()) as base_url:
        yield fake, base_url


@pytest.fixture
def fake(served: tuple[FakeBackstage, str]) -> FakeBackstage:
    served[0].reset()
    return served[0]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker("catalog", failure_threshold=3, cooldown_seconds=30, clock=clock)


@pytest.fixture
def backstage(
    served: tuple[FakeBackstage, str], http: httpx.AsyncClient, breaker: CircuitBreaker
) -> BackstageCatalog:
    return BackstageCatalog(served[1], http, service_token=SERVICE_TOKEN, breaker=breaker)


@pytest.fixture
def catalog(backstage: BackstageCatalog, clock: Clock) -> StaleFallbackCatalog:
    return StaleFallbackCatalog(backstage, max_staleness=300, clock=clock)


@pytest.fixture
def stale_log() -> Iterator[StaleLog]:
    """What the running operation was told was stale."""
    log = StaleLog()
    token = current_stale_log.set(log)
    yield log
    current_stale_log.reset(token)


# -- circuit breaker


async def test_the_circuit_opens_after_n_failures_then_no_call_reaches_the_portal(
    backstage: BackstageCatalog, fake: FakeBackstage, breaker: CircuitBreaker
) -> None:
    fake.fail(500)
    for _ in range(3):
        with pytest.raises(UpstreamError, match="HTTP 500"):
            await backstage.entities_by_refs([MODEL], CI)
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError, match="circuit open until"):
        await backstage.entities_by_refs([MODEL], CI)
    assert fake.calls["by-refs"] == 3


async def test_half_open_lets_one_probe_through_and_its_success_closes_the_circuit(
    backstage: BackstageCatalog, fake: FakeBackstage, breaker: CircuitBreaker, clock: Clock
) -> None:
    fake.fail(503)
    for _ in range(3):
        with pytest.raises(UpstreamError):
            await backstage.entities_by_refs([MODEL], CI)
    fake.failure = None  # the portal is back
    clock.now += 30
    [found] = await backstage.entities_by_refs([MODEL], CI)
    assert found is not None
    assert breaker.state is CircuitState.CLOSED
    assert fake.calls["by-refs"] == 4


async def test_timeouts_count_as_failures(
    served: tuple[FakeBackstage, str], fake: FakeBackstage, http: httpx.AsyncClient, clock: Clock
) -> None:
    breaker = CircuitBreaker("catalog", failure_threshold=2, clock=clock)
    slow = BackstageCatalog(
        served[1], http, service_token=SERVICE_TOKEN, timeout=0.05, breaker=breaker
    )
    fake.delay_seconds = 0.5
    for _ in range(2):
        with pytest.raises(UpstreamError) as caught:
            await slow.entities_by_refs([MODEL], CI)
        assert caught.value.code == "UPSTREAM_TIMEOUT"
    assert breaker.state is CircuitState.OPEN


async def test_refusals_of_the_portal_never_open_the_circuit(
    backstage: BackstageCatalog, fake: FakeBackstage, breaker: CircuitBreaker
) -> None:
    fake.fail(403, "NotAllowedError", "no")
    for _ in range(5):
        with pytest.raises(Exception, match="no"):
            await backstage.entities_by_refs([MODEL], ALICE)
    assert breaker.state is CircuitState.CLOSED


# -- stale while revalidate


async def test_a_failing_portal_serves_the_entity_the_user_read_within_staleness(
    catalog: StaleFallbackCatalog, fake: FakeBackstage, clock: Clock, stale_log: StaleLog
) -> None:
    [fresh] = await catalog.entities_by_refs([MODEL], ALICE)
    fake.fail(500)
    clock.now += 120
    [stale] = await catalog.entities_by_refs(["Component:churn-model"], ALICE)
    assert stale == fresh
    assert stale_log.report() == [{"source": "catalog", "ageSeconds": 120.0}]


async def test_user_b_never_gets_the_entities_user_a_read(
    catalog: StaleFallbackCatalog, fake: FakeBackstage, stale_log: StaleLog
) -> None:
    await catalog.entities_by_refs([MODEL], ALICE)
    fake.fail(500)
    [answer] = await catalog.entities_by_refs([MODEL], BOB)
    assert isinstance(answer, UpstreamError)
    assert stale_log.report() == []


async def test_principal_free_reads_are_shared_by_service_and_anonymous_callers(
    catalog: StaleFallbackCatalog, fake: FakeBackstage, stale_log: StaleLog
) -> None:
    await catalog.entities_by_refs([MODEL], CI)
    fake.fail(500)
    anonymous = Principal("anonymous", PrincipalKind.ANONYMOUS)
    [entity] = await catalog.entities_by_refs([MODEL], anonymous)
    assert isinstance(entity, dict)
    [answer] = await catalog.entities_by_refs([MODEL], ALICE)  # a user's view is their own
    assert isinstance(answer, UpstreamError)


async def test_past_max_staleness_the_error_is_returned(
    catalog: StaleFallbackCatalog, fake: FakeBackstage, clock: Clock, stale_log: StaleLog
) -> None:
    await catalog.entities_by_refs([MODEL], ALICE)
    fake.fail(500)
    clock.now += 301
    [answer] = await catalog.entities_by_refs([MODEL], ALICE)
    assert isinstance(answer, UpstreamError)
    assert stale_log.report() == []


async def test_refs_never_read_get_the_error_next_to_stale_ones(
    catalog: StaleFallbackCatalog, fake: FakeBackstage
) -> None:
    await catalog.entities_by_refs([MODEL], ALICE)
    fake.fail(500)
    known, unknown, malformed = await catalog.entities_by_refs(
        [MODEL, "component:default/fraud-model", "kind:"], ALICE
    )
    assert isinstance(known, dict)
    assert isinstance(unknown, UpstreamError)
    assert malformed.code == "InputError"  # type: ignore[union-attr]


async def test_an_open_circuit_is_covered_by_stale_entities_without_a_call(
    catalog: StaleFallbackCatalog, fake: FakeBackstage, stale_log: StaleLog
) -> None:
    await catalog.entities_by_refs([MODEL], ALICE)
    fake.fail(500)
    for _ in range(3):
        await catalog.entities_by_refs([MODEL], ALICE)
    calls = fake.calls["by-refs"]
    [entity] = await catalog.entities_by_refs([MODEL], ALICE)
    assert isinstance(entity, dict)
    assert fake.calls["by-refs"] == calls


async def test_a_query_page_is_served_stale_to_the_same_principal_only(
    catalog: StaleFallbackCatalog, fake: FakeBackstage, clock: Clock, stale_log: StaleLog
) -> None:
    query = EntityQuery(filter=EntityFilter(kinds=("Component",)), limit=10)
    fresh = await catalog.query_entities(query, ALICE)
    fake.fail(500)
    clock.now += 5
    assert await catalog.query_entities(query, ALICE) == fresh
    assert stale_log.report() == [{"source": "catalog", "ageSeconds": 5.0}]
    with pytest.raises(UpstreamError):
        await catalog.query_entities(query, BOB)


async def test_a_refusal_is_never_covered_by_a_stale_answer(
    catalog: StaleFallbackCatalog, fake: FakeBackstage
) -> None:
    await catalog.entities_by_refs([MODEL], ALICE)
    fake.fail(401, "AuthenticationError", "Illegal token")
    with pytest.raises(Exception, match="Illegal token"):
        await catalog.entities_by_refs([MODEL], ALICE)


async def test_the_claims_index_is_served_stale_then_fails_past_max_staleness(
    backstage: BackstageCatalog, fake: FakeBackstage, clock: Clock, stale_log: StaleLog
) -> None:
    claims = ClaimsIndex(backstage, ttl=30, clock=clock, max_stale_seconds=300)
    fresh = await claims.claims()
    fake.fail(500)
    clock.now += 60
    assert await claims.claims() is fresh
    assert stale_log.report() == [{"source": "catalog", "ageSeconds": 60.0}]
    clock.now += 300
    with pytest.raises(UpstreamError):
        await claims.claims()
