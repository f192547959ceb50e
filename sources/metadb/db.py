"""The metadb engine and sessions: made once per process, in the app's lifespan."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel.ext.asyncio.session import AsyncSession

from sources.errors import MlmetaError, UpstreamError, UpstreamTimeoutError
from sources.resilience.breaker import CircuitBreaker

SQLITE_BUSY_TIMEOUT_MS = 5_000
POSTGRES_CONNECT_TIMEOUT_S = 10.0
CLIENT_TIMEOUT_MARGIN_S = 1.0
"""How much longer than the server's statement timeout the client waits for an answer:
the server's own cancellation (SQLSTATE 57014) should be what a live server reports."""


def create_engine(url: str, *, foreign_keys: bool = True, **kwargs: Any) -> AsyncEngine:
    """An async engine set up for the backend named by ``url``.

    SQLite connections get WAL (readers do not block the writer), a busy
    timeout (a writer waits for the lock instead of failing at once) and, unless
    ``foreign_keys=False``, enforced foreign keys. Migrations turn foreign keys
    off: SQLite's batch mode rebuilds a table by dropping it, and with foreign
    keys on, that drop would cascade-delete the rows of its children.
    """
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        engine = create_async_engine(sa_url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(foreign_keys=foreign_keys))
        return engine
    connect_args = {"timeout": POSTGRES_CONNECT_TIMEOUT_S, **kwargs.pop("connect_args", {})}
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(sa_url, connect_args=connect_args, **kwargs)


def _sqlite_pragmas(*, foreign_keys: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS:d}")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    return on_connect


_SQLITE_OUTAGES = ("unable to open", "database is locked", "disk i/o", "disk is full")
"""SQLite reports outages and bad SQL alike as OperationalError; these are the outages."""
_SQLSTATE_OUTAGES = ("08", "53", "57", "58")
"""SQLSTATE classes of an unavailable server: connection exception, insufficient
resources, operator intervention (statement timeout, shutdown), system error."""


def is_db_failure(exc: BaseException) -> bool:
    """The database is unreachable, gone away or too slow; not: a constraint, a bad query.

    Raw driver errors count as SQLAlchemy's do: the metric store talks to
    asyncpg and aiosqlite directly.
    """
    if isinstance(
        exc,
        (
            sa_exc.InterfaceError,
            sa_exc.DisconnectionError,
            sa_exc.TimeoutError,  # no pooled connection came free in time
            TimeoutError,
            OSError,  # the driver could not connect at all
        ),
    ):
        return True
    raw: BaseException | None = exc
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc.orig, TimeoutError):
            return True
        raw = exc.orig
    if state := _sqlstate(raw):
        return state[:2] in _SQLSTATE_OUTAGES
    message = str(raw).lower()
    return isinstance(raw, sqlite3.OperationalError) and any(m in message for m in _SQLITE_OUTAGES)


def is_db_timeout(exc: BaseException) -> bool:
    """The database did not answer in time: the server's statement timeout (SQLSTATE
    57014), or the client's own (connecting, waiting for a pooled connection, an answer)."""
    if isinstance(exc, (TimeoutError, sa_exc.TimeoutError)):
        return True
    raw = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    return isinstance(raw, TimeoutError) or _sqlstate(raw) == "57014"


def _sqlstate(exc: BaseException | None) -> str | None:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return state if isinstance(state, str) else None


class MetaDB:
    """The metadata database: engine, sessions and a readiness check."""

    name = "metadb"

    def __init__(self, engine: AsyncEngine, breaker: CircuitBreaker | None = None) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._breaker = breaker or CircuitBreaker(self.name, failure_threshold=0)

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        statement_timeout: float = 0.0,
        connect_timeout: float = POSTGRES_CONNECT_TIMEOUT_S,
        pool_size: int = 10,
        max_overflow: int = 10,
        breaker: CircuitBreaker | None = None,
    ) -> MetaDB:
        """Create the engine for ``url``; no connection is opened until first use.

        ``statement_timeout`` (seconds, 0: none) is PostgreSQL's own
        ``statement_timeout``: the server cancels a longer statement. A server
        that does not answer at all (paused, wedged, cut off) never applies it,
        so the client gives up too, ``CLIENT_TIMEOUT_MARGIN_S`` later (asyncpg's
        ``command_timeout``). ``connect_timeout`` bounds opening a connection
        (handshake included) and waiting for a pooled one. SQLite has no such
        settings; its writers wait at most its busy timeout. ``pool_size``
        PostgreSQL connections stay open; ``max_overflow`` more are opened under load
        and closed when returned (each a new server process: keep the pool large enough
        for the usual concurrency).
        """
        kwargs: dict[str, Any] = {}
        if make_url(url).get_backend_name() == "postgresql":
            connect_args: dict[str, Any] = {"timeout": connect_timeout}
            if statement_timeout > 0:
                milliseconds = str(max(1, round(statement_timeout * 1000)))
                connect_args["server_settings"] = {"statement_timeout": milliseconds}
                connect_args["command_timeout"] = statement_timeout + CLIENT_TIMEOUT_MARGIN_S
            kwargs = {
                "connect_args": connect_args,
                "pool_timeout": connect_timeout,
                "pool_size": pool_size,
                "max_overflow": max_overflow,
            }
        return cls(create_engine(url, **kwargs), breaker)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A new session, to use as ``async with metadb.session() as session:``.

        The block is one call through the metadb's circuit breaker (its
        chokepoint), and a failure of the database itself leaves as an
        ``UpstreamError`` of source ``metadb`` (``_guarded``).
        """
        async with self._guarded("session"), self._sessions() as session:
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection (for hand-written SQL), guarded and translated like ``session``."""
        async with self._guarded("connection"), self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def _guarded(self, operation: str) -> AsyncIterator[None]:
        """One call through the breaker; a failure of the database leaves as ``UpstreamError``.

        The driver's message, which may hold SQL or host names, stays in the
        exception chain for the log.
        """
        try:
            async with self._breaker.guard(is_db_failure, operation):
                yield
        except MlmetaError:
            raise
        except Exception as exc:
            if not is_db_failure(exc):
                raise
            if is_db_timeout(exc):
                raise UpstreamTimeoutError(
                    "metadata database did not answer in time", source=self.name
                ) from exc
            raise UpstreamError(
                f"metadata database unavailable ({type(exc).__name__})", source=self.name
            ) from exc

    async def check(self) -> None:
        """Return when the database answers ``SELECT 1``; raise ``UpstreamError`` if not.

        The message names only the kind of failure: driver messages can carry
        SQL, host names or credentials, so they stay in the exception chain
        (for the server log) and out of what a client sees.
        """
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except TimeoutError as exc:
            raise UpstreamTimeoutError(
                "metadata database did not answer in time", source=self.name
            ) from exc
        except Exception as exc:
            raise UpstreamError(
                f"metadata database unavailable ({type(exc).__name__})", source=self.name
            ) from exc

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
