"""The metadb engine and sessions: made once per process, in the app's lifespan."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel.ext.asyncio.session import AsyncSession

from sources.errors import UpstreamError, UpstreamTimeoutError

SQLITE_BUSY_TIMEOUT_MS = 5_000
POSTGRES_CONNECT_TIMEOUT_S = 10.0


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


class MetaDB:
    """The metadata database: engine, sessions and a readiness check."""

    name = "metadb"

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str) -> MetaDB:
        """Create the engine for ``url``; no connection is opened until first use."""
        return cls(create_engine(url))

    def session(self) -> AsyncSession:
        """A new session, to use as ``async with metadb.session() as session:``."""
        return self._sessions()

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
