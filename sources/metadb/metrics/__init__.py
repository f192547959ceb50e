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

``MetricStore`` is put together from one module per kind of work, so every
statement has one place to live:

- ``writes``: ``log_points``, the ingestion transaction (idempotency,
  duplicates, points and rollups);
- ``summaries``: last values, metric names and evolution, read from the
  coarsest rollups;
- ``series``: series reads, whole or downsampled (the target buckets are in
  ``downsample``);
- ``rollups``: the bucket widths, the rollup rows of a batch, step ranges cut
  into whole buckets;
- ``checks``: validation of points, idempotency keys and series requests;
- ``base`` and ``sql``: pooled connections, the driver calls, and parameters
  and joins as each dialect wants them.
"""

from __future__ import annotations

from sources.metadb.metrics.base import ROLLUP_MIN_POINTS, SOURCE
from sources.metadb.metrics.checks import (
    INT64_MAX,
    INT64_MIN,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MIN_SERIES_POINTS,
    Point,
)
from sources.metadb.metrics.rollups import TOP, WIDTHS, Rollup
from sources.metadb.metrics.rollups import _blocks as _blocks
from sources.metadb.metrics.series import MetricSeries
from sources.metadb.metrics.sql import Row
from sources.metadb.metrics.summaries import MAX_EVOLUTION_RUNS, MetricSummaries
from sources.metadb.metrics.writes import SQLITE_CHUNK_PARAMETERS, MetricWrites, stored_key


class MetricStore(MetricWrites, MetricSummaries, MetricSeries):
    """Metric points of runs: logged in batches, read as summaries and series.

    ``trace``, when given, is called with the text of every SQL statement sent
    (benchmarks and tests count them; the engine's events do not see them).
    """

    name = SOURCE


__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_EVOLUTION_RUNS",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "MIN_SERIES_POINTS",
    "ROLLUP_MIN_POINTS",
    "SOURCE",
    "SQLITE_CHUNK_PARAMETERS",
    "TOP",
    "WIDTHS",
    "MetricStore",
    "Point",
    "Rollup",
    "Row",
    "stored_key",
]
