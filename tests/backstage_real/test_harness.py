"""The real-Backstage harness works, and the catalog behaves as the gateway assumes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backstage_real.harness import BackstageHandle, run_backstage

pytestmark = pytest.mark.slow

CATALOG_YAML = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: ml-platform
  title: ML Platform
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: alice
spec:
  profile:
    displayName: Alice
  memberOf: [Group:Default/ML-Platform]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: churn-training
  annotations:
    mlmeta.io/sagemaker-pipeline-arn: arn:aws:sagemaker:us-east-1:123456789012:pipeline/churn
spec:
  type: ml-pipeline
  lifecycle: production
  owner: group:ml-platform
  system: churn
---
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: ml
spec:
  owner: ml-platform
"""
# Four entities above plus the Location the catalog generates for the file.
EXPECTED_ENTITIES = 5


@pytest.fixture(scope="module")
def backstage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackstageHandle]:
    workdir: Path = tmp_path_factory.mktemp("backstage")
    with run_backstage(CATALOG_YAML, expected_entities=EXPECTED_ENTITIES, workdir=workdir) as b:
        yield b


@pytest.fixture
def client(backstage: BackstageHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backstage.catalog_url, timeout=10.0) as c:
        yield c


def test_real_catalog(backstage: BackstageHandle, client: httpx.Client) -> None:
    auth = backstage.auth_headers

    # by-refs: same order and length as asked, null for an unknown ref.
    refs = ["component:default/churn-training", "user:default/nobody", "group:default/ml-platform"]
    resp = client.post("/entities/by-refs", json={"entityRefs": refs}, headers=auth)
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert len(items) == 3
    assert (items[0]["kind"], items[0]["metadata"]["name"]) == ("Component", "churn-training")
    assert items[1] is None
    assert (items[2]["kind"], items[2]["metadata"]["name"]) == ("Group", "ml-platform")

    # `fields` in the body trims entities.
    resp = client.post(
        "/entities/by-refs",
        json={"entityRefs": ["domain:default/ml"], "fields": ["kind", "metadata.name"]},
        headers=auth,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["items"] == [{"kind": "Domain", "metadata": {"name": "ml"}}]

    # No token, or a wrong one: 401 AuthenticationError.
    resp = client.get("/entities/by-query", params={"limit": 1})
    assert resp.status_code == 401
    assert resp.json()["error"]["name"] == "AuthenticationError"
    resp = client.get(
        "/entities/by-query",
        params={"limit": 1},
        headers={"Authorization": "Bearer not-the-right-token-at-all"},
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["name"] == "AuthenticationError"

    # The second static token is accepted too.
    resp = client.get(
        "/entities/by-query",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {backstage.other_token}"},
    )
    assert resp.status_code == 200, resp.text

    # by-query with a (case-insensitive) filter.
    resp = client.get(
        "/entities/by-query", params={"filter": "kind=component", "limit": 10}, headers=auth
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["totalItems"] == 1
    (component,) = body["items"]
    assert component["spec"]["type"] == "ml-pipeline"
    assert component["metadata"]["annotations"]["mlmeta.io/sagemaker-pipeline-arn"].endswith(
        "pipeline/churn"
    )
    assert {"type": "ownedBy", "targetRef": "group:default/ml-platform"} in component["relations"]

    # The user's mixed-case memberOf ref becomes a canonical relation target.
    resp = client.get("/entities/by-name/user/default/alice", headers=auth)
    assert resp.status_code == 200, resp.text
    relations = resp.json()["relations"]
    assert {"type": "memberOf", "targetRef": "group:default/ml-platform"} in relations
