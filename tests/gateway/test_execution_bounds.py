"""Bounds on running operations: wall-clock limit, response size, concurrency per principal."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from tests.conftest import SERVICE_TOKEN, codes, gql
from tests.support.http_server import serve_app
from tests.support.slow_upstream import SlowCatalog

ENTITY_AND_VIEWER = '{ viewer { kind } entity(ref: "component:default/churn") { title } }'
BY_REFS = "/entities/by-refs"  # the catalog call that entity(ref:) makes


@pytest.fixture
def slow_catalog() -> Iterator[tuple[SlowCatalog, str]]:
    catalog = SlowCatalog(delay=10.0)
    with serve_app(catalog.app(), lifespan="off") as url:
        yield catalog, url


def behind_slow_catalog(settings: Settings, url: str, **limits: object) -> Settings:
    return settings.replace(catalog_backend="backstage", backstage_url=url, **limits)


def test_at_the_time_limit_pending_fields_fail_and_the_rest_is_answered(
    settings: Settings, slow_catalog: tuple[SlowCatalog, str]
) -> None:
    _, url = slow_catalog
    app = create_app(behind_slow_catalog(settings, url, max_execution_seconds=0.5))
    with TestClient(app) as client:
        started = time.monotonic()
        body = gql(client, ENTITY_AND_VIEWER, expect_errors=True)
        elapsed = time.monotonic() - started
    assert body["data"] == {"viewer": {"kind": "ANONYMOUS"}, "entity": None}
    assert codes(body) == ["QUERY_TIMEOUT"]
    assert body["errors"][0]["path"] == ["entity"]
    assert "0.5 s" in body["errors"][0]["message"]
    assert elapsed < 5, "the caller waited for the upstream, not for the limit"


def test_a_timed_out_field_stops_its_upstream_call(
    settings: Settings, slow_catalog: tuple[SlowCatalog, str]
) -> None:
    catalog, url = slow_catalog
    app = create_app(behind_slow_catalog(settings, url, max_execution_seconds=0.5))
    with TestClient(app) as client:
        checked_at_start = sum(catalog.started.values())  # the start-up readiness log
        gql(client, ENTITY_AND_VIEWER, expect_errors=True)
        deadline = time.monotonic() + 5
        while not catalog.abandoned[BY_REFS] and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sum(catalog.started.values()) - checked_at_start == 1
    # Counted by path: the start-up readiness probe (by-query) is abandoned too, when
    # its own 5 s wait ends, at a moment that races with this query's deadline.
    assert catalog.abandoned[BY_REFS] == 1, "the upstream request ran on unread"


def test_responses_over_the_size_limit_are_replaced_by_a_coded_error(settings: Settings) -> None:
    with TestClient(create_app(settings.replace(max_response_bytes=2_000))) as client:
        small = gql(client, "{ viewer { kind } }")
        response = client.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    assert small["data"] == {"viewer": {"kind": "ANONYMOUS"}}
    body = json.loads(response.content)  # whole and valid, never cut
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RESPONSE_TOO_LARGE"
    assert error["extensions"]["limit"] == 2_000
    assert error["extensions"]["size"] > 2_000
    assert int(response.headers["content-length"]) == len(response.content)


async def test_one_principal_over_its_concurrency_limit_gets_429_others_do_not(
    settings: Settings, slow_catalog: tuple[SlowCatalog, str]
) -> None:
    catalog, url = slow_catalog
    limited = behind_slow_catalog(
        settings, url, max_concurrent_operations=1, max_execution_seconds=2.0
    )
    query = {"query": ENTITY_AND_VIEWER}
    with serve_app(create_app(limited), lifespan="on") as gateway:
        async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
            # The anonymous caller's first operation waits on the slow catalog...
            running = asyncio.ensure_future(client.post("/graphql", json=query))
            assert await asyncio.to_thread(catalog.first_request.wait, 5)
            # ...so its second one is refused, while a service token is still served.
            refused = await client.post("/graphql", json={"query": "{ viewer { kind } }"})
            other = await client.post(
                "/graphql",
                json={"query": "{ viewer { kind } }"},
                headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
            )
            first = await running
            after = await client.post("/graphql", json={"query": "{ viewer { kind } }"})
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert codes(refused.json()) == ["TOO_MANY_CONCURRENT_OPERATIONS"]
    assert other.status_code == 200
    assert other.json()["data"] == {"viewer": {"kind": "SERVICE"}}
    assert codes(first.json()) == ["QUERY_TIMEOUT"]
    assert after.status_code == 200, "the slot is given back when the operation ends"
