"""The real-Backstage harness works, and the catalog behaves as the gateway assumes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.auth.principal import Principal, PrincipalKind
from sources.catalog.backstage import BY_REFS_BATCH, BackstageCatalog
from sources.catalog.refs import entity_ref_of, owner_of, ref_in_entity
from sources.catalog.relations import compute_relations
from tests.backstage_real.harness import BackstageHandle, run_backstage, wait_for

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
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: ml-team-3
  namespace: models
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: ml-team-3
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: scoring
  namespace: models
spec:
  owner: ml-team-3
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: model-000
  namespace: models
spec:
  type: ml-model
  owner: ml-team-3
  system: scoring
  dependsOn: [component:churn-training, component:default/churn-training]
"""
# Eight entities above plus the Location the catalog generates for the file.
EXPECTED_ENTITIES = 9


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


# --- refs: mlmeta must read them as the real catalog does --------------------------------


def _real_entities(client: httpx.Client, auth: dict[str, str], refs: list[str]) -> list[Any]:
    resp = client.post("/entities/by-refs", json={"entityRefs": refs}, headers=auth)
    assert resp.status_code == 200, resp.text
    items: list[Any] = resp.json()["items"]
    return items


def test_relative_refs_resolve_in_the_entitys_namespace(
    backstage: BackstageHandle, client: httpx.Client
) -> None:
    [model] = _real_entities(client, backstage.auth_headers, ["resource:models/model-000"])
    relations = {(r["type"], r["targetRef"]) for r in model["relations"]}
    # What the real catalog computed for `owner: ml-team-3`, `system: scoring`, and a
    # dependsOn ref naming its kind but not its namespace...
    assert ("ownedBy", "group:models/ml-team-3") in relations
    assert ("partOf", "system:models/scoring") in relations
    assert ("dependsOn", "component:models/churn-training") in relations
    assert ("dependsOn", "component:default/churn-training") in relations
    # ...is what mlmeta reads from the same entity.
    assert ("ownedBy", owner_of(model)) in relations
    system = ref_in_entity(model, model["spec"]["system"], "system")
    assert ("partOf", system) in relations


def test_a_folder_catalog_computes_the_relations_the_real_catalog_does(
    backstage: BackstageHandle, client: httpx.Client
) -> None:
    entities = {entity_ref_of(e): e for e in yaml.safe_load_all(CATALOG_YAML)}
    compute_relations(entities)
    expected = {
        str(ref): sorted((r["type"], r["targetRef"]) for r in e["relations"])
        for ref, e in entities.items()
    }
    refs = sorted(expected)

    def agree() -> bool:  # reverse relations land a moment after the entities
        found = _real_entities(client, backstage.auth_headers, refs)
        real = {
            ref: sorted((r["type"], r["targetRef"]) for r in item["relations"])
            for ref, item in zip(refs, found, strict=True)
        }
        return real == expected

    wait_for(agree, timeout=30, what="the real catalog's relations to match the folder's")


# --- by-refs: how many refs one call may carry -------------------------------------------

LONGEST = [f"{'k' * 63}:{'n' * 63}/{'m' * 59}{i:04d}" for i in range(1200)]


def test_by_refs_takes_any_count_but_refuses_bodies_over_100_kb(
    backstage: BackstageHandle, client: httpx.Client
) -> None:
    auth = backstage.auth_headers
    many_short = [f"component:default/c-{i}" for i in range(2000)]  # ~54 kB
    assert len(_real_entities(client, auth, many_short)) == 2000
    fits = LONGEST[:BY_REFS_BATCH]  # mlmeta's default batch of the longest refs: ~97 kB
    assert len(_real_entities(client, auth, fits)) == BY_REFS_BATCH
    too_big = LONGEST[:530]  # ~103 kB
    resp = client.post("/entities/by-refs", json={"entityRefs": too_big}, headers=auth)
    assert resp.status_code == 400
    assert resp.json()["error"] == {"name": "InputError", "message": "request entity too large"}


async def test_mlmeta_splits_a_batch_the_real_catalog_would_refuse(
    backstage: BackstageHandle,
) -> None:
    async with httpx.AsyncClient() as http:
        catalog = BackstageCatalog(
            backstage.base_url, http, service_token=backstage.token, batch_size=5000
        )
        principal = Principal(subject="mlmeta-tests", kind=PrincipalKind.SERVICE)
        found = await catalog.entities_by_refs([*LONGEST, "group:models/ml-team-3"], principal)
    assert found[:-1] == [None] * len(LONGEST)
    assert isinstance(found[-1], dict)
    assert found[-1]["metadata"]["namespace"] == "models"
