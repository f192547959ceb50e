"""The metadb behind its circuit breaker: every session is one guarded call."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from sources.errors import ConflictError, UpstreamError, UpstreamTimeoutError
from sources.metadb import MetaDB
from sources.resilience.breaker import CircuitBreaker, CircuitOpenError, CircuitState
from tests.sources.conftest import PG_HOST, PG_PORT


async def test_a_database_that_refuses_connections_opens_the_circuit() -> None:
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
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
