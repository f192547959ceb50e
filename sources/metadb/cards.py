"""Model card revisions as the metadb keeps them: every edit a new row.

A card belongs to a model version (its model package ARN). Each save appends
revision n+1 and nothing is ever updated or deleted, so a card can be read as
it stood at any instant and its history is the table itself. Reads are one
SQL statement whatever the number of ARNs.

Saves use optimistic concurrency: the editor says which revision its edit was
based on, and the save fails with ``ConflictError`` when that is no longer the
newest. The primary key (model_version_id, revision) is the arbiter: of two
saves based on the same revision, the second inserts a duplicate key and
loses, on both backends, without a lock held between reading and writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sources.cards.codec import content_from_json, content_to_json
from sources.cards.completeness import check_transition
from sources.errors import ConflictError, InputError
from sources.metadb.db import MetaDB
from sources.metadb.models import ModelCardRevision, ModelCardStatus, utcnow
from sources.models.model import CardContent, CardRecord, CardSource

SOURCE = "metadb"
Revision = ModelCardRevision


class CardStore:
    """The mlmeta model cards of model versions, revision by revision."""

    name = SOURCE

    def __init__(self, metadb: MetaDB) -> None:
        self._metadb = metadb

    async def latest(self, arns: Sequence[str]) -> list[CardRecord | None]:
        """The newest revision of each version's card, in key order; ``None``: no card."""
        return await self._newest(arns, at=None)

    async def as_of(self, arns: Sequence[str], at: datetime) -> list[CardRecord | None]:
        """The revision in force at ``at`` (the newest saved at or before it), in key order.

        ``None`` for a version whose card did not exist yet. ``at`` must be aware.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise InputError(
                f"{at.isoformat()} has no time zone; give an aware instant", source=SOURCE
            )
        return await self._newest(arns, at=at)

    async def history(self, arn: str) -> list[CardRecord]:
        """Every revision of the card of ``arn``, newest first (``[]``: no card)."""
        statement = (
            select(Revision)
            .where(col(Revision.model_version_id) == arn)
            .order_by(col(Revision.revision).desc())
        )
        async with self._metadb.session() as session:
            return [_record(row) for row in await session.exec(statement)]

    async def append(
        self,
        arn: str,
        *,
        base_revision: int | None,
        content: CardContent,
        status: ModelCardStatus,
        updated_by: str | None,
        at: datetime | None = None,
    ) -> CardRecord:
        """Save ``content`` as the next revision of the card of ``arn`` and return it.

        ``at`` dates the revision (default now): for importing a card's history.

        ``base_revision`` is the revision the edit started from: ``None`` or 0
        when the editor saw no card. When it is not the newest revision, or
        another save based on it lands first, nothing is written and
        ``ConflictError`` says which revision the card is at. The status change
        must be one ``check_transition`` allows (``InputError`` otherwise).
        """
        base = base_revision or 0
        if base < 0:
            raise InputError(f"base revision {base} is not a revision", source=SOURCE)
        if not arn.strip():
            raise InputError("a card needs the ARN of its model version", source=SOURCE)
        record = CardRecord(
            model_version_arn=arn,
            source=CardSource.MLMETA,
            revision=base + 1,
            status=status,
            updated_at=at or utcnow(),
            updated_by=updated_by,
            content=content,
        )
        insert = sa.insert(Revision).values(_row(record))
        try:
            # The insert comes first: on SQLite it takes the write lock, so the
            # read below sees the newest data and a concurrent save waits, then
            # meets the duplicate key instead of a stale snapshot.
            async with self._metadb.session() as session, session.begin():
                await session.exec(insert)
                previous = await _revision(session, arn, base) if base else None
                if base and previous is None:
                    raise _stale(arn, await _newest_revision(session, arn, base), base)
                check_transition(
                    previous.status if previous else None,
                    status,
                    content_changed=previous is None
                    or content_from_json(previous.content) != content,
                )
        except IntegrityError as exc:  # revision base + 1 exists: someone saved first
            async with self._metadb.session() as session:
                current = await _newest_revision(session, arn)
            raise _stale(arn, current, base) from exc
        return record

    async def _newest(self, arns: Sequence[str], at: datetime | None) -> list[CardRecord | None]:
        if not arns:
            return []
        conditions: list[sa.ColumnElement[bool]] = [
            col(Revision.model_version_id).in_(list(dict.fromkeys(arns)))
        ]
        if at is not None:
            conditions.append(col(Revision.updated_at) <= at)
        found = (
            sa.select(
                col(Revision.model_version_id).label("arn"),
                sa.func.max(col(Revision.revision)).label("revision"),
            )
            .where(*conditions)
            .group_by(col(Revision.model_version_id))
            .subquery()
        )
        statement = select(Revision).join(
            found,
            sa.and_(
                col(Revision.model_version_id) == found.c.arn,
                col(Revision.revision) == found.c.revision,
            ),
        )
        async with self._metadb.session() as session:
            rows = {row.model_version_id: _record(row) for row in await session.exec(statement)}
        return [rows.get(arn) for arn in arns]


async def _revision(session: AsyncSession, arn: str, revision: int) -> ModelCardRevision | None:
    statement = select(Revision).where(
        col(Revision.model_version_id) == arn, col(Revision.revision) == revision
    )
    found: ModelCardRevision | None = (await session.exec(statement)).first()
    return found


async def _newest_revision(session: AsyncSession, arn: str, below: int | None = None) -> int:
    """The newest revision (0: none), or the newest under ``below`` (the one being inserted)."""
    statement = select(sa.func.max(col(Revision.revision))).where(
        col(Revision.model_version_id) == arn
    )
    if below is not None:
        statement = statement.where(col(Revision.revision) < below)
    newest: int | None = (await session.exec(statement)).first()
    return newest or 0


def _stale(arn: str, current: int, base: int) -> ConflictError:
    if current == 0:
        message = f"card of {arn} does not exist, your edit was based on revision {base}; reload"
    elif base == 0:
        message = (
            f"card of {arn} already exists (revision {current}) but your edit expected no "
            "card yet; reload and retry"
        )
    else:
        message = (
            f"card of {arn} is at revision {current}, your edit was based on {base}; "
            "reload and retry"
        )
    return ConflictError(message, source=SOURCE)


def _row(record: CardRecord) -> dict[str, Any]:
    return {
        "model_version_id": record.model_version_arn,
        "revision": record.revision,
        "status": record.status,
        "content": content_to_json(record.content),
        "updated_at": record.updated_at,
        "updated_by": record.updated_by,
    }


def _record(row: ModelCardRevision) -> CardRecord:
    return CardRecord(
        model_version_arn=row.model_version_id,
        source=CardSource.MLMETA,
        revision=row.revision,
        status=row.status,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        content=content_from_json(row.content),
    )
