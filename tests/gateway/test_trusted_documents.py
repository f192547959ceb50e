"""Trusted documents: Apollo's automatic persisted queries, and the enforce mode."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from sources.metadb.documents import DocumentStore
from tests.conftest import SERVICE_TOKEN, codes
from tests.gateway.test_auth import ISSUER, FakePortal, ec_key, mint
from tests.support.http_server import serve_app

QUERY = "query Viewer { viewer { kind } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def persisted(sha256: str = HASH) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


def by_hash(client: TestClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.post("/graphql", json={"extensions": persisted()}, headers=headers or {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def with_text(client: TestClient, query: str = QUERY, **extra: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(body: dict[str, Any]) -> object:
    """The data of a response that must have no errors (other keys, e.g. cost, vary)."""
    assert "errors" not in body, body["errors"]
    return body["data"]


def registered(client: TestClient) -> list[str]:
    store = DocumentStore(client.app.state.resources.metadb)  # type: ignore[attr-defined]
    return [d.sha256 for d in client.portal.call(store.list)]  # type: ignore[union-attr]


@pytest.fixture
def apq(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.replace(trusted_documents="apq"))) as client:
        yield client


@pytest.fixture
def enforce(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.replace(trusted_documents="enforce"))) as client:
        yield client


def test_apq_miss_then_register_then_hash_only_runs(apq: TestClient) -> None:
    # What an Apollo client does: hash first, then hash and document after a miss.
    miss = by_hash(apq)
    assert miss["errors"][0]["message"] == "PersistedQueryNotFound"
    assert codes(miss) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert data(with_text(apq, extensions=persisted())) == {"viewer": {"kind": "ANONYMOUS"}}
    assert data(by_hash(apq)) == {"viewer": {"kind": "ANONYMOUS"}}
    assert registered(apq) == [HASH]


def test_apq_works_over_get_as_apollo_sends_it(apq: TestClient) -> None:
    with_text(apq, extensions=persisted())
    response = apq.get("/graphql", params={"extensions": json.dumps(persisted())})
    assert data(response.json()) == {"viewer": {"kind": "ANONYMOUS"}}


def test_apq_refuses_a_hash_that_is_not_the_documents(apq: TestClient) -> None:
    body = with_text(apq, extensions=persisted("0" * 64))
    assert codes(body) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert registered(apq) == []


def test_apq_does_not_register_invalid_documents(apq: TestClient) -> None:
    invalid = "{ nope }"
    body = with_text(apq, invalid, extensions=persisted(hashlib.sha256(b"{ nope }").hexdigest()))
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert registered(apq) == []


def test_apq_refuses_a_malformed_persisted_query(apq: TestClient) -> None:
    body = by_hash_version_2 = apq.post(
        "/graphql", json={"extensions": {"persistedQuery": {"version": 2, "sha256Hash": HASH}}}
    ).json()
    assert codes(by_hash_version_2) == ["BAD_REQUEST"]
    assert "data" in body


def test_with_apq_off_a_hash_alone_is_not_supported(client: TestClient) -> None:
    # Apollo clients then stop sending hashes and send documents in full.
    body = by_hash(client)
    assert body["errors"][0]["message"] == "PersistedQueryNotSupported"
    assert codes(body) == ["PERSISTED_QUERY_NOT_SUPPORTED"]
    assert data(with_text(client, extensions=persisted())) == {"viewer": {"kind": "ANONYMOUS"}}


def test_enforce_refuses_unregistered_documents_and_registration(enforce: TestClient) -> None:
    assert codes(with_text(enforce)) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert codes(with_text(enforce, extensions=persisted())) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert codes(by_hash(enforce)) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert registered(enforce) == []


def test_enforce_runs_registered_documents_by_hash_or_exact_text(enforce: TestClient) -> None:
    store = DocumentStore(enforce.app.state.resources.metadb)  # type: ignore[attr-defined]
    enforce.portal.call(lambda: store.add([QUERY], source="cli"))  # type: ignore[union-attr]
    expected = {"viewer": {"kind": "ANONYMOUS"}}
    assert data(by_hash(enforce)) == expected
    assert data(with_text(enforce)) == expected
    assert codes(with_text(enforce, QUERY + " ")) == ["PERSISTED_QUERY_NOT_ALLOWED"]


def test_enforce_lets_service_tokens_send_free_documents(enforce: TestClient) -> None:
    response = enforce.post("/graphql", json={"query": "{ viewer { kind } }"}, headers=SERVICE)
    assert data(response.json()) == {"viewer": {"kind": "SERVICE"}}
    assert registered(enforce) == []


def test_enforce_without_allowances_refuses_service_tokens(settings: Settings) -> None:
    strict = settings.replace(trusted_documents="enforce", trusted_documents_allow=())
    with TestClient(create_app(strict)) as client:
        response = client.post("/graphql", json={"query": QUERY}, headers=SERVICE)
    assert codes(response.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]


def test_graphiql_allowance_is_for_signed_in_users_only(settings: Settings) -> None:
    key = ec_key("k1")
    with serve_app(FakePortal(keys=[key]).app()) as base:
        allowing = settings.replace(
            trusted_documents="enforce",
            trusted_documents_allow=("graphiql",),
            jwks_url=f"{base}/api/auth/.well-known/jwks.json",
            userinfo_url=f"{base}/api/auth/v1/userinfo",
        )
        user = {"Authorization": f"Bearer {mint(key, iss=ISSUER)}"}
        graphiql = {"X-Mlmeta-Client": "graphiql"}
        with TestClient(create_app(allowing)) as client:
            page = client.get("/graphql", headers={"Accept": "text/html"}).text
            as_user = client.post("/graphql", json={"query": QUERY}, headers=user | graphiql)
            plain_user = client.post("/graphql", json={"query": QUERY}, headers=user)
            anonymous = client.post("/graphql", json={"query": QUERY}, headers=graphiql)
    assert '"x-mlmeta-client": "graphiql"' in page  # the page names itself
    assert data(as_user.json()) == {"viewer": {"kind": "USER"}}
    assert codes(plain_user.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert codes(anonymous.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]


def test_enforce_holds_over_websockets_too(enforce: TestClient) -> None:
    with enforce.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": QUERY}})
        refused = ws.receive_json()
        ws.send_json({"id": "2", "type": "subscribe", "payload": {"extensions": persisted()}})
        missing = ws.receive_json()
    assert refused["type"] == "error"
    assert [e["extensions"]["code"] for e in refused["payload"]] == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert [e["extensions"]["code"] for e in missing["payload"]] == ["PERSISTED_QUERY_NOT_FOUND"]


def test_websocket_runs_a_registered_document_by_hash(enforce: TestClient) -> None:
    store = DocumentStore(enforce.app.state.resources.metadb)  # type: ignore[attr-defined]
    enforce.portal.call(lambda: store.add([QUERY], source="cli"))  # type: ignore[union-attr]
    with enforce.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        ws.receive_json()
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"extensions": persisted()}})
        result = ws.receive_json()
    assert (result["id"], result["type"]) == ("1", "next")
    assert data(result["payload"]) == {"viewer": {"kind": "ANONYMOUS"}}
