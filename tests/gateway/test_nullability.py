"""The schema keeps the nullability rule: what needs an upstream may be null.

A failing upstream nulls the nearest nullable field on the path to it (GraphQL
spec, "Handling Field Errors"). These tests hold the schema to the table of
which field needs which upstream (``gateway.upstreams``), and that table to the
other two places that know: the cost weights and the resolvers themselves.
"""

from __future__ import annotations

import inspect

import pytest
from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_nullable_type,
    is_non_null_type,
)

from gateway.config import Settings
from gateway.limits.weights import WEIGHTS
from gateway.schema import build_schema
from gateway.upstreams import IN_HAND, UPSTREAMS

SCHEMA = build_schema(Settings())
GRAPHQL = SCHEMA._schema


def field(key: str) -> GraphQLField:
    type_name, name = key.split(".")
    owner = GRAPHQL.get_type(type_name)
    assert isinstance(owner, GraphQLObjectType), f"{type_name} is no object type"
    assert name in owner.fields, f"{key} is not a field of the schema"
    return owner.fields[name]


def object_fields() -> list[tuple[str, str]]:
    """(Type.field, the Strawberry field's Python name) for every field of our types."""
    found = []
    for definition in SCHEMA.schema_converter.type_map.values():
        strawberry_type = definition.definition
        for strawberry_field in getattr(strawberry_type, "fields", []):
            graphql_name = SCHEMA.config.name_converter.get_graphql_name(strawberry_field)
            found.append((f"{strawberry_type.name}.{graphql_name}", strawberry_field))
    return found


@pytest.mark.parametrize("key", sorted(k for k, u in UPSTREAMS.items() if not u.answers))
def test_a_field_that_needs_an_upstream_is_nullable(key: str) -> None:
    assert not is_non_null_type(field(key).type), f"{key} needs {UPSTREAMS[key].sources}"


@pytest.mark.parametrize("key", sorted(k for k, u in UPSTREAMS.items() if u.items))
def test_items_looked_up_one_by_one_are_nullable(key: str) -> None:
    listed = get_nullable_type(field(key).type)
    assert isinstance(listed, GraphQLList), f"{key} is not a list"
    assert not isinstance(listed.of_type, GraphQLNonNull), f"{key}'s items fail alone"


@pytest.mark.parametrize("key", sorted(k for k, u in UPSTREAMS.items() if u.answers))
def test_a_field_that_always_answers_is_listed_with_its_reason(key: str) -> None:
    # Non-null is allowed, not required; what matters is that the field exists and
    # that its description tells the reader a source may be missing from it.
    assert "one failing is reported" in (field(key).description or "")


@pytest.mark.parametrize("key", sorted(k for k, u in UPSTREAMS.items() if u.partial))
def test_a_field_answering_without_a_failed_source_says_which(key: str) -> None:
    upstream = UPSTREAMS[key]
    assert set(upstream.partial.split("|")) <= set(upstream.sources.split("|"))
    assert "the field answers without its part" in (field(key).description or "")


def test_every_field_weighted_for_upstream_work_is_in_the_table() -> None:
    weighted = {k for k, cost in WEIGHTS.items() if cost.weight > 0}
    assert weighted - UPSTREAMS.keys() - IN_HAND.keys() == set()


def test_every_async_resolver_is_in_the_table() -> None:
    # An async resolver awaits something: a loader, a source. A new one must say which.
    unlisted = {
        key
        for key, strawberry_field in object_fields()
        if strawberry_field.base_resolver is not None
        and inspect.iscoroutinefunction(strawberry_field.base_resolver.wrapped_func)
        and key not in UPSTREAMS
        and key not in IN_HAND
    }
    assert unlisted == set()


def test_the_table_names_only_fields_of_the_schema() -> None:
    for key in [*UPSTREAMS, *IN_HAND]:
        field(key)


def test_values_computed_from_data_in_hand_stay_non_null() -> None:
    # The point of the rule: a Step's name, an entity's id are there or the parent is not.
    for key in ["StepExecution.name", "CatalogEntity.name", "CatalogEntity.id", "Pipeline.graph"]:
        assert is_non_null_type(field(key).type), key


def test_each_listed_field_names_its_sources_in_its_description() -> None:
    description = field("PipelineExecution.steps").description or ""
    assert "Sources: stepfunctions, sagemaker, metadb (null if one fails)." in description
