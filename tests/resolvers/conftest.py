"""A gateway over each catalog source, all holding the same entities."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from tests.backstage_real.harness import BackstageHandle, run_backstage, wait_for
from tests.gateway.test_auth import FakePortal, SigningKey, ec_key, mint
from tests.support.catalog_data import as_yaml, catalog_entities, unknown_kind_entity
from tests.support.fake_backstage import FakeBackstage
from tests.support.http_server import serve_app

GATEWAY_TOKEN = "gateway-service-token-0123456789"


@dataclass
class CatalogUnderTest:
    kind: str
    client: TestClient
    fake: FakeBackstage | None = None
    unknown_kind: str = "MLExperiment"

    def catalog_calls(self, endpoint: str) -> int:
        assert self.fake is not None, "only the fake counts calls"
        return self.fake.calls[endpoint]


@dataclass
class Portal:
    """The portal's auth side: mints user tokens its JWKS verifies."""

    key: SigningKey
    base_url: str

    def user_token(self, user: str, ent: list[str]) -> str:
        return mint(self.key, sub=user, ent=ent)


@pytest.fixture(scope="module")
def portal() -> Iterator[Portal]:
    key = ec_key("portal-key")
    with serve_app(FakePortal(keys=[key]).app()) as base_url:
        yield Portal(key, base_url)


@pytest.fixture
def settings(settings: Settings, portal: Portal) -> Settings:
    """The suite's settings, trusting the portal's user tokens."""
    return settings.replace(
        jwks_url=f"{portal.base_url}/api/auth/.well-known/jwks.json",
        userinfo_url=f"{portal.base_url}/api/auth/v1/userinfo",
    )


@pytest.fixture(scope="module")
def fake_backstage() -> Iterator[tuple[FakeBackstage, str]]:
    fake = FakeBackstage([*catalog_entities(), unknown_kind_entity()], tokens={GATEWAY_TOKEN})
    with serve_app(fake.app()) as base_url:
        yield fake, base_url


# A stock Backstage refuses a whole file holding a kind no processor knows, so the
# real one gets a standard kind the gateway does not special-case instead.
REAL_UNKNOWN_KIND = "Domain"


@pytest.fixture(scope="session")
def real_backstage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackstageHandle]:
    """A real Backstage catalog backend from the npm registry (slow: see harness.py)."""
    entities = [*catalog_entities(), unknown_kind_entity(REAL_UNKNOWN_KIND)]
    workdir = tmp_path_factory.mktemp("real-backstage")
    with run_backstage(
        as_yaml(entities), expected_entities=len(entities) + 1, workdir=workdir
    ) as handle:
        # Reverse relations are computed eventually; wait until the last ones landed.
        def settled() -> bool | None:
            response = httpx.post(
                f"{handle.catalog_url}/entities/by-refs",
                json={
                    "entityRefs": [
                        "group:default/ml-platform",
                        "group:default/fraud-team",
                        "group:models/ml-team-3",
                    ]
                },
                headers=handle.auth_headers,
            )
            groups = response.json()["items"]
            wanted = [
                ("hasMember", "user:default/alice", 0),
                ("parentOf", "group:default/fraud-team", 0),
                ("ownerOf", "resource:default/churn-model", 1),
                ("hasMember", "user:default/bob", 1),
                ("ownerOf", "resource:models/model-000", 2),
            ]
            ok = all(
                groups[i] is not None
                and {"type": t, "targetRef": r}
                in [
                    {"type": x["type"], "targetRef": x["targetRef"]} for x in groups[i]["relations"]
                ]
                for t, r, i in wanted
            )
            return ok or None

        wait_for(settled, timeout=60, what="reverse relations in the real catalog")
        yield handle


@pytest.fixture(
    params=["folder", "backstage", pytest.param("real-backstage", marks=pytest.mark.slow)]
)
def catalog(
    request: pytest.FixtureRequest,
    settings: Settings,
    tmp_path: Path,
    fake_backstage: tuple[FakeBackstage, str],
) -> Iterator[CatalogUnderTest]:
    if request.param == "real-backstage":
        handle: BackstageHandle = request.getfixturevalue("real_backstage")
        configured = settings.replace(
            catalog_backend="backstage", backstage_url=handle.base_url, backstage_token=handle.token
        )
        with TestClient(create_app(configured)) as client:
            yield CatalogUnderTest("real-backstage", client, unknown_kind=REAL_UNKNOWN_KIND)
        return
    yield from _gateway_over(request.param, settings, tmp_path, fake_backstage)


@pytest.fixture
def backstage(
    settings: Settings, tmp_path: Path, fake_backstage: tuple[FakeBackstage, str]
) -> Iterator[CatalogUnderTest]:
    """Only the Backstage source: for what a folder cannot do (count calls, fail)."""
    yield from _gateway_over("backstage", settings, tmp_path, fake_backstage)


def _gateway_over(
    kind: str, settings: Settings, tmp_path: Path, fake_backstage: tuple[FakeBackstage, str]
) -> Iterator[CatalogUnderTest]:
    if kind == "folder":
        folder = tmp_path / "catalog-under-test"
        folder.mkdir()
        (folder / "catalog-info.yaml").write_text(
            as_yaml([*catalog_entities(), unknown_kind_entity()])
        )
        configured = settings.replace(catalog_folder=str(folder))
        fake = None
    else:
        fake, base_url = fake_backstage
        fake.reset()
        configured = settings.replace(
            catalog_backend="backstage", backstage_url=base_url, backstage_token=GATEWAY_TOKEN
        )
    with TestClient(create_app(configured)) as client:
        if fake is not None:
            fake.reset()  # start-up checks are not the test's calls
        yield CatalogUnderTest(kind, client, fake)
