"""Ingestion: ``log_points`` checks a batch, then stores its new points and their rollups.

Points and rollups are written in one transaction, with the idempotency key
when given; ``log_points`` is the only writer of both tables.
"""

# S608: statements are assembled from constants and numbered placeholders only;
# every value travels as a bound parameter (see ``_Sql``).
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sources.errors import NotFoundError
from sources.metadb.metrics.base import SOURCE, StoreBase
from sources.metadb.metrics.checks import Point, _check_idempotency_key, _checked
from sources.metadb.metrics.rollups import TOP, Rollup, _rollups
from sources.metadb.metrics.sql import _Driver, _Sql
from sources.metadb.models import utcnow
from sources.metrics.model import LogResult, PointIn
from sources.telemetry import metric_points_ingested

SQLITE_CHUNK_PARAMETERS = 2_750
"""Values per multi-row INSERT on SQLite (its limit is 32,766 since 3.32)."""


def stored_key(execution_id: str, idempotency_key: str) -> str:
    """How a client's idempotency key for a run is kept in ``idempotency_keys``."""
    return f"metrics:{execution_id}:{idempotency_key}"


class MetricWrites(StoreBase):
    """Metric points logged in batches (see ``MetricStore``)."""

    async def log_points(
        self,
        execution_id: str,
        points: Sequence[PointIn],
        idempotency_key: str | None = None,
    ) -> LogResult:
        """Store the points of one run; a point already stored is a duplicate, not overwritten.

        Everything is checked before anything is written: a bad point raises
        ``InputError`` naming its index, an unknown run ``NotFoundError``, and
        nothing is stored. The points and their rollups are written in one
        transaction; writers to the same run are serialised, so concurrent
        batches neither lose nor duplicate points.

        With an ``idempotency_key``, a retried call returns the first call's
        result and writes nothing (the key is scoped to the run).
        """
        fresh = _checked(points)
        key = None
        if idempotency_key is not None:
            _check_idempotency_key(idempotency_key)
            key = stored_key(execution_id, idempotency_key)
        async with self._connection(write=True) as db:
            if self._postgres:
                # Serialise writers of this run: the idempotency check, the
                # duplicate check and the rollup merge then see a stable run.
                await db.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))",
                    [f"metrics:{execution_id}"],
                )
            exists, response, spans = await self._run_state(db, execution_id, key)
            if not exists:
                raise NotFoundError(f"execution {execution_id!r} is not stored", source=SOURCE)
            if response is not None:
                first = json.loads(response)
                return LogResult(accepted=first["accepted"], duplicates=first["duplicates"])
            # Only a point within its metric's stored step span can be stored
            # already: appending new steps looks nothing up.
            maybe = [p for p in fresh if p[0] in spans and spans[p[0]][0] <= p[1] <= spans[p[0]][1]]
            if maybe:
                stored = await self._stored(db, execution_id, maybe)
                fresh = [p for p in fresh if (p[0], p[1]) not in stored]
            if fresh:
                await self._insert_points(db, execution_id, fresh)
                await self._merge_rollups(db, execution_id, _rollups(fresh))
            result = LogResult(accepted=len(fresh), duplicates=len(points) - len(fresh))
            if key is not None:
                await self._remember(db, key, f"metrics:{execution_id}", result)
        metric_points_ingested(result.accepted, result.duplicates)
        return result

    async def _run_state(
        self, db: _Driver, execution_id: str, key: str | None
    ) -> tuple[bool, str | None, dict[str, tuple[int, int]]]:
        """Whether the run exists, the stored response to ``key``, each metric's step span."""
        sql = _Sql(self._postgres)
        run = sql.arg(execution_id, "text")
        rows = await db.fetch(
            f"SELECT 0, (SELECT 1 FROM executions WHERE id = {run}), "
            "(SELECT CAST(response AS TEXT) FROM idempotency_keys "
            f"WHERE key = {sql.arg(key, 'text')}), NULL, NULL "
            "UNION ALL SELECT 1, NULL, name, min(first_step), max(last_step) "
            f"FROM metric_rollups WHERE execution_id = {run} AND width = {TOP} GROUP BY name",
            sql.args,
        )
        spans = {name: (low, high) for kind, _, name, low, high in rows if kind == 1}
        [(_, exists, response, _, _)] = [row for row in rows if row[0] == 0]
        return exists is not None, response, spans

    async def _stored(
        self, db: _Driver, execution_id: str, points: list[Point]
    ) -> set[tuple[str, int]]:
        """The (name, step) of ``points`` already stored for the run."""
        sql = _Sql(self._postgres)
        run = sql.arg(execution_id, "text")
        keys = sql.rows([("name", "text"), ("step", "int8")], [(p[0], p[1]) for p in points])
        point = f"m.execution_id = {run} AND m.name = k.name AND m.step = k.step"
        rows = await db.fetch(
            f"WITH k AS MATERIALIZED ({keys}) SELECT k.name, k.step FROM k"
            + sql.join("metric_points", "m", point),
            sql.args,
        )
        return {(name, step) for name, step in rows}

    async def _insert_points(self, db: _Driver, execution_id: str, points: list[Point]) -> None:
        if self._postgres:
            await db.execute(
                "INSERT INTO metric_points (execution_id, name, step, ts_ms, value) "
                "SELECT $1::text, t.* FROM unnest($2::text[], $3::int8[], $4::int8[], "
                "$5::float8[]) AS t ON CONFLICT DO NOTHING",
                [execution_id, *map(list, zip(*points, strict=True))],
            )
        else:
            await self._insert_chunks(
                db,
                "INSERT INTO metric_points (execution_id, name, step, ts_ms, value) VALUES ",
                " ON CONFLICT DO NOTHING",
                [(execution_id, *p) for p in points],
            )

    async def _merge_rollups(self, db: _Driver, execution_id: str, rollups: list[Rollup]) -> None:
        # Merging is commutative: counts add, min/max keep the lower/higher
        # value (the lower step on ties), first/last the outer steps.
        lower = (
            "excluded.min_value < r.min_value OR (excluded.min_value = r.min_value "
            "AND excluded.min_step < r.min_step)"
        )
        higher = (
            "excluded.max_value > r.max_value OR (excluded.max_value = r.max_value "
            "AND excluded.max_step < r.max_step)"
        )
        merge = (
            " ON CONFLICT (execution_id, width, name, bucket) DO UPDATE SET n = r.n + excluded.n"
        )
        for column in ("min_step", "min_value", "min_ts_ms"):
            merge += f", {column} = CASE WHEN {lower} THEN excluded.{column} ELSE r.{column} END"
        for column in ("max_step", "max_value", "max_ts_ms"):
            merge += f", {column} = CASE WHEN {higher} THEN excluded.{column} ELSE r.{column} END"
        merge += (
            ", first_step = CASE WHEN excluded.first_step < r.first_step "
            "THEN excluded.first_step ELSE r.first_step END"
            ", last_step = CASE WHEN excluded.last_step > r.last_step "
            "THEN excluded.last_step ELSE r.last_step END"
        )
        insert = (
            "INSERT INTO metric_rollups AS r (execution_id, width, name, bucket, n, min_step, "
            "min_value, min_ts_ms, max_step, max_value, max_ts_ms, first_step, last_step) "
        )
        if self._postgres:
            types = ["int4", "text", "int8", "int4", "int8", "float8", "int8"]
            types += ["int8", "float8", "int8", "int8", "int8"]
            arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, start=2))
            await db.execute(
                insert + f"SELECT $1::text, t.* FROM unnest({arrays}) AS t" + merge,
                [execution_id, *map(list, zip(*rollups, strict=True))],
            )
        else:
            await self._insert_chunks(
                db, insert + "VALUES ", merge, [(execution_id, *r) for r in rollups]
            )

    async def _insert_chunks(
        self, db: _Driver, insert: str, tail: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        """SQLite: multi-row INSERTs of ``SQLITE_CHUNK_PARAMETERS`` values or fewer each.

        Faster than ``executemany`` (one statement per row); all run in the
        caller's transaction.
        """
        size = SQLITE_CHUNK_PARAMETERS // len(rows[0])
        values = "(" + ", ".join("?" * len(rows[0])) + ")"
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            await db.execute(
                insert + ", ".join([values] * len(chunk)) + tail,
                [value for row in chunk for value in row],
            )

    async def _remember(self, db: _Driver, key: str, scope: str, result: LogResult) -> None:
        response = json.dumps({"accepted": result.accepted, "duplicates": result.duplicates})
        created_at = self._bind_time(utcnow()) if self._bind_time else utcnow()
        sql = (
            "INSERT INTO idempotency_keys (key, scope, created_at, response) "
            "VALUES ($1, $2, $3::timestamptz, CAST($4::text AS jsonb))"
            if self._postgres
            else "INSERT INTO idempotency_keys (key, scope, created_at, response) "
            "VALUES (?1, ?2, ?3, ?4)"
        )
        await db.execute(sql, [key, scope, created_at, response])
