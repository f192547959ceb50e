"""Authentication at the endpoint: before anything executes, for HTTP and websockets."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from gateway.config import Settings
from tests.conftest import SERVICE_TOKEN, codes, gql
from tests.gateway.test_auth import ISSUER, FakePortal, ec_key, mint
from tests.support.http_server import serve_app


@pytest.fixture
def strict_client(settings: Settings):
    with TestClient(create_app(settings.replace(allow_anonymous=False))) as client:
        yield client


def test_missing_token_is_401_when_anonymous_is_off(strict_client: TestClient) -> None:
    response = strict_client.post("/graphql", json={"query": "{ viewer { kind } }"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert codes(response.json()) == ["AuthenticationError"]


def test_bad_token_is_401_even_when_anonymous_is_on(client: TestClient) -> None:
    headers = {"Authorization": "Bearer not-a-token"}
    response = client.post("/graphql", json={"query": "{ viewer { kind } }"}, headers=headers)
    assert response.status_code == 401
    assert codes(response.json()) == ["AuthenticationError"]


def test_service_token_is_a_service_principal(strict_client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    data = gql(strict_client, "{ viewer { subject kind user { ref } } }", headers=headers)
    assert data["data"]["viewer"] == {"subject": "ci-bot", "kind": "SERVICE", "user": None}


def test_graphiql_page_needs_no_token(strict_client: TestClient) -> None:
    response = strict_client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200


def test_probes_and_sdl_need_no_token(strict_client: TestClient) -> None:
    assert strict_client.get("/healthz").status_code == 200
    assert strict_client.get("/schema.graphql").status_code == 200


def _ws_init(client: TestClient, payload: dict[str, str] | None) -> dict:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": payload or {}})
        return ws.receive_json()


def test_websocket_accepts_a_token_in_connection_init(strict_client: TestClient) -> None:
    message = _ws_init(strict_client, {"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert message["type"] == "connection_ack"


def test_websocket_without_token_is_rejected(strict_client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        _ws_init(strict_client, None)
    assert closed.value.code == 4403


def test_backstage_user_token_gives_the_user_and_their_ownership(settings: Settings) -> None:
    key = ec_key("k1")
    portal = FakePortal(keys=[key])
    with serve_app(portal.app()) as base:
        strict = settings.replace(
            allow_anonymous=False,
            jwks_url=f"{base}/api/auth/.well-known/jwks.json",
            userinfo_url=f"{base}/api/auth/v1/userinfo",
        )
        with TestClient(create_app(strict)) as client:
            token = mint(key, iss=ISSUER, ent=["group:default/ml-platform"])
            headers = {"Authorization": f"Bearer {token}"}
            query = "{ viewer { subject kind ownershipRefs user { ref title } } }"
            viewer = gql(client, query, headers=headers)["data"]["viewer"]
            expired = mint(key, exp=int(time.time()) - 3600)
            response = client.post(
                "/graphql",
                json={"query": query},
                headers={"Authorization": f"Bearer {expired}"},
            )
    assert viewer["subject"] == "user:default/alice"
    assert viewer["kind"] == "USER"
    assert "group:default/ml-platform" in viewer["ownershipRefs"]
    assert viewer["user"] == {"ref": "user:default/alice", "title": None}
    assert response.status_code == 401
    assert codes(response.json()) == ["AuthenticationError"]
    assert "expired" in response.json()["errors"][0]["message"]
