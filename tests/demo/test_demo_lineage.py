"""The demo's lineage: Airflow's OpenLineage events through the real endpoint, a snapshot
derived from another, and the production endpoint's deployment history read asOf."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.catalog_files import write_catalog
from gateway.demo.lineage_seed import (
    FEATURE_RUNS,
    LINEAGE_PATH,
    V1_DEPLOYED_AT,
    V3_DEPLOYED_AT,
    LineageSeed,
    run_event,
    seed_lineage,
    snapshot_uri,
    with_seed_token,
)
from resolvers.ids import encode_id
from tests.conftest import gql

WALK = """query ($of: ID!, $direction: LineageDirection!, $depth: Int!, $asOf: DateTime) {
  lineage(of: $of, direction: $direction, depth: $depth, asOf: $asOf) {
    digest nodeIds edges { from to kind origin recordedAt } } }"""
WHILE_V1_SERVED = "2026-11-10T00:00:00Z"


@pytest.fixture
def demo_settings(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Settings:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    return settings.replace(catalog_folder=str(folder))


def seed(settings: Settings, summary: DemoSummary) -> LineageSeed:
    """Seed as ``mlmeta serve --demo`` does: an app of its own, with a token made for it."""

    async def run() -> LineageSeed:
        seeding, token = with_seed_token(settings)
        app = create_app(seeding)
        async with app.router.lifespan_context(app):
            return await seed_lineage(app, summary, token)

    return asyncio.run(run())


@pytest.fixture
def first_seed(demo_settings: Settings, demo_aws: DemoSummary) -> LineageSeed:
    return seed(demo_settings, demo_aws)


@pytest.fixture
def gateway(demo_settings: Settings, first_seed: LineageSeed) -> Iterator[TestClient]:
    with TestClient(create_app(demo_settings)) as client:
        yield client


def walk(
    client: TestClient, of: str, direction: str, depth: int = 1, as_of: str | None = None
) -> dict[str, Any]:
    variables = {"of": of, "direction": direction, "depth": depth, "asOf": as_of}
    graph: dict[str, Any] = gql(client, WALK, variables)["data"]["lineage"]
    return graph


def dataset(uri: str) -> str:
    return encode_id("Dataset", uri)


def run_id(index: int) -> str:
    return encode_id("PipelineExecution", FEATURE_RUNS[index].execution_id)


def churn(client: TestClient, version: int) -> str:
    query = 'query ($v: String!) { modelVersion(model: "churn-model", version: $v) { id } }'
    found: str = gql(client, query, {"v": str(version)})["data"]["modelVersion"]["id"]
    return found


def production(client: TestClient) -> str:
    query = """query { modelVersion(model: "churn-model", version: "3") {
      deployments { id name } } }"""
    deployments = gql(client, query)["data"]["modelVersion"]["deployments"]
    found: str = next(d["id"] for d in deployments if d["name"] == "churn-model-prod")
    return found


def served(graph: dict[str, Any], deployment: str) -> list[str]:
    """The versions the graph shows DEPLOYED to ``deployment``."""
    return [e["from"] for e in graph["edges"] if e["kind"] == "DEPLOYED" and e["to"] == deployment]


def test_the_first_snapshot_has_the_feature_run_and_its_events_upstream(
    gateway: TestClient,
) -> None:
    snapshot = dataset(snapshot_uri("2026-11-01"))
    graph = walk(gateway, snapshot, "UPSTREAM", depth=2)
    edges = [(e["from"], e["to"], e["kind"], e["origin"]) for e in graph["edges"]]
    october = dataset("s3://mlmeta-demo-datasets/events/usage/2026-10/")
    assert edges == sorted(
        [
            (run_id(0), snapshot, "PRODUCED", "openlineage"),
            (october, run_id(0), "CONSUMED", "openlineage"),
        ]
    )


def test_the_feature_runs_are_stored_as_finished_airflow_runs(gateway: TestClient) -> None:
    query = """query ($id: ID!) { node(id: $id) { ... on PipelineExecution {
      status startedAt stoppedAt inputs { uri } } } }"""
    found = gql(gateway, query, {"id": run_id(1)})["data"]["node"]
    assert found == {
        "status": "SUCCEEDED",
        "startedAt": "2026-11-15T02:00:05+00:00",
        "stoppedAt": "2026-11-15T02:16:52+00:00",
        "inputs": [{"uri": "s3://mlmeta-demo-datasets/events/usage/2026-11/"}],
    }


def test_the_second_snapshot_is_derived_from_the_first(gateway: TestClient) -> None:
    first, second = dataset(snapshot_uri("2026-11-01")), dataset(snapshot_uri("2026-11-15"))
    graph = walk(gateway, first, "DOWNSTREAM")
    assert {"from": first, "to": second, "kind": "DERIVED_FROM", "origin": "demo"} in [
        {k: e[k] for k in ("from", "to", "kind", "origin")} for e in graph["edges"]
    ]


def test_before_v3_was_deployed_the_endpoint_served_v1(gateway: TestClient) -> None:
    deployment = production(gateway)
    graph = walk(gateway, deployment, "UPSTREAM", as_of=WHILE_V1_SERVED)
    assert served(graph, deployment) == [churn(gateway, 1)]


def test_now_the_endpoint_serves_v3_and_no_longer_v1(gateway: TestClient) -> None:
    deployment = production(gateway)
    graph = walk(gateway, deployment, "UPSTREAM")
    assert served(graph, deployment) == [churn(gateway, 3)]
    assert churn(gateway, 1) not in graph["nodeIds"]


def test_the_history_is_dated_when_it_happened(gateway: TestClient) -> None:
    deployment = production(gateway)
    graph = walk(gateway, deployment, "UPSTREAM", as_of=V3_DEPLOYED_AT.isoformat())
    (edge,) = [e for e in graph["edges"] if e["kind"] == "DEPLOYED"]
    assert datetime.fromisoformat(edge["recordedAt"]) == V3_DEPLOYED_AT
    before = walk(gateway, deployment, "UPSTREAM", as_of=V1_DEPLOYED_AT.isoformat())
    assert served(before, deployment) == [churn(gateway, 1)]


def test_the_first_seed_posts_four_events_and_records_the_history(
    first_seed: LineageSeed,
) -> None:
    assert first_seed == LineageSeed(events=4, posted_edges=4, recorded=3, retired=1)


def test_seeding_twice_adds_nothing(
    gateway: TestClient, demo_settings: Settings, demo_aws: DemoSummary
) -> None:
    deployment = production(gateway)
    snapshot = dataset(snapshot_uri("2026-11-15"))
    after_first = datetime.now(UTC).isoformat()
    walks = [
        (deployment, "UPSTREAM", 10, WHILE_V1_SERVED),
        (deployment, "UPSTREAM", 10, after_first),
        (snapshot, "BOTH", 10, after_first),
        (snapshot, "BOTH", 10, None),
    ]
    before = [walk(gateway, *w) for w in walks]
    again = seed(demo_settings, demo_aws)
    after = [walk(gateway, *w) for w in walks]
    assert again.new == 0
    assert [g["digest"] for g in after[:3]] == [g["digest"] for g in before[:3]]
    assert after[3]["edges"] == before[3]["edges"]


def test_the_seeding_token_is_not_accepted_by_the_served_gateway(
    gateway: TestClient, demo_settings: Settings
) -> None:
    seeding, token = with_seed_token(demo_settings)
    assert len(seeding.service_tokens) == len(demo_settings.service_tokens) + 1
    response = gateway.post(
        LINEAGE_PATH,
        json=run_event(FEATURE_RUNS[0], "START"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401


def test_the_deployment_reaches_the_feature_run_through_the_aws_lineage(
    gateway: TestClient,
) -> None:
    graph = walk(gateway, production(gateway), "UPSTREAM", depth=6)
    assert {dataset(snapshot_uri("2026-11-01")), run_id(0)} <= set(graph["nodeIds"])
