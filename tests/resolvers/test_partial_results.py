"""Partial results: a failing source nulls only what depended on it, reported once.

Faults are real: moto does not implement ListPipelineExecutionSteps (it answers
500), and the Backstage-shaped fake answers 500 on the endpoints a test names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary, write_catalog
from tests.conftest import WRITER_TOKEN, gql
from tests.resolvers.conftest import CatalogUnderTest


@pytest.fixture
def demo(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Iterator[TestClient]:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    # The run list costs ~27,000: heavy, but within the default cost limit.
    configured = settings.replace(catalog_folder=str(folder))
    with TestClient(create_app(configured)) as client:
        yield client


def error_bytes(body: dict[str, Any]) -> int:
    return len(json.dumps(body.get("errors", [])))


RUN_LIST = """{ pipelines(first: 20) { edges { node { name orchestrator
    executions(first: 50) { edges { node { status steps { name status } } } } } } } }"""


def test_a_failing_step_list_nulls_only_itself(demo: TestClient) -> None:
    body = gql(demo, RUN_LIST, expect_errors=True)
    pipelines = {e["node"]["name"]: e["node"] for e in body["data"]["pipelines"]["edges"]}
    assert {"churn-training-pipeline", "churn-batch-scoring", "fraud-detector-training"} <= set(
        pipelines
    )
    runs = {name: [e["node"] for e in p["executions"]["edges"]] for name, p in pipelines.items()}
    # moto lacks ListPipelineExecutionSteps: each SageMaker run has its steps null...
    sagemaker_runs = runs["fraud-detector-training"]
    assert sagemaker_runs
    assert all(r["steps"] is None for r in sagemaker_runs)
    assert all(r["status"] for r in sagemaker_runs)  # ...and the rest of the run stands
    # ...while every Step Functions run keeps its steps.
    assert all(r["steps"] for r in runs["churn-training-pipeline"])
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["source"] == "sagemaker"
    assert error["path"][-1] == "steps"
    assert error["extensions"].get("count", 1) == len(sagemaker_runs)


def test_with_the_catalog_down_pushed_pipelines_are_still_listed(
    backstage: CatalogUnderTest,
) -> None:
    record = """mutation ($input: RecordRunInput!) { recordRun(input: $input) { name } }"""
    run = {"pipeline": "nightly-etl", "runId": "r1", "status": "SUCCEEDED"}
    gql(
        backstage.client,
        record,
        {"input": {**run, "startedAt": "2026-01-01T00:00:00Z"}},
        {"Authorization": f"Bearer {WRITER_TOKEN}"},
    )
    assert backstage.fake is not None
    backstage.fake.fail(503, "ServiceUnavailableError", "catalog is restarting")
    body = gql(
        backstage.client,
        "{ pipelines { edges { node { name orchestrator } } } }",
        expect_errors=True,
    )
    nodes = [e["node"] for e in body["data"]["pipelines"]["edges"]]
    assert {"name": "nightly-etl", "orchestrator": "EXTERNAL"} in nodes
    [error] = body["errors"]
    assert error["path"] == ["pipelines"]
    assert error["extensions"]["source"] == "catalog"
    assert error["extensions"]["code"].startswith("UPSTREAM_")


ENTITY_PAGE = """{ entities(filter: {kind: ["Resource"]}, first: 100) {
    edges { node { name owner { name } } } } }"""


def test_one_failing_lookup_across_a_page_is_one_error(backstage: CatalogUnderTest) -> None:
    assert backstage.fake is not None
    backstage.fake.fail(500, endpoints={"by-refs"})  # the page loads, the owners do not
    body = gql(backstage.client, ENTITY_PAGE, expect_errors=True)
    nodes = [e["node"] for e in body["data"]["entities"]["edges"]]
    assert len(nodes) == 100
    assert all(n["name"] and n["owner"] is None for n in nodes)
    [error] = body["errors"]
    assert error["extensions"]["source"] == "catalog"
    assert error["extensions"]["count"] == 100
    assert error["path"] == ["entities", "edges", 0, "node", "owner"]
    assert error["extensions"]["paths"] == [
        ["entities", "edges", i, "node", "owner"] for i in range(5)
    ]
    assert error_bytes(body) < 10_000
