"""What the operator's log says about failed operations: one line per client mistake,
tracebacks only for the unexpected, documents named by hash and never quoted."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import pytest
import strawberry

from gateway.config import Settings
from gateway.schema import build_schema
from sources.errors import InputError, UpstreamError


@strawberry.type
class LogQuery:
    @strawberry.field
    def healthy(self) -> str:
        return "ok"

    @strawberry.field
    def picky(self) -> str | None:
        raise InputError("ref must look like kind:namespace/name")

    @strawberry.field
    def catalog(self) -> str | None:
        raise UpstreamError("catalog cannot be reached", source="catalog")

    @strawberry.field
    def broken(self) -> str | None:
        raise RuntimeError("connection to postgresql://admin:hunter2@db failed")


SCHEMA = build_schema(Settings(), query=LogQuery)
# In a comment: error messages may quote a token near the mistake, never the document.
SECRET = "# the rest of a long document nobody wants in the log\n"


def run(document: str, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        asyncio.run(SCHEMA.execute(document))
    return [r for r in caplog.records if r.name in ("mlmeta.errors", "strawberry.execution")]


def short_hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()[:12]


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (f"query Typo {{ healthy {SECRET} nope }}", "GRAPHQL_VALIDATION_FAILED"),
        (f'query Cut {{ healthy {SECRET} "x"', "GRAPHQL_PARSE_FAILED"),
        (f"query Picky {{ picky {SECRET} healthy }}", "InputError"),
    ],
)
def test_client_mistakes_are_one_info_line_without_traceback_or_document(
    caplog: pytest.LogCaptureFixture, document: str, code: str
) -> None:
    [record] = run(document, caplog)
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    line = record.getMessage()
    assert code in line
    assert short_hash(document) in line
    assert SECRET.strip() not in line


def test_the_line_names_the_operation(caplog: pytest.LogCaptureFixture) -> None:
    [record] = run("query PortalEntityPage { picky }", caplog)
    assert "operation PortalEntityPage" in record.getMessage()


def test_many_errors_of_one_kind_are_counted_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    [record] = run("{ a: picky b: picky c: picky }", caplog)
    assert "InputError x3" in record.getMessage()


def test_upstream_failures_are_one_warning_naming_no_stack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    [record] = run("{ catalog healthy }", caplog)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "UPSTREAM_UNAVAILABLE: catalog cannot be reached" in record.getMessage()


def test_unexpected_errors_keep_their_traceback_at_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    [record] = run("query Broken { broken }", caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "operation Broken" in record.getMessage()
    assert "hunter2" in caplog.text  # the operator still sees what happened


def test_strawberry_no_longer_logs_every_error_with_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = run("{ picky catalog broken }", caplog)
    assert not [r for r in records if r.name == "strawberry.execution"]
