"""What every part of the metric store shares: its settings and pooled connections."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sources.metadb.columns import UTCDateTime
from sources.metadb.db import MetaDB
from sources.metadb.metrics.sql import Row, _Driver, _Postgres, _Sqlite

SOURCE = "metadb"
ROLLUP_MIN_POINTS = 2_000
"""Series with fewer points in range are downsampled from raw points (as cheap as rollups)."""


class StoreBase:
    """The state and the connections of a ``MetricStore``, shared by its reads and writes."""

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
        async with self._metadb.connection() as conn:
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
