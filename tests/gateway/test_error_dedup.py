"""One error per failing source and field: repeats across list items collapse, and the
operator's log holds one line (or one traceback) per failure, not one per item."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry

from gateway.config import Settings
from gateway.partial_results import report
from gateway.schema import build_schema
from resolvers.context import Info
from sources.errors import UpstreamError


@strawberry.type
class Item:
    index: int

    @strawberry.field
    def owner(self) -> str | None:
        raise UpstreamError("catalog answered 500", source="catalog")

    @strawberry.field
    def cost(self) -> float | None:
        raise UpstreamError("cloudwatch answered 500", source="cloudwatch")

    @strawberry.field
    def picky(self) -> str | None:
        raise UpstreamError(f"item {self.index} is throttled", source="sagemaker")

    @strawberry.field
    def broken(self) -> str | None:
        raise RuntimeError("driver state is corrupt")


@strawberry.type
class DedupQuery:
    @strawberry.field
    def items(self, count: int = 100) -> list[Item]:
        return [Item(index=i) for i in range(count)]

    @strawberry.field
    def merged(self, info: Info) -> list[str]:
        """Answers with what one source gave; reports the other."""
        report(info, UpstreamError("catalog answered 503", source="catalog"))
        return ["pushed-pipeline"]


SCHEMA = build_schema(Settings(), query=DedupQuery)


def context() -> SimpleNamespace:
    """The part of the gateway's Context that reporting needs."""
    return SimpleNamespace(reported_errors=[])


def run(document: str) -> dict[str, Any]:
    result = asyncio.run(SCHEMA.execute(document, context_value=context()))
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    return body


def test_one_field_failing_in_every_item_is_one_error_with_count_and_paths() -> None:
    body = run("{ items { index owner } }")
    [error] = body["errors"]
    assert error["message"] == "catalog answered 500"
    assert error["path"] == ["items", 0, "owner"]
    assert error["extensions"] == {
        "code": "UPSTREAM_UNAVAILABLE",
        "source": "catalog",
        "count": 100,
        "paths": [["items", i, "owner"] for i in range(5)],
    }
    assert len(json.dumps(body["errors"])) < 10_000
    assert [item["owner"] for item in body["data"]["items"]] == [None] * 100


def test_a_single_failure_is_left_as_it_is() -> None:
    [error] = run("{ items(count: 1) { owner } }")["errors"]
    assert "count" not in error["extensions"]
    assert error["path"] == ["items", 0, "owner"]


def test_failures_of_different_fields_or_sources_stay_apart() -> None:
    errors = run("{ items(count: 3) { owner cost } }")["errors"]
    assert sorted((e["extensions"]["source"], e["extensions"]["count"]) for e in errors) == [
        ("catalog", 3),
        ("cloudwatch", 3),
    ]


def test_failures_with_different_messages_stay_apart() -> None:
    errors = run("{ items(count: 3) { picky } }")["errors"]
    assert [e["message"] for e in errors] == [f"item {i} is throttled" for i in range(3)]


def test_aliases_are_different_fields_and_stay_apart() -> None:
    errors = run("{ a: items(count: 2) { owner } b: items(count: 2) { owner } }")["errors"]
    assert [(e["path"][0], e["extensions"]["count"]) for e in errors] == [("a", 2), ("b", 2)]


def test_a_field_can_answer_and_report_what_is_missing() -> None:
    body = run("{ merged }")
    assert body["data"] == {"merged": ["pushed-pipeline"]}
    [error] = body["errors"]
    assert error["path"] == ["merged"]
    assert error["locations"] == [{"line": 1, "column": 3}]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "source": "catalog"}


def log_of(document: str, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        asyncio.run(SCHEMA.execute(document, context_value=context()))
    return [r for r in caplog.records if r.name == "mlmeta.errors"]


def test_an_upstream_failing_for_a_hundred_items_is_one_warning_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    [record] = log_of("{ items { owner } }", caplog)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "UPSTREAM_UNAVAILABLE x100: catalog answered 500 (source: catalog)" in (
        record.getMessage()
    )


def test_an_unexpected_failure_in_every_item_is_one_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    [record] = log_of("{ items(count: 50) { broken } }", caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "unexpected error at items.*.broken" in record.getMessage()
    assert "(x50)" in record.getMessage()


def test_a_reported_error_is_logged_like_any_other(caplog: pytest.LogCaptureFixture) -> None:
    [record] = log_of("{ merged }", caplog)
    assert "UPSTREAM_UNAVAILABLE: catalog answered 503 (source: catalog)" in record.getMessage()
