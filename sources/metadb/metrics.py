"""Metric points in the metadb: batched ingestion and series reads that scale.

Every method is batch-shaped and runs a fixed number of SQL statements,
whatever the number of runs, metrics or points (SQLite inserts go in chunks
of a few hundred rows, all in one transaction). The store speaks to the
database driver directly (asyncpg, or sqlite3 through aiosqlite) on a
connection checked out of the engine's pool: for 100k points SQLAlchemy
Core costs several times what the driver does, and series are the hottest
reads of the portal.

Two tables (see ``models.py``): ``metric_points`` holds every point,
``metric_rollups`` summarises them per bucket of 4, 16, ... 65536 steps
(count, first and last step, min and max points, the lowest step on ties).
Both are written in one transaction by ``log_points``, their only writer.
Summaries, names and evolution read the coarsest rollups, a row or two per
metric of a run, and look the last point up by key.

Downsampling keeps, for each of ``(max_points - 2) // 2`` target buckets of the
range, the bucket's min and max points, plus the range's first and last
points. Target buckets are runs of whole rollup buckets of one width ``w``, so
a long series is downsampled from rollup rows (a few per returned point), the
ragged ends of the range from finer rollups and at most three raw points
each. Shorter series are downsampled from their raw points with the same
buckets: both ways give identical results.
"""

# S608: statements are assembled from constants and numbered placeholders only;
# every value travels as a bound parameter (see ``_Sql``).
# ruff: noqa: S608

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, cast

from sources.errors import InputError, NotFoundError
from sources.metadb.columns import UTCDateTime
from sources.metadb.db import MetaDB
from sources.metadb.models import utcnow
from sources.metrics.model import (
    MAX_BATCH_POINTS,
    MAX_NAME_LENGTH,
    MAX_SERIES_POINTS,
    NAME_PATTERN,
    Evolution,
    EvolutionRequest,
    LogResult,
    MetricSummary,
    PointIn,
    RunValue,
    Series,
    SeriesRequest,
)

SOURCE = "metadb"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
WIDTHS = (4, 16, 64, 256, 1024, 4096, 16384, 65536)
"""Rollup bucket widths: each is four of the previous."""
TOP = WIDTHS[-1]
MIN_SERIES_POINTS = 4
"""Smallest maxPoints: one bucket's min and max, and the range's first and last points."""
MAX_EVOLUTION_RUNS = 1_000
MAX_IDEMPOTENCY_KEY_LENGTH = 200
SQLITE_CHUNK_PARAMETERS = 2_750
"""Values per multi-row INSERT on SQLite (its limit is 32,766 since 3.32)."""
ROLLUP_MIN_POINTS = 2_000
"""Series with fewer points in range are downsampled from raw points (as cheap as rollups)."""

Row = Sequence[Any]
Point = tuple[str, int, int | None, float]
"""A validated point: (name, step, ts_ms, value)."""
Rollup = tuple[int, str, int, int, int, float, int | None, int, float, int | None, int, int]
"""(width, name, bucket, n, min_step, min_value, min_ts_ms, max_step, max_value, max_ts_ms,
first_step, last_step): a row of ``metric_rollups``."""


def stored_key(execution_id: str, idempotency_key: str) -> str:
    """How a client's idempotency key for a run is kept in ``idempotency_keys``."""
    return f"metrics:{execution_id}:{idempotency_key}"


