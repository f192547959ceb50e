"""The metadb tables, as SQLModel classes.

What lives here is what no upstream holds (runs pushed from outside, metric
points, model card revisions, lineage edges, datasets, idempotency keys) and
the cache of finished executions, which are never asked of AWS again.

Conventions:
- every instant is a ``UTCDateTime`` (aware UTC in and out, naive refused);
- enums are plain string columns validated in Python (``EnumText``), so a new
  member needs no migration;
- constraint and index names follow ``NAMING_CONVENTION``, which the hand-
  written migrations repeat verbatim so SQLite batch migrations can find them.

Any change here needs a migration in ``migrations/versions``; the parity test
(alembic ``compare_metadata``) fails until there is one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from sources.metadb.columns import EnumText, UTCDateTime, json_document

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Orchestrator(StrEnum):
    STEP_FUNCTIONS = "STEP_FUNCTIONS"
    SAGEMAKER_PIPELINES = "SAGEMAKER_PIPELINES"
    EXTERNAL = "EXTERNAL"


class ExecutionStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


class ModelCardStatus(StrEnum):
    DRAFT = "DRAFT"
    PENDING_REVIEW = "PENDING_REVIEW"
    APPROVED = "APPROVED"
    ARCHIVED = "ARCHIVED"


class LineageEdgeKind(StrEnum):
    CONSUMED = "CONSUMED"
    PRODUCED = "PRODUCED"
    DEPLOYED = "DEPLOYED"
    DERIVED_FROM = "DERIVED_FROM"
    DESCRIBES = "DESCRIBES"


class MetaDBModel(
    SQLModel, registry=registry(metadata=sa.MetaData(naming_convention=NAMING_CONVENTION))
):
    """Base of the metadb tables: its own metadata (and naming convention), shared with no one."""


class Pipeline(MetaDBModel, table=True):
    __tablename__ = "pipelines"
    __table_args__ = (
        sa.UniqueConstraint("orchestrator", "name"),
        sa.UniqueConstraint("arn"),
        sa.Index("ix_pipelines_entity_ref", "entity_ref"),
    )

    id: str = Field(primary_key=True, sa_type=sa.String())
    orchestrator: Orchestrator = Field(sa_type=EnumText(Orchestrator))
    name: str = Field(sa_type=sa.String())
    arn: str | None = Field(default=None, sa_type=sa.String())
    entity_ref: str | None = Field(default=None, sa_type=sa.String())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Execution(MetaDBModel, table=True):
    """One run of a pipeline: pushed from outside, or a cached AWS execution.

    ``finished`` marks an immutable record: a finished AWS execution is served
    from here and never fetched again.
    """

    __tablename__ = "executions"
    __table_args__ = (
        sa.Index("ix_executions_pipeline_id_started_at", "pipeline_id", "started_at"),
    )

    id: str = Field(primary_key=True, sa_type=sa.String())
    pipeline_id: str = Field(foreign_key="pipelines.id", sa_type=sa.String())
    name: str = Field(sa_type=sa.String())
    arn: str | None = Field(default=None, sa_type=sa.String())
    status: ExecutionStatus = Field(sa_type=EnumText(ExecutionStatus))
    started_at: datetime = Field(sa_type=UTCDateTime())
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    error: str | None = Field(default=None, sa_type=sa.String())
    cause: str | None = Field(default=None, sa_type=sa.Text())
    parameters: dict[str, Any] = Field(default_factory=dict, sa_type=json_document())
    finished: bool = Field(default=False, sa_type=sa.Boolean())
    fetched_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class ExecutionStep(MetaDBModel, table=True):
    __tablename__ = "execution_steps"

    execution_id: str = Field(
        primary_key=True, foreign_key="executions.id", ondelete="CASCADE", sa_type=sa.String()
    )
    name: str = Field(primary_key=True, sa_type=sa.String())
    position: int = Field(sa_type=sa.Integer())
    type: str = Field(sa_type=sa.String())
    status: ExecutionStatus = Field(sa_type=EnumText(ExecutionStatus))
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    attempts: int = Field(default=0, sa_type=sa.Integer())
    error: str | None = Field(default=None, sa_type=sa.String())
    cause: str | None = Field(default=None, sa_type=sa.Text())
    resource_arn: str | None = Field(default=None, sa_type=sa.String())


class MetricPoint(MetaDBModel, table=True):
    """One value of a metric at one step of a run.

    The primary key (execution_id, name, step) serves every read of points: a
    series is one contiguous range of it. SQLite keeps the table ``WITHOUT
    ROWID`` (the key is the table); PostgreSQL's key index also carries the
    timestamp and value, so a series is read by an index-only scan.

    Written only through ``MetricStore.log_points``, which keeps
    ``metric_rollups`` in step in the same transaction.
    """

    __tablename__ = "metric_points"
    __table_args__ = (
        sa.PrimaryKeyConstraint(
            "execution_id", "name", "step", postgresql_include=["ts_ms", "value"]
        ),
        {"sqlite_with_rowid": False},
    )

    execution_id: str = Field(
        primary_key=True, foreign_key="executions.id", ondelete="CASCADE", sa_type=sa.String()
    )
    name: str = Field(primary_key=True, sa_type=sa.String())
    step: int = Field(primary_key=True, sa_type=sa.BigInteger())
    ts_ms: int | None = Field(default=None, sa_type=sa.BigInteger())
    """Epoch milliseconds, as the client reported them."""
    value: float = Field(sa_type=sa.Double())


class MetricRollup(MetaDBModel, table=True):
    """The points of one metric in one bucket of ``width`` steps, summarised.

    ``bucket`` is ``step // width`` (floor division) for widths 4, 16, 64, ...
    65536. ``min_*``/``max_*`` are the bucket's min and max points (step,
    value, timestamp), the lowest step on ties, so downsampling needs no
    lookup of them. The key starts (execution_id, width): the coarsest width
    of a run is one short range listing every metric it has.
    """

    __tablename__ = "metric_rollups"
    __table_args__ = ({"sqlite_with_rowid": False},)

    execution_id: str = Field(
        primary_key=True, foreign_key="executions.id", ondelete="CASCADE", sa_type=sa.String()
    )
    width: int = Field(primary_key=True, sa_type=sa.Integer())
    name: str = Field(primary_key=True, sa_type=sa.String())
    bucket: int = Field(primary_key=True, sa_type=sa.BigInteger())
    n: int = Field(sa_type=sa.Integer())
    min_step: int = Field(sa_type=sa.BigInteger())
    min_value: float = Field(sa_type=sa.Double())
    min_ts_ms: int | None = Field(default=None, sa_type=sa.BigInteger())
    max_step: int = Field(sa_type=sa.BigInteger())
    max_value: float = Field(sa_type=sa.Double())
    max_ts_ms: int | None = Field(default=None, sa_type=sa.BigInteger())
    first_step: int = Field(sa_type=sa.BigInteger())
    last_step: int = Field(sa_type=sa.BigInteger())


class IdempotencyKey(MetaDBModel, table=True):
    """A client key already seen, with the response it got (NULL while in flight)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.Index("ix_idempotency_keys_created_at", "created_at"),)

    key: str = Field(primary_key=True, sa_type=sa.String())
    scope: str = Field(sa_type=sa.String())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    response: dict[str, Any] | None = Field(default=None, sa_type=json_document(nullable=True))


