"""Every request has an id: in its response header, its error responses and its JSON logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from gateway.config import ConfigError, Settings, load_settings
from gateway.observability.logs import JsonFormatter
from tests.support.tracing import recording

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_every_response_carries_a_new_request_id(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert len(first) == 32
    assert first != second


def test_a_callers_request_id_is_kept(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a9c2e-0001"})
    assert response.headers["x-request-id"] == "lb-7f3a9c2e-0001"
    odd = client.get("/healthz", headers={"X-Request-Id": "<script>"})
    assert odd.headers["x-request-id"] != "<script>"


def test_an_error_response_names_its_request_and_trace(client: TestClient) -> None:
    with recording():
        response = client.post(
            "/graphql", json={"query": "{ nope }"}, headers={"traceparent": TRACEPARENT}
        )
    extensions = response.json()["extensions"]
    assert extensions["requestId"] == response.headers["x-request-id"]
    assert extensions["traceId"] == TRACE_ID


def test_a_refused_token_names_its_request(client: TestClient) -> None:
    response = client.post(
        "/graphql", json={"query": "{ viewer { kind } }"}, headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 401
    assert response.json()["extensions"]["requestId"] == response.headers["x-request-id"]


def test_a_response_without_errors_has_no_ids_in_its_body(client: TestClient) -> None:
    body = client.post("/graphql", json={"query": "{ viewer { kind } }"}).json()
    assert "requestId" not in body.get("extensions", {})


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The error log (``mlmeta.errors``) written as JSON lines into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("mlmeta.errors")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield buffer
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_json_log_lines_carry_the_request_and_trace_ids(
    client: TestClient, json_log: io.StringIO
) -> None:
    with recording():
        response = client.post(
            "/graphql",
            json={"query": "query Typo { nope }"},
            headers={"traceparent": TRACEPARENT},
        )
    [line] = [json.loads(text) for text in json_log.getvalue().splitlines()]
    assert line["level"] == "INFO"
    assert line["logger"] == "mlmeta.errors"
    assert line["message"].startswith("client error in operation Typo")
    assert line["requestId"] == response.headers["x-request-id"]
    assert line["traceId"] == TRACE_ID


def test_the_log_format_is_text_or_json(settings: Settings) -> None:
    assert load_settings(environ={"MLMETA_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ConfigError, match="MLMETA_LOG_FORMAT"):
        settings.replace(log_format="xml")
