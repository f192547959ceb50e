"""OpenTelemetry traces: a span per request, a child per upstream call, W3C trace context.

The spans are recorded with the SDK's in-memory exporter (``tests/support/tracing``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.catalog_files import write_catalog
from gateway.observability.tracing import exporter_from
from tests.conftest import gql
from tests.support.catalog_data import catalog_entities
from tests.support.fake_backstage import FakeBackstage
from tests.support.http_server import serve_app
from tests.support.tracing import ancestors, recording

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}

ENTITY_PAGE = """query EntityPage($ref: String!) {
  entity(ref: $ref) {
    title owner { ref title }
    pipeline {
      latestExecution { status startedAt steps { name status durationSeconds } }
      executions(first: 20) { edges { node { id status metrics { name value } } } }
    }
    model { latestVersion(status: APPROVED) { version deployments { name } } }
  } }"""


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with recording() as exporter:
        yield exporter


@pytest.fixture
def demo(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Iterator[TestClient]:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    with TestClient(create_app(settings.replace(catalog_folder=str(folder)))) as client:
        yield client


def test_a_portal_query_is_one_trace_with_a_span_per_upstream_call(
    demo: TestClient, spans: InMemorySpanExporter
) -> None:
    spans.clear()  # start-up checks are not the query's
    variables = {"ref": "component:default/churn-training-pipeline"}
    gql(demo, ENTITY_PAGE, variables, headers=TRACEPARENT)
    recorded = [s for s in spans.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)]
    [request] = [s for s in recorded if s.kind is SpanKind.SERVER]
    # The request continues the caller's trace, named by its operation.
    assert request.name == "query EntityPage"
    assert request.parent is not None
    assert format(request.parent.span_id, "016x") == CALLER_SPAN
    assert request.attributes is not None
    assert request.attributes["graphql.operation.name"] == "EntityPage"
    # Each upstream call is a CLIENT span inside it: AWS operations, metadb batches.
    calls = [s for s in recorded if s.kind is SpanKind.CLIENT]
    assert all(request in ancestors(call, recorded) for call in calls)
    names = {call.name for call in calls}
    assert {"stepfunctions DescribeStateMachine", "stepfunctions ListExecutions"} <= names
    assert any(name.startswith("metadb ") for name in names)
    # No field-level spans: the request and its upstream calls only.
    assert len(recorded) == 1 + len(calls)


def test_the_catalog_gets_the_trace_context_of_its_call(
    settings: Settings, spans: InMemorySpanExporter
) -> None:
    fake = FakeBackstage(catalog_entities())
    with serve_app(fake.app()) as base_url:
        configured = settings.replace(catalog_backend="backstage", backstage_url=base_url)
        with TestClient(create_app(configured)) as client:
            fake.reset()
            spans.clear()
            gql(client, '{ entity(ref: "user:alice") { ref } }', headers=TRACEPARENT)
    [asked] = [r for r in fake.requests if r.path.endswith("/by-refs")]
    [call] = [s for s in spans.get_finished_spans() if s.name == "catalog POST /entities/by-refs"]
    assert asked.traceparent == f"00-{TRACE_ID}-{call.context.span_id:016x}-01"


def test_traces_are_off_unless_the_environment_asks() -> None:
    assert exporter_from({}) is None
    assert exporter_from({"OTEL_TRACES_EXPORTER": "none"}) is None
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert type(exporter_from(endpoint)).__name__ == "OTLPSpanExporter"
    assert type(exporter_from({"OTEL_TRACES_EXPORTER": "console"})).__name__ == (
        "ConsoleSpanExporter"
    )
