"""The process: start-up and shutdown, routes, probes and the SDL."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.schema import build_schema
from tests.conftest import codes, gql

REPO = Path(__file__).resolve().parents[2]


def test_lifespan_opens_clients_once_and_closes_them(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        resources = app.state.resources
        assert not resources.http.is_closed
        client.get("/healthz")
        assert app.state.resources is resources
    assert resources.http.is_closed


def test_graphiql_is_served_to_browsers(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_queries_are_served_over_post_and_get(client: TestClient) -> None:
    assert gql(client, "{ viewer { kind } }")["data"] == {"viewer": {"kind": "ANONYMOUS"}}
    response = client.get("/graphql", params={"query": "{ viewer { subject } }"})
    assert response.json()["data"] == {"viewer": {"subject": "anonymous"}}


def test_healthz_answers_without_asking_any_source(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_every_configured_source(client: TestClient) -> None:
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert set(body["sources"]) == {"metadb", "catalog", "stepfunctions", "sagemaker"}
    assert all(s["healthy"] and s["error"] is None for s in body["sources"].values())


def test_readyz_is_503_and_names_the_failing_source_unless_only_others_are_required(
    settings: Settings, tmp_path: Path
) -> None:
    broken = settings.replace(
        catalog_folder=str(tmp_path / "missing"), aws_endpoint_url="http://127.0.0.1:9"
    )
    with TestClient(create_app(broken)) as client:
        response = client.get("/readyz")
        # A load balancer's probe names what a replica cannot serve without.
        required = client.get("/readyz?require=metadb")
        also_aws = client.get("/readyz?require=metadb,stepfunctions")
        unknown = client.get("/readyz?require=metadb,redis")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unready"
    assert body["sources"]["metadb"]["healthy"] is True
    for name in ("catalog", "stepfunctions", "sagemaker"):
        assert body["sources"][name]["healthy"] is False
        assert body["sources"][name]["error"]
    assert required.status_code == 200
    assert required.json()["sources"] == body["sources"]  # the others are still listed
    assert also_aws.status_code == 503
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["extensions"]["code"] == "InputError"


def test_sources_query_reports_health_in_graphql(client: TestClient) -> None:
    data = gql(client, "{ sources { name healthy latencyMs lastError checkedAt } }")["data"]
    by_name = {s["name"]: s for s in data["sources"]}
    assert by_name["metadb"]["healthy"] is True
    assert by_name["metadb"]["checkedAt"].endswith("+00:00")


def test_sdl_endpoint_serves_the_schema(client: TestClient, settings: Settings) -> None:
    response = client.get("/schema.graphql")
    assert response.status_code == 200
    assert response.text == str(build_schema(settings))


def test_committed_schema_graphql_matches_the_code() -> None:
    exported = str(build_schema(Settings())) + "\n"
    committed = (REPO / "schema.graphql").read_text()
    assert committed == exported, (
        "schema.graphql is stale: run `mlmeta export-schema -o schema.graphql`"
    )


def test_viewer_user_resolves_through_the_catalog(client: TestClient) -> None:
    # Anonymous has no user entity; the service path is covered in test_http_auth.
    data = gql(client, "{ viewer { subject kind ownershipRefs user { ref } } }")["data"]
    assert data["viewer"] == {
        "subject": "anonymous",
        "kind": "ANONYMOUS",
        "ownershipRefs": [],
        "user": None,
    }


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_non_json_posts_are_refused_so_forms_cannot_forge_requests(
    client: TestClient, content_type: str
) -> None:
    response = client.post(
        "/graphql",
        content='{"query": "{ viewer { kind } }"}',
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


def test_invalid_json_is_a_bad_request(client: TestClient) -> None:
    response = client.post(
        "/graphql", content="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


def test_mutations_are_refused_over_get(client: TestClient) -> None:
    # GraphQL over HTTP: 405, and POST is the method that works.
    response = client.get("/graphql", params={"query": "mutation { noop }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert codes(response.json()) == ["BAD_REQUEST"]
