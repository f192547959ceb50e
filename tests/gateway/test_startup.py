"""What the gateway says when it starts: each source's readiness, and no false "ready"."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from tests.demo.demo_server import free_port


def start_log(settings: Settings, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.set_level(logging.INFO, logger="mlmeta")
    with TestClient(create_app(settings)):
        pass
    return [r for r in caplog.records if r.name == "mlmeta"]


def test_every_source_is_logged_ready_with_its_latency(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    messages = [r.getMessage() for r in start_log(settings, caplog)]
    for source in ("metadb", "catalog", "stepfunctions", "sagemaker"):
        assert any(m.startswith(f"source {source}: ok (") for m in messages), messages
    assert "mlmeta ready: GraphQL at /graphql, all 4 sources ready" in messages


def test_sources_that_do_not_answer_are_warned_about_and_ready_is_not_claimed(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    nobody = settings.replace(
        aws_endpoint_url=f"http://127.0.0.1:{free_port()}", readiness_timeout_seconds=2
    )
    records = start_log(nobody, caplog)
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert any(m.startswith("source stepfunctions: NOT READY: ") for m in warnings), warnings
    assert any(m.startswith("source sagemaker: NOT READY: ") for m in warnings), warnings
    summary = next(m for m in warnings if m.startswith("mlmeta serving GraphQL"))
    assert "2 of 4 sources not ready: " in summary
    assert not any(r.getMessage().startswith("mlmeta ready") for r in records)