class MetricStore:
    """Metric points of runs: logged in batches, read as summaries and series.

    ``trace``, when given, is called with the text of every SQL statement sent
    (benchmarks and tests count them; the engine's events do not see them).
    """

    name = SOURCE

    def __init__(
        self,
        metadb: MetaDB,
        *,
        rollup_min_points: int = ROLLUP_MIN_POINTS,
        trace: Callable[[str], object] | None = None,
    ) -> None:
        self._metadb = metadb
        self._postgres = metadb.engine.dialect.name == "postgresql"
        self._rollup_min_points = rollup_min_points
        self._trace = trace
        # Instants are stored as the models store them (UTC text on SQLite).
        dialect = metadb.engine.dialect
        instant = UTCDateTime().dialect_impl(dialect)
        self._bind_time = instant.bind_processor(dialect)
        self._read_time = instant.result_processor(dialect, None)

    # ---------------------------------------------------------------- writes ---

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

    # -------------------------------------------------------------- summaries ---

    async def summaries(self, execution_ids: Sequence[str]) -> list[list[MetricSummary]]:
        """The last value (highest step) of every metric of each run, by name; one statement."""
        return await self._last_values(execution_ids, None)

    async def compare(
        self, execution_ids: Sequence[str], metrics: Sequence[str] | None
    ) -> list[list[MetricSummary]]:
        """``summaries`` restricted to ``metrics`` (``None``: all); one statement."""
        return await self._last_values(execution_ids, metrics)

    async def _last_values(
        self, execution_ids: Sequence[str], metrics: Sequence[str] | None
    ) -> list[list[MetricSummary]]:
        if not execution_ids or (metrics is not None and not metrics):
            return [[] for _ in execution_ids]
        sql = _Sql(self._postgres)
        runs = sql.rows([("eid", "text")], [(e,) for e in _unique(execution_ids)])
        top = f"r.execution_id = runs.eid AND r.width = {TOP}"
        if metrics is not None:
            names = sql.rows([("name", "text")], [(m,) for m in _unique(metrics)])
            top += f" AND r.name IN ({names})"
        last = "m.execution_id = l.eid AND m.name = l.name AND m.step = l.step"
        rows = await self._fetch(
            f"WITH runs AS MATERIALIZED ({runs}), "
            "last AS MATERIALIZED (SELECT r.execution_id AS eid, r.name AS name, "
            "max(r.last_step) AS step FROM runs"
            + sql.join("metric_rollups", "r", top)
            + "GROUP BY r.execution_id, r.name) "
            "SELECT l.eid, l.name, l.step, m.value, m.ts_ms FROM last l"
            + sql.join("metric_points", "m", last),
            sql.args,
        )
        found: dict[str, list[MetricSummary]] = {}
        for eid, name, step, value, ts_ms in rows:
            found.setdefault(eid, []).append(MetricSummary(name, value, step, ts_ms))
        for summaries in found.values():
            summaries.sort(key=lambda s: s.name)
        return [list(found.get(e, ())) for e in execution_ids]

    async def metric_names(self, execution_ids: Sequence[str]) -> list[list[str]]:
        """The metric names of each run, sorted; one statement."""
        if not execution_ids:
            return []
        sql = _Sql(self._postgres)
        runs = sql.rows([("eid", "text")], [(e,) for e in _unique(execution_ids)])
        top = f"r.execution_id = q.eid AND r.width = {TOP}"
        rows = await self._fetch(
            f"SELECT DISTINCT r.execution_id, r.name FROM ({runs}) AS q"
            + sql.join("metric_rollups", "r", top),
            sql.args,
        )
        return _grouped_names(rows, execution_ids)

    async def metric_names_for_pipelines(self, pipeline_ids: Sequence[str]) -> list[list[str]]:
        """The names of the metrics any run of each pipeline reported, sorted; one statement."""
        if not pipeline_ids:
            return []
        sql = _Sql(self._postgres)
        pipelines = sql.rows([("pid", "text")], [(p,) for p in _unique(pipeline_ids)])
        top = f"r.execution_id = e.id AND r.width = {TOP}"
        rows = await self._fetch(
            f"SELECT DISTINCT e.pipeline_id, r.name FROM ({pipelines}) AS q "
            "JOIN executions e ON e.pipeline_id = q.pid" + sql.join("metric_rollups", "r", top),
            sql.args,
        )
        return _grouped_names(rows, pipeline_ids)

    async def evolution(self, request: EvolutionRequest) -> list[Evolution]:
        """Each metric's final value in the pipeline's last runs, oldest run first; one statement.

        The runs are the ``last_runs`` newest by start (started at or after
        ``since``, if given); a run that did not report a metric gets ``None``.
        """
        if not 1 <= request.last_runs <= MAX_EVOLUTION_RUNS:
            raise InputError(
                f"lastRuns must be between 1 and {MAX_EVOLUTION_RUNS}, got {request.last_runs}",
                source=SOURCE,
            )
        metrics = _unique(request.metrics)
        if not metrics:
            return []
        sql = _Sql(self._postgres)
        pipeline = sql.arg(request.pipeline_id, "text")
        since = ""
        if request.since is not None:
            if request.since.utcoffset() is None:
                raise InputError("since must have a time zone", source=SOURCE)
            bound = self._bind_time(request.since) if self._bind_time else request.since
            since = f"AND started_at >= {sql.arg(bound, 'timestamptz')} "
        limit = sql.arg(request.last_runs, "int8")
        names = sql.rows([("idx", "int8"), ("name", "text")], list(enumerate(metrics)))
        top = f"r.execution_id = runs.id AND r.width = {TOP} AND r.name = mt.name"
        last = "m.execution_id = l.eid AND m.name = l.name AND m.step = l.step"
        rows = await self._fetch(
            "WITH runs AS MATERIALIZED (SELECT id, started_at FROM executions "
            f"WHERE pipeline_id = {pipeline} {since}"
            f"ORDER BY started_at DESC, id DESC LIMIT {limit}), "
            f"mt AS MATERIALIZED ({names}), "
            "last AS MATERIALIZED (SELECT runs.id AS eid, mt.name AS name, "
            "max(r.last_step) AS step FROM runs CROSS JOIN mt"
            + sql.join("metric_rollups", "r", top)
            + "GROUP BY runs.id, mt.name) "
            "SELECT mt.idx, runs.id, runs.started_at, m.value FROM runs CROSS JOIN mt "
            "LEFT JOIN last l ON l.eid = runs.id AND l.name = mt.name"
            + sql.join("metric_points", "m", last, left=True)
            + "ORDER BY mt.idx, runs.started_at, runs.id",
            sql.args,
        )
        points: list[list[RunValue]] = [[] for _ in metrics]
        for idx, eid, started_at, value in rows:
            started = self._read_time(started_at) if self._read_time else started_at
            points[idx].append(RunValue(eid, cast("datetime", started), metrics[idx], value))
        return [Evolution(metric=m, points=p) for m, p in zip(metrics, points, strict=True)]

    # ----------------------------------------------------------------- series ---

    async def series(self, requests: Sequence[SeriesRequest]) -> list[list[Series]]:
        """For each request, one ``Series`` per metric of the run that exists, by name.

        The step range applies first. A range holding at most ``max_points``
        points comes whole; a longer one is downsampled in the database (see
        the module docs): deterministic, at most ``max_points`` points in step
        order, the first and last points of the range always kept, and every
        bucket's min and max. ``count``, ``min``, ``max`` and ``last`` describe
        every point stored in the range. At most four statements (stats, whole
        series, series downsampled from points, from rollups), read from one
        snapshot, whatever the number of requests, runs and metrics.
        """
        for request in requests:
            _check_series_request(request)
        if not requests:
            return []
        async with self._connection(snapshot=True) as db:
            found = await self._series_stats(db, requests)
            whole = [s for s in found if 0 < s.count <= s.max_points]
            thinned = [s for s in found if s.count > s.max_points]
            if whole:
                await self._whole_series(db, whole)
            if thinned:
                await self._downsampled_series(db, thinned)
        results: list[list[Series]] = [[] for _ in requests]
        for s in sorted(found, key=lambda s: (s.request, s.name)):
            results[s.request].append(s.result())
        return results

    async def _series_stats(self, db: _Driver, requests: Sequence[SeriesRequest]) -> list[_Found]:
        """Every (request, metric) with its count, first/last step and min/max/last in range.

        Read from rollups: the range is cut into aligned blocks, the coarsest
        that fit (see ``_blocks``), and only the range's ragged ends below
        four steps are raw points.
        """
        sql = _Sql(self._postgres)
        wanted: list[tuple[int, str, str | None]] = []
        blocks: list[tuple[int, int, int, int]] = []
        for index, request in enumerate(requests):
            names: Iterable[str | None] = (None,) if request.names is None else request.names
            wanted.extend((index, request.execution_id, name) for name in _unique(names))
            low, high = _range(request)
            blocks.extend((index, *block) for block in _blocks(low, high, TOP))
        reqs = sql.rows([("req", "int8"), ("eid", "text"), ("name", "text")], wanted)
        pieces = sql.rows(
            [("req", "int8"), ("width", "int8"), ("lo", "int8"), ("hi", "int8")], blocks
        )
        named = f"r.execution_id = q.eid AND r.width = {TOP} AND r.name = q.name"
        every = f"q.name IS NULL AND r.execution_id = q.eid AND r.width = {TOP}"
        block = "r.execution_id = s.eid AND r.width = p.width AND r.name = s.name "
        block += "AND r.bucket BETWEEN p.lo AND p.hi"
        raw = "m.execution_id = s.eid AND m.name = s.name AND m.step BETWEEN p.lo AND p.hi"
        last = "m.execution_id = s.eid AND m.name = s.name AND m.step = st.last_step"
        rows = await db.fetch(
            f"WITH reqs AS MATERIALIZED ({reqs}), pieces AS MATERIALIZED ({pieces}), "
            "series AS MATERIALIZED ("
            "SELECT DISTINCT q.req, q.eid, r.name FROM reqs q"
            + sql.join("metric_rollups", "r", named)
            + "UNION SELECT DISTINCT q.req, q.eid, r.name FROM reqs q"
            + sql.join("metric_rollups", "r", every)
            + "), parts AS ("
            "SELECT s.req, s.name, r.n, r.first_step, r.last_step, r.min_value, r.max_value "
            "FROM series s JOIN pieces p ON p.req = s.req AND p.width > 1"
            + sql.join("metric_rollups", "r", block)
            + "UNION ALL SELECT s.req, s.name, 1, m.step, m.step, m.value, m.value "
            "FROM series s JOIN pieces p ON p.req = s.req AND p.width = 1"
            + sql.join("metric_points", "m", raw)
            + "), stats AS MATERIALIZED (SELECT req, name, sum(n) AS n, "
            "min(first_step) AS first_step, max(last_step) AS last_step, "
            "min(min_value) AS min_value, max(max_value) AS max_value "
            "FROM parts GROUP BY req, name) "
            "SELECT s.req, s.eid, s.name, st.n, st.first_step, st.last_step, st.min_value, "
            "st.max_value, m.value FROM series s "
            "LEFT JOIN stats st ON st.req = s.req AND st.name = s.name"
            + sql.join("metric_points", "m", last, left=True),
            sql.args,
        )
        return [
            _Found(
                request=req,
                execution_id=eid,
                name=name,
                max_points=requests[req].max_points,
                count=int(n or 0),
                first_step=first,
                last_step=last,
                min=low,
                max=high,
                last=value,
            )
            for req, eid, name, n, first, last, low, high, value in rows
        ]

    async def _whole_series(self, db: _Driver, found: list[_Found]) -> None:
        """Read every point in range of each series."""
        sql = _Sql(self._postgres)
        selected = sql.rows(
            [("sidx", "int8"), ("eid", "text"), ("name", "text"), ("lo", "int8"), ("hi", "int8")],
            [(i, s.execution_id, s.name, s.first_step, s.last_step) for i, s in enumerate(found)],
        )
        if self._postgres:
            rows = await db.fetch(
                # Aggregating an ordered index scan keeps its order, and costs half
                # of an ORDER BY inside each aggregate (checked by fill()).
                f"WITH sel AS ({selected}) SELECT sel.sidx, p.steps, p.ts, p.vals FROM sel "
                "CROSS JOIN LATERAL (SELECT array_agg(q.step) AS steps, array_agg(q.ts_ms) AS ts, "
                "array_agg(q.value) AS vals FROM (SELECT m.step, m.ts_ms, m.value "
                "FROM metric_points m WHERE m.execution_id = sel.eid AND m.name = sel.name "
                "AND m.step BETWEEN sel.lo AND sel.hi ORDER BY m.step) AS q) AS p",
                sql.args,
            )
            for sidx, steps, ts, values in rows:
                found[sidx].fill(steps, ts, values)
            return
        # SQLite returns the points series by series in the order of ``sel``,
        # each in step order: the CROSS JOIN keeps ``sel`` the outer loop and
        # reads each series as one range of the key. An ORDER BY would sort
        # every point (twice the time); the counts and fill() check the shape.
        in_range = "m.execution_id = sel.eid AND m.name = sel.name "
        in_range += "AND m.step BETWEEN sel.lo AND sel.hi"
        rows = await db.fetch(
            f"WITH sel AS MATERIALIZED ({selected}) SELECT m.step, m.ts_ms, m.value FROM sel"
            + sql.join("metric_points", "m", in_range),
            sql.args,
        )
        if len(rows) != sum(s.count for s in found):
            raise RuntimeError("metric points changed within a read snapshot")
        start = 0
        for s in found:
            end = start + s.count
            steps, ts, values = zip(*rows[start:end], strict=True)
            s.fill(list(steps), list(ts), list(values))
            start = end

    async def _downsampled_series(self, db: _Driver, found: list[_Found]) -> None:
        """Each series' first and last points and every target bucket's min and max points.

        The target buckets are runs of whole ``w``-wide rollup buckets (``w`` the
        widest giving at least as many as wanted): ``w``-bucket ``b`` goes to
        target ``(b - b0) * buckets // nw``. Short series are downsampled from
        their raw points, long ones from rollups (see ``_from_rollups``); both
        give the same points.
        """
        grids: list[_Grid] = []
        raw: list[int] = []
        rolled: list[int] = []
        for sidx, s in enumerate(found):
            buckets = (s.max_points - 2) // 2
            ends = (s.first_step, s.last_step)
            width, first_bucket, spanned = _grid(*ends, buckets)
            grids.append(
                (sidx, s.execution_id, s.name, width, first_bucket, spanned, buckets, *ends)
            )
            # Rollups cost about one row per spanned bucket, raw points one per point.
            use_rollups = width > 1 and s.count >= max(self._rollup_min_points, 2 * spanned)
            (rolled if use_rollups else raw).append(sidx)
        if raw:
            await self._from_points(db, found, [grids[i] for i in raw])
        if rolled:
            await self._from_rollups(db, found, [grids[i] for i in rolled])

    async def _from_points(self, db: _Driver, found: list[_Found], grids: list[_Grid]) -> None:
        """Downsample from raw points, in the database: ranked within each target bucket."""
        sql = _Sql(self._postgres)
        ds = sql.rows(_GRID_COLUMNS, grids)
        in_range = "m.execution_id = d.eid AND m.name = d.name AND m.step BETWEEN d.a AND d.b"
        target = _target(_floor_div("m.step", "d.w"))
        rows = await db.fetch(
            f"WITH ds AS MATERIALIZED ({ds}), "
            f"c AS (SELECT d.sidx, d.a, d.b, m.step, m.ts_ms, m.value, {target} AS tb FROM ds d"
            + sql.join("metric_points", "m", in_range)
            + "), ranked AS (SELECT sidx, a, b, step, ts_ms, value, "
            "row_number() OVER (PARTITION BY sidx, tb ORDER BY value, step) AS rmin, "
            "row_number() OVER (PARTITION BY sidx, tb ORDER BY value DESC, step) AS rmax FROM c) "
            "SELECT sidx, step, ts_ms, value FROM ranked "
            "WHERE rmin = 1 OR rmax = 1 OR step = a OR step = b ORDER BY sidx, step",
            sql.args,
        )
        for sidx, group in groupby(rows, key=itemgetter(0)):
            _, steps, ts, values = zip(*group, strict=True)
            found[sidx].fill(list(steps), list(ts), list(values), downsampled=True)

    async def _from_rollups(self, db: _Driver, found: list[_Found], grids: list[_Grid]) -> None:
        """Downsample from rollups: cost follows the points returned, not those stored.

        The range is cut into blocks no wider than ``w`` (``_blocks``): whole
        ``w``-buckets in the middle, finer rollups and at most three raw points
        at each ragged end. The database reads those rows, a few per target
        bucket, each carrying its min and max points whole, and puts each in
        its target bucket; keeping each bucket's lowest and highest is then one
        linear pass here (window functions over them cost SQLite several times
        more). The range's first and last points are looked up, as targets -1
        and ``nb``.
        """
        sql = _Sql(self._postgres)
        pieces = [
            (g[0], *block)
            for g in grids
            for block in sorted(_blocks(g[7], g[8], g[3]), key=lambda b: b[1] * b[0])
        ]
        ds = sql.rows(_GRID_COLUMNS, grids)
        pc = sql.rows([("sidx", "int8"), ("width", "int8"), ("lo", "int8"), ("hi", "int8")], pieces)
        block = "r.execution_id = d.eid AND r.width = p.width AND r.name = d.name "
        block += "AND r.bucket BETWEEN p.lo AND p.hi"
        raw = "m.execution_id = d.eid AND m.name = d.name AND m.step BETWEEN p.lo AND p.hi"
        ends = "m.execution_id = d.eid AND m.name = d.name AND m.step IN (d.a, d.b)"
        rows = await db.fetch(
            f"WITH ds AS MATERIALIZED ({ds}), pc AS MATERIALIZED ({pc}) "
            f"SELECT d.sidx, {_target(_floor_div('r.bucket', '(d.w / p.width)'))} AS tb, "
            "r.min_step, r.min_value, r.min_ts_ms, r.max_step, r.max_value, r.max_ts_ms "
            "FROM pc p JOIN ds d ON d.sidx = p.sidx AND p.width > 1"
            + sql.join("metric_rollups", "r", block)
            + f"UNION ALL SELECT d.sidx, {_target(_floor_div('m.step', 'd.w'))}, "
            "m.step, m.value, m.ts_ms, m.step, m.value, m.ts_ms "
            "FROM pc p JOIN ds d ON d.sidx = p.sidx AND p.width = 1"
            + sql.join("metric_points", "m", raw)
            + "UNION ALL SELECT d.sidx, CASE WHEN m.step = d.a THEN -1 ELSE d.nb END, "
            "m.step, m.value, m.ts_ms, m.step, m.value, m.ts_ms "
            "FROM ds d" + sql.join("metric_points", "m", ends),
            sql.args,
        )
        # The rows come in a few runs already in (series, target) order (one per
        # UNION ALL branch, as the blocks are listed in step order): sorting
        # here merges them in linear time, where SQLite's sorter would copy
        # every row through a temporary b-tree.
        rows.sort(key=itemgetter(0, 1))
        for sidx, group in groupby(rows, key=itemgetter(0)):
            kept = _Kept()
            for _, candidates in groupby(group, key=itemgetter(1)):
                kept.add_bucket(candidates)
            found[sidx].fill(kept.steps, kept.timestamps, kept.values, downsampled=True)

    # -------------------------------------------------------------- plumbing ---

    async def _fetch(self, sql: str, args: Sequence[Any]) -> list[Row]:
        async with self._connection() as db:
            return await db.fetch(sql, args)

    @asynccontextmanager
    async def _connection(
        self, *, write: bool = False, snapshot: bool = False
    ) -> AsyncIterator[_Driver]:
        """A pooled connection's driver, in a transaction when writing or reading a snapshot.

        Writes on SQLite take the write lock up front (``BEGIN IMMEDIATE``), so
        concurrent writers queue on the busy timeout instead of deadlocking.
        """
        async with self._metadb.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            if self._postgres:
                pg = _Postgres(driver, self._trace)
                if not (write or snapshot):
                    yield pg
                    return
                isolation = "read_committed" if write else "repeatable_read"
                async with driver.transaction(isolation=isolation, readonly=not write):
                    yield pg
                return
            lite = _Sqlite(driver, self._trace)
            if not (write or snapshot):
                yield lite
                return
            await driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield lite
            except BaseException:
                await driver.rollback()
                raise
            await driver.commit()


