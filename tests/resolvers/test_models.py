"""Models, versions, deployments and cards over the demo's SageMaker registry (moto)."""

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
from gateway.demo.catalog_files import write_catalog
from tests.conftest import SERVICE_TOKEN, WRITER_TOKEN, codes, gql
from tests.resolvers.conftest import Portal
from tests.support.aws_calls import CountingClient

CHURN = "resource:default/churn-model"
GROUP_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn-model"


@dataclass
class Registry:
    client: TestClient
    sagemaker: CountingClient
    portal: Portal

    def as_user(self, user: str, groups: list[str]) -> dict[str, str]:
        token = self.portal.user_token(f"user:default/{user}", [f"user:default/{user}", *groups])
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def registry(
    settings: Settings, tmp_path: Path, demo_aws: DemoSummary, portal: Portal
) -> Iterator[Registry]:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    app = create_app(settings.replace(catalog_folder=str(folder)))
    with TestClient(app) as client:
        resources = app.state.resources
        counting = CountingClient(resources.models.registry._client)
        resources.models.registry._client = counting
        yield Registry(client, counting, portal)


def versions(registry: Registry, **variables: Any) -> dict[str, Any]:
    query = """query ($ref: String!, $first: Int!, $after: String, $status: ApprovalStatus) {
      model(ref: $ref) { name arn versions(first: $first, after: $after, status: $status) {
        edges { cursor node { version status createdAt } }
        pageInfo { hasNextPage endCursor } } } }"""
    return gql(registry.client, query, {"ref": CHURN, "first": 10, **variables})["data"]["model"]


def version_id(registry: Registry, number: int) -> str:
    query = """query ($n: String!) { modelVersion(model: "churn-model", version: $n) { id } }"""
    found = gql(registry.client, query, {"n": str(number)})["data"]["modelVersion"]
    assert found is not None
    return str(found["id"])


# The demo registers versions 1-4; a live demo run (other tests) may add pending ones.
SEEDED = [
    ("4", "PENDING_MANUAL_APPROVAL"),
    ("3", "APPROVED"),
    ("2", "REJECTED"),
    ("1", "APPROVED"),
]


def test_a_catalog_entity_opens_its_model_with_versions_newest_first(registry: Registry) -> None:
    model = versions(registry)
    assert (model["name"], model["arn"]) == ("churn-model", GROUP_ARN)
    listed = [(e["node"]["version"], e["node"]["status"]) for e in model["versions"]["edges"]]
    assert listed[-4:] == SEEDED
    numbers = [int(v) for v, _ in listed]
    assert numbers == sorted(numbers, reverse=True)


