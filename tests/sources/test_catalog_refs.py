"""Entity refs are read as Backstage's parseEntityRef reads them, context included."""

from __future__ import annotations

import pytest

from sources.catalog.refs import EntityRef, owner_of, parse_ref, ref_in_entity
from sources.catalog.relations import compute_relations
from sources.errors import InputError


def entity(kind: str, name: str, namespace: str | None = None, **spec: object) -> dict:
    metadata: dict[str, object] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"kind": kind, "metadata": metadata, "spec": spec}


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("Component:Default/Churn", EntityRef("component", "default", "churn")),
        ("component:churn", EntityRef("component", "team-ns", "churn")),
        ("group:models/ml-team", EntityRef("group", "models", "ml-team")),
        ("models/ml-team", EntityRef("group", "models", "ml-team")),
        ("ml-team", EntityRef("group", "team-ns", "ml-team")),
    ],
)
def test_left_out_parts_come_from_the_context(ref: str, expected: EntityRef) -> None:
    assert parse_ref(ref, default_kind="group", default_namespace="team-ns") == expected


def test_without_a_default_kind_a_ref_must_name_its_kind() -> None:
    with pytest.raises(InputError, match=r"implies no kind.*'component:churn'"):
        parse_ref("churn", field="entity(ref:)")


def test_a_slash_before_the_colon_means_no_kind_as_in_backstage() -> None:
    # Backstage reads 'ns/na:me' as namespace 'ns' and name 'na:me' (no valid name here).
    with pytest.raises(InputError, match="invalid name"):
        parse_ref("ns/na:me", default_kind="group")


@pytest.mark.parametrize("ref", ["", "component:", "component:/x", ":x", "a:b/c/d"])
def test_empty_or_extra_parts_are_input_errors(ref: str) -> None:
    with pytest.raises(InputError):
        parse_ref(ref, default_kind="group")


def test_a_relative_owner_is_a_group_in_the_entitys_namespace() -> None:
    model = entity("Resource", "model-000", "models", owner="ml-team-3")
    assert owner_of(model) == "group:models/ml-team-3"


def test_an_owner_that_names_its_namespace_keeps_it() -> None:
    model = entity("Resource", "model-000", "models", owner="group:default/ml-team-3")
    assert owner_of(model) == "group:default/ml-team-3"


def test_an_entity_without_namespace_is_in_default() -> None:
    assert owner_of(entity("Component", "x", owner="User:Alice")) == "user:default/alice"


def test_a_malformed_ref_inside_an_entity_resolves_to_nothing() -> None:
    assert ref_in_entity(entity("Component", "x"), "bad ref!", "system") is None


def test_relations_of_a_folder_catalog_resolve_relative_refs_in_the_namespace() -> None:
    model = entity(
        "Resource",
        "model-000",
        "models",
        owner="ml-team-3",
        system="scoring",
        dependsOn=["component:trainer", "resource:default/data"],
    )
    entities = {EntityRef("resource", "models", "model-000"): model}
    compute_relations(entities)
    assert {(r["type"], r["targetRef"]) for r in model["relations"]} == {
        ("ownedBy", "group:models/ml-team-3"),
        ("partOf", "system:models/scoring"),
        ("dependsOn", "component:models/trainer"),
        ("dependsOn", "resource:default/data"),
    }
