"""Initial metadb schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written by hand. Types are plain SQLAlchemy types on purpose: the models'
column classes (UTCDateTime, EnumText) only convert values in Python, and an
old migration must not change when they do. Constraint names follow
models.NAMING_CONVENTION so SQLite batch migrations can address them later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Aware instants: timestamptz on PostgreSQL, UTC text on SQLite.
TIMESTAMP = sa.DateTime(timezone=True)
# Enum values are short strings, validated in Python; no database enum types.
ENUM = sa.String(32)


def json_document() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("orchestrator", ENUM, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("arn", sa.String(), nullable=True),
        sa.Column("entity_ref", sa.String(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pipelines"),
        sa.UniqueConstraint("orchestrator", "name", name="uq_pipelines_orchestrator_name"),
        sa.UniqueConstraint("arn", name="uq_pipelines_arn"),
    )
    op.create_index("ix_pipelines_entity_ref", "pipelines", ["entity_ref"])

    op.create_table(
        "executions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("pipeline_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("arn", sa.String(), nullable=True),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("stopped_at", TIMESTAMP, nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("parameters", json_document(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("fetched_at", TIMESTAMP, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
        sa.ForeignKeyConstraint(
            ["pipeline_id"], ["pipelines.id"], name="fk_executions_pipeline_id_pipelines"
        ),
    )
    op.create_index(
        "ix_executions_pipeline_id_started_at", "executions", ["pipeline_id", "started_at"]
    )

    op.create_table(
        "execution_steps",
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("stopped_at", TIMESTAMP, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("resource_arn", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("execution_id", "name", name="pk_execution_steps"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_execution_steps_execution_id_executions",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "metric_points",
        sa.Column("execution_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=True),
        sa.Column("value", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "name", "step", name="pk_metric_points"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_metric_points_execution_id_executions",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("response", json_document(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])

    op.create_table(
        "datasets",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("entity_ref", sa.String(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.UniqueConstraint("uri", "version", name="uq_datasets_uri_version"),
    )
    # NULLs are distinct in a unique constraint: this keeps an unversioned URI unique too.
    op.create_index(
        "uq_datasets_uri_unversioned",
        "datasets",
        ["uri"],
        unique=True,
        sqlite_where=sa.text("version IS NULL"),
        postgresql_where=sa.text("version IS NULL"),
    )

    op.create_table(
        "model_card_revisions",
        sa.Column("model_version_id", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("content", json_document(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("updated_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("model_version_id", "revision", name="pk_model_card_revisions"),
    )

    op.create_table(
        "lineage_edges",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("from_id", sa.String(), nullable=False),
        sa.Column("to_id", sa.String(), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("retired_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_lineage_edges"),
    )
    op.create_index("ix_lineage_edges_from_id", "lineage_edges", ["from_id"])
    op.create_index("ix_lineage_edges_to_id", "lineage_edges", ["to_id"])
    # One live edge per (from, to, kind); retired rows are history and stay.
    op.create_index(
        "uq_lineage_edges_live",
        "lineage_edges",
        ["from_id", "to_id", "kind"],
        unique=True,
        sqlite_where=sa.text("retired_at IS NULL"),
        postgresql_where=sa.text("retired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("lineage_edges")
    op.drop_table("model_card_revisions")
    op.drop_table("datasets")
    op.drop_table("idempotency_keys")
    op.drop_table("metric_points")
    op.drop_table("execution_steps")
    op.drop_table("executions")
    op.drop_table("pipelines")
