"""Prometheus metrics at /metrics: parseable, protected, and moving as queries run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.catalog_files import write_catalog
from gateway.observability.metrics import OperationNames
from tests.support.http_server import serve_app

ENTITY_PAGE = """query EntityPage {
  entity(ref: "component:default/churn-training-pipeline") {
    title owner { title }
    pipeline { latestExecution { status steps { name } }
      executions(first: 5) { edges { node { status metrics { name value } } } } } } }"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base_url: str, headers: dict[str, str] | None = None) -> Samples:
    response = httpx.get(f"{base_url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


@pytest.fixture
def gateway_url(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Iterator[str]:
    """The demo on a real loopback port: /metrics is open to loopback clients."""
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    with serve_app(create_app(settings.replace(catalog_folder=str(folder)))) as base_url:
        yield base_url


def query(base_url: str, document: str, variables: dict[str, object] | None = None) -> None:
    httpx.post(f"{base_url}/graphql", json={"query": document, "variables": variables or {}})


def test_counters_move_as_a_portal_query_runs(gateway_url: str) -> None:
    before = scrape(gateway_url)
    query(gateway_url, ENTITY_PAGE)
    query(gateway_url, 'query ModelPage { model(ref: "churn-model") { entity { ref } } }')
    after = scrape(gateway_url)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    requests = "mlmeta_graphql_request_duration_seconds_count"
    assert moved(requests, operation="EntityPage") == 1
    assert moved("mlmeta_upstream_calls_total", source="stepfunctions", outcome="ok") >= 1
    assert moved("mlmeta_upstream_call_duration_seconds_count", source="stepfunctions") >= 1
    assert moved("mlmeta_upstream_calls_total", source="metadb", outcome="ok") >= 1
    assert moved("mlmeta_loader_batch_size_count", loader="entities_by_ref") >= 1
    assert moved("mlmeta_cache_lookups_total", cache="catalog_claims") >= 1
    assert total(after, "mlmeta_circuit_state", source="catalog", state="closed") == 1
    assert total(after, "mlmeta_circuit_state", source="catalog", state="open") == 0
    assert total(after, "mlmeta_active_subscriptions") == 0


def test_errors_are_counted_by_code(gateway_url: str) -> None:
    before = scrape(gateway_url)
    query(gateway_url, "query Bad($id: ID!) { node(id: $id) { id } }", {"id": "not-an-id"})
    query(gateway_url, "{ nope }")
    after = scrape(gateway_url)
    for code in ("InputError", "GRAPHQL_VALIDATION_FAILED"):
        counted = "mlmeta_graphql_errors_total"
        assert total(after, counted, code=code) - total(before, counted, code=code) == 1
    requests = "mlmeta_graphql_request_duration_seconds_count"
    assert (
        total(after, requests, operation="Bad", outcome="partial")
        - total(before, requests, operation="Bad", outcome="partial")
        == 1
    )


def test_operation_names_are_capped() -> None:
    names = OperationNames(limit=2)
    assert [names.label(n) for n in ["A", "B", "C", "A", None, "x" * 81]] == [
        "A",
        "B",
        "other",
        "A",
        "anonymous",
        "other",
    ]


def test_other_clients_need_the_metrics_token(settings: Settings) -> None:
    # TestClient's requests come from 'testclient', not a loopback address.
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics").status_code == 403
    with TestClient(create_app(settings.replace(metrics_token="scrape-secret"))) as client:
        assert client.get("/metrics").status_code == 403
        wrong = {"Authorization": "Bearer nope"}
        assert client.get("/metrics", headers=wrong).status_code == 403
        right = {"Authorization": "Bearer scrape-secret"}
        assert client.get("/metrics", headers=right).status_code == 200


def test_metrics_can_be_switched_off(settings: Settings) -> None:
    with TestClient(create_app(settings.replace(metrics=False))) as client:
        assert client.get("/metrics").status_code == 404


def test_several_workers_add_up_their_metrics(
    settings: Settings, moto_endpoint: str, tmp_path: Path
) -> None:
    # `mlmeta serve --workers 2`: each worker counts in PROMETHEUS_MULTIPROC_DIR's files,
    # and whichever answers the scrape reports both.
    port = _free_port()
    env = {
        **os.environ,
        "MLMETA_DATA_DIR": str(settings.data_dir),
        "MLMETA_CATALOG_FOLDER": settings.catalog_folder,
        "MLMETA_AWS_ENDPOINT_URL": moto_endpoint,
        "MLMETA_ALLOW_ANONYMOUS": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "MLMETA_LOG_FORMAT": "json",
    }
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "gateway.cli", "serve", "--workers", "2", "--port", str(port)]
    with (
        open(log_path, "wb") as log,
        subprocess.Popen(
            command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        ) as server,
    ):
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_ready(base_url, server)
            for _ in range(12):  # a connection each: the kernel spreads them over workers
                query(base_url, "query Ping { viewer { kind } }")
            samples = scrape(base_url)
        finally:
            server.terminate()
            server.wait(timeout=30)
    requests = "mlmeta_graphql_request_duration_seconds_count"
    assert total(samples, requests, operation="Ping") == 12
    assert total(samples, "mlmeta_circuit_state", source="metadb", state="closed") == 1
    # Each worker logs JSON lines (MLMETA_LOG_FORMAT=json), uvicorn's own included.
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert {"mlmeta", "uvicorn.error", "uvicorn.access"} <= {line["logger"] for line in lines}
    assert all("requestId" in line for line in lines if line["logger"] == "uvicorn.access")


REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base_url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "mlmeta serve exited"
        try:
            if httpx.get(f"{base_url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("mlmeta serve did not start")