class Dataset(MetaDBModel, table=True):
    """A dataset version. (uri, version) is unique, and so is uri alone when unversioned:

    SQL treats NULLs as distinct, so the unique constraint alone would let the
    same unversioned URI in twice; a partial unique index closes that gap.
    """

    __tablename__ = "datasets"
    __table_args__ = (
        sa.UniqueConstraint("uri", "version"),
        sa.Index(
            "uq_datasets_uri_unversioned",
            "uri",
            unique=True,
            sqlite_where=sa.text("version IS NULL"),
            postgresql_where=sa.text("version IS NULL"),
        ),
    )

    id: str = Field(primary_key=True, sa_type=sa.String())
    uri: str = Field(sa_type=sa.String())
    version: str | None = Field(default=None, sa_type=sa.String())
    name: str = Field(sa_type=sa.String())
    entity_ref: str | None = Field(default=None, sa_type=sa.String())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class ModelVersionFacts(MetaDBModel, table=True):
    """What a model version was registered with: fetched from the registry once.

    A model package's artefact, provenance and reports do not change after
    registration, so they are stored like finished executions and never asked
    of AWS again. Approval status does change and is not kept here.
    """

    __tablename__ = "model_versions"

    arn: str = Field(primary_key=True, sa_type=sa.String())
    group_name: str = Field(sa_type=sa.String())
    version: int = Field(sa_type=sa.Integer())
    created_at: datetime = Field(sa_type=UTCDateTime())
    artifact_uri: str | None = Field(default=None, sa_type=sa.String())
    generated_by: str | None = Field(default=None, sa_type=sa.String())
    customer_metadata: dict[str, Any] = Field(default_factory=dict, sa_type=json_document())
    model_metrics: dict[str, Any] = Field(default_factory=dict, sa_type=json_document())
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class ModelCardRevision(MetaDBModel, table=True):
    """Every edit of a model card is a new row; old revisions stay readable.

    The primary key (model_version_id, revision) also serves "latest revision"
    (a backward scan of the index) and makes a concurrent edit of the same base
    revision fail with a duplicate key instead of silently winning.
    """

    __tablename__ = "model_card_revisions"

    model_version_id: str = Field(primary_key=True, sa_type=sa.String())
    revision: int = Field(primary_key=True, sa_type=sa.Integer())
    status: ModelCardStatus = Field(sa_type=EnumText(ModelCardStatus))
    content: dict[str, Any] = Field(default_factory=dict, sa_type=json_document())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    updated_by: str | None = Field(default=None, sa_type=sa.String())


