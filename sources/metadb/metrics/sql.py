"""How the metric store talks to the database: driver calls, and statements' parameters.

The store sends its own SQL on the driver of a pooled connection (see
``base``); ``_Sql`` numbers parameters and joins tables as each dialect wants.
"""

# S608: statements are assembled from constants and numbered placeholders only;
# every value travels as a bound parameter (see ``_Sql``).
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

Row = Sequence[Any]


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


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))
