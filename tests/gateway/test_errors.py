"""Errors carry a code; unexpected ones are masked; one failing source nulls only its fields."""

from __future__ import annotations

import asyncio
import logging

import pytest
import strawberry

from gateway.config import Settings
from gateway.schema import build_schema
from sources.errors import NotFoundError, UpstreamError, UpstreamThrottledError


@strawberry.type
class Pipeline:
    name: str

    @strawberry.field
    def status(self) -> str | None:
        raise UpstreamThrottledError("stepfunctions is throttling requests", source="stepfunctions")


@strawberry.type
class ErrorQuery:
    @strawberry.field
    def healthy(self) -> str:
        return "ok"

    @strawberry.field
    def broken(self) -> str | None:
        raise RuntimeError("connection to postgresql://admin:hunter2@db failed")

    @strawberry.field
    def catalog(self) -> str | None:
        raise UpstreamError("catalog cannot be reached", source="catalog")

    @strawberry.field
    def missing(self) -> str | None:
        raise NotFoundError("no pipeline 'x'")

    @strawberry.field
    def pipelines(self) -> list[Pipeline]:
        return [Pipeline(name="a"), Pipeline(name="b")]


schema = build_schema(Settings(), query=ErrorQuery)


def run(query: str) -> tuple[dict | None, list[dict]]:
    result = asyncio.run(schema.execute(query))
    return result.data, [e.formatted for e in result.errors or []]


def test_unexpected_exception_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="mlmeta.errors"):
        data, errors = run("{ healthy broken }")
    assert data == {"healthy": "ok", "broken": None}
    assert errors[0]["message"] == "Unexpected error."
    assert errors[0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in str(errors)
    assert "hunter2" in caplog.text  # the operator still sees what happened


def test_source_error_nulls_only_its_field_and_names_the_source() -> None:
    data, errors = run("{ healthy catalog }")
    assert data == {"healthy": "ok", "catalog": None}
    assert errors == [
        {
            "message": "catalog cannot be reached",
            "locations": [{"line": 1, "column": 11}],
            "path": ["catalog"],
            "extensions": {"code": "UPSTREAM_UNAVAILABLE", "source": "catalog"},
        }
    ]


def test_throttling_in_a_list_gives_a_partial_result() -> None:
    data, errors = run("{ pipelines { name status } }")
    assert data == {"pipelines": [{"name": "a", "status": None}, {"name": "b", "status": None}]}
    # One failure across the list: one error that counts the items it struck.
    [error] = errors
    assert error["extensions"]["code"] == "UPSTREAM_THROTTLED"
    assert error["path"] == ["pipelines", 0, "status"]
    assert error["extensions"]["count"] == 2
    assert error["extensions"]["paths"] == [["pipelines", 0, "status"], ["pipelines", 1, "status"]]


def test_expected_errors_keep_their_message() -> None:
    _, errors = run("{ missing }")
    assert errors[0]["message"] == "no pipeline 'x'"
    assert errors[0]["extensions"] == {"code": "NotFoundError"}
