"""Whole series read as the JSON of their columns, for callers that only pass them on.

A series served as ``{"steps": [...], "values": [...], "timestamps": [...]}``
need not become Python lists at all: 20,000 points cost more to decode from the
driver and encode again than everything else in a request. So the columns
come out of the database as JSON text, with the numbers a JSON encoder writes
for the lists (``Series.encoded_columns``), and the gateway splices that text
into its response as it is (``orjson.Fragment``).

- PostgreSQL writes the whole document: ``float8`` as text is the shortest
  decimal that reads back as the same double (``extra_float_digits`` >= 1, set
  for the transaction), and an integral value gets ``.0`` so that it still reads
  as a float.
- SQLite's JSON functions print reals with 15 significant digits, which is not
  always the same double, so only the integer columns (steps, timestamps) are
  built by the database; the values are read as one column and encoded here.

Values are finite (ingestion refuses NaN and infinities), so every number is
valid JSON. Each series is read in step order from its key range, as in
``series._whole_series``; its point count is checked against the stats read in
the same snapshot.
"""

# S608: statements are assembled from constants and numbered placeholders only;
# every value travels as a bound parameter (see ``_Sql``).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from sources.metadb.metrics.sql import _Driver, _Sql

if TYPE_CHECKING:
    from sources.metadb.metrics.series import _Found

_SELECTION = [("sidx", "int8"), ("eid", "text"), ("name", "text"), ("lo", "int8"), ("hi", "int8")]
_IN_RANGE = "m.execution_id = sel.eid AND m.name = sel.name AND m.step BETWEEN sel.lo AND sel.hi"
# A float8 as the JSON number of the same double; integral ones below 1e15 (the
# only ones PostgreSQL writes without a point or an exponent) get ".0".
_PG_VALUE = (
    "CASE WHEN q.value = trunc(q.value) AND abs(q.value) < 1e15 "
    "THEN q.value::text || '.0' ELSE q.value::text END"
)


async def encoded_series(db: _Driver, postgres: bool, found: Sequence[_Found]) -> None:
    """Fill ``columns_json`` of each series (every one has at least one point in range)."""
    sql = _Sql(postgres)
    selected = sql.rows(
        _SELECTION,
        [(i, s.execution_id, s.name, s.first_step, s.last_step) for i, s in enumerate(found)],
    )
    if postgres:
        await _postgres(db, sql, selected, found)
    else:
        await _sqlite(db, sql, selected, found)


async def _postgres(db: _Driver, sql: _Sql, selected: str, found: Sequence[_Found]) -> None:
    # The shortest exact form is PostgreSQL's default (1), but a server may set 0.
    await db.execute("SET LOCAL extra_float_digits = 1", [])
    rows = await db.fetch(
        # Aggregating an ordered index scan keeps its order (as in _whole_series).
        f"WITH sel AS ({selected}) SELECT sel.sidx, p.n, p.doc FROM sel "
        "CROSS JOIN LATERAL (SELECT count(*) AS n, "
        """'{"steps":[' || string_agg(q.step::text, ',') || """
        f"""'],"values":[' || string_agg({_PG_VALUE}, ',') || """
        """'],"timestamps":[' || string_agg(coalesce(q.ts_ms::text, 'null'), ',') || ']}' """
        "AS doc FROM (SELECT m.step, m.ts_ms, m.value FROM metric_points m "
        f"WHERE {_IN_RANGE} ORDER BY m.step) AS q) AS p",
        sql.args,
    )
    for sidx, n, doc in rows:
        series = found[sidx]
        _check_count(series, n)
        series.columns_json = doc.encode()


async def _sqlite(db: _Driver, sql: _Sql, selected: str, found: Sequence[_Found]) -> None:
    ints = await db.fetch(
        f"WITH sel AS MATERIALIZED ({selected}) SELECT "
        "(SELECT json_group_array(q.step) FROM (SELECT m.step FROM metric_points m "
        f"WHERE {_IN_RANGE} ORDER BY m.step) AS q), "
        "(SELECT json_group_array(q.ts_ms) FROM (SELECT m.step, m.ts_ms FROM metric_points m "
        f"WHERE {_IN_RANGE} ORDER BY m.step) AS q) FROM sel",
        sql.args,
    )
    # The values series by series in the order of ``sel``, each in step order (the
    # CROSS JOIN keeps ``sel`` the outer loop; see series._whole_series).
    values = await db.fetch(
        f"WITH sel AS MATERIALIZED ({selected}) SELECT m.value FROM sel"
        + sql.join("metric_points", "m", _IN_RANGE),
        sql.args,
    )
    if len(values) != sum(s.count for s in found):
        raise RuntimeError("metric points changed within a read snapshot")
    start = 0
    for series, (steps, timestamps) in zip(found, ints, strict=True):
        end = start + series.count
        encoded_values = orjson.dumps([row[0] for row in values[start:end]])
        start = end
        series.columns_json = b"".join(
            (
                b'{"steps":',
                steps.encode(),
                b',"values":',
                encoded_values,
                b',"timestamps":',
                timestamps.encode(),
                b"}",
            )
        )


def _check_count(series: _Found, n: int) -> None:
    if n != series.count:
        raise RuntimeError("metric points changed within a read snapshot")
