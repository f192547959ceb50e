"""Catalog behaviour through GraphQL, the same for every catalog source."""

from __future__ import annotations

import pytest

from resolvers.ids import encode_id
from tests.conftest import codes, gql
from tests.resolvers.conftest import CatalogUnderTest
from tests.support.catalog_data import DATASET_COUNT, NAMESPACED_MODEL, PIPELINE_ARN

PIPELINE = "component:default/churn-training-pipeline"

ENTITY_PAGE = """
query ($ref: String!) {
  entity(ref: $ref) {
    id ref kind namespace name title description specType lifecycle tags
    labels { key value } links { url title icon }
    arn: annotation(key: "mlmeta.io/step-functions-arn")
    missing: annotation(key: "nope")
    owner { ref title } system { ref description }
    relations(type: "dependsOn") { type targetRef target { name specType } }
  }
}
"""


def test_entity_is_the_backstage_envelope_flattened(catalog: CatalogUnderTest) -> None:
    entity = gql(catalog.client, ENTITY_PAGE, {"ref": PIPELINE})["data"]["entity"]
    assert entity["id"] == encode_id("CatalogEntity", PIPELINE)
    assert entity["ref"] == PIPELINE
    assert (entity["kind"], entity["namespace"], entity["name"]) == (
        "Component",
        "default",
        "churn-training-pipeline",
    )
    assert entity["title"] == "Churn training pipeline"
    assert (entity["specType"], entity["lifecycle"]) == ("ml-pipeline", "production")
    assert entity["tags"] == ["ml", "churn"]
    assert entity["labels"] == [{"key": "tier", "value": "gold"}]
    assert entity["links"] == [
        {"url": "https://runbooks.example.com/churn", "title": "Runbook", "icon": None}
    ]
    assert (entity["arn"], entity["missing"]) == (PIPELINE_ARN, None)


def test_owner_system_and_relation_targets_resolve(catalog: CatalogUnderTest) -> None:
    entity = gql(catalog.client, ENTITY_PAGE, {"ref": PIPELINE})["data"]["entity"]
    # the spec says 'Group:Default/ML-Platform': refs are case-insensitive
    assert entity["owner"] == {"ref": "group:default/ml-platform", "title": "ML Platform"}
    assert entity["system"] == {
        "ref": "system:default/customer-intelligence",
        "description": "Churn and fraud models",
    }
    assert entity["relations"] == [
        {
            "type": "dependsOn",
            "targetRef": "resource:default/dataset-000",
            "target": {"name": "dataset-000", "specType": "dataset"},
        }
    ]


def test_refs_are_case_insensitive(catalog: CatalogUnderTest) -> None:
    data = gql(catalog.client, ENTITY_PAGE, {"ref": "Component:Default/Churn-Training-Pipeline"})
    assert data["data"]["entity"]["ref"] == PIPELINE


def test_reverse_relations_are_computed(catalog: CatalogUnderTest) -> None:
    query = """{ entity(ref: "group:ml-platform") {
        members: relations(type: "hasMember") { targetRef }
        children: relations(type: "parentOf") { target { name } } } }"""
    entity = gql(catalog.client, query)["data"]["entity"]
    assert {"targetRef": "user:default/alice"} in entity["members"]
    assert entity["children"] == [{"target": {"name": "fraud-team"}}]


def test_unknown_ref_is_null(catalog: CatalogUnderTest) -> None:
    data = gql(catalog.client, '{ entity(ref: "component:default/nope") { ref } }')
    assert data["data"] == {"entity": None}


NAMESPACED = """query ($ref: String!) { entity(ref: $ref) {
    owner { ref title } system { ref }
    ownedBy: relations(type: "ownedBy") { targetRef }
    partOf: relations(type: "partOf") { targetRef } } }"""


def test_relative_refs_in_a_namespaced_entity_mean_its_own_namespace(
    catalog: CatalogUnderTest,
) -> None:
    entity = gql(catalog.client, NAMESPACED, {"ref": NAMESPACED_MODEL})["data"]["entity"]
    # spec.owner is 'ml-team-3': the team in 'models', not the one of that name in 'default'
    assert entity["owner"] == {"ref": "group:models/ml-team-3", "title": "ML team 3"}
    assert entity["system"] == {"ref": "system:models/scoring"}


def test_owner_and_system_are_the_refs_the_catalog_relates(catalog: CatalogUnderTest) -> None:
    # Over the real Backstage the relations are Backstage's own: mlmeta must agree with them.
    entity = gql(catalog.client, NAMESPACED, {"ref": NAMESPACED_MODEL})["data"]["entity"]
    assert entity["ownedBy"] == [{"targetRef": entity["owner"]["ref"]}]
    assert entity["partOf"] == [{"targetRef": entity["system"]["ref"]}]


def test_a_ref_without_kind_is_an_input_error_that_suggests_one(
    catalog: CatalogUnderTest,
) -> None:
    body = gql(
        catalog.client, '{ entity(ref: "churn-training-pipeline") { ref } }', expect_errors=True
    )
    assert codes(body) == ["InputError"]
    message = body["errors"][0]["message"]
    assert "entity(ref:) implies no kind" in message
    assert "'component:churn-training-pipeline'" in message


