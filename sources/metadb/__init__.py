"""The metadata database: what no upstream holds, and finished executions.

SQLModel over SQLAlchemy's async engine; SQLite (``sqlite+aiosqlite:///path``)
by default, PostgreSQL (``postgresql+asyncpg://...``) in production. The schema
changes only through the Alembic migrations in ``migrations/versions``.
"""

from __future__ import annotations

from sources.metadb.db import MetaDB
from sources.metadb.migrate import current_revision, downgrade, head_revision, upgrade

__all__ = ["MetaDB", "current_revision", "downgrade", "head_revision", "upgrade"]
