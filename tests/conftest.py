"""Fixtures shared by the whole suite: settings on tmp folders, a moto server, an app client."""

from __future__ import annotations

import asyncio
import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import ServiceToken, Settings
from gateway.demo import DemoSummary, seed_aws, start_moto
from sources.metadb import upgrade

SERVICE_TOKEN = "ci-bot-token-0123456789abcdef"
WRITER_TOKEN = "writer-token-0123456789abcdef"

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto server (aiobotocore cannot use moto's in-process mock), which
    really executes state machines, as in the demo."""
    handle = start_moto()
    yield handle.endpoint_url
    handle.stop()


@pytest.fixture(scope="session")
def demo_aws(moto_endpoint: str) -> DemoSummary:
    """The demo's AWS data (state machines, runs in every status, registry, cards)."""
    return asyncio.run(seed_aws(moto_endpoint))


SMALL_CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: ml-platform, title: ML Platform}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: alice}
spec: {profile: {displayName: Alice}, memberOf: [ml-platform]}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: churn-training-pipeline
  annotations:
    mlmeta.io/step-functions-arn: "arn:aws:states:us-east-1:123456789012:stateMachine:churn"
spec: {type: ml-pipeline, lifecycle: production, owner: ml-platform}
"""


@pytest.fixture
def catalog_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "catalog-info.yaml").write_text(textwrap.dedent(SMALL_CATALOG))
    return folder


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite metadb migrated once; each test gets a copy (migrating costs ~1 s)."""
    path = tmp_path_factory.mktemp("template") / "mlmeta.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def settings(
    tmp_path: Path, catalog_folder: Path, moto_endpoint: str, migrated_sqlite: Path
) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_sqlite, data_dir / "mlmeta.db")
    return Settings(
        data_dir=data_dir,
        catalog_folder=str(catalog_folder),
        aws_endpoint_url=moto_endpoint,
        aws_max_attempts=1,
        aws_timeout_seconds=5,
        allow_anonymous=True,
        service_tokens=(
            ServiceToken.parse(f"ci-bot:token:{SERVICE_TOKEN}"),
            ServiceToken.parse(f"writer:token:{WRITER_TOKEN}:write"),
        ),
        readiness_timeout_seconds=5,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def gql(
    client: TestClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    *,
    expect_errors: bool = False,
) -> dict[str, Any]:
    """POST a query; fail on any error unless the test expects errors."""
    response = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
    )
    body: dict[str, Any] = response.json()
    if not expect_errors:
        assert response.status_code == 200, body
        assert "errors" not in body, body["errors"]
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]