def test_malformed_ref_is_an_input_error_and_the_rest_is_served(
    catalog: CatalogUnderTest,
) -> None:
    query = '{ bad: entity(ref: "no kind here") { ref } good: entity(ref: "user:alice") { ref } }'
    body = gql(catalog.client, query, expect_errors=True)
    assert codes(body) == ["InputError"]
    assert body["data"] == {"bad": None, "good": {"ref": "user:default/alice"}}


def test_a_kind_nobody_special_cases_is_served(catalog: CatalogUnderTest) -> None:
    query = "query ($ref: String!) { entity(ref: $ref) { kind owner { name } } }"
    ref = f"{catalog.unknown_kind.lower()}:churn-experiments"
    entity = gql(catalog.client, query, {"ref": ref})["data"]["entity"]
    assert entity == {"kind": catalog.unknown_kind, "owner": {"name": "ml-platform"}}


@pytest.mark.parametrize(
    ("entity_filter", "expected_total"),
    [
        ({"kind": ["Component"]}, 1),
        ({"kind": ["component", "system"]}, 3),
        ({"specType": ["dataset"]}, DATASET_COUNT),
        ({"kind": ["Resource"], "specType": ["ml-model", "ml-pipeline"]}, 2),
        ({"specType": ["dataset"], "owner": "fraud-team"}, DATASET_COUNT // 2),
        ({"tag": "ml"}, 2),
        ({"text": "churn"}, 4),
    ],
)
def test_entities_filter(
    catalog: CatalogUnderTest, entity_filter: dict[str, object], expected_total: int
) -> None:
    query = """query ($f: EntityFilter) {
      entities(filter: $f, first: 100) { totalCount edges { node { ref } } } }"""
    connection = gql(catalog.client, query, {"f": entity_filter})["data"]["entities"]
    assert connection["totalCount"] == expected_total
    assert len(connection["edges"]) == min(expected_total, 100)


def test_pagination_round_trip_sees_every_entity_once(catalog: CatalogUnderTest) -> None:
    query = """query ($after: String) {
      entities(filter: {specType: ["dataset"]}, first: 50, after: $after) {
        edges { cursor node { name } }
        pageInfo { hasNextPage hasPreviousPage endCursor } } }"""
    names: list[str] = []
    after = None
    pages = 0
    while True:
        connection = gql(catalog.client, query, {"after": after})["data"]["entities"]
        pages += 1
        names += [e["node"]["name"] for e in connection["edges"]]
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert pages == 3
    assert names == sorted(names)
    assert names == [f"dataset-{i:03d}" for i in range(DATASET_COUNT)]


def test_an_edge_cursor_resumes_right_after_its_edge(catalog: CatalogUnderTest) -> None:
    query = """query ($after: String) {
      entities(filter: {specType: ["dataset"]}, first: 5, after: $after) {
        edges { cursor node { name } } } }"""
    first_page = gql(catalog.client, query)["data"]["entities"]["edges"]
    resumed = gql(catalog.client, query, {"after": first_page[1]["cursor"]})
    names = [e["node"]["name"] for e in resumed["data"]["entities"]["edges"]]
    assert names == [f"dataset-{i:03d}" for i in range(2, 7)]


def test_a_foreign_cursor_is_an_input_error(catalog: CatalogUnderTest) -> None:
    body = gql(
        catalog.client, '{ entities(after: "not-a-cursor") { totalCount } }', expect_errors=True
    )
    assert codes(body) == ["InputError"]


def test_first_below_one_is_an_input_error(catalog: CatalogUnderTest) -> None:
    body = gql(catalog.client, "{ entities(first: 0) { totalCount } }", expect_errors=True)
    assert codes(body) == ["InputError"]


def test_entity_facets_count_values(catalog: CatalogUnderTest) -> None:
    query = '{ entityFacets(facet: "spec.type", filter: {kind: ["Resource", "Component"]}) '
    query += "{ value count } }"
    facets = gql(catalog.client, query)["data"]["entityFacets"]
    assert {"value": "dataset", "count": DATASET_COUNT} in facets
    assert {"value": "ml-pipeline", "count": 1} in facets
    assert {"value": "ml-model", "count": 2} in facets


def test_node_round_trips_a_global_id(catalog: CatalogUnderTest) -> None:
    query = """query ($id: ID!) { node(id: $id) { id ... on CatalogEntity { ref } } }"""
    node_id = encode_id("CatalogEntity", PIPELINE)
    assert gql(catalog.client, query, {"id": node_id})["data"]["node"] == {
        "id": node_id,
        "ref": PIPELINE,
    }


def test_nodes_null_only_the_bad_id(catalog: CatalogUnderTest) -> None:
    ids = [encode_id("CatalogEntity", PIPELINE), "garbage!", encode_id("Nope", "x")]
    query = "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    body = gql(catalog.client, query, {"ids": ids}, expect_errors=True)
    assert body["data"]["nodes"] == [{"id": ids[0]}, None, None]
    assert codes(body) == ["InputError", "InputError"]
    assert sorted(e["path"][1] for e in body["errors"]) == [1, 2]
