"""Everything the fault matrix runs against, made once per metadb backend.

A ``World`` holds the demo's data behind breakable transports:

- AWS: the suite's moto server (seeded with the demo once per session) behind
  one ``FaultProxy`` that tells Step Functions, SageMaker and CloudWatch apart;
- the catalog: the demo's folder, or the same entities in the Backstage-shaped
  fake behind a ``FaultProxy``;
- the metadb: seeded once (metric curves, cards, lineage) as a template; every
  gateway gets a fresh copy, since reading imports training metrics and derives
  lineage into it. PostgreSQL is reached through a TCP ``FaultProxy``.

``gateway(...)`` serves a gateway over real HTTP (uvicorn in a thread), so a
test's client can time out on it like a portal would.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import yaml

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from sources.metadb import upgrade
from tests.support.fake_backstage import FakeBackstage
from tests.support.fault_proxy import AWS_ROUTES, BACKSTAGE, FaultProxy
from tests.support.http_server import serve_app
from tests.support.portal import seed_metadb, write_portal_catalog

BACKSTAGE_TOKEN = "fault-matrix-gateway-token-0123456789"
PG_HOST, PG_ADMIN_DATABASE = "127.0.0.1", "test"

SOURCE_TIMEOUT = 1.0
"""Every upstream's timeout in the matrix (catalog, each AWS service)."""


def matrix_settings(data_dir: Path, catalog_folder: Path, aws_url: str) -> Settings:
    """Small timeouts, small breakers, a generous cost limit (the list query is heavy)."""
    return Settings(
        data_dir=data_dir,
        catalog_folder=str(catalog_folder),
        aws_endpoint_url=aws_url,
        aws_max_attempts=1,
        aws_timeout_seconds=SOURCE_TIMEOUT,
        catalog_timeout_seconds=SOURCE_TIMEOUT,
        metadb_statement_timeout_seconds=SOURCE_TIMEOUT,
        metadb_connect_timeout_seconds=SOURCE_TIMEOUT,
        allow_anonymous=True,
        # A fresh gateway's first metadb check opens a connection: on a busy machine
        # that took over half a second, and a healthy source read as unhealthy.
        readiness_timeout_seconds=SOURCE_TIMEOUT,
        readiness_cache_seconds=0,
        max_cost=40_000,
        breaker_failures=3,
        breaker_cooldown_seconds=60,
        max_execution_seconds=15,
    )


def catalog_entities(folder: Path) -> list[dict[str, Any]]:
    """The folder's entities, for the Backstage-shaped fake (Locations are the folder's own)."""
    entities = []
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") != "Location":
                entities.append(doc)
    return entities


class Postgres:
    """Databases made from a seeded template on the local server; all dropped at the end."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.user = "postgres"
        self.made: list[str] = []

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(
            host=PG_HOST, port=self.port, user=self.user, database=PG_ADMIN_DATABASE, timeout=5
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def create(self, template: str | None = None) -> str:
        name = f"mlmeta_faults_{secrets.token_hex(5)}"
        suffix = f' TEMPLATE "{template}"' if template else ""
        asyncio.run(self._admin(f'CREATE DATABASE "{name}"{suffix}'))
        self.made.append(name)
        return name

    def url(self, name: str, port: int | None = None) -> str:
        return f"postgresql+asyncpg://{self.user}@{PG_HOST}:{port or self.port}/{name}"

    def drop_all(self) -> None:
        for name in self.made:
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.made.clear()


@dataclass
class World:
    backend: str  # "sqlite" or "postgres"
    workdir: Path
    aws: FaultProxy
    catalog_folder: Path
    backstage: FakeBackstage
    backstage_proxy: FaultProxy
    template: str  # a SQLite file, or a PostgreSQL database name
    postgres: Postgres | None = None
    pg_proxy: FaultProxy | None = None
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    _copies: int = 0

    def fresh_metadb(self) -> tuple[str, Path]:
        """(database URL, data dir) of a fresh copy of the seeded metadb."""
        self._copies += 1
        data_dir = self.workdir / f"gateway-{self._copies}"
        data_dir.mkdir()
        if self.postgres is None:
            shutil.copy(self.template, data_dir / "mlmeta.db")
            return f"sqlite+aiosqlite:///{data_dir / 'mlmeta.db'}", data_dir
        assert self.pg_proxy is not None
        name = self.postgres.create(template=self.template)
        return self.postgres.url(name, port=self.pg_proxy.port), data_dir

    def settings(self, catalog: str = "folder", **changes: Any) -> Settings:
        url, data_dir = self.fresh_metadb()
        settings = matrix_settings(data_dir, self.catalog_folder, self.aws.url).replace(
            database_url=url, auto_migrate=self.postgres is None
        )
        if catalog == "backstage":
            settings = settings.replace(
                catalog_backend="backstage",
                backstage_url=self.backstage_proxy.url,
                backstage_token=BACKSTAGE_TOKEN,
            )
        return settings.replace(**changes)

    def heal(self) -> None:
        for proxy in (self.aws, self.backstage_proxy, self.pg_proxy):
            if proxy is not None:
                proxy.heal()
                proxy.faulted.clear()


@contextlib.contextmanager
def gateway(settings: Settings) -> Iterator[str]:
    """A gateway served over real HTTP on a free port; its base URL."""
    with serve_app(create_app(settings), lifespan="on") as base_url:
        yield base_url


@contextlib.contextmanager
def make_world(
    backend: str, workdir: Path, moto_port: int, summary: DemoSummary, pg_port: int
) -> Iterator[World]:
    catalog_folder = write_portal_catalog(workdir / "catalog")
    backstage = FakeBackstage(catalog_entities(catalog_folder), tokens={BACKSTAGE_TOKEN})
    with contextlib.ExitStack() as stack:
        aws = stack.enter_context(FaultProxy(("127.0.0.1", moto_port), routes=AWS_ROUTES))
        served = stack.enter_context(serve_app(backstage.app()))
        port = urlsplit(served).port
        assert port is not None
        backstage_proxy = stack.enter_context(FaultProxy(("127.0.0.1", port), routes=(BACKSTAGE,)))
        postgres = pg_proxy = None
        if backend == "sqlite":
            (workdir / "template").mkdir()
            template = str(workdir / "template" / "mlmeta.db")
            url = f"sqlite+aiosqlite:///{template}"
        else:
            postgres = Postgres(pg_port)
            stack.callback(postgres.drop_all)
            template = postgres.create()
            url = postgres.url(template)
            pg_proxy = stack.enter_context(FaultProxy((PG_HOST, pg_port), mode="tcp"))
        asyncio.run(upgrade(url))
        seeding = matrix_settings(workdir, catalog_folder, aws.url).replace(
            database_url=url, aws_timeout_seconds=10, max_execution_seconds=60
        )
        asyncio.run(seed_metadb(seeding, summary))
        yield World(
            backend=backend,
            workdir=workdir,
            aws=aws,
            catalog_folder=catalog_folder,
            backstage=backstage,
            backstage_proxy=backstage_proxy,
            template=template,
            postgres=postgres,
            pg_proxy=pg_proxy,
        )
