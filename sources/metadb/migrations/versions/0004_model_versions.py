"""Model version facts, fetched from the registry once and kept.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

``model_versions`` holds what a model package was registered with (artefact,
provenance, customer metadata, report URIs): none of it changes after
registration, so a version is described by the registry once, ever.
"""

from __future__ import annotations

from collections.abc import Sequence

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain types, as in 0001: an old migration must not change with the models.
TIMESTAMP = sa.DateTime(timezone=True)


def json_document() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("arn", sa.String(), nullable=False),
        sa.Column("group_name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("artifact_uri", sa.String(), nullable=True),
        sa.Column("generated_by", sa.String(), nullable=True),
        sa.Column("customer_metadata", json_document(), nullable=False),
        sa.Column("model_metrics", json_document(), nullable=False),
        sa.Column("fetched_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("arn", name="pk_model_versions"),
    )


def downgrade() -> None:
    op.drop_table("model_versions")
