"""The metadb: migrations, health check, column types and constraints, on both backends."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import col

from sources.errors import UpstreamError
from sources.metadb import MetaDB, current_revision, downgrade, head_revision, upgrade
from sources.metadb.migrate import MIGRATIONS_DIR, alembic_config
from sources.metadb.models import (
    METADATA,
    Dataset,
    Execution,
    ExecutionStatus,
    ExecutionStep,
    LineageEdge,
    LineageEdgeKind,
    MetricPoint,
    Orchestrator,
    Pipeline,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def table_names(url: str) -> set[str]:
    db = MetaDB.connect(url)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    finally:
        await db.close()


async def add_execution(db: MetaDB, **fields: Any) -> Execution:
    execution = Execution(
        **{
            "id": "exec-1",
            "pipeline_id": "pipe-1",
            "name": "run-1",
            "status": ExecutionStatus.SUCCEEDED,
            "started_at": T0,
            **fields,
        }
    )
    async with db.session() as session:
        if await session.get(Pipeline, "pipe-1") is None:
            session.add(Pipeline(id="pipe-1", orchestrator=Orchestrator.EXTERNAL, name="churn"))
            await session.flush()
        session.add(execution)
        await session.commit()
    return execution


async def add_all(db: MetaDB, *rows: Any) -> None:
    async with db.session() as session:
        session.add_all(rows)
        await session.commit()


async def aiosqlite_threads_stopped() -> None:
    """Wait for aiosqlite's worker threads to end.

    When aiosqlite fails to open a database it stops its thread without
    awaiting it; the thread then answers on the test's event loop, which must
    still be open by then (aiosqlite 0.22).
    """
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            await asyncio.to_thread(thread.join, 5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# ------------------------------------------------------------- migrations ---


async def test_empty_database_has_no_revision(metadb_url: str) -> None:
    assert await current_revision(metadb_url) is None


async def test_upgrade_from_empty_creates_every_table(metadb_url: str) -> None:
    await upgrade(metadb_url)

    assert await table_names(metadb_url) == set(METADATA.tables) | {"alembic_version"}
    assert await current_revision(metadb_url) == head_revision()


async def test_upgrade_at_head_is_a_no_op(metadb_url: str) -> None:
    await upgrade(metadb_url)
    await upgrade(metadb_url)

    assert await current_revision(metadb_url) == head_revision()


async def test_downgrade_to_base_drops_every_table(metadb_url: str) -> None:
    await upgrade(metadb_url)
    await downgrade(metadb_url, "base")

    assert await table_names(metadb_url) == {"alembic_version"}
    assert await current_revision(metadb_url) is None


async def test_upgrade_after_downgrade_to_base_restores_head(metadb_url: str) -> None:
    await upgrade(metadb_url)
    await downgrade(metadb_url, "base")
    await upgrade(metadb_url)

    assert await table_names(metadb_url) == set(METADATA.tables) | {"alembic_version"}
    assert await current_revision(metadb_url) == head_revision()


async def test_migrations_match_the_models(metadb: MetaDB) -> None:
    def diff(conn: sa.Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences: list[Any] = compare_metadata(context, METADATA)
        return differences

    async with metadb.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_failed_migration_leaves_no_trace(metadb_url: str, tmp_path: Path) -> None:
    await upgrade(metadb_url)
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts)
    (scripts / "versions" / "9999_broken.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n"
        f"revision = '9999'\ndown_revision = {head_revision()!r}\n"
        "branch_labels = depends_on = None\n"
        "def upgrade():\n"
        "    op.create_table('half_done', sa.Column('id', sa.Integer, primary_key=True))\n"
        "    raise RuntimeError('migration bug')\n"
    )
    config = alembic_config(metadb_url)
    config.set_main_option("script_location", str(scripts))

    with pytest.raises(RuntimeError, match="migration bug"):
        await asyncio.to_thread(command.upgrade, config, "head")

    assert "half_done" not in await table_names(metadb_url)
    assert await current_revision(metadb_url) == head_revision()


# ----------------------------------------------------------------- health ---


async def test_check_passes_on_a_reachable_database(metadb: MetaDB) -> None:
    await metadb.check()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sqlite+aiosqlite:////nonexistent/dir/metadb.sqlite", id="sqlite"),
        pytest.param(
            f"postgresql+asyncpg://admin:Sup3r-Secret-Pw@127.0.0.1:{free_port()}/mlmeta",
            id="postgres",
        ),
    ],
)
async def test_check_on_unreachable_database_raises_upstream_error_without_secrets(
    url: str,
) -> None:
    db = MetaDB.connect(url)
    try:
        with pytest.raises(UpstreamError) as raised:
            await db.check()
    finally:
        await db.close()
        await aiosqlite_threads_stopped()

    assert raised.value.source == "metadb"
    for secret in ("Sup3r-Secret-Pw", "admin", "SELECT", "nonexistent"):
        assert secret not in raised.value.message


# ----------------------------------------------------------- column types ---


async def test_aware_datetime_reads_back_as_the_same_instant_in_utc(metadb: MetaDB) -> None:
    berlin = timezone(timedelta(hours=2))
    started = datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=berlin)
    await add_execution(metadb, started_at=started)

    async with metadb.session() as session:
        execution = await session.get_one(Execution, "exec-1")

    assert execution.started_at == started
    assert execution.started_at.tzinfo is UTC
    assert execution.started_at.hour == 12


async def test_naive_datetime_is_refused(metadb: MetaDB) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        await add_execution(metadb, started_at=datetime(2026, 6, 1, 12, 0))


async def test_json_column_round_trips(metadb: MetaDB) -> None:
    parameters = {"lr": 0.001, "layers": [64, 32], "optimizer": {"name": "adam"}, "note": "ü"}
    await add_execution(metadb, parameters=parameters)

    async with metadb.session() as session:
        execution = await session.get_one(Execution, "exec-1")

    assert execution.parameters == parameters


async def test_enum_column_reads_back_enum_members(metadb: MetaDB) -> None:
    await add_execution(metadb, status="FAILED")

    async with metadb.session() as session:
        execution = await session.get_one(Execution, "exec-1")

    assert execution.status is ExecutionStatus.FAILED


async def test_unknown_enum_value_is_refused(metadb: MetaDB) -> None:
    with pytest.raises(StatementError, match="BOGUS"):
        await add_execution(metadb, status="BOGUS")


# ------------------------------------------------------------ constraints ---


async def test_duplicate_composite_primary_key_is_rejected(metadb: MetaDB) -> None:
    await add_execution(metadb)
    await add_all(metadb, MetricPoint(execution_id="exec-1", name="loss", step=1, value=0.5))

    with pytest.raises(IntegrityError):
        await add_all(metadb, MetricPoint(execution_id="exec-1", name="loss", step=1, value=0.4))


async def test_row_referencing_a_missing_execution_is_rejected(metadb: MetaDB) -> None:
    step = ExecutionStep(
        execution_id="missing",
        name="Train",
        position=0,
        type="Task",
        status=ExecutionStatus.RUNNING,
    )
    with pytest.raises(IntegrityError):
        await add_all(metadb, step)


async def test_deleting_an_execution_deletes_its_steps_and_metric_points(metadb: MetaDB) -> None:
    await add_execution(metadb)
    await add_all(
        metadb,
        ExecutionStep(
            execution_id="exec-1",
            name="Train",
            position=0,
            type="Task",
            status=ExecutionStatus.RUNNING,
        ),
        MetricPoint(execution_id="exec-1", name="loss", step=1, value=0.5),
    )

    async with metadb.session() as session:
        await session.exec(sa.delete(Execution).where(col(Execution.id) == "exec-1"))
        await session.commit()
        steps = await session.scalar(sa.select(sa.func.count()).select_from(ExecutionStep))
        points = await session.scalar(sa.select(sa.func.count()).select_from(MetricPoint))

    assert (steps, points) == (0, 0)


async def test_same_unversioned_dataset_uri_is_rejected(metadb: MetaDB) -> None:
    await add_all(metadb, Dataset(id="d1", uri="s3://bucket/churn.parquet", name="churn"))

    with pytest.raises(IntegrityError):
        await add_all(metadb, Dataset(id="d2", uri="s3://bucket/churn.parquet", name="churn"))


def edge(**fields: Any) -> LineageEdge:
    defaults = {"from_id": "dataset:d1", "to_id": "run:r1", "kind": LineageEdgeKind.CONSUMED}
    return LineageEdge(**{**defaults, "origin": "api", **fields})


async def test_second_live_copy_of_a_lineage_edge_is_rejected(metadb: MetaDB) -> None:
    await add_all(metadb, edge())

    with pytest.raises(IntegrityError):
        await add_all(metadb, edge(origin="openlineage"))


async def test_retired_lineage_edge_can_be_recorded_again(metadb: MetaDB) -> None:
    await add_all(metadb, edge(recorded_at=T0, retired_at=T0 + timedelta(days=1)))
    await add_all(metadb, edge(recorded_at=T0 + timedelta(days=2)))

    async with metadb.session() as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(LineageEdge))
    assert count == 2


async def test_recording_a_live_lineage_edge_on_conflict_do_nothing_is_a_no_op(
    metadb: MetaDB,
) -> None:
    dialect = metadb.engine.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"from_id": "a", "to_id": "b", "kind": "PRODUCED", "origin": "api", "recorded_at": T0}
    statement = (
        insert(LineageEdge)
        .values(values)
        .on_conflict_do_nothing(
            index_elements=["from_id", "to_id", "kind"], index_where=sa.text("retired_at IS NULL")
        )
    )

    async with metadb.session() as session:
        first = await session.exec(statement)
        second = await session.exec(statement)
        await session.commit()

    assert (first.rowcount, second.rowcount) == (1, 0)


# ----------------------------------------------------------------- sqlite ---


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    db = MetaDB.connect(f"sqlite+aiosqlite:///{tmp_path / 'metadb.sqlite'}")
    try:
        async with db.engine.connect() as conn:
            pragmas = [
                (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
    finally:
        await db.close()

    assert pragmas == ["wal", 1, 5000]
