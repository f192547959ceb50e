"""GraphQL over HTTP: media types, status codes, and coded errors on every transport."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from gateway.graphql_http import GRAPHQL_RESPONSE_JSON, JSON, preferred_media_type
from tests.conftest import codes

MODERN = {"Accept": "application/graphql-response+json, application/json;q=0.9"}
LEGACY = {"Accept": "application/json"}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json;q=0.5", JSON),
        ("application/graphql-response+json;q=0", JSON),
    ],
)
def test_the_response_media_type_follows_accept(accept: str | None, expected: str) -> None:
    assert preferred_media_type(accept) == expected


def test_a_successful_query_is_200_in_the_preferred_media_type(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ __typename }"}, headers=MODERN)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", "variables": {}},
            "InputError",
        ),
    ],
    ids=["parse", "validation", "variable coercion"],
)
def test_request_errors_are_400_without_data_for_graphql_response_json(
    client: TestClient, body: dict[str, object], code: str
) -> None:
    modern = client.post("/graphql", json=body, headers=MODERN)
    legacy = client.post("/graphql", json=body, headers=LEGACY)
    assert modern.status_code == 400
    assert "data" not in modern.json()
    assert codes(modern.json()) == [code]
    # application/json clients keep the behaviour they were written for.
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json"
    assert legacy.json()["data"] is None
    assert codes(legacy.json()) == [code]


def test_field_errors_stay_200_with_data(client: TestClient) -> None:
    response = client.post(
        "/graphql", json={"query": '{ nodes(ids: ["x"]) { id } }'}, headers=MODERN
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"nodes": [None]}
    assert codes(response.json()) == ["InputError"]


def test_a_mutation_over_get_is_405_pointing_at_post(client: TestClient) -> None:
    response = client.get("/graphql", params={"query": "mutation { __typename }"}, headers=MODERN)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert codes(response.json()) == ["BAD_REQUEST"]


def test_deeply_nested_json_is_a_coded_400(client: TestClient) -> None:
    depth = 10_000
    body = '{"query": "{ __typename }", "variables": {"a": ' + "[" * depth + "]" * depth + "}}"
    response = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


def test_a_bad_token_is_401_in_the_preferred_media_type(client: TestClient) -> None:
    response = client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={**MODERN, "Authorization": "Bearer nonsense"},
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert "data" not in response.json()
    assert codes(response.json()) == ["AuthenticationError"]


def test_websocket_errors_carry_codes_like_http_ones(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        ws.receive_json()
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ nope }"}})
        invalid = ws.receive_json()
        query = '{ nodes(ids: ["x"]) { id } }'
        ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": query}})
        failing_field = ws.receive_json()
    assert invalid["type"] == "error"
    assert [e["extensions"]["code"] for e in invalid["payload"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert failing_field["type"] == "next"
    assert [e["extensions"]["code"] for e in failing_field["payload"]["errors"]] == ["InputError"]
