"""What only a remote catalog can do: count calls, fail, and see tokens."""

from __future__ import annotations

import pytest

from resolvers.ids import encode_id
from tests.conftest import gql
from tests.resolvers.conftest import GATEWAY_TOKEN, CatalogUnderTest
from tests.support.catalog_data import DATASET_COUNT

WIDE = """query ($n: Int!) {
  entities(filter: {specType: ["dataset"]}, first: $n) {
    edges { node { name owner { ref title } relations { targetRef target { name } } } } } }"""


@pytest.mark.parametrize("n", [10, 50, 100])
def test_catalog_calls_do_not_grow_with_the_page(backstage: CatalogUnderTest, n: int) -> None:
    gql(backstage.client, WIDE, {"n": n})
    assert backstage.catalog_calls("by-query") == 1
    # owners at depth 2, relation targets at depth 3: one batch each
    assert backstage.catalog_calls("by-refs") <= 2


def test_nodes_of_100_ids_cost_one_batch(backstage: CatalogUnderTest) -> None:
    ids = [encode_id("CatalogEntity", f"resource:default/dataset-{i:03d}") for i in range(100)]
    data = gql(backstage.client, "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert [n["id"] for n in data["data"]["nodes"]] == ids
    assert backstage.catalog_calls("by-refs") == 1
    assert DATASET_COUNT >= 100


def test_principal_free_reads_use_the_gateway_service_token(backstage: CatalogUnderTest) -> None:
    gql(backstage.client, '{ entity(ref: "user:alice") { ref } }')
    assert backstage.fake is not None
    assert backstage.fake.tokens_seen() == [GATEWAY_TOKEN]


def test_failing_catalog_nulls_only_catalog_fields(backstage: CatalogUnderTest) -> None:
    assert backstage.fake is not None
    backstage.fake.fail(503)
    body = gql(
        backstage.client,
        '{ viewer { kind } entity(ref: "user:alice") { ref } }',
        expect_errors=True,
    )
    assert body["data"] == {"viewer": {"kind": "ANONYMOUS"}, "entity": None}
    [error] = body["errors"]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "source": "catalog"}
    assert error["path"] == ["entity"]
    assert GATEWAY_TOKEN not in str(body)
