"""Fixtures for the metadb tests: one database URL per backend, empty for each test.

PostgreSQL: a database ``mlmeta_test_<random>`` is created once per session on
127.0.0.1:5432 (through the ``test`` database, as ``postgres`` or else the OS
user), emptied before each test and dropped at the end. When the server cannot
be reached the PostgreSQL tests fail, unless ``MLMETA_TEST_SKIP_POSTGRES=1``.
``MLMETA_TEST_POSTGRES_PORT`` points them at another port.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from sources.metadb import MetaDB, upgrade

PG_HOST = "127.0.0.1"
PG_PORT = int(os.environ.get("MLMETA_TEST_POSTGRES_PORT", "5432"))
PG_ADMIN_DATABASE = "test"


class PostgresUnavailableError(Exception):
    pass


async def _connect(database: str, users: list[str]) -> tuple[asyncpg.Connection, str]:
    failures = []
    for user in users:
        try:
            conn = await asyncpg.connect(
                host=PG_HOST, port=PG_PORT, user=user, database=database, timeout=5
            )
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            failures.append(f"as {user!r}: {type(exc).__name__}: {exc}")
        else:
            return conn, user
    raise PostgresUnavailableError("; ".join(failures))


async def _create_database(name: str) -> str:
    users = list(dict.fromkeys(["postgres", getpass.getuser()]))
    conn, user = await _connect(PG_ADMIN_DATABASE, users)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return user


async def _drop_database(name: str, user: str) -> None:
    conn, _ = await _connect(PG_ADMIN_DATABASE, [user])
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _empty_database(name: str, user: str) -> None:
    conn, _ = await _connect(name, [user])
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[tuple[str, str]]:
    """(database name, user) of a database made for this test session."""
    if os.environ.get("MLMETA_TEST_SKIP_POSTGRES") == "1":
        pytest.skip("MLMETA_TEST_SKIP_POSTGRES=1")
    name = f"mlmeta_test_{secrets.token_hex(6)}"
    try:
        user = asyncio.run(_create_database(name))
    except PostgresUnavailableError as exc:
        reason = str(exc)
    else:
        reason = ""
    if reason:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} (database "
            f"{PG_ADMIN_DATABASE!r}): {reason}. Start it, or set MLMETA_TEST_SKIP_POSTGRES=1 "
            "to skip the PostgreSQL tests.",
            pytrace=False,
        )
    yield name, user
    asyncio.run(_drop_database(name, user))


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def metadb_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'metadb.sqlite'}"
    name, user = request.getfixturevalue("postgres_database")
    asyncio.run(_empty_database(name, user))
    return f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"


@pytest.fixture
async def metadb(metadb_url: str) -> AsyncIterator[MetaDB]:
    """A migrated metadb on each backend, closed after the test."""
    await upgrade(metadb_url)
    db = MetaDB.connect(metadb_url)
    yield db
    await db.close()