class LineageEdge(MetaDBModel, table=True):
    """A directed edge, live from ``recorded_at`` until ``retired_at`` (if ever).

    Edges are never updated or deleted, only retired, so the graph can be read
    as of any past instant: ``recorded_at <= t AND (retired_at IS NULL OR
    retired_at > t)``.

    At most one *live* edge exists per (from_id, to_id, kind): the partial
    unique index ``uq_lineage_edges_live`` makes recording it again a no-op
    (``INSERT ... ON CONFLICT DO NOTHING``, both backends), whichever origin
    reports it; the first origin is kept. Retired rows are outside the index,
    so an edge can be retired and recorded again, and its history stays.
    """

    __tablename__ = "lineage_edges"
    __table_args__ = (
        # One range per node and direction, already cut at ``recorded_at <= t``;
        # PostgreSQL answers a graph walk from the index alone (migration 0003).
        sa.Index(
            "ix_lineage_edges_from_id_recorded_at",
            "from_id",
            "recorded_at",
            postgresql_include=["to_id", "kind", "retired_at", "origin"],
        ),
        sa.Index(
            "ix_lineage_edges_to_id_recorded_at",
            "to_id",
            "recorded_at",
            postgresql_include=["from_id", "kind", "retired_at", "origin"],
        ),
        sa.Index(
            "uq_lineage_edges_live",
            "from_id",
            "to_id",
            "kind",
            unique=True,
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        ),
    )

    # BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the
    # auto-incrementing rowid (and it is 64-bit there anyway).
    id: int | None = Field(
        default=None,
        primary_key=True,
        sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
    )
    from_id: str = Field(sa_type=sa.String())
    to_id: str = Field(sa_type=sa.String())
    kind: LineageEdgeKind = Field(sa_type=EnumText(LineageEdgeKind))
    origin: str = Field(sa_type=sa.String(64))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class TrustedDocument(MetaDBModel, table=True):
    """A GraphQL document clients may send by its sha256 (persisted queries).

    Keyed by the hex sha256 of the exact document text, as Apollo's APQ and
    persisted-query manifests compute it, so every replica resolves a hash the
    same way. ``source`` says how it arrived: ``apq`` (a client registered it),
    ``cli`` (``mlmeta documents register``).
    """

    __tablename__ = "trusted_documents"

    sha256: str = Field(primary_key=True, sa_type=sa.String(64))
    document: str = Field(sa_type=sa.Text())
    source: str = Field(sa_type=sa.String(16))
    registered_by: str | None = Field(default=None, sa_type=sa.String())
    registered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


METADATA = MetaDBModel.metadata
