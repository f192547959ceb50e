"""Pipelines and their executions as the metadb keeps them.

The metadb holds two kinds of runs: the cache of finished AWS executions
(written by ``save_execution``, never fetched from AWS again) and the runs that
orchestrators push themselves (``record_external_run``). Every method is
batch-shaped: one SQL statement per read, a fixed number per write, whatever
the number of ids, and all of a write's statements in one transaction.

Console URLs are not stored (they depend on the deployment's region and
domain), so ``console_url`` is always ``None`` here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import count
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sources.cursors import decode_cursor, encode_cursor
from sources.errors import ConflictError, InputError, NotFoundError
from sources.metadb.db import MetaDB
from sources.metadb.models import (
    Execution,
    ExecutionStatus,
    ExecutionStep,
    MetaDBModel,
    Orchestrator,
    Pipeline,
    utcnow,
)
from sources.pipelines.model import (
    ExecutionInfo,
    ExecutionPage,
    PipelineInfo,
    StepState,
    external_execution_id,
    external_pipeline_id,
)

T = TypeVar("T")

SOURCE = "metadb"
MAX_NAME_LENGTH = 200
_PIPELINE_UPDATES = ("orchestrator", "name", "arn", "entity_ref", "updated_at")
_STEP_UPDATES = (
    "position",
    "type",
    "status",
    "started_at",
    "stopped_at",
    "attempts",
    "error",
    "cause",
    "resource_arn",
)


class PipelineStore:
    """Pipelines, executions and steps in the metadb, read and written in batches."""

    name = SOURCE

    def __init__(self, metadb: MetaDB) -> None:
        self._metadb = metadb

    def _insert(self, model: type[MetaDBModel]) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that can take ``ON CONFLICT`` on this backend."""
        if self._metadb.engine.dialect.name == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)

    # -------------------------------------------------------------- pipelines ---

    async def save_pipeline(self, info: PipelineInfo) -> None:
        """Insert the pipeline, or update the stored one with the same id.

        Raises ``ConflictError`` when another pipeline already has its ARN or
        its (orchestrator, name).
        """
        now = utcnow()
        insert = self._insert(Pipeline).values(
            id=info.id,
            orchestrator=info.orchestrator,
            name=info.name,
            arn=info.arn,
            entity_ref=info.entity_ref,
            created_at=now,
            updated_at=now,
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["id"], set_={c: insert.excluded[c] for c in _PIPELINE_UPDATES}
        )
        async with self._metadb.session() as session, session.begin():
            try:
                await session.exec(upsert)
            except IntegrityError as exc:
                raise ConflictError(
                    f"another pipeline already has the ARN or the {info.orchestrator} name "
                    f"{info.name!r}",
                    source=SOURCE,
                ) from exc

    async def pipelines_by_ids(self, ids: Sequence[str]) -> list[PipelineInfo | None]:
        """The pipelines in key order, ``None`` for an id not stored."""
        if not ids:
            return []
        statement = select(Pipeline).where(col(Pipeline.id).in_(_unique(ids)))
        async with self._metadb.session() as session:
            found = {row.id: _pipeline_info(row) for row in await session.exec(statement)}
        return [found.get(key) for key in ids]

    async def list_pipelines(
        self,
        orchestrators: Sequence[Orchestrator] | None,
        text: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[PipelineInfo], bool]:
        """A page of pipelines ordered by name, and whether more follow.

        ``text`` matches a case-insensitive substring of the name; ``None``
        filters mean "any".
        """
        _check_page(limit, offset)
        statement = select(Pipeline)
        if orchestrators is not None:
            statement = statement.where(col(Pipeline.orchestrator).in_(_unique(orchestrators)))
        if text:
            statement = statement.where(
                sa.func.lower(col(Pipeline.name)).contains(text.lower(), autoescape=True)
            )
        statement = (
            statement.order_by(col(Pipeline.name), col(Pipeline.id)).offset(offset).limit(limit + 1)
        )
        async with self._metadb.session() as session:
            rows = list(await session.exec(statement))
        return [_pipeline_info(row) for row in rows[:limit]], len(rows) > limit

    # ------------------------------------------------------------- executions ---

    async def save_execution(
        self, execution: ExecutionInfo, steps: Sequence[StepState] | None = None
    ) -> None:
        """Store an execution and, when ``steps`` is given, replace its steps.

        A stored *finished* execution is immutable: saving it again is a no-op,
        whatever the new content (a finished AWS execution cannot change, so a
        different copy is a stale or wrong one). The check and the write are one
        statement, so a concurrent save cannot slip in between.

        Everything is one transaction: if any part fails, nothing is stored.
        Raises ``NotFoundError`` when the execution's pipeline is not stored
        (save it first) and ``InputError`` when two steps share a name.
        """
        if steps is not None:
            _check_unique_step_names(steps)
        now = utcnow()
        insert = self._insert(Execution).values(
            _execution_row(execution, updated_at=now, fetched_at=now)
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["id"],
            set_={c.name: c for c in insert.excluded if c.name != "id"},
            where=sa.not_(col(Execution.finished)),
        ).returning(col(Execution.id))
        async with self._metadb.session() as session, session.begin():
            try:
                written = (await session.exec(upsert)).first()
            except IntegrityError as exc:
                # The only constraint this statement can break is the pipeline's foreign key.
                raise NotFoundError(
                    f"pipeline {execution.pipeline_id!r} is not stored; save it before "
                    "its executions",
                    source=SOURCE,
                ) from exc
            if written is None:
                return  # stored as finished: immutable
            if steps is not None:
                await session.exec(
                    sa.delete(ExecutionStep).where(col(ExecutionStep.execution_id) == execution.id)
                )
                if steps:
                    await session.exec(
                        self._insert(ExecutionStep).values(
                            [_step_row(execution.id, step) for step in steps]
                        )
                    )

    async def executions_by_ids(self, ids: Sequence[str]) -> list[ExecutionInfo | None]:
        """The executions in key order, ``None`` for an id not stored."""
        if not ids:
            return []
        statement = sa.select(*_EXECUTION_COLUMNS).where(col(Execution.id).in_(_unique(ids)))
        async with self._metadb.session() as session:
            rows = (await session.exec(statement)).all()  # type: ignore[call-overload]
        found = {row.id: _execution_info(row) for row in rows}
        return [found.get(key) for key in ids]

    async def finished_steps_by_execution_ids(
        self, ids: Sequence[str]
    ) -> list[list[StepState] | None]:
        """The steps of stored finished executions, by position; ``None`` for any other id.

        ``None`` tells the caller to ask the upstream; a finished execution
        without steps gets ``[]``.
        """
        if not ids:
            return []
        statement = (
            select(col(Execution.id), ExecutionStep)
            .outerjoin(ExecutionStep, col(ExecutionStep.execution_id) == col(Execution.id))
            .where(col(Execution.id).in_(_unique(ids)), col(Execution.finished))
            .order_by(col(Execution.id), col(ExecutionStep.position), col(ExecutionStep.name))
        )
        found: dict[str, list[StepState]] = {}
        async with self._metadb.session() as session:
            for execution_id, step in await session.exec(statement):
                steps = found.setdefault(execution_id, [])
                if step is not None:  # the outer join's row for an execution without steps
                    steps.append(_step_state(step))
        return [found.get(key) for key in ids]

    async def steps_by_execution_ids(self, ids: Sequence[str]) -> list[list[StepState]]:
        """The stored steps of any execution, finished or not, by position (``[]`` if none)."""
        if not ids:
            return []
        statement = (
            select(ExecutionStep)
            .where(col(ExecutionStep.execution_id).in_(_unique(ids)))
            .order_by(col(ExecutionStep.position), col(ExecutionStep.name))
        )
        found: dict[str, list[StepState]] = {}
        async with self._metadb.session() as session:
            for step in await session.exec(statement):
                found.setdefault(step.execution_id, []).append(_step_state(step))
        return [found.get(key, []) for key in ids]

    async def training_job_steps(self, limit: int) -> list[tuple[str, str]]:
        """(execution id, training job ARN) of stored steps that ran a SageMaker training
        job, newest first, at most ``limit``; one statement."""
        statement = (
            select(ExecutionStep.execution_id, ExecutionStep.resource_arn)
            .where(col(ExecutionStep.resource_arn).like("arn:%:training-job/%"))
            .order_by(
                col(ExecutionStep.started_at).desc().nulls_last(), col(ExecutionStep.execution_id)
            )
            .limit(limit)
        )
        async with self._metadb.session() as session:
            return [(run, arn) for run, arn in await session.exec(statement) if arn]

    async def list_executions(
        self,
        pipeline_id: str,
        statuses: Sequence[ExecutionStatus] | None,
        since: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> ExecutionPage:
        """A page of a pipeline's executions, newest first (ties broken by id, descending).

        ``since`` keeps executions started at or after it. Pages are keyset-
        paginated: ``next_token`` is an opaque cursor naming the last execution
        of this page, so rows added meanwhile never shift a page.
        """
        _check_page(limit, 0)
        statement = sa.select(*_EXECUTION_COLUMNS).where(col(Execution.pipeline_id) == pipeline_id)
        if statuses:  # None or empty: every status
            statement = statement.where(col(Execution.status).in_(_unique(statuses)))
        if since is not None:
            _check_aware("since", since)
            statement = statement.where(col(Execution.started_at) >= since)
        if cursor is not None:
            after_started, after_id = _decode_cursor(cursor)
            statement = statement.where(
                sa.or_(
                    col(Execution.started_at) < after_started,
                    sa.and_(
                        col(Execution.started_at) == after_started,
                        col(Execution.id) < after_id,
                    ),
                )
            )
        statement = statement.order_by(
            col(Execution.started_at).desc(), col(Execution.id).desc()
        ).limit(limit + 1)
        async with self._metadb.session() as session:
            rows = list((await session.exec(statement)).all())  # type: ignore[call-overload]
        items = [_execution_info(row) for row in rows[:limit]]
        next_token = _encode_cursor(items[-1]) if len(rows) > limit else None
        return ExecutionPage(
            items=items, next_token=next_token, item_cursors=[_encode_cursor(e) for e in items]
        )

    async def latest_executions(self, pipeline_ids: Sequence[str]) -> list[ExecutionInfo | None]:
        """The newest execution of each pipeline (same order as ``list_executions``)."""
        if not pipeline_ids:
            return []
        rank = (
            sa.func.row_number()
            .over(
                partition_by=col(Execution.pipeline_id),
                order_by=(col(Execution.started_at).desc(), col(Execution.id).desc()),
            )
            .label("rank")
        )
        ranked = (
            sa.select(Execution, rank)
            .where(col(Execution.pipeline_id).in_(_unique(pipeline_ids)))
            .subquery()
        )
        latest = aliased(Execution, ranked)
        statement = select(latest).where(ranked.c.rank == 1)
        async with self._metadb.session() as session:
            found = {row.pipeline_id: _execution_info(row) for row in await session.exec(statement)}
        return [found.get(key) for key in pipeline_ids]

    # ----------------------------------------------------------- pushed runs ---

    async def record_external_run(
        self,
        pipeline_name: str,
        run_id: str,
        *,
        status: ExecutionStatus,
        started_at: datetime,
        stopped_at: datetime | None = None,
        parameters: Mapping[str, Any] | None = None,
        error: str | None = None,
        cause: str | None = None,
        steps: Sequence[StepState] = (),
        entity_ref: str | None = None,
    ) -> ExecutionInfo:
        """Store a run pushed by an orchestrator, and return it as now stored.

        Creates the pipeline ``external:<name>`` (an ``entity_ref`` given
        replaces the stored one; ``None`` keeps it) and the execution
        ``external:<name>:<run id>``. Each push carries the run's header
        whole; steps are merged by name: a pushed step replaces the stored step
        of that name, steps not pushed are kept. ``position`` is the order of
        first entry: a stored step keeps its place, and steps new to the run go
        after the stored ones, in the order of their pushed positions.

        A finished run is immutable: a push that would change it raises
        ``ConflictError``, while re-sending it unchanged returns it and writes
        nothing. Bad input raises ``InputError``. Nothing is stored on error.
        Pushes to one pipeline are serialized by the lock its upsert takes.
        """
        incoming, pushed = _external_run(
            pipeline_name,
            run_id,
            status=status,
            started_at=started_at,
            stopped_at=stopped_at,
            parameters=parameters,
            error=error,
            cause=cause,
            steps=steps,
        )
        async with self._metadb.session() as session, session.begin():
            await self.upsert_external_pipeline_in(session, pipeline_name, entity_ref)
            stored, stored_steps = await _execution_with_steps(session, incoming.id)
            pushed = _placed(pushed, stored_steps)
            if stored is not None:
                unchanged = incoming == stored and {**stored_steps, **pushed} == stored_steps
                if stored.finished and not unchanged:
                    raise ConflictError(
                        f"run {run_id!r} of pipeline {pipeline_name!r} already finished as "
                        f"{stored.status}; a finished run is immutable",
                        source=SOURCE,
                    )
                if unchanged:
                    return stored
            await self._write_external_run(session, incoming, list(pushed.values()))
        return incoming

    async def upsert_external_pipeline_in(
        self, session: AsyncSession, pipeline_name: str, entity_ref: str | None
    ) -> None:
        """Create the EXTERNAL pipeline if new, in the caller's transaction; its entity
        ref changes only when one is given. ``ConflictError`` on a name clash."""
        now = utcnow()
        insert = self._insert(Pipeline).values(
            id=external_pipeline_id(pipeline_name),
            orchestrator=Orchestrator.EXTERNAL,
            name=pipeline_name,
            entity_ref=entity_ref,
            created_at=now,
            updated_at=now,
        )
        # Writes only when the entity ref changes, but locks the row on PostgreSQL
        # either way, which serializes pushes to the pipeline (SQLite has one writer).
        upsert = insert.on_conflict_do_update(
            index_elements=["id"],
            set_={"entity_ref": insert.excluded.entity_ref, "updated_at": now},
            where=sa.and_(
                insert.excluded.entity_ref.is_not(None),
                col(Pipeline.entity_ref).is_distinct_from(insert.excluded.entity_ref),
            ),
        )
        try:
            await session.exec(upsert)
        except IntegrityError as exc:
            raise ConflictError(
                f"another EXTERNAL pipeline is already named {pipeline_name!r}", source=SOURCE
            ) from exc

    async def _write_external_run(
        self, session: AsyncSession, execution: ExecutionInfo, steps: list[StepState]
    ) -> None:
        insert = self._insert(Execution).values(
            _execution_row(execution, updated_at=utcnow(), fetched_at=None)
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["id"],
            set_={c.name: c for c in insert.excluded if c.name != "id"},
            where=sa.not_(col(Execution.finished)),
        ).returning(col(Execution.id))
        if (await session.exec(upsert)).first() is None:
            raise ConflictError(
                f"run {execution.name!r} finished meanwhile; a finished run is immutable",
                source=SOURCE,
            )
        if steps:
            insert = self._insert(ExecutionStep).values(
                [_step_row(execution.id, step) for step in steps]
            )
            await session.exec(
                insert.on_conflict_do_update(
                    index_elements=["execution_id", "name"],
                    set_={c: insert.excluded[c] for c in _STEP_UPDATES},
                )
            )


async def _execution_with_steps(
    session: AsyncSession, execution_id: str
) -> tuple[ExecutionInfo | None, dict[str, StepState]]:
    """The stored execution and its steps by name, in one query."""
    statement = (
        select(Execution, ExecutionStep)
        .outerjoin(ExecutionStep, col(ExecutionStep.execution_id) == col(Execution.id))
        .where(col(Execution.id) == execution_id)
    )
    execution: ExecutionInfo | None = None
    steps: dict[str, StepState] = {}
    for row, step in await session.exec(statement):
        execution = _execution_info(row)
        if step is not None:
            steps[step.name] = _step_state(step)
    return execution, steps


def _placed(pushed: dict[str, StepState], stored: dict[str, StepState]) -> dict[str, StepState]:
    """The pushed steps with the positions they take in the run (see record_external_run)."""
    following = count(max((s.position for s in stored.values()), default=-1) + 1)
    new_positions = {
        s.name: next(following)
        for s in sorted(pushed.values(), key=lambda s: s.position)
        if s.name not in stored
    }
    return {
        name: replace(s, position=stored[name].position if name in stored else new_positions[name])
        for name, s in pushed.items()
    }


# ------------------------------------------------------------------ input ---


def _external_run(
    pipeline_name: str,
    run_id: str,
    *,
    status: ExecutionStatus,
    started_at: datetime,
    stopped_at: datetime | None,
    parameters: Mapping[str, Any] | None,
    error: str | None,
    cause: str | None,
    steps: Sequence[StepState],
) -> tuple[ExecutionInfo, dict[str, StepState]]:
    """The pushed run and its steps by name, validated and in UTC; ``InputError`` if bad."""
    _check_name("pipeline name", pipeline_name)
    if ":" in pipeline_name:
        # external:<pipeline name>:<run id> would be ambiguous.
        raise InputError(f"pipeline name {pipeline_name!r} must not contain ':'", source=SOURCE)
    _check_name("run id", run_id)
    _check_interval("run", started_at, stopped_at)
    for step in steps:
        _check_name("step name", step.name)
        _check_interval(f"step {step.name!r}", step.started_at, step.stopped_at)
    _check_unique_step_names(steps)
    execution = ExecutionInfo(
        id=external_execution_id(pipeline_name, run_id),
        pipeline_id=external_pipeline_id(pipeline_name),
        name=run_id,
        status=status,
        started_at=started_at.astimezone(UTC),
        stopped_at=_utc(stopped_at),
        error=error,
        cause=cause,
        parameters=_json_object(parameters or {}),
    )
    pushed = {
        step.name: replace(step, started_at=_utc(step.started_at), stopped_at=_utc(step.stopped_at))
        for step in steps
    }
    return execution, pushed


def _check_page(limit: int, offset: int) -> None:
    if limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}", source=SOURCE)
    if offset < 0:
        raise InputError(f"offset must not be negative, got {offset}", source=SOURCE)


