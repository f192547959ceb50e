"""Who may write for an entity in a namespace of its own: its owner, resolved in that namespace.

The team's entities live in namespace ``models`` and say ``owner: ml-team-3``.
Backstage reads that as ``group:models/ml-team-3``; ``group:default/ml-team-3``
is another team that happens to share the name, and must not get their rights.
Checked over a catalog folder and over a Backstage-shaped catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from tests.conftest import codes, gql
from tests.resolvers.conftest import GATEWAY_TOKEN, Portal
from tests.support.catalog_data import as_yaml
from tests.support.fake_backstage import FakeBackstage
from tests.support.http_server import serve_app

OWNERS = "group:models/ml-team-3"
NAMESAKES = "group:default/ml-team-3"
PIPELINE_ENTITY = "component:models/churn-etl"


def _entity(
    kind: str, name: str, spec: dict[str, Any], namespace: str = "models", **metadata: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": spec,
    }


ENTITIES = [
    _entity("Group", "ml-team-3", {"type": "team", "children": []}),
    _entity("Group", "ml-team-3", {"type": "team", "children": []}, namespace="default"),
    _entity("Component", "churn-etl", {"type": "ml-pipeline", "owner": "ml-team-3"}),
    _entity(
        "Resource",
        "churn-model",
        {"type": "ml-model", "owner": "ml-team-3"},
        annotations={"mlmeta.io/model-package-group": "churn-model"},
    ),
]


@dataclass
class Gateway:
    client: TestClient
    portal: Portal
    fake: FakeBackstage | None

    def member_of(self, group: str) -> dict[str, str]:
        """A portal user in ``group``, whose token the catalog accepts."""
        user = "user:default/dana"
        token = self.portal.user_token(user, [user, group])
        if self.fake is not None and self.fake.tokens is not None:
            self.fake.tokens.add(token)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def team_backstage() -> Iterator[tuple[FakeBackstage, str]]:
    fake = FakeBackstage(ENTITIES, tokens={GATEWAY_TOKEN})
    with serve_app(fake.app()) as base_url:
        yield fake, base_url


@pytest.fixture(params=["folder", "backstage"])
def gateway(
    request: pytest.FixtureRequest,
    settings: Settings,
    tmp_path: Path,
    portal: Portal,
    demo_aws: DemoSummary,
    team_backstage: tuple[FakeBackstage, str],
) -> Iterator[Gateway]:
    fake: FakeBackstage | None = None
    if request.param == "folder":
        folder = tmp_path / "team-catalog"
        folder.mkdir()
        (folder / "catalog-info.yaml").write_text(as_yaml(ENTITIES))
        configured = settings.replace(catalog_folder=str(folder))
    else:
        fake, base_url = team_backstage
        fake.reset()
        configured = settings.replace(
            catalog_backend="backstage", backstage_url=base_url, backstage_token=GATEWAY_TOKEN
        )
    with TestClient(create_app(configured)) as client:
        yield Gateway(client, portal, fake)


RECORD = """mutation ($input: RecordRunInput!) { recordRun(input: $input) { id } }"""


def record_run(gateway: Gateway, headers: dict[str, str]) -> dict[str, Any]:
    run = {
        "pipeline": "churn-etl",
        "runId": "r-1",
        "status": "RUNNING",
        "startedAt": "2026-11-23T10:00:00Z",
        "entityRef": PIPELINE_ENTITY,
    }
    return gql(gateway.client, RECORD, {"input": run}, headers, expect_errors=True)


def test_a_member_of_the_owning_group_in_the_entitys_namespace_records_runs(
    gateway: Gateway,
) -> None:
    body = record_run(gateway, gateway.member_of(OWNERS))
    assert "errors" not in body, body
    assert body["data"]["recordRun"]["id"]


def test_a_member_of_the_same_named_group_in_default_may_not_record_runs(
    gateway: Gateway,
) -> None:
    body = record_run(gateway, gateway.member_of(NAMESAKES))
    assert codes(body) == ["NotAllowedError"]


EDIT = """mutation ($input: ModelCardInput!) { upsertModelCard(input: $input) { revision } }"""
VERSION = """{ modelVersion(model: "resource:models/churn-model", version: "1") { id } }"""


def edit_card(gateway: Gateway, headers: dict[str, str]) -> dict[str, Any]:
    version = gql(gateway.client, VERSION, headers=headers)["data"]["modelVersion"]
    edit = {"modelVersionId": version["id"], "baseRevision": 0, "overview": "by the team"}
    return gql(gateway.client, EDIT, {"input": edit}, headers, expect_errors=True)


def test_a_member_of_the_owning_group_in_the_entitys_namespace_edits_cards(
    gateway: Gateway,
) -> None:
    body = edit_card(gateway, gateway.member_of(OWNERS))
    assert "errors" not in body, body
    assert body["data"]["upsertModelCard"]["revision"] == 1


def test_a_member_of_the_same_named_group_in_default_may_not_edit_cards(
    gateway: Gateway,
) -> None:
    body = edit_card(gateway, gateway.member_of(NAMESAKES))
    assert codes(body) == ["NotAllowedError"]