# ------------------------------------------------------------------ drivers ---


class _Driver:
    """The few calls the store makes, on asyncpg or aiosqlite."""

    def __init__(self, connection: Any, trace: Callable[[str], object] | None) -> None:
        self._connection = connection
        self._trace = trace

    def _sent(self, sql: str) -> None:
        if self._trace is not None:
            self._trace(sql)

    async def fetch(self, sql: str, args: Sequence[Any]) -> list[Row]:
        raise NotImplementedError

    async def execute(self, sql: str, args: Sequence[Any]) -> None:
        raise NotImplementedError


class _Postgres(_Driver):
    async def fetch(self, sql: str, args: Sequence[Any]) -> list[Row]:
        self._sent(sql)
        return cast("list[Row]", await self._connection.fetch(sql, *args))

    async def execute(self, sql: str, args: Sequence[Any]) -> None:
        self._sent(sql)
        await self._connection.execute(sql, *args)


class _Sqlite(_Driver):
    # execute_fetchall is one hop to aiosqlite's thread; a cursor would be several.
    async def fetch(self, sql: str, args: Sequence[Any]) -> list[Row]:
        self._sent(sql)
        return cast("list[Row]", await self._connection.execute_fetchall(sql, args))

    async def execute(self, sql: str, args: Sequence[Any]) -> None:
        self._sent(sql)
        await self._connection.execute_fetchall(sql, args)


