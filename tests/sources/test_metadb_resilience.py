"""The metadb behind its circuit breaker: every session is one guarded call."""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa

from sources.errors import ConflictError, UpstreamError, UpstreamTimeoutError
from sources.metadb import MetaDB
from sources.metadb.db import is_db_failure, is_db_timeout
from sources.resilience.breaker import CircuitBreaker, CircuitOpenError, CircuitState
from tests.sources.conftest import PG_HOST, PG_PORT
from tests.support.fault_proxy import Fault, FaultProxy


def _closed_port() -> int:
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_database_that_refuses_connections_opens_the_circuit() -> None:
    port = _closed_port()
    breaker = CircuitBreaker("metadb", failure_threshold=2)
    db = MetaDB.connect(f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none", breaker=breaker)
    try:
        for _ in range(2):
            with pytest.raises(UpstreamError, match="metadata database unavailable") as caught:
                async with db.session() as session:
                    await session.exec(sa.text("SELECT 1"))
            assert caught.value.source == "metadb"
        assert breaker.state is CircuitState.OPEN
        entered = False
        with pytest.raises(CircuitOpenError):
            async with db.session():
                entered = True
        assert not entered
    finally:
        await db.close()


async def test_errors_of_the_callers_own_making_do_not_count(tmp_path: Path) -> None:
    breaker = CircuitBreaker("metadb", failure_threshold=1)
    db = MetaDB.connect(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", breaker=breaker)
    try:
        with pytest.raises(ConflictError):
            async with db.session():
                raise ConflictError("stale revision")
        with pytest.raises(sa.exc.DBAPIError):  # a bad query is a bug, not an outage
            async with db.session() as session:
                await session.exec(sa.text("SELECT * FROM"))
        assert breaker.state is CircuitState.CLOSED
    finally:
        await db.close()


@pytest.mark.postgres
async def test_postgres_cancels_a_statement_past_the_statement_timeout(
    postgres_database: tuple[str, str],
) -> None:
    name, user = postgres_database
    url = f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    db = MetaDB.connect(url, statement_timeout=0.2)
    try:
        with pytest.raises(UpstreamTimeoutError, match="did not answer in time"):
            async with db.session() as session:
                await session.exec(sa.text("SELECT pg_sleep(2)"))
    finally:
        await db.close()


async def test_core_connections_are_guarded_and_translated_like_sessions() -> None:
    breaker = CircuitBreaker("metadb", failure_threshold=1)
    db = MetaDB.connect(
        f"postgresql+asyncpg://nobody@127.0.0.1:{_closed_port()}/none", breaker=breaker
    )
    try:
        with pytest.raises(UpstreamError, match="metadata database unavailable") as caught:
            async with db.connection() as conn:
                await conn.execute(sa.text("SELECT 1"))
        assert caught.value.source == "metadb"
        assert breaker.state is CircuitState.OPEN
    finally:
        await db.close()


def test_raw_driver_errors_are_told_apart_like_sqlalchemys() -> None:
    # The metric store talks to asyncpg and aiosqlite directly, without SQLAlchemy's wrapping.
    assert is_db_failure(sqlite3.OperationalError("database is locked"))
    assert not is_db_failure(sqlite3.OperationalError("no such table: runs"))
    assert is_db_failure(asyncpg.exceptions.ConnectionDoesNotExistError("closed"))
    assert not is_db_failure(asyncpg.exceptions.UniqueViolationError("duplicate key"))
    canceled = asyncpg.exceptions.QueryCanceledError("canceling statement due to timeout")
    assert is_db_failure(canceled)
    assert is_db_timeout(canceled)
    assert is_db_timeout(TimeoutError())
    assert not is_db_timeout(sqlite3.OperationalError("database is locked"))


@pytest.mark.postgres
async def test_a_paused_server_times_out_on_the_client(
    postgres_database: tuple[str, str],
) -> None:
    """A paused server applies no statement timeout: the client gives up on its own,
    for a pooled connection (a second past the statement timeout) and a new one."""
    name, user = postgres_database
    with FaultProxy((PG_HOST, PG_PORT), mode="tcp") as proxy:
        url = f"postgresql+asyncpg://{user}@{PG_HOST}:{proxy.port}/{name}"
        db = MetaDB.connect(url, statement_timeout=0.2, connect_timeout=0.5)
        try:
            async with db.session() as session:  # one pooled connection, then the pause
                await session.exec(sa.text("SELECT 1"))
            proxy.fail(Fault.HANG)
            for _ in range(2):  # the pooled connection's ping, then a new connection
                started = time.monotonic()
                with pytest.raises(UpstreamTimeoutError, match="did not answer in time"):
                    async with db.session() as session:
                        await session.exec(sa.text("SELECT 1"))
                assert time.monotonic() - started < 3
        finally:
            proxy.heal()
            await db.close()
