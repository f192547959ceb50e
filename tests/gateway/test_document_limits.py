"""Oversized documents are refused before validation, in work linear in their text.

Each attack from issue #13 is refused with QUERY_TOO_COMPLEX and its numbers,
over HTTP and over graphql-transport-ws. That the work is bounded is asserted by
counting (selections measured, graphql-core validations run), never by timing.
"""

from __future__ import annotations

from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import (
    DocumentNode,
    FieldNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)
from starlette.testclient import TestClient

from gateway.limits.document import measure
from tests.conftest import codes, gql


def doubling(levels: int, root: str = "Query", leaf: str = "viewer { subject }") -> str:
    """F(n) spreads F(n-1) twice: under 1 KB, 2 x 2^levels fields once expanded."""
    fragments = [f"fragment F0 on {root} {{ {leaf} }}"]
    fragments += [
        f"fragment F{i} on {root} {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    ]
    return " ".join(fragments)


FRAGMENT_DOUBLING = doubling(24) + " { ...F24 }"
REPEATED_FIELDS = "{ " + " ".join(["viewer { subject }"] * 980) + " }"


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every graphql-core validation Strawberry runs, counted."""
    calls: list[object] = []
    original = strawberry_schema.validate

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting)
    return calls


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    assert codes(body) == ["QUERY_TOO_COMPLEX"], body
    extensions: dict[str, Any] = body["errors"][0]["extensions"]
    return extensions


def test_fragment_doubling_is_counted_not_expanded() -> None:
    measures = measure(parse(FRAGMENT_DOUBLING))
    assert measures.expanded == 2**25
    assert (measures.fragments, measures.spreads) == (25, 49)
    # Each selection written is visited once: 24 doubling fragments, F0, the operation.
    assert measures.steps == measures.selections == 2 * 24 + 2 + 1


def test_fragment_doubling_is_refused_before_validation(
    client: TestClient, validations: list[object]
) -> None:
    assert len(FRAGMENT_DOUBLING) < 1000
    body = gql(client, FRAGMENT_DOUBLING, expect_errors=True)
    assert error_of(body) == {
        "code": "QUERY_TOO_COMPLEX",
        "measure": "expanded",
        "limit": 2000,
        "actual": 2**25,
    }
    assert body["data"] is None
    assert validations == []


def test_repeated_fields_are_refused_before_the_quadratic_validation(
    client: TestClient, validations: list[object]
) -> None:
    body = gql(client, REPEATED_FIELDS, expect_errors=True)
    assert error_of(body) == {
        "code": "QUERY_TOO_COMPLEX",
        "measure": "selections",
        "limit": 300,
        "actual": 1960,
    }
    assert validations == []


def test_a_document_within_the_limits_is_validated_once(
    client: TestClient, validations: list[object]
) -> None:
    gql(client, doubling(5) + " { ...F5 }")
    assert len(validations) == 1


def test_aliases_are_counted_where_their_fragment_is_spread(client: TestClient) -> None:
    fragment = "fragment A on Query { " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(10))
    body = gql(client, fragment + " } { ...A ... on Query { ...A ...A ...A } }", expect_errors=True)
    assert error_of(body) == {
        "code": "QUERY_TOO_COMPLEX",
        "measure": "aliases",
        "limit": 30,
        "actual": 40,
    }


def test_depth_is_counted_through_fragments(client: TestClient) -> None:
    # entity and four owners: 5 levels; Deep adds 8 where it is spread.
    query = """
      fragment Deep on CatalogEntity {
        owner { owner { owner { owner { owner { owner { owner { owner { ref } } } } } } } }
      }
      { entity(ref: "group:ml-platform") { owner { owner { owner { owner { ...Deep } } } } } }
    """
    extensions = error_of(gql(client, query, expect_errors=True))
    assert (extensions["measure"], extensions["actual"], extensions["limit"]) == ("depth", 13, 12)


def test_a_fragment_cycle_ends_the_walk_and_fails_validation(client: TestClient) -> None:
    query = "fragment A on Query { viewer { kind } ...B } fragment B on Query { ...A } { ...A }"
    assert measure(parse(query)).expanded == 1 + 1  # the operation's spread of A, A's field
    assert codes(gql(client, query, expect_errors=True)) == ["GRAPHQL_VALIDATION_FAILED"]


def test_a_deeply_nested_document_is_measured_without_recursion() -> None:
    # Deeper than graphql-core's parser allows and than Python's recursion limit.
    inner = SelectionSetNode(selections=(FieldNode(name=NameNode(value="b")),))
    for _ in range(5000):
        inner = SelectionSetNode(
            selections=(FieldNode(name=NameNode(value="a"), selection_set=inner),)
        )
    operation = OperationDefinitionNode(operation=OperationType.QUERY, selection_set=inner)
    assert measure(DocumentNode(definitions=(operation,))).depth == 5000


def test_introspection_is_not_counted_in_depth(client: TestClient) -> None:
    query = "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }"
    assert measure(parse(query)).depth == 0
    gql(client, query)


def subscribe(client: TestClient, query: str) -> dict[str, Any]:
    """Send one operation over graphql-transport-ws; return the first answer to it."""
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": query}})
        message: dict[str, Any] = ws.receive_json()
        ws.send_json({"type": "complete", "id": "1"})
        return message


def test_fragment_doubling_is_refused_over_the_websocket(
    client: TestClient, validations: list[object]
) -> None:
    query = doubling(24, "Subscription", 'executionUpdated(executionId: "x") { id }')
    message = subscribe(client, query + " subscription { ...F24 }")
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "measure": "expanded",
        "limit": 2000,
        "actual": 2**25,
    }
    assert validations == []


def test_repeated_fields_are_refused_over_the_websocket(
    client: TestClient, validations: list[object]
) -> None:
    message = subscribe(client, REPEATED_FIELDS)
    assert message["type"] in ("error", "next")
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["measure"] == "selections"
    assert validations == []
