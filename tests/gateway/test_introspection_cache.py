"""A repeated introspection query is answered from memory, and still costed and charged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from graphql import GraphQLObjectType, get_introspection_query
from starlette.testclient import TestClient

from gateway.limits.cost import SCHEMA_INTROSPECTION_COST
from tests.conftest import gql

INTROSPECTION = get_introspection_query(descriptions=True)


@pytest.fixture
def type_walks(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts executions of `__schema { types }`: each one walks every type."""
    schema = client.app.state.schema._schema  # type: ignore[attr-defined]
    field = schema.get_type("__Schema")
    assert isinstance(field, GraphQLObjectType)
    types = field.fields["types"]
    walks: list[int] = []
    resolve: Callable[..., Any] = types.resolve  # type: ignore[assignment]

    def counted(*args: Any, **kwargs: Any) -> Any:
        walks.append(1)
        return resolve(*args, **kwargs)

    monkeypatch.setattr(types, "resolve", counted)
    return walks


def test_the_same_introspection_query_executes_once(
    client: TestClient, type_walks: list[int]
) -> None:
    first = gql(client, INTROSPECTION)
    again = gql(client, INTROSPECTION)
    assert again["data"] == first["data"]
    assert len(type_walks) == 1
    assert again["extensions"]["cost"]["requested"] == SCHEMA_INTROSPECTION_COST


def test_another_document_executes_once_too(client: TestClient, type_walks: list[int]) -> None:
    gql(client, "{ __schema { types { name } } }")
    gql(client, "{ __schema { types { name kind } } }")
    gql(client, "{ __schema { types { name kind } } }")
    assert len(type_walks) == 2


def test_a_query_that_also_reads_data_is_never_answered_from_memory(
    client: TestClient, type_walks: list[int]
) -> None:
    for _ in range(2):
        gql(client, "{ viewer { subject } __schema { types { name } } }")
    assert len(type_walks) == 2


def test_type_introspection_is_keyed_by_its_variables(client: TestClient) -> None:
    query = "query ($name: String!) { __type(name: $name) { name kind } }"
    pipeline = gql(client, query, {"name": "Pipeline"})["data"]["__type"]
    model = gql(client, query, {"name": "Model"})["data"]["__type"]
    assert (pipeline["name"], model["name"]) == ("Pipeline", "Model")
    assert gql(client, query, {"name": "Pipeline"})["data"]["__type"] == pipeline
