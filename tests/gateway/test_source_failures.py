"""What a client sees when a source fails: stale data marked in ``extensions.stale``,
circuits in ``sources { circuit }`` and /readyz. The portal is a real local
Backstage-shaped server that is made to fail."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from tests.conftest import codes, gql
from tests.support.fake_backstage import FakeBackstage
from tests.support.http_server import serve_app

TOKEN = "gateway-service-token-0123456789"
ENTITY = "component:default/churn-model"
QUERY = "query($ref: String!) { entity(ref: $ref) { ref title } }"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeBackstage, str]]:
    model = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "churn-model", "title": "Churn model"},
        "spec": {"type": "ml-model", "lifecycle": "production", "owner": "ml-platform"},
    }
    fake = FakeBackstage([model], tokens={TOKEN})
    with serve_app(fake.app()) as base_url:
        yield fake, base_url


def gateway(settings: Settings, served: tuple[FakeBackstage, str], **changes: object) -> TestClient:
    fake, base_url = served
    fake.reset()
    configured = settings.replace(
        catalog_backend="backstage",
        backstage_url=base_url,
        backstage_token=TOKEN,
        readiness_cache_seconds=0,
        **changes,
    )
    return TestClient(create_app(configured))


def test_a_failing_portal_serves_the_last_entity_marked_stale(
    settings: Settings, served: tuple[FakeBackstage, str]
) -> None:
    with gateway(settings, served) as client:
        fresh = gql(client, QUERY, {"ref": ENTITY})
        assert "stale" not in fresh["extensions"]
        served[0].fail(500)
        answer = gql(client, QUERY, {"ref": ENTITY})
    assert answer["data"] == fresh["data"]
    [stale] = answer["extensions"]["stale"]
    assert stale["source"] == "catalog"
    assert 0 <= stale["ageSeconds"] < 60


def test_past_max_staleness_the_field_is_null_with_the_error(
    settings: Settings, served: tuple[FakeBackstage, str]
) -> None:
    with gateway(settings, served, max_staleness_seconds=0.2) as client:
        gql(client, QUERY, {"ref": ENTITY})
        served[0].fail(500)
        time.sleep(0.3)
        answer = gql(client, QUERY, {"ref": ENTITY}, expect_errors=True)
    assert answer["data"] == {"entity": None}
    assert codes(answer) == ["UPSTREAM_UNAVAILABLE"]
    assert answer["errors"][0]["extensions"]["source"] == "catalog"
    assert "stale" not in answer.get("extensions", {})


def test_an_open_circuit_shows_in_sources_and_readyz(
    settings: Settings, served: tuple[FakeBackstage, str]
) -> None:
    fake = served[0]
    with gateway(settings, served, breaker_failures=2, breaker_cooldown_seconds=60) as client:
        closed = gql(client, "{ sources { name circuit } }")["data"]["sources"]
        assert {s["name"]: s["circuit"] for s in closed}["catalog"] == "CLOSED"
        fake.fail(500)
        for _ in range(2):
            gql(client, QUERY, {"ref": ENTITY}, expect_errors=True)
        calls = fake.calls["by-refs"]
        refused = gql(client, QUERY, {"ref": ENTITY}, expect_errors=True)
        assert "circuit open until" in refused["errors"][0]["message"]
        assert fake.calls["by-refs"] == calls  # failed fast: no call reached the portal
        body = gql(client, "{ sources { name healthy circuit } }")
        ready = client.get("/readyz")
    catalog = next(s for s in body["data"]["sources"] if s["name"] == "catalog")
    assert catalog == {"name": "catalog", "healthy": False, "circuit": "OPEN"}
    assert ready.status_code == 503
    assert ready.json()["sources"]["catalog"]["circuit"] == "OPEN"
    assert ready.json()["sources"]["metadb"]["circuit"] == "CLOSED"
