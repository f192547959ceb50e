"""Reading a model or a pipeline follows the caller's access to the entity that claims it.

The gateway runs over a Backstage-shaped catalog holding the demo catalog,
whose permission policy keeps some entities from some users' tokens (the
gateway's own token sees everything), and over the demo's SageMaker registry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import yaml
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.catalog_files import catalog_texts
from resolvers.ids import encode_id
from tests.conftest import gql
from tests.resolvers.conftest import GATEWAY_TOKEN, Portal
from tests.support.fake_backstage import FakeBackstage
from tests.support.http_server import serve_app

CHURN = "resource:default/churn-model"


@pytest.fixture(scope="module")
def demo_backstage() -> Iterator[tuple[FakeBackstage, str]]:
    entities = [
        doc
        for text in catalog_texts().values()
        for doc in yaml.safe_load_all(text)
        if isinstance(doc, dict)
    ]
    fake = FakeBackstage(entities, tokens={GATEWAY_TOKEN})
    with serve_app(fake.app()) as base_url:
        yield fake, base_url


@dataclass
class Gateway:
    client: TestClient
    fake: FakeBackstage
    portal: Portal
    demo: DemoSummary

    def as_user(self, user: str, group: str, *, hidden: set[str] | None = None) -> dict[str, str]:
        """A portal user's token, which the catalog accepts and denies ``hidden`` to."""
        ref = f"user:default/{user}"
        token = self.portal.user_token(ref, [ref, f"group:default/{group}"])
        assert self.fake.tokens is not None
        self.fake.tokens.add(token)
        self.fake.hidden[token] = hidden or set()
        return {"Authorization": f"Bearer {token}"}

    def read(self, query: str, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
        data: dict[str, Any] = gql(self.client, query, variables, headers)["data"]
        return data


@pytest.fixture
def gateway(
    settings: Settings,
    demo_aws: DemoSummary,
    portal: Portal,
    demo_backstage: tuple[FakeBackstage, str],
) -> Iterator[Gateway]:
    fake, base_url = demo_backstage
    fake.reset()
    configured = settings.replace(
        catalog_backend="backstage", backstage_url=base_url, backstage_token=GATEWAY_TOKEN
    )
    with TestClient(create_app(configured)) as client:
        yield Gateway(client, fake, portal, demo_aws)
    fake.reset()


@pytest.fixture
def unclaimed(moto_endpoint: str) -> str:
    """A model with one version that no catalog entity claims."""
    sagemaker = boto3.client("sagemaker", endpoint_url=moto_endpoint, region_name="us-east-1")
    group = f"tunclaimed-{uuid.uuid4().hex[:10]}"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription="registered by hand, not in the catalog",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost:1",
                    "ModelDataUrl": f"s3://mlmeta-test-artifacts/{group}/v1/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    return group


MODEL = 'query { found: model(ref: "churn-model") { name } }'
VERSION = 'query { found: modelVersion(model: "churn-model", version: "3") { version } }'
NODE = "query ($id: ID!) { found: node(id: $id) { id } }"


def churn_reads(gateway: Gateway) -> dict[str, tuple[str, dict[str, Any]]]:
    """Three ways to reach churn-model: by name, a version by number, a version's node id."""
    version_3 = gateway.demo.model_package_arns["churn-model"][2]
    return {
        "model": (MODEL, {}),
        "modelVersion": (VERSION, {}),
        "node": (NODE, {"id": encode_id("ModelVersion", version_3)}),
    }


@pytest.mark.parametrize("read", ["model", "modelVersion", "node"])
def test_a_user_who_cannot_see_the_entity_gets_null(gateway: Gateway, read: str) -> None:
    carol = gateway.as_user("carol", "fraud-team", hidden={CHURN})
    query, variables = churn_reads(gateway)[read]
    assert gateway.read(query, carol, **variables)["found"] is None


@pytest.mark.parametrize("read", ["model", "modelVersion", "node"])
def test_a_user_who_can_see_the_entity_gets_it(gateway: Gateway, read: str) -> None:
    alice = gateway.as_user("alice", "ml-platform")
    query, variables = churn_reads(gateway)[read]
    assert gateway.read(query, alice, **variables)["found"] is not None


ENTITIES = """query ($representations: [_Any!]!) {
  found: _entities(representations: $representations) { ... on ModelVersion { version } } }"""


@pytest.mark.parametrize("key", ["id", "arn"])
def test_a_router_gets_a_version_only_for_a_user_who_can_see_its_entity(
    gateway: Gateway, key: str
) -> None:
    # Federation's _entities follows node's rules, however the router names the version.
    arn = gateway.demo.model_package_arns["churn-model"][2]
    value = encode_id("ModelVersion", arn) if key == "id" else arn
    representations = [{"__typename": "ModelVersion", key: value}]
    carol = gateway.as_user("carol", "fraud-team", hidden={CHURN})
    alice = gateway.as_user("alice", "ml-platform")
    assert gateway.read(ENTITIES, carol, representations=representations)["found"] == [None]
    assert gateway.read(ENTITIES, alice, representations=representations)["found"] == [
        {"version": "3"}
    ]


def test_visibility_is_asked_of_the_catalog_with_the_users_own_token(gateway: Gateway) -> None:
    carol = gateway.as_user("carol", "fraud-team", hidden={CHURN})
    gateway.read(MODEL, carol)
    asked = [r for r in gateway.fake.requests if r.path.endswith("/by-refs")]
    assert asked
    assert {r.token for r in asked} == {carol["Authorization"].removeprefix("Bearer ")}
    assert all(CHURN in r.body["entityRefs"] for r in asked)


def test_a_hidden_model_does_not_hide_the_models_the_user_can_see(gateway: Gateway) -> None:
    carol = gateway.as_user("carol", "fraud-team", hidden={CHURN})
    query = """query { churn: model(ref: "churn-model") { name }
      fraud: model(ref: "fraud-detector") { name latestVersion { version } } }"""
    data = gateway.read(query, carol)
    assert data["churn"] is None
    assert data["fraud"]["name"] == "fraud-detector"
    assert data["fraud"]["latestVersion"] is not None


def test_a_model_no_entity_claims_is_readable_by_any_authenticated_caller(
    gateway: Gateway, unclaimed: str
) -> None:
    carol = gateway.as_user("carol", "fraud-team", hidden={CHURN})
    query = """query ($ref: String!) { model(ref: $ref) { name entity { ref }
      versions(first: 5) { edges { node { version } } } } }"""
    model = gateway.read(query, carol, ref=unclaimed)["model"]
    assert model["name"] == unclaimed
    assert model["entity"] is None
    assert [e["node"]["version"] for e in model["versions"]["edges"]] == ["1"]


PIPELINE_ENTITY = "component:default/churn-training-pipeline"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:churn-training-pipeline"
PIPELINE_READS = {
    "arn": ("query ($arn: String!) { found: pipeline(ref: $arn) { name } }", {"arn": MACHINE}),
    "node": (NODE, {"id": encode_id("Pipeline", MACHINE)}),
}


@pytest.mark.parametrize("read", ["arn", "node"])
def test_a_pipeline_claimed_by_an_entity_the_user_cannot_see_is_null(
    gateway: Gateway, read: str
) -> None:
    carol = gateway.as_user("carol", "fraud-team", hidden={PIPELINE_ENTITY})
    query, variables = PIPELINE_READS[read]
    assert gateway.read(query, carol, **variables)["found"] is None


@pytest.mark.parametrize("read", ["arn", "node"])
def test_a_pipeline_claimed_by_an_entity_the_user_can_see_is_served(
    gateway: Gateway, read: str
) -> None:
    alice = gateway.as_user("alice", "ml-platform")
    query, variables = PIPELINE_READS[read]
    assert gateway.read(query, alice, **variables)["found"] is not None


LINEAGE = """query ($of: ID!) { lineage(of: $of, direction: DOWNSTREAM, depth: 4) {
  withheld nodeIds nodes { __typename } } }"""
SNAPSHOT = "s3://mlmeta-demo-datasets/churn/training/2026-11-01/train.csv"


def test_lineage_leaves_out_models_the_caller_may_not_read(gateway: Gateway) -> None:
    carol = gateway.as_user("carol", "fraud-team", hidden={CHURN})
    alice = gateway.as_user("alice", "ml-platform")
    dataset = encode_id("Dataset", SNAPSHOT)
    seen = gateway.read(LINEAGE, alice, of=dataset)["lineage"]
    kinds = {n["__typename"] for n in seen["nodes"]}
    assert {"PipelineExecution", "ModelVersion", "Deployment"} <= kinds
    assert seen["withheld"] == 0
    hidden = gateway.read(LINEAGE, carol, of=dataset)["lineage"]
    assert {n["__typename"] for n in hidden["nodes"]} == {"Dataset", "PipelineExecution"}
    assert hidden["withheld"] == len(seen["nodeIds"]) - len(hidden["nodeIds"]) > 0


def test_lineage_of_a_model_version_the_caller_may_not_read_is_not_found(
    gateway: Gateway,
) -> None:
    carol = gateway.as_user("carol", "fraud-team", hidden={CHURN})
    arn = gateway.demo.model_package_arns["churn-model"][2]
    body = gql(
        gateway.client, LINEAGE, {"of": encode_id("ModelVersion", arn)}, carol, expect_errors=True
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NotFoundError"]
