"""Series reads: every point of a (run, metric) in a step range, or a downsampling of them.

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

from sources.metadb.metrics.base import StoreBase
from sources.metadb.metrics.checks import _check_series_request, _range
from sources.metadb.metrics.downsample import (
    _GRID_COLUMNS,
    _floor_div,
    _Grid,
    _grid,
    _Kept,
    _target,
)
from sources.metadb.metrics.encoded import encoded_series
from sources.metadb.metrics.rollups import TOP, _blocks
from sources.metadb.metrics.sql import _Driver, _Sql, _unique
from sources.metrics.model import Series, SeriesRequest


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
    encoded: bool = False
    """Asked for as JSON (``SeriesRequest.encoded``)."""
    columns_json: bytes | None = None

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
            encoded_columns=self.columns_json,
        )


class MetricSeries(StoreBase):
    """Metric points read as series (see ``MetricStore``)."""

    async def series(self, requests: Sequence[SeriesRequest]) -> list[list[Series]]:
        """For each request, one ``Series`` per metric of the run that exists, by name.

        The step range applies first. A range holding at most ``max_points``
        points comes whole; a longer one is downsampled in the database (see
        the module docs): deterministic, at most ``max_points`` points in step
        order, the first and last points of the range always kept, and every
        bucket's min and max. ``count``, ``min``, ``max`` and ``last`` describe
        every point stored in the range. A whole series asked for ``encoded``
        comes as JSON (``Series.encoded_columns``, see ``encoded``). A fixed
        number of statements (stats, whole series as lists and as JSON, series
        downsampled from points, from rollups), read from one snapshot, whatever
        the number of requests, runs and metrics.
        """
        for request in requests:
            _check_series_request(request)
        if not requests:
            return []
        async with self._connection(snapshot=True) as db:
            found = await self._series_stats(db, requests)
            whole = [s for s in found if 0 < s.count <= s.max_points and not s.encoded]
            encoded = [s for s in found if 0 < s.count <= s.max_points and s.encoded]
            thinned = [s for s in found if s.count > s.max_points]
            if whole:
                await self._whole_series(db, whole)
            if encoded:
                await encoded_series(db, self._postgres, encoded)
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
                encoded=requests[req].encoded,
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
