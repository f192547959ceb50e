"""`viewer`: who is asking, their user entity and what they own."""

from __future__ import annotations

import pytest

from tests.conftest import SERVICE_TOKEN, gql
from tests.resolvers.conftest import CatalogUnderTest, Portal
from tests.support.catalog_data import DATASET_COUNT

VIEWER = """{ viewer { subject kind ownershipRefs user { ref }
  ownedEntities(first: 100) { totalCount edges { node { ref } } } } }"""


def test_user_viewer_sees_their_entity_and_what_they_own(
    catalog: CatalogUnderTest, portal: Portal
) -> None:
    if catalog.kind == "real-backstage":
        pytest.skip("a real Backstage trusts only its own signing keys, not the test portal's")
    token = portal.user_token("user:default/alice", ["group:default/fraud-team"])
    if catalog.fake is not None and catalog.fake.tokens is not None:
        catalog.fake.tokens.add(token)  # the portal accepts its own user's token
    viewer = gql(catalog.client, VIEWER, headers={"Authorization": f"Bearer {token}"})
    viewer = viewer["data"]["viewer"]
    assert viewer["subject"] == "user:default/alice"
    assert viewer["kind"] == "USER"
    assert viewer["user"] == {"ref": "user:default/alice"}
    assert set(viewer["ownershipRefs"]) == {"user:default/alice", "group:default/fraud-team"}
    owned = {e["node"]["ref"] for e in viewer["ownedEntities"]["edges"]}
    assert "resource:default/churn-model" in owned
    assert viewer["ownedEntities"]["totalCount"] == DATASET_COUNT // 2 + 1


def test_user_token_is_forwarded_to_the_portal(backstage: CatalogUnderTest, portal: Portal) -> None:
    token = portal.user_token("user:default/bob", ["group:default/fraud-team"])
    assert backstage.fake is not None
    assert backstage.fake.tokens is not None
    backstage.fake.tokens.add(token)
    gql(
        backstage.client,
        '{ entity(ref: "user:bob") { ref } }',
        headers={"Authorization": f"Bearer {token}"},
    )
    assert backstage.fake.tokens_seen() == [token]


def test_a_user_the_portal_refuses_sees_an_authentication_error(
    backstage: CatalogUnderTest, portal: Portal
) -> None:
    token = portal.user_token("user:default/mallory", [])
    body = gql(
        backstage.client,
        '{ entity(ref: "user:bob") { ref } }',
        headers={"Authorization": f"Bearer {token}"},
        expect_errors=True,
    )
    assert body["data"] == {"entity": None}
    assert body["errors"][0]["extensions"] == {"code": "AuthenticationError", "source": "catalog"}


def test_service_viewer_owns_nothing(catalog: CatalogUnderTest) -> None:
    viewer = gql(catalog.client, VIEWER, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert viewer["data"]["viewer"] == {
        "subject": "ci-bot",
        "kind": "SERVICE",
        "ownershipRefs": [],
        "user": None,
        "ownedEntities": {"totalCount": 0, "edges": []},
    }
