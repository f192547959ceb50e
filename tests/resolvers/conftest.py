"""A gateway over each catalog source, all holding the same entities."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
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
    fake = FakeBackstage(catalog_entities() + [unknown_kind_entity()], tokens={GATEWAY_TOKEN})
    with serve_app(fake.app()) as base_url:
        yield fake, base_url


@pytest.fixture(params=["folder", "backstage"])
def catalog(
    request: pytest.FixtureRequest,
    settings: Settings,
    tmp_path: Path,
    fake_backstage: tuple[FakeBackstage, str],
) -> Iterator[CatalogUnderTest]:
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
            as_yaml(catalog_entities() + [unknown_kind_entity()])
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
