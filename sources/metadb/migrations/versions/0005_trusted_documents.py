"""Trusted documents: GraphQL documents known by their sha256.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

``trusted_documents`` backs automatic persisted queries (a client sends only
the hash) and the enforce mode (only registered documents run). It lives in the
metadb rather than in each process so that every replica resolves a hash that
any of them, or ``mlmeta documents register``, has stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain types, as in 0001: an old migration must not change with the models.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "trusted_documents",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("registered_by", sa.String(), nullable=True),
        sa.Column("registered_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_trusted_documents"),
    )


def downgrade() -> None:
    op.drop_table("trusted_documents")
