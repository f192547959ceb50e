"""Column types shared by the metadb models.

Each one exists so a value means the same thing on SQLite and PostgreSQL:
instants are always aware UTC datetimes, enum columns hold plain strings that
Python validates, and JSON documents use JSONB where the backend has it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

E = TypeVar("E", bound=StrEnum)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An instant: stored in UTC, always read back as an aware UTC datetime.

    Naive datetimes are refused rather than guessed at. PostgreSQL stores
    ``timestamptz``; SQLite has no time zones, so the UTC wall time is stored
    as fixed-width text (which also sorts chronologically) and the zone is put
    back on read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EnumText(sa.TypeDecorator[E]):
    """A ``StrEnum`` kept as a plain string column (no database enum type).

    Unknown values are refused on write, so a typo never reaches the table;
    reads return the enum member. Adding a member needs no migration.
    """

    impl = sa.String(32)
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        if value is None:
            return None
        return self.enum(value)


def json_document(*, nullable: bool = False) -> sa.types.TypeEngine[Any]:
    """JSON on SQLite, JSONB on PostgreSQL (compact, indexable, key order not kept).

    For a nullable column, Python ``None`` becomes SQL NULL rather than JSON
    ``null``, so ``IS NULL`` finds it.
    """
    return sa.JSON(none_as_null=nullable).with_variant(
        postgresql.JSONB(none_as_null=nullable), "postgresql"
    )
