"""mlmeta in a supergraph, with Apollo's real composition and gateway from npm.

A "team" subgraph (``team.py``) extends mlmeta's ``CatalogEntity`` by ``ref``
with on-call data and lists each team's services by ref. Composition must accept
both with no error and no hint of a mistake; a gateway over the result must
answer a query that needs both, through mlmeta's real HTTP endpoint (uvicorn),
with the caller's token forwarded to mlmeta.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.catalog_files import write_catalog
from tests.conftest import SERVICE_TOKEN
from tests.federation import team
from tests.federation.harness import Composition, Subgraph, compose, run_router
from tests.gateway.test_auth import FakePortal, SigningKey, ec_key, mint
from tests.support.http_server import serve_app

SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


@dataclass
class Supergraph:
    mlmeta: Subgraph
    team: Subgraph
    composition: Composition
    key: SigningKey
    workdir: Path

    def user_token(self, user: str) -> str:
        ref = f"user:default/{user}"
        return mint(self.key, sub=ref, ent=[ref, "group:default/ml-platform"])


def subgraph_sdl(url: str, headers: dict[str, str] | None = None) -> str:
    response = httpx.post(url, json={"query": "{ _service { sdl } }"}, headers=headers)
    response.raise_for_status()
    sdl: str = response.json()["data"]["_service"]["sdl"]
    return sdl


@pytest.fixture
def supergraph(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Iterator[Supergraph]:
    key = ec_key("portal-key")
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    with serve_app(FakePortal(keys=[key]).app()) as portal_url:
        configured = settings.replace(
            catalog_folder=str(folder),
            allow_anonymous=False,  # what a router sends must carry a token
            jwks_url=f"{portal_url}/api/auth/.well-known/jwks.json",
        )
        with serve_app(create_app(configured)) as mlmeta_url, serve_app(team.app()) as team_url:
            mlmeta = Subgraph("mlmeta", f"{mlmeta_url}/graphql", "")
            teams = Subgraph("team", f"{team_url}/graphql", "")
            mlmeta = Subgraph(mlmeta.name, mlmeta.url, subgraph_sdl(mlmeta.url, SERVICE))
            teams = Subgraph(teams.name, teams.url, subgraph_sdl(teams.url))
            yield Supergraph(mlmeta, teams, compose([mlmeta, teams]), key, tmp_path)


def test_mlmeta_and_a_team_subgraph_compose_with_no_error_and_no_hint(
    supergraph: Supergraph,
) -> None:
    assert supergraph.composition.errors == []
    assert supergraph.composition.hints == []
    sdl = supergraph.composition.supergraph_sdl or ""
    assert 'join__type(graph: MLMETA, key: "ref")' in sdl
    assert 'join__type(graph: TEAM, key: "ref")' in sdl


CROSSING = """query TeamPage {
  viewer { subject }
  team(name: "ml-platform") {
    services { ref title onCall { primary } pipeline { name } }
  }
  entity(ref: "component:default/churn-training-pipeline") {
    title onCall { primary escalation }
  }
}"""


def through_router(supergraph: Supergraph, headers: dict[str, str]) -> dict[str, Any]:
    assert supergraph.composition.supergraph_sdl is not None
    with run_router(supergraph.composition.supergraph_sdl, supergraph.workdir) as router:
        response = httpx.post(router, json={"query": CROSSING}, headers=headers, timeout=30)
    body: dict[str, Any] = response.json()
    return body


def test_a_query_through_the_router_crosses_both_subgraphs_as_the_user(
    supergraph: Supergraph,
) -> None:
    token = supergraph.user_token("alice")
    body = through_router(supergraph, {"Authorization": f"Bearer {token}"})
    assert "errors" not in body, body["errors"]
    data = body["data"]
    # mlmeta saw the user's own token, forwarded by the router.
    assert data["viewer"] == {"subject": "user:default/alice"}
    # Team -> mlmeta: the team's refs resolved by mlmeta's _entities.
    services = data["team"]["services"]
    assert [s["ref"] for s in services] == [team.PIPELINE, team.SCORING]
    assert services[0]["title"]
    assert services[0]["pipeline"]["name"]
    assert [s["onCall"]["primary"] for s in services] == ["alice", "bob"]
    # mlmeta -> team: mlmeta's entity extended with the team's on-call data.
    assert data["entity"]["onCall"] == {"primary": "alice", "escalation": ["bob", "carol"]}


def test_without_a_token_the_router_gets_mlmetas_authentication_error(
    supergraph: Supergraph,
) -> None:
    body = through_router(supergraph, {})
    assert body.get("data") is None or body["data"].get("viewer") is None
    assert "AuthenticationError" in str(body["errors"])
