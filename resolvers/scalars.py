"""Scalars whose wire form we promise: DateTime is ISO-8601, always UTC on output."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType

import strawberry

from resolvers.run_table import RunTable, RunTableValue
from sources.errors import InputError


def _serialize(value: datetime) -> str:
    if value.tzinfo is UTC:  # nearly all of them: what the metadb and the resolvers make
        return value.isoformat()
    if value.tzinfo is None:  # stored naive means stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _parse(value: object) -> datetime:
    if not isinstance(value, str):
        raise InputError("DateTime must be an ISO-8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{value!r} is not an ISO-8601 date-time") from exc
    if parsed.tzinfo is None:
        raise InputError(f"{value!r} has no UTC offset; add 'Z' or '+00:00'")
    return parsed.astimezone(UTC)


DateTimeUTC = strawberry.scalar(
    name="DateTime",
    description="ISO-8601 date-time with offset; always UTC on output.",
    serialize=_serialize,
    parse_value=_parse,
)

SeriesColumnsValue = NewType("SeriesColumnsValue", object)
SeriesColumns = strawberry.scalar(
    name="SeriesColumns",
    description='A series as columns: {"steps": [Int], "values": [Float], '
    '"timestamps": [epoch ms or null]}. One scalar, so it costs one step to serve: '
    "what chart libraries want, at a fraction of the cost of objects.",
    serialize=lambda value: value,
    parse_value=lambda value: value,
)

SCALAR_OVERRIDES: dict[object, object] = {
    datetime: DateTimeUTC,
    SeriesColumnsValue: SeriesColumns,
    RunTableValue: RunTable,
}