def test_version_pages_list_each_version_once(registry: Registry) -> None:
    seen: list[str] = []
    after = None
    while True:
        page = versions(registry, first=3, after=after)["versions"]
        seen += [e["node"]["version"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [e["node"]["version"] for e in versions(registry)["versions"]["edges"]]
    assert seen[-4:] == ["4", "3", "2", "1"]


def test_an_edge_cursor_resumes_right_after_its_version(registry: Registry) -> None:
    edges = versions(registry)["versions"]["edges"]
    resumed = versions(registry, first=2, after=edges[1]["cursor"])["versions"]["edges"]
    assert [e["node"]["version"] for e in resumed] == [e["node"]["version"] for e in edges[2:4]]


def test_models_list_the_registry_and_their_cursors_resume(registry: Registry) -> None:
    query = """query ($after: String) { models(first: 100, after: $after) {
      edges { cursor node { name } } pageInfo { hasNextPage } } }"""
    edges = gql(registry.client, query)["data"]["models"]["edges"]
    names = [e["node"]["name"] for e in edges]
    assert {"churn-model", "fraud-detector"} <= set(names)
    after = gql(registry.client, query, {"after": edges[0]["cursor"]})["data"]["models"]
    assert [e["node"]["name"] for e in after["edges"]] == names[1:]


def test_the_status_filter_keeps_only_those_decisions(registry: Registry) -> None:
    listed = versions(registry, status="APPROVED")["versions"]["edges"]
    assert [e["node"]["version"] for e in listed] == ["3", "1"]


@pytest.mark.parametrize("status", [None, "APPROVED", "REJECTED", "PENDING_MANUAL_APPROVAL"])
def test_latest_version_honours_the_approval_filter(registry: Registry, status: str | None) -> None:
    listed = [e["node"] for e in versions(registry)["versions"]["edges"]]
    expected = next(v["version"] for v in listed if status in (None, v["status"]))
    query = """query ($status: ApprovalStatus) {
      model(ref: "churn-model") { latestVersion(status: $status) { version } } }"""
    data = gql(registry.client, query, {"status": status})["data"]
    assert data["model"]["latestVersion"]["version"] == expected
    if status == "APPROVED":
        assert expected == "3"


def test_the_entity_page_shows_the_production_version_card_and_deployment(
    registry: Registry,
) -> None:
    query = """query ($ref: String!) { entity(ref: $ref) { model {
      latestVersion(status: APPROVED) { version artifactUri
        trainedBy { name status pipeline { name } }
        metrics { name value }
        deployments { name endpointName environment status modelVersion { version } }
        card { source status revision markdown } } } } }"""
    version = gql(registry.client, query, {"ref": CHURN})["data"]["entity"]["model"][
        "latestVersion"
    ]
    assert version["version"] == "3"
    assert version["artifactUri"].endswith("/output/model.tar.gz")
    assert version["trainedBy"] == {
        "name": "tuned-600-rounds",
        "status": "SUCCEEDED",
        "pipeline": {"name": "churn-training-pipeline"},
    }
    assert {m["name"] for m in version["metrics"]} == {"auc", "f1"}
    assert version["deployments"] == [
        {
            "name": "churn-model-prod",
            "endpointName": "churn-model-prod",
            "environment": "production",
            "status": "InService",
            "modelVersion": {"version": "3"},
        }
    ]
    card = version["card"]
    assert (card["source"], card["status"], card["revision"]) == ("sagemaker", "APPROVED", 2)
    assert card["markdown"].startswith("# ")


def test_a_sagemaker_card_keeps_its_versions_as_history(registry: Registry) -> None:
    query = """query { modelVersion(model: "churn-model", version: "3") {
      cards { source name revision history { revision status completeness } } } }"""
    cards = gql(registry.client, query)["data"]["modelVersion"]["cards"]
    assert [(c["source"], c["name"]) for c in cards] == [("sagemaker", "churn-model-v3")]
    history = cards[0]["history"]
    assert [(h["revision"], h["status"]) for h in history] == [(2, "APPROVED"), (1, "DRAFT")]
    assert "ethicalConsiderations" in history[1]["completeness"]
    assert "ethicalConsiderations" not in history[0]["completeness"]


def test_a_version_without_a_card_gets_a_prefilled_draft(registry: Registry) -> None:
    query = """query { modelVersion(model: "churn-model", version: "2") {
      cards { source }
      card { source revision saved status overview owners evaluation { metric value dataset }
             trainingData { uri } completeness } } }"""
    version = gql(registry.client, query)["data"]["modelVersion"]
    assert version["cards"] == []
    card = version["card"]
    assert (card["source"], card["revision"], card["saved"], card["status"]) == (
        "mlmeta",
        0,
        False,
        "DRAFT",
    )
    assert card["owners"] == ["group:default/ml-platform"]
    assert "deeper-trees" in card["overview"]
    registered = {e["metric"] for e in card["evaluation"] if e["dataset"] != "training run"}
    assert registered == {"auc", "f1"}
    uris = [d["uri"] for d in card["trainingData"]]
    assert uris[0].startswith("s3://mlmeta-demo-datasets/churn/training/2026-11-01/")
    assert "s3://mlmeta-demo-artifacts/churn/preprocessed/deeper-trees" in uris  # its job's input
    assert {"intendedUse", "caveats", "ethicalConsiderations"} <= set(card["completeness"])
    assert "owners" not in card["completeness"]


EDIT = """mutation ($input: ModelCardInput!) { upsertModelCard(input: $input) {
  source revision status updatedBy caveats intendedUse { primaryUses } completeness
  history { revision } } }"""


def test_an_owner_edits_a_card_and_every_save_is_a_revision(registry: Registry) -> None:
    alice = registry.as_user("alice", ["group:default/ml-platform"])
    target = version_id(registry, 2)
    first = {
        "modelVersionId": target,
        "baseRevision": 0,
        "intendedUse": {"primaryUses": ["Rank subscribers by churn risk"]},
        "caveats": ["Rejected: overfits short-tenure customers."],
    }
    saved = gql(registry.client, EDIT, {"input": first}, alice)["data"]["upsertModelCard"]
    assert (saved["source"], saved["revision"], saved["status"]) == ("mlmeta", 1, "DRAFT")
    assert saved["updatedBy"] == "user:default/alice"
    assert "intendedUse" not in saved["completeness"]
    second = {"modelVersionId": target, "baseRevision": 1, "status": "PENDING_REVIEW"}
    saved = gql(registry.client, EDIT, {"input": second}, alice)["data"]["upsertModelCard"]
    assert (saved["revision"], saved["status"]) == (2, "PENDING_REVIEW")
    assert saved["caveats"] == ["Rejected: overfits short-tenure customers."]
    assert [h["revision"] for h in saved["history"]] == [2, 1]


def test_a_stale_base_revision_is_a_conflict_and_loses_nothing(registry: Registry) -> None:
    writer = {"Authorization": f"Bearer {WRITER_TOKEN}"}
    target = version_id(registry, 4)
    edit = {"modelVersionId": target, "baseRevision": 0, "overview": "first writer"}
    gql(registry.client, EDIT, {"input": edit}, writer)
    late = {"modelVersionId": target, "baseRevision": 0, "overview": "second writer"}
    body = gql(registry.client, EDIT, {"input": late}, writer, expect_errors=True)
    assert codes(body) == ["ConflictError"]
    query = """query { modelVersion(model: "churn-model", version: "4") {
      card { revision overview history { revision } } } }"""
    card = gql(registry.client, query)["data"]["modelVersion"]["card"]
    assert (card["revision"], card["overview"]) == (1, "first writer")
    assert [h["revision"] for h in card["history"]] == [1]


@pytest.mark.parametrize(
    "who",
    ["bob of fraud-team", "a read-only service token", "anonymous"],
)
def test_only_owners_and_writing_services_edit_cards(registry: Registry, who: str) -> None:
    headers = {
        "bob of fraud-team": registry.as_user("bob", ["group:default/fraud-team"]),
        "a read-only service token": {"Authorization": f"Bearer {SERVICE_TOKEN}"},
        "anonymous": {},
    }[who]
    target = version_id(registry, 1)
    edit = {"modelVersionId": target, "baseRevision": 0, "overview": "hijacked"}
    body = gql(registry.client, EDIT, {"input": edit}, headers, expect_errors=True)
    assert codes(body) == ["NotAllowedError"]
    query = """query { modelVersion(model: "churn-model", version: "1") { cards { source } } }"""
    cards = gql(registry.client, query)["data"]["modelVersion"]["cards"]
    assert [c["source"] for c in cards] == ["sagemaker"]


def test_malformed_card_input_is_refused_with_its_path(registry: Registry) -> None:
    writer = {"Authorization": f"Bearer {WRITER_TOKEN}"}
    edit = {
        "modelVersionId": version_id(registry, 2),
        "evaluation": [{"metric": "auc", "value": "high"}],
    }
    body = gql(registry.client, EDIT, {"input": edit}, writer, expect_errors=True)
    assert codes(body) == ["InputError"]
    assert "evaluation[0].value" in body["errors"][0]["message"]


def test_cards_export_to_other_tools(registry: Registry) -> None:
    query = """query { modelVersion(model: "churn-model", version: "3") {
      card { modelCardToolkit sagemakerContent } } }"""
    card = gql(registry.client, query)["data"]["modelVersion"]["card"]
    assert card["modelCardToolkit"]["model_details"]["name"] == "churn-model"
    content = card["sagemakerContent"]
    assert content["model_package_details"]["model_package_version"] == 3
    assert content["model_overview"]["model_name"] == "churn-model-v3"


def test_a_second_read_of_versions_describes_nothing_again(registry: Registry) -> None:
    query = """query { model(ref: "churn-model") { versions(first: 10) {
      edges { node { metrics { name } trainedBy { id } } } } } }"""
    listed = gql(registry.client, query)["data"]["model"]["versions"]["edges"]
    assert registry.sagemaker.calls["describe_model_package"] == len(listed)
    registry.sagemaker.calls.clear()
    gql(registry.client, query)
    assert registry.sagemaker.calls["describe_model_package"] == 0


def test_ids_resolve_back_through_node(registry: Registry) -> None:
    query = """query { model(ref: "churn-model") { id latestVersion(status: APPROVED) {
      id deployments { id } card { id } } } }"""
    model = gql(registry.client, query)["data"]["model"]
    version = model["latestVersion"]
    ids = [model["id"], version["id"], version["deployments"][0]["id"], version["card"]["id"]]
    nodes = gql(
        registry.client,
        "query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
        {"ids": ids},
    )["data"]["nodes"]
    assert [n["__typename"] for n in nodes] == ["Model", "ModelVersion", "Deployment", "ModelCard"]
    assert [n["id"] for n in nodes] == ids


def test_an_unknown_model_is_null_and_a_bad_version_is_an_input_error(registry: Registry) -> None:
    data = gql(registry.client, 'query { model(ref: "no-such-model") { name } }')["data"]
    assert data["model"] is None
    body = gql(
        registry.client,
        'query { modelVersion(model: "churn-model", version: "three") { id } }',
        expect_errors=True,
    )
    assert codes(body) == ["InputError"]


def test_a_version_says_who_decided_on_it_and_why(registry: Registry) -> None:
    query = """query { modelVersion(model: "churn-model", version: "2") {
      approval { status description decidedAt } } }"""
    approval = gql(registry.client, query)["data"]["modelVersion"]["approval"]
    assert approval["status"] == "REJECTED"
    assert approval["description"].startswith("Recall on customers with tenure < 6 months")
    assert approval["decidedAt"] is not None


IMPORT = """mutation ($input: ImportModelCardInput!) { importModelCard(input: $input) {
  source revision status overview intendedUse { primaryUses } evaluation { metric value } } }"""


@pytest.mark.parametrize(
    ("format_", "field"),
    [("SAGEMAKER", "sagemakerContent"), ("MODEL_CARD_TOOLKIT", "modelCardToolkit")],
)
def test_a_card_from_another_tool_becomes_an_mlmeta_revision(
    registry: Registry, format_: str, field: str
) -> None:
    query = f"""query {{ modelVersion(model: "churn-model", version: "3") {{
      card {{ overview {field} }} }} }}"""
    card = gql(registry.client, query)["data"]["modelVersion"]["card"]
    edit = {
        "modelVersionId": version_id(registry, 2),
        "format": format_,
        "content": card[field],
        "baseRevision": 0,
    }
    writer = {"Authorization": f"Bearer {WRITER_TOKEN}"}
    saved = gql(registry.client, IMPORT, {"input": edit}, writer)["data"]["importModelCard"]
    assert (saved["source"], saved["revision"], saved["status"]) == ("mlmeta", 1, "DRAFT")
    assert saved["overview"] == card["overview"]
    assert saved["intendedUse"]["primaryUses"]
    assert {"auc", "f1"} <= {e["metric"] for e in saved["evaluation"]}


def test_importing_something_that_is_not_a_card_is_refused(registry: Registry) -> None:
    edit = {"modelVersionId": version_id(registry, 2), "format": "SAGEMAKER", "content": [1]}
    writer = {"Authorization": f"Bearer {WRITER_TOKEN}"}
    body = gql(registry.client, IMPORT, {"input": edit}, writer, expect_errors=True)
    assert codes(body) == ["InputError"]
