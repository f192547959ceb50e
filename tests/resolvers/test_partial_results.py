"""Partial results: a failing source nulls only what depended on it (issue #14)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary, write_catalog
from tests.conftest import gql


@pytest.fixture
def demo(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Iterator[TestClient]:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    with TestClient(create_app(settings.replace(catalog_folder=str(folder), max_cost=40_000))) as client:
        yield client


RUN_LIST = """{ pipelines(first: 20) { edges { node { name executions(first: 50) {
    edges { node { status steps { name status } } } } } } } }"""


def test_repro(demo: TestClient) -> None:
    body = gql(demo, RUN_LIST, expect_errors=True)
    print(json.dumps(body)[:3000])
    assert False
