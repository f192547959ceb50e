"""Every limit trips with a precise error and code, before anything is executed."""

from __future__ import annotations

import asyncio

import strawberry
from starlette.testclient import TestClient

from gateway.config import Settings
from gateway.schema import build_schema
from tests.conftest import codes, gql

calls: list[int] = []


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def children(self, first: int = 10) -> list[Item]:
        calls.append(first)
        return [Item(name=f"{self.name}.{i}") for i in range(min(first, 3))]


@strawberry.type
class LimitQuery:
    @strawberry.field
    def items(self, first: int = 10) -> list[Item]:
        calls.append(first)
        return [Item(name=str(i)) for i in range(min(first, 3))]


def run(query: str, variables: dict[str, object] | None = None, **limits: int) -> dict:
    schema = build_schema(Settings(**limits), query=LimitQuery)
    result = asyncio.run(schema.execute(query, variable_values=variables))
    errors = [e.formatted for e in result.errors or []]
    return {"data": result.data, "errors": errors}


def test_depth_over_the_limit_is_refused() -> None:
    body = run("{ items { children { children { children { name } } } } }", max_depth=3)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "depth" in body["errors"][0]["message"]
    assert body["data"] is None


def test_depth_within_the_limit_is_served() -> None:
    assert run("{ items { children { name } } }", max_depth=3)["errors"] == []


def test_too_many_aliases_are_refused() -> None:
    query = "{ " + " ".join(f"a{i}: items {{ name }}" for i in range(5)) + " }"
    body = run(query, max_aliases=4)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "aliases" in body["errors"][0]["message"]


def test_too_many_tokens_are_refused() -> None:
    query = "{ items { " + " ".join(["name"] * 200) + " } }"
    body = run(query, max_tokens=100)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "tokens" in body["errors"][0]["message"]


def test_first_over_the_page_size_is_refused_before_execution() -> None:
    calls.clear()
    body = run("{ items(first: 101) { name } }")
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "first: 101" in body["errors"][0]["message"]
    assert calls == []


def test_first_hidden_in_a_variable_or_fragment_is_refused() -> None:
    query = """
      query Q($n: Int!) { items { ...F } }
      fragment F on Item { children(first: $n) { name } }
    """
    body = run(query, {"n": 500})
    assert codes(body) == ["QUERY_TOO_COMPLEX"]


def test_first_at_the_page_size_is_served() -> None:
    assert run("{ items(first: 100) { name } }")["errors"] == []


def test_oversized_body_is_refused_with_413(client: TestClient, settings: Settings) -> None:
    padding = "x" * (settings.max_body_bytes + 1)
    response = client.post("/graphql", json={"query": "{ viewer { kind } }", "p": padding})
    assert response.status_code == 413
    assert codes(response.json()) == ["REQUEST_TOO_LARGE"]


def test_oversized_streamed_body_is_refused_with_413(
    client: TestClient, settings: Settings
) -> None:
    def chunks():
        yield b'{"query": "{ viewer { kind } }", "p": "'
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    response = client.post(
        "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert codes(response.json()) == ["REQUEST_TOO_LARGE"]


def test_malformed_query_gets_a_parse_error(client: TestClient) -> None:
    body = gql(client, "{ viewer { kind ", expect_errors=True)
    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]


def test_unknown_field_gets_a_validation_error(client: TestClient) -> None:
    body = gql(client, "{ viewer { nope } }", expect_errors=True)
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "nope" in body["errors"][0]["message"]


def test_limits_apply_over_http(client: TestClient) -> None:
    query = "{ " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(40)) + " }"
    body = gql(client, query, expect_errors=True)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
