"""Alembic environment for the metadb, on the async engine.

Run through ``sources.metadb.migrate`` (which puts the database URL in
``config.attributes["url"]``), never through an alembic.ini.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from sources.metadb.db import create_engine
from sources.metadb.models import METADATA

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: run migrations through sources.metadb.migrate")
    return str(url)


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade --sql``)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=METADATA,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=is_sqlite,
        # SQLite can roll DDL back too, once the driver stops committing on its
        # own (see _sqlite_transactional_ddl): a failed upgrade leaves no trace.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if is_sqlite:
            # Foreign keys were off while tables were rebuilt: prove nothing broke.
            broken = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
            if broken:
                raise RuntimeError(f"migration left {len(broken)} rows with broken foreign keys")


def _sqlite_transactional_ddl(engine: AsyncEngine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.

    sqlite3's legacy mode only opens a transaction before INSERT/UPDATE/DELETE
    and runs DDL outside it; SQLAlchemy's documented recipe turns that off and
    emits BEGIN itself, so the whole migration is one transaction.
    """

    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None

    def on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)


async def run_migrations_online() -> None:
    engine = create_engine(_url(), foreign_keys=False, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        _sqlite_transactional_ddl(engine)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
