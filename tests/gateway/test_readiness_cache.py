"""/readyz is cheap to call: answers are reused for a few seconds and concurrent
callers share one check, so anonymous probes cannot drive upstream calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings
from tests.support.http_server import serve_app
from tests.support.slow_upstream import SlowCatalog

CHECK = "/entities/by-query"  # what the Backstage catalog's readiness check asks


@pytest.fixture
def catalog() -> Iterator[tuple[SlowCatalog, str]]:
    # Slow enough that the concurrent callers below all arrive during one check.
    upstream = SlowCatalog(delay=0.3)
    with serve_app(upstream.app(), lifespan="off") as url:
        yield upstream, url


def behind(settings: Settings, url: str, cache_seconds: float) -> Settings:
    return settings.replace(
        catalog_backend="backstage",
        backstage_url=url,
        readiness_cache_seconds=cache_seconds,
        stepfunctions_enabled=False,
        sagemaker_enabled=False,
    )


async def test_concurrent_probes_share_one_check_and_reuse_it(
    settings: Settings, catalog: tuple[SlowCatalog, str]
) -> None:
    upstream, url = catalog
    with serve_app(create_app(behind(settings, url, 60)), lifespan="on") as gateway:
        async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
            during = await asyncio.gather(*(client.get("/readyz") for _ in range(20)))
            later = [await client.get("/readyz") for _ in range(5)]
            graphql = await client.post("/graphql", json={"query": "{ sources { name } }"})
    assert {r.status_code for r in during + later} == {200}
    assert graphql.status_code == 200
    assert upstream.started[CHECK] == 1


async def test_a_stale_answer_is_checked_again(
    settings: Settings, catalog: tuple[SlowCatalog, str]
) -> None:
    upstream, url = catalog
    with serve_app(create_app(behind(settings, url, 0)), lifespan="on") as gateway:
        async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
            for _ in range(3):
                assert (await client.get("/readyz")).status_code == 200
    assert upstream.started[CHECK] == 1 + 3  # the start-up log's check, then one per probe
