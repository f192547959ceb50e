"""Last values, metric names and evolution: one statement each, from the coarsest rollups.

They read a row or two of ``metric_rollups`` per metric of a run, and look
the last point up by key.
"""

# S608: statements are assembled from constants and numbered placeholders only;
# every value travels as a bound parameter (see ``_Sql``).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

from sources.errors import InputError
from sources.metadb.metrics.base import SOURCE, StoreBase
from sources.metadb.metrics.rollups import TOP
from sources.metadb.metrics.sql import Row, _Sql, _unique
from sources.metrics.model import Evolution, EvolutionRequest, MetricSummary, RunValue

MAX_EVOLUTION_RUNS = 1_000


class MetricSummaries(StoreBase):
    """Metric points read as summaries, names and evolution (see ``MetricStore``)."""

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


def _grouped_names(rows: Iterable[Row], keys: Sequence[str]) -> list[list[str]]:
    found: dict[str, list[str]] = {}
    for key, name in rows:
        found.setdefault(key, []).append(name)
    return [sorted(found.get(key, ())) for key in keys]
