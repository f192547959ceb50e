"""A query text is parsed once; a text that does not parse is refused, with its code, every time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import parse
from starlette.testclient import TestClient

from gateway.extensions.parse_cache import ParsedDocuments
from tests.conftest import gql

QUERY = "query Me { viewer { kind subject } }"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts graphql-core's parser is given by strawberry."""
    seen: list[str] = []
    real: Callable[..., Any] = strawberry_schema.parse

    def counted(source: Any, **options: Any) -> Any:
        seen.append(str(source))
        return real(source, **options)

    monkeypatch.setattr(strawberry_schema, "parse", counted)
    return seen


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


def test_the_same_text_is_parsed_once_and_answered_alike(
    client: TestClient, parses: list[str]
) -> None:
    answers = [gql(client, QUERY)["data"] for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert parses == [QUERY]


def test_another_text_is_parsed_on_its_own(client: TestClient, parses: list[str]) -> None:
    gql(client, QUERY)
    gql(client, "{ viewer { kind } }")
    gql(client, QUERY)
    assert parses == [QUERY, "{ viewer { kind } }"]


def test_a_text_that_does_not_parse_is_refused_every_time(
    client: TestClient, parses: list[str]
) -> None:
    for _ in range(2):
        body = gql(client, "{ viewer { kind ", expect_errors=True)
        assert codes(body) == ["GRAPHQL_PARSE_FAILED"]
        assert body.get("data") is None
    assert len(parses) == 2  # nothing kept for it


def test_an_invalid_document_is_refused_again_when_it_comes_back(
    client: TestClient, parses: list[str]
) -> None:
    for _ in range(2):
        body = gql(client, "{ viewer { nope } }", expect_errors=True)
        assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert len(parses) == 1  # it parses: kept, and still validated (and refused)


def test_documents_are_kept_up_to_a_number_least_recently_used_out_first() -> None:
    kept = ParsedDocuments(max_entries=2)
    for text in ("{ a }", "{ b }"):
        kept.put(text, parse(text))
    assert kept.get("{ a }") is not None  # now the most recent
    kept.put("{ c }", parse("{ c }"))
    assert (kept.get("{ a }") is not None, kept.get("{ b }"), len(kept)) == (True, None, 2)


def test_documents_are_kept_up_to_a_total_of_characters() -> None:
    kept = ParsedDocuments(max_characters=20)
    kept.put("{ aaaaaaaaaaaaaaaaaaaaaaaaa }", parse("{ aaaaaaaaaaaaaaaaaaaaaaaaa }"))
    assert len(kept) == 0  # longer than everything kept may be
    for text in ("{ aaaaaa }", "{ bbbbbb }", "{ cccccc }"):  # 10 characters each
        kept.put(text, parse(text))
    assert (kept.get("{ aaaaaa }"), len(kept)) == (None, 2)
