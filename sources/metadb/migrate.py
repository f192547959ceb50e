"""Alembic, driven from code: no alembic.ini, so it works from an installed wheel.

``upgrade`` and ``downgrade`` run Alembic in a worker thread because the
migration environment (``migrations/env.py``) drives the async engine with
``asyncio.run``, which cannot run inside the caller's event loop.

Alembic is imported when first used: a replica on PostgreSQL (migrated by
``mlmeta migrate``) never loads it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from sources.metadb.db import create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url``.

    The URL travels in ``Config.attributes``, not in the ini options: those go
    through configparser interpolation (a ``%`` in an encoded password breaks
    it) and are easy to log by accident.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    return config


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``; a no-op when already there."""
    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def downgrade(url: str, revision: str) -> None:
    """Migrate down to ``revision`` (``"base"`` drops every metadb table)."""
    from alembic import command

    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


async def current_revision(url: str) -> str | None:
    """The revision the database is at; ``None`` before the first migration."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current_revision)
    finally:
        await engine.dispose()


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision this code ships (reads the scripts, no database)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("")).get_current_head()
