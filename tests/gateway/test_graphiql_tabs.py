"""GraphiQL's default tabs are README's examples, and they run against the demo as they are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import parse, validate
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.catalog_files import write_catalog
from gateway.graphiql.tabs import default_tabs, demo_model_version_id, demo_pipeline_id
from gateway.schema import build_schema
from tests.conftest import gql

REGION = "us-east-1"


@pytest.fixture
def demo(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Iterator[TestClient]:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    with TestClient(create_app(settings.replace(catalog_folder=str(folder)))) as client:
        yield client


def test_every_tab_is_a_valid_document_of_the_schema(settings: Settings) -> None:
    schema = build_schema(settings)._schema
    for tab in default_tabs(REGION):
        assert validate(schema, parse(tab.query)) == [], tab.query


def test_tabs_are_named_so_graphiql_titles_them() -> None:
    names = [tab.query.split("{", 1)[0].split()[-1] for tab in default_tabs(REGION)]
    assert names == ["Overview", "EntityPage", "Metrics", "ModelCard", "Lineage", "WatchRuns"]


def test_the_ids_in_the_tabs_are_the_demos_pipeline_and_served_model_version(
    demo: TestClient,
) -> None:
    query = """query ($pipeline: ID!, $version: ID!) {
      pipeline: node(id: $pipeline) { ... on Pipeline { name } }
      version: node(id: $version) { ... on ModelVersion { version deployments { name } } } }"""
    ids = {"pipeline": demo_pipeline_id(REGION), "version": demo_model_version_id(REGION)}
    data = gql(demo, query, ids)["data"]
    assert data["pipeline"] == {"name": "churn-training-pipeline"}
    assert data["version"]["version"] == "3"
    assert data["version"]["deployments"], "the demo's endpoint serves this version"


QUERY_TABS = ["Overview", "EntityPage", "Metrics", "ModelCard", "Lineage"]  # not WatchRuns


@pytest.mark.parametrize("index", range(len(QUERY_TABS)), ids=QUERY_TABS)
def test_each_query_tab_runs_on_the_demo_without_errors(demo: TestClient, index: int) -> None:
    tab = default_tabs(REGION)[index]
    assert f"query {QUERY_TABS[index]} " in tab.query
    data = gql(demo, tab.query)["data"]
    assert all(value is not None for value in data.values()), data