class _Sql:
    """Parameters of one statement, numbered as the backend wants them.

    PostgreSQL takes ``$n`` with a cast; SQLite ``?n``. A table of rows
    becomes ``unnest`` of one array per column on PostgreSQL, and a JSON array
    of arrays read with ``json_each`` on SQLite (exact for strings and 64-bit
    integers; floats never travel this way).
    """

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.args: list[Any] = []

    def arg(self, value: Any, pg_type: str) -> str:
        self.args.append(value)
        return f"${len(self.args)}::{pg_type}" if self.postgres else f"?{len(self.args)}"

    def rows(self, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> str:
        names = ", ".join(name for name, _ in columns)
        if self.postgres:
            arrays = [
                self.arg([row[i] for row in rows], f"{t}[]") for i, (_, t) in enumerate(columns)
            ]
            return f"SELECT * FROM unnest({', '.join(arrays)}) AS t({names})"
        document = self.arg(json.dumps(rows, separators=(",", ":")), "text")
        values = ", ".join(
            f"json_extract(value, '$[{i}]') AS {name}" for i, (name, _) in enumerate(columns)
        )
        return f"SELECT {values} FROM json_each({document})"

    def join(self, table: str, alias: str, condition: str, *, left: bool = False) -> str:
        """Join ``table AS alias`` by a key lookup, probed once per row of what precedes it.

        PostgreSQL gets a LATERAL subquery kept apart by ``OFFSET 0``, so the
        probe is an index range scan on every key column whatever the table's
        statistics say (a freshly written table has none, and then the planner
        may probe by run and name only and filter the steps); SQLite a CROSS
        JOIN, which its planner never moves ahead of the tables before it.
        """
        if self.postgres:
            kind, on = ("LEFT JOIN", " ON true") if left else ("CROSS JOIN", "")
            subquery = f"SELECT * FROM {table} AS {alias} WHERE {condition} OFFSET 0"
            return f" {kind} LATERAL ({subquery}) AS {alias}{on} "
        return f" {'LEFT' if left else 'CROSS'} JOIN {table} AS {alias} ON {condition} "


_Grid = tuple[int, str, str, int, int, int, int, int, int]
"""A series to downsample: (sidx, execution id, name, w, b0, nw, buckets, first step, last step)."""
_GRID_COLUMNS = [("sidx", "int8"), ("eid", "text"), ("name", "text")] + [
    (column, "int8") for column in ("w", "b0", "nw", "nb", "a", "b")
]


def _floor_div(x: str, d: str) -> str:
    """``x // d`` for a positive ``d`` (SQL integer division truncates toward zero)."""
    return f"(CASE WHEN {x} >= 0 THEN {x} / {d} ELSE ({x} + 1) / {d} - 1 END)"


def _target(wide_bucket: str) -> str:
    """The target bucket of a ``w``-wide bucket: ``nw`` of them shared evenly among ``nb``."""
    return f"(({wide_bucket} - d.b0) * d.nb / d.nw)"


# ------------------------------------------------------------------- series ---


@dataclass
class _Found:
    """One series of one request, filled in as the statements answer."""

    request: int
    execution_id: str
    name: str
    max_points: int
    count: int
    first_step: int
    last_step: int
    min: float | None
    max: float | None
    last: float | None
    steps: list[int] | None = None
    timestamps_ms: list[int | None] | None = None
    values: list[float] | None = None
    downsampled: bool = False

    def fill(
        self,
        steps: list[int],
        timestamps_ms: list[int | None],
        values: list[float],
        *,
        downsampled: bool = False,
    ) -> None:
        if not downsampled and (steps[0], steps[-1]) != (self.first_step, self.last_step):
            raise RuntimeError("metric points came back out of order")
        self.steps, self.timestamps_ms, self.values = steps, timestamps_ms, values
        self.downsampled = downsampled

    def result(self) -> Series:
        return Series(
            execution_id=self.execution_id,
            name=self.name,
            steps=self.steps or [],
            values=self.values or [],
            timestamps_ms=self.timestamps_ms or [],
            count=self.count,
            downsampled=self.downsampled,
            min=self.min,
            max=self.max,
            last=self.last,
        )


class _Kept:
    """A downsampled series being built, target bucket after target bucket.

    Target buckets cover consecutive step ranges, so adding each one's min and
    max in step order keeps the series in step order. A point can win twice
    (min and max of a one-point bucket, or an end that is also a bucket's min):
    it is kept once.
    """

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.values: list[float] = []
        self.timestamps: list[int | None] = []

    def add_bucket(self, candidates: Iterator[Row]) -> None:
        """Keep the min and max (lowest step on ties) of one target bucket's candidates.

        A candidate is (sidx, target, min step, min value, min timestamp, max
        step, max value, max timestamp).
        """
        _, _, low_step, low, low_ts, high_step, high, high_ts = next(candidates)
        for _, _, step, value, ts, max_step, max_value, max_ts in candidates:
            if value < low or (value == low and step < low_step):
                low_step, low, low_ts = step, value, ts
            if max_value > high or (max_value == high and max_step < high_step):
                high_step, high, high_ts = max_step, max_value, max_ts
        pair = [(low_step, low, low_ts), (high_step, high, high_ts)]
        for step, value, ts in pair if low_step <= high_step else reversed(pair):
            if not self.steps or step != self.steps[-1]:
                self.steps.append(step)
                self.values.append(value)
                self.timestamps.append(ts)


def _range(request: SeriesRequest) -> tuple[int, int]:
    low = INT64_MIN if request.min_step is None else request.min_step
    high = INT64_MAX if request.max_step is None else request.max_step
    return low, high


def _blocks(first: int, last: int, top: int) -> list[tuple[int, int, int]]:
    """Steps ``first..last`` as aligned blocks: (width, first bucket, last bucket).

    Width 1 means raw steps. Going up the widths from each end, at most three
    blocks of a width are needed before the next width's boundary; the middle
    is one run of ``top``-wide buckets. No block crosses a ``top`` boundary.
    """
    blocks: list[tuple[int, int, int]] = []
    low, high = first, last + 1  # half-open
    width = 1
    for wider in (w for w in WIDTHS if w <= top):
        left = min(-(-low // wider) * wider, high)
        if low < left:
            blocks.append((width, low // width, left // width - 1))
        right = max(high // wider * wider, left)
        if right < high:
            blocks.append((width, right // width, high // width - 1))
        low, high, width = left, right, wider
        if low >= high:
            return blocks
    blocks.append((width, low // width, high // width - 1))
    return blocks


def _grid(first: int, last: int, buckets: int) -> tuple[int, int, int]:
    """(w, b0, nw): the widest rollup width spanning ``first..last`` with ``buckets`` buckets.

    ``b0`` is the first ``w``-bucket and ``nw`` the number spanned; width 1
    (raw steps) when even the narrowest rollup is too coarse.
    """
    for width in reversed(WIDTHS):
        spanned = last // width - first // width + 1
        if spanned >= buckets:
            return width, first // width, spanned
    return 1, first, last - first + 1


# -------------------------------------------------------------- ingestion ---


def _checked(points: Sequence[PointIn]) -> list[Point]:
    """The points to store, by (name, step); a repeat of an earlier point of the batch is dropped.

    Raises ``InputError`` for the first bad point, or when there are too many.
    """
    if len(points) > MAX_BATCH_POINTS:
        raise InputError(
            f"{len(points)} points given; at most {MAX_BATCH_POINTS} may be logged in one call",
            source=SOURCE,
        )
    unique: dict[tuple[str, int], Point] = {}
    names: set[str] = set()  # checked already: a batch repeats a few names
    for index, point in enumerate(points):
        name, step, ts_ms = point.name, point.step, point.timestamp_ms
        value: float | None = point.value
        if type(name) is not str or (name not in names and not _add_name(names, name)):
            raise InputError(
                f"point {index}: metric name {_shown(name)} is not allowed: use 1 to "
                f"{MAX_NAME_LENGTH} letters, digits, spaces, '_', '-', '.', '/' or ':'",
                source=SOURCE,
            )
        if not _is_int64(step):
            raise InputError(
                f"point {index} ({name!r}): step {_shown(step)} is not a signed 64-bit integer",
                source=SOURCE,
            )
        if type(value) is not float or not math.isfinite(value):
            value = _finite(value)
        if value is None:
            raise InputError(
                f"point {index} ({name!r} at step {step}): value {_shown(point.value)} is not "
                "a finite number; NaN and infinities are refused",
                source=SOURCE,
            )
        if ts_ms is not None and not _is_int64(ts_ms):
            raise InputError(
                f"point {index} ({name!r} at step {step}): timestamp {_shown(ts_ms)} is not "
                "a signed 64-bit integer of epoch milliseconds",
                source=SOURCE,
            )
        unique.setdefault((name, step), (name, step, ts_ms, value))
    return sorted(unique.values(), key=itemgetter(0, 1))


def _rollups(points: list[Point]) -> list[Rollup]:
    """The rollup rows of ``points`` (sorted by name and step, unique), every width.

    Each width is built from the one below, four buckets into one. Points and
    buckets come in step order, so keeping a min or max only when strictly
    beaten leaves the lowest step on ties.
    """
    rows: list[Rollup] = []
    for name, group in groupby(points, key=itemgetter(0)):
        # [bucket, n, min_step, min_value, min_ts, max_step, max_value, max_ts, first, last]
        level: list[list[Any]] = []
        for _, step, ts_ms, value in group:
            bucket = step >> 2  # step // 4
            if level and level[-1][0] == bucket:
                acc = level[-1]
                acc[1] += 1
                if value < acc[3]:
                    acc[2:5] = step, value, ts_ms
                if value > acc[6]:
                    acc[5:8] = step, value, ts_ms
                acc[9] = step
            else:
                level.append([bucket, 1, step, value, ts_ms, step, value, ts_ms, step, step])
        for width in WIDTHS:
            rows.extend((width, name, *acc) for acc in level)
            if width == TOP:
                break
            wider: list[list[Any]] = []
            for acc in level:
                bucket = acc[0] >> 2
                if wider and wider[-1][0] == bucket:
                    up = wider[-1]
                    up[1] += acc[1]
                    if acc[3] < up[3]:
                        up[2:5] = acc[2:5]
                    if acc[6] > up[6]:
                        up[5:8] = acc[5:8]
                    up[9] = acc[9]
                else:
                    wider.append([bucket, *acc[1:]])
            level = wider
    return rows


def _add_name(names: set[str], name: str) -> bool:
    if NAME_PATTERN.fullmatch(name) is None:
        return False
    names.add(name)
    return True


def _is_int64(value: object) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and (INT64_MIN <= value <= INT64_MAX)
    )


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_idempotency_key(key: str) -> None:
    if not isinstance(key, str) or not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InputError(
            f"idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
            source=SOURCE,
        )


def _check_series_request(request: SeriesRequest) -> None:
    if not MIN_SERIES_POINTS <= request.max_points <= MAX_SERIES_POINTS:
        raise InputError(
            f"maxPoints must be between {MIN_SERIES_POINTS} and {MAX_SERIES_POINTS}, "
            f"got {request.max_points}",
            source=SOURCE,
        )
    for what, bound in (("minStep", request.min_step), ("maxStep", request.max_step)):
        if bound is not None and not _is_int64(bound):
            raise InputError(f"{what} {bound} is not a signed 64-bit integer", source=SOURCE)
    low, high = _range(request)
    if low > high:
        raise InputError(f"minStep {low} is greater than maxStep {high}", source=SOURCE)


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _grouped_names(rows: Iterable[Row], keys: Sequence[str]) -> list[list[str]]:
    found: dict[str, list[str]] = {}
    for key, name in rows:
        found.setdefault(key, []).append(name)
    return [sorted(found.get(key, ())) for key in keys]