def _check_name(what: str, value: str) -> None:
    if not value.strip():
        raise InputError(f"{what} must not be empty", source=SOURCE)
    if len(value) > MAX_NAME_LENGTH:
        raise InputError(
            f"{what} must be at most {MAX_NAME_LENGTH} characters, got {len(value)}",
            source=SOURCE,
        )


def _check_aware(what: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what} must have a time zone, got {value.isoformat()}", source=SOURCE)


def _check_interval(what: str, started_at: datetime | None, stopped_at: datetime | None) -> None:
    if started_at is not None:
        _check_aware(f"{what} started_at", started_at)
    if stopped_at is not None:
        _check_aware(f"{what} stopped_at", stopped_at)
    if started_at is not None and stopped_at is not None and stopped_at < started_at:
        raise InputError(
            f"{what} stopped_at {stopped_at.isoformat()} is before its started_at "
            f"{started_at.isoformat()}",
            source=SOURCE,
        )


def _check_unique_step_names(steps: Sequence[StepState]) -> None:
    seen: set[str] = set()
    for step in steps:
        if step.name in seen:
            raise InputError(f"step {step.name!r} is given more than once", source=SOURCE)
        seen.add(step.name)


def _json_object(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` as the JSON column will give it back (so comparisons hold)."""
    try:
        document: dict[str, Any] = json.loads(json.dumps(dict(parameters), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InputError(f"parameters must be a JSON object: {exc}", source=SOURCE) from None
    return document


def _encode_cursor(last: ExecutionInfo) -> str:
    return encode_cursor([last.started_at.isoformat(), last.id])


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    malformed = InputError(
        "malformed cursor: pass the next_token of a previous page", source=SOURCE
    )
    try:
        document = decode_cursor(cursor)
        started, execution_id = document
        started_at = datetime.fromisoformat(started)
    except (TypeError, ValueError):
        raise malformed from None
    if not (isinstance(document, list) and isinstance(execution_id, str)):
        raise malformed
    if started_at.tzinfo is None or started_at.utcoffset() is None:
        raise malformed
    return started_at, execution_id


# ---------------------------------------------------------------- mapping ---


def _unique(values: Sequence[T]) -> list[T]:
    return list(dict.fromkeys(values))


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _pipeline_info(row: Pipeline) -> PipelineInfo:
    return PipelineInfo(
        id=row.id,
        orchestrator=row.orchestrator,
        name=row.name,
        arn=row.arn,
        entity_ref=row.entity_ref,
    )


# Plain columns, not ORM objects: building a SQLModel instance per row costs ~0.3 ms
# (validation on every attribute), which a list of 200 runs would pay 200 times.
_EXECUTION_COLUMNS = (
    col(Execution.id),
    col(Execution.pipeline_id),
    col(Execution.name),
    col(Execution.status),
    col(Execution.started_at),
    col(Execution.stopped_at),
    col(Execution.arn),
    col(Execution.error),
    col(Execution.cause),
    col(Execution.parameters),
)


def _execution_info(row: Any) -> ExecutionInfo:
    return ExecutionInfo(
        id=row.id,
        pipeline_id=row.pipeline_id,
        name=row.name,
        status=row.status,
        started_at=row.started_at,
        stopped_at=row.stopped_at,
        arn=row.arn,
        error=row.error,
        cause=row.cause,
        parameters=dict(row.parameters),
        detailed=True,
    )


def _step_state(row: ExecutionStep) -> StepState:
    return StepState(
        name=row.name,
        type=row.type,
        status=row.status,
        position=row.position,
        started_at=row.started_at,
        stopped_at=row.stopped_at,
        attempts=row.attempts,
        error=row.error,
        cause=row.cause,
        resource_arn=row.resource_arn,
    )


def _execution_row(
    execution: ExecutionInfo, *, updated_at: datetime, fetched_at: datetime | None
) -> dict[str, Any]:
    return {
        "id": execution.id,
        "pipeline_id": execution.pipeline_id,
        "name": execution.name,
        "arn": execution.arn,
        "status": execution.status,
        "started_at": execution.started_at,
        "stopped_at": execution.stopped_at,
        "error": execution.error,
        "cause": execution.cause,
        "parameters": dict(execution.parameters),
        "finished": execution.finished,
        "fetched_at": fetched_at,
        "updated_at": updated_at,
    }


def _step_row(execution_id: str, step: StepState) -> dict[str, Any]:
    return {
        "execution_id": execution_id,
        "name": step.name,
        "position": step.position,
        "type": step.type,
        "status": step.status,
        "started_at": step.started_at,
        "stopped_at": step.stopped_at,
        "attempts": step.attempts,
        "error": step.error,
        "cause": step.cause,
        "resource_arn": step.resource_arn,
    }
