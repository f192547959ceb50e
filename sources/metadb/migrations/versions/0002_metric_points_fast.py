"""Metric points keyed for fast series reads, and their min/max rollups.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

``metric_points`` is recreated (it held no data worth keeping yet):

- timestamps become bigint epoch milliseconds (``ts_ms``): cheaper to store,
  index and decode than timestamptz;
- SQLite stores it ``WITHOUT ROWID``, so the primary key (execution_id, name,
  step) *is* the table and a series is one contiguous range of it;
- PostgreSQL's primary key carries ``INCLUDE (ts_ms, value)``, so reading a
  series is an index-only scan once the table is vacuumed (one index, not a
  primary key plus a second covering index).

``metric_rollups`` holds, for bucket widths 4, 16, 64, ... 65536 steps, each
bucket's point count, first and last step and its min and max points, whole
(step, value and timestamp; ties go to the lowest step). It is written in the
same transaction as the points, so long series are downsampled from a few rows
per returned point instead of every stored point, with no lookup of the points
kept. Its key starts (execution_id, width, name): one range holds every metric
of a run at one width.

Downgrade drops both and recreates 0001's ``metric_points`` (empty).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("metric_points")
    op.create_table(
        "metric_points",
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint(
            "execution_id",
            "name",
            "step",
            name="pk_metric_points",
            postgresql_include=["ts_ms", "value"],
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_metric_points_execution_id_executions",
            ondelete="CASCADE",
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "metric_rollups",
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("min_step", sa.BigInteger(), nullable=False),
        sa.Column("min_value", sa.Double(), nullable=False),
        sa.Column("min_ts_ms", sa.BigInteger(), nullable=True),
        sa.Column("max_step", sa.BigInteger(), nullable=False),
        sa.Column("max_value", sa.Double(), nullable=False),
        sa.Column("max_ts_ms", sa.BigInteger(), nullable=True),
        sa.Column("first_step", sa.BigInteger(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "execution_id", "width", "name", "bucket", name="pk_metric_rollups"
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_metric_rollups_execution_id_executions",
            ondelete="CASCADE",
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("metric_rollups")
    op.drop_table("metric_points")
    op.create_table(
        "metric_points",
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("value", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "name", "step", name="pk_metric_points"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_metric_points_execution_id_executions",
            ondelete="CASCADE",
        ),
    )
