"""Lineage edges indexed for as-of graph walks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

A walk asks, one depth level at a time, for the edges leaving (or entering) a
set of nodes that held at an instant ``t``: ``from_id IN (...) AND recorded_at
<= t AND (retired_at IS NULL OR retired_at > t)``. The single-column indexes on
``from_id`` and ``to_id`` are replaced by (from_id, recorded_at) and (to_id,
recorded_at): the same lookups (the node is still the leading column), with
the ``recorded_at`` bound applied inside the index. On PostgreSQL they also
INCLUDE the other columns a walk reads, so it is answered by index-only scans;
SQLite has no INCLUDE and reads the rows.

Downgrade restores 0001's two indexes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_lineage_edges_from_id", table_name="lineage_edges")
    op.drop_index("ix_lineage_edges_to_id", table_name="lineage_edges")
    op.create_index(
        "ix_lineage_edges_from_id_recorded_at",
        "lineage_edges",
        ["from_id", "recorded_at"],
        postgresql_include=["to_id", "kind", "retired_at", "origin"],
    )
    op.create_index(
        "ix_lineage_edges_to_id_recorded_at",
        "lineage_edges",
        ["to_id", "recorded_at"],
        postgresql_include=["from_id", "kind", "retired_at", "origin"],
    )


def downgrade() -> None:
    op.drop_index("ix_lineage_edges_to_id_recorded_at", table_name="lineage_edges")
    op.drop_index("ix_lineage_edges_from_id_recorded_at", table_name="lineage_edges")
    op.create_index("ix_lineage_edges_from_id", "lineage_edges", ["from_id"])
    op.create_index("ix_lineage_edges_to_id", "lineage_edges", ["to_id"])
