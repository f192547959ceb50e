"""mlmeta as a federation subgraph: ``_entities`` answers a router like ``node`` answers a client.

A router sends ``_entities(representations: [...])`` with one representation per
object another subgraph returned: ``{__typename, id}`` or a natural key
(``ref`` of a CatalogEntity, ``arn`` of a ModelVersion or PipelineExecution).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.cli import main
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.catalog_files import write_catalog
from gateway.federation import FederatedSchema
from gateway.schema import build_schema
from resolvers.ids import encode_id
from tests.conftest import codes, gql
from tests.resolvers.conftest import CatalogUnderTest
from tests.support.aws_calls import CountingClient

ENTITIES = """query ($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on CatalogEntity { id ref title }
    ... on ModelVersion { id arn version }
    ... on PipelineExecution { id runArn: arn status }
  } }"""
PIPELINE = "component:default/churn-training-pipeline"


def entities(client: TestClient, representations: list[dict[str, Any]]) -> list[Any]:
    body = gql(client, ENTITIES, {"representations": representations})
    found: list[Any] = body["data"]["_entities"]
    return found


def test_an_entity_by_ref_is_the_object_node_returns(client: TestClient) -> None:
    node = gql(
        client,
        "query ($id: ID!) { node(id: $id) { ... on CatalogEntity { id ref title } } }",
        {"id": encode_id("CatalogEntity", PIPELINE)},
    )["data"]["node"]
    [by_ref, by_id] = entities(
        client,
        [
            {"__typename": "CatalogEntity", "ref": PIPELINE},
            {"__typename": "CatalogEntity", "id": node["id"]},
        ],
    )
    assert by_ref == by_id == {"__typename": "CatalogEntity", **node}


def test_an_unknown_key_is_null_like_an_unknown_node(client: TestClient) -> None:
    found = entities(client, [{"__typename": "CatalogEntity", "ref": "component:default/nope"}])
    assert found == [None]


def test_a_representation_without_a_key_fails_alone(client: TestClient) -> None:
    body = gql(
        client,
        ENTITIES,
        {
            "representations": [
                {"__typename": "CatalogEntity", "name": "churn-training-pipeline"},
                {"__typename": "CatalogEntity", "ref": PIPELINE},
                {"__typename": "ModelVersion", "id": encode_id("CatalogEntity", PIPELINE)},
            ]
        },
        expect_errors=True,
    )
    first, second, third = body["data"]["_entities"]
    assert first is None
    assert third is None
    assert second["ref"] == PIPELINE
    assert codes(body) == ["InputError", "InputError"]
    assert [e["path"] for e in body["errors"]] == [["_entities", 0], ["_entities", 2]]


def test_a_router_batch_of_100_entities_costs_one_catalog_call(
    backstage: CatalogUnderTest,
) -> None:
    refs = [f"resource:default/dataset-{i:03d}" for i in range(100)]
    # Half by natural key, half by id: one batch all the same.
    representations = [
        {"__typename": "CatalogEntity", "ref": ref}
        if i % 2
        else {"__typename": "CatalogEntity", "id": encode_id("CatalogEntity", ref)}
        for i, ref in enumerate(refs)
    ]
    found = entities(backstage.client, representations)
    assert [e["ref"] for e in found] == refs
    assert backstage.catalog_calls("by-refs") == 1


@pytest.fixture
def registry_gateway(
    settings: Settings, tmp_path: Path, demo_aws: DemoSummary
) -> Callable[[], Iterator[tuple[TestClient, CountingClient]]]:
    """A fresh gateway over the demo's registry (nothing cached), counting SageMaker calls."""
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)

    def start() -> Iterator[tuple[TestClient, CountingClient]]:
        app = create_app(settings.replace(catalog_folder=str(folder)))
        with TestClient(app) as client:
            counting = CountingClient(app.state.resources.models.registry._client)
            app.state.resources.models.registry._client = counting
            yield client, counting

    return start


def test_versions_by_arn_cost_what_the_same_nodes_cost(
    registry_gateway: Callable[[], Iterator[tuple[TestClient, CountingClient]]],
    demo_aws: DemoSummary,
) -> None:
    # moto lacks BatchDescribeModelPackage, so the registry falls back to one describe
    # per ARN here (one batch per 100 on AWS); what matters is that a router pays no
    # more than `nodes` does, through the same loader.
    arns = demo_aws.model_package_arns["churn-model"]
    ids = [encode_id("ModelVersion", a) for a in arns]
    calls = []
    for client, sagemaker in registry_gateway():
        found = entities(client, [{"__typename": "ModelVersion", "arn": a} for a in arns])
        assert [v["arn"] for v in found] == arns
        calls.append(sagemaker.calls.copy())
    for client, sagemaker in registry_gateway():
        nodes = gql(client, "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
        assert [n["id"] for n in nodes["data"]["nodes"]] == ids
        calls.append(sagemaker.calls.copy())
    by_entities, by_nodes = calls
    assert by_entities == by_nodes


def test_a_run_by_arn_is_the_run_node_returns(client: TestClient, demo_aws: DemoSummary) -> None:
    arn = demo_aws.executions[0].arn
    node = gql(
        client,
        "query ($id: ID!) { node(id: $id) { ... on PipelineExecution { id status } } }",
        {"id": encode_id("PipelineExecution", arn)},
    )["data"]["node"]
    [found] = entities(client, [{"__typename": "PipelineExecution", "arn": arn}])
    assert found == {"__typename": "PipelineExecution", "runArn": arn, **node}


def test_a_router_batch_is_costed_per_representation(client: TestClient) -> None:
    heavy = """query ($representations: [_Any!]!) {
      _entities(representations: $representations) {
        ... on CatalogEntity { pipeline { executions(first: 50) { edges { node {
          steps { name } } } } } } } }"""
    representations = [{"__typename": "CatalogEntity", "ref": PIPELINE}] * 200
    body = gql(client, heavy, {"representations": representations}, expect_errors=True)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "data" not in body or body["data"] is None


def test_service_sdl_is_the_subgraph_schema(client: TestClient, settings: Settings) -> None:
    schema = build_schema(settings)
    assert isinstance(schema, FederatedSchema)
    sdl = gql(client, "{ _service { sdl } }")["data"]["_service"]["sdl"]
    assert sdl == schema.subgraph_sdl()
    assert '@link(url: "https://specs.apollo.dev/federation/v2.11", import: ["@key"])' in sdl
    assert 'type CatalogEntity implements Node @key(fields: "id") @key(fields: "ref")' in sdl


def test_the_clients_sdl_has_no_federation_directives(settings: Settings) -> None:
    # /schema.graphql and schema.graphql: what Backstage's API viewer and codegen read.
    sdl = str(build_schema(settings))
    assert "@key" not in sdl
    assert "@link" not in sdl
    assert "type CatalogEntity implements Node {" in sdl


def test_without_federation_the_schema_is_plain(settings: Settings) -> None:
    plain = settings.replace(federation=False)
    sdl = str(build_schema(plain))
    assert "@key" not in sdl
    assert "@link" not in sdl
    assert "_entities" not in sdl
    with TestClient(create_app(plain)) as client:
        body = gql(client, "{ _service { sdl } }", expect_errors=True)
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


def test_export_schema_prints_the_subgraph_sdl_for_rover(tmp_path: Path) -> None:
    out = tmp_path / "mlmeta.graphql"
    assert main(["export-schema", "--subgraph", "-o", str(out)]) == 0
    assert out.read_text().startswith('schema @link(url: "https://specs.apollo.dev/federation/')
