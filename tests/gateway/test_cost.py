"""Static cost: what a query would cost is known, reported and enforced before it runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import parse
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary, write_catalog
from gateway.limits.cost import operation_cost
from gateway.schema import build_schema
from tests.conftest import codes, gql
from tests.gateway.test_document_limits import doubling, subscribe

# Each entity's relations, their targets' relations, and so on four levels down.
BREADTH = """{ entities(first: 100) { edges { node {
  relations { target { relations { target { relations { target {
    relations { target { ref } } } } } } } } } } } }"""

# The ML tab of a pipeline's entity page (docs/ARCHITECTURE.md, "Who asks what").
ENTITY_PAGE = """query EntityPage($ref: String!) {
  entity(ref: $ref) {
    title owner { ref title }
    pipeline {
      graph { nodes { name type } edges { from to } }
      latestExecution { status startedAt steps { name status durationSeconds } }
      executions(first: 20) { edges { node { id status startedAt durationSeconds
        metrics { name value } } } }
      metricEvolution(metrics: ["pr_auc", "roc_auc"], lastRuns: 50) {
        metric points { startedAt value execution { id } } }
    }
    model { latestVersion(status: APPROVED) { version card { markdown } deployments { name } } }
  }
}"""


class CountingCatalog:
    """The catalog source, with every call counted."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
def catalog(client: TestClient) -> CountingCatalog:
    resources = client.app.state.resources  # type: ignore[attr-defined]
    counting = CountingCatalog(resources.catalog)
    resources.catalog = counting
    return counting


LIMIT = Settings().max_cost


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    schema = build_schema(Settings())._schema
    return operation_cost(schema, parse(query).definitions, variables, None, 100).requested


def test_nested_lists_multiply_and_are_refused_before_any_upstream_call(
    client: TestClient, catalog: CountingCatalog
) -> None:
    body = gql(client, BREADTH, expect_errors=True)
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    extensions = body["errors"][0]["extensions"]
    assert extensions["measure"] == "cost"
    assert extensions["cost"] > 1_000_000
    assert extensions["limit"] == LIMIT
    assert body["extensions"]["cost"] == {"requested": extensions["cost"], "limit": LIMIT}
    assert body["data"] is None
    assert sum(catalog.calls.values()) == 0


def test_nested_lists_are_refused_over_the_websocket_before_any_upstream_call(
    client: TestClient, catalog: CountingCatalog
) -> None:
    message = subscribe(client, BREADTH)
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert errors[0]["extensions"]["cost"] > 1_000_000
    assert sum(catalog.calls.values()) == 0


def test_every_served_response_carries_its_cost(client: TestClient) -> None:
    body = gql(client, "{ viewer { subject kind } }")
    assert body["extensions"]["cost"]["requested"] == 1
    assert body["extensions"]["cost"]["limit"] == LIMIT


def test_a_page_size_multiplies_what_each_item_selects() -> None:
    query = "query ($n: Int!) { entities(first: $n) { edges { node { ref owner { ref } } } } }"
    # Per entity: the edge and its node (1 each), the owner (1 object + 2 catalog).
    assert cost(query, {"n": 10}) == 2 + 1 + 10 * (1 + 1 + 3)
    assert cost(query, {"n": 100}) == 2 + 1 + 100 * (1 + 1 + 3)


def test_a_list_argument_counts_the_items() -> None:
    one = cost('{ compareRunsTable(executionIds: ["a"]) }')
    assert cost('{ compareRunsTable(executionIds: ["a", "b", "c"]) }') == 3 * one


def test_scalars_cost_nothing_and_upstream_fields_cost_their_weight() -> None:
    assert cost("{ viewer { subject ownershipRefs } }") == 1
    assert cost('{ entity(ref: "user:alice") { ref } }') == 1 + 2


def test_a_fragment_is_costed_once_however_often_it_is_spread() -> None:
    schema = build_schema(Settings())._schema
    document = parse(doubling(30) + " { ...F30 }")
    result = operation_cost(schema, document.definitions, {}, None, 100)
    assert result.requested == 2**30  # viewer (1 object) in each of the 2^30 copies
    assert result.fields_walked == 2  # viewer and subject, in F0 only


def test_the_entity_page_is_well_under_the_limit(
    settings: Settings, tmp_path: Path, demo_aws: DemoSummary
) -> None:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    with TestClient(create_app(settings.replace(catalog_folder=str(folder)))) as client:
        body = gql(client, ENTITY_PAGE, {"ref": "component:default/churn-training-pipeline"})
    assert body["data"]["entity"]["pipeline"]["executions"]["edges"]
    requested = body["extensions"]["cost"]["requested"]
    assert requested == cost(ENTITY_PAGE, {"ref": "x"})
    assert 500 < requested < LIMIT / 10  # about 1,000: a twentieth of the limit


def test_weighted_fields_state_their_cost_in_the_schema() -> None:
    sdl = str(build_schema(Settings()))
    # After the sources the field depends on (gateway.upstreams), the cost.
    assert (
        "The newest run. Sources: stepfunctions, sagemaker, metadb (null if one fails). "
        "Cost: 5 for the upstream work." in sdl
    )
    assert "Cost: counted as 10 items." in sdl


@pytest.fixture
def strict_cost(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.replace(max_cost=3))) as client:
        yield client


def test_a_query_over_the_websocket_gets_its_cost(client: TestClient) -> None:
    message = subscribe(client, "{ viewer { subject } }")
    assert message["type"] == "next"
    assert message["payload"]["extensions"]["cost"]["requested"] == 1


def test_a_subscription_over_the_cost_limit_is_refused_over_the_websocket(
    strict_cost: TestClient,
) -> None:
    message = subscribe(
        strict_cost, 'subscription { executionUpdated(executionId: "x") { steps { name } } }'
    )
    assert message["type"] == "error"
    extensions = message["payload"][0]["extensions"]
    assert (extensions["code"], extensions["measure"], extensions["limit"]) == (
        "QUERY_TOO_COMPLEX",
        "cost",
        3,
    )
    assert extensions["cost"] == 5 + 1 + 5 + 20 * 1
