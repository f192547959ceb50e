"""Datasets in the metadb: the versions of data that lineage edges join.

A dataset's id is ``dataset_key(uri, version)`` (``uri`` or ``uri@version``),
the natural key of its ``Dataset:`` lineage node, so a node needs no lookup to
be named. Writes are idempotent (``ON CONFLICT DO NOTHING`` on any of the
table's three unique keys: the id, (uri, version) and the unversioned uri).

Sets of ids travel as ONE bound parameter (a PostgreSQL array, a JSON text for
SQLite's ``json_each``): one statement however many ids, no parameter limit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from sources.errors import ConflictError, InputError
from sources.lineage.model import DatasetRow, NodeType, dataset_key, node_key, split_key
from sources.metadb.db import MetaDB
from sources.metadb.models import Dataset, MetaDBModel, utcnow

SOURCE = "metadb"
MAX_BATCH = 1_000
"""Most datasets one write takes."""

DatasetItem = tuple[str, str | None, str | None]
"""(uri, version or None, name or None); the name defaults to the URI's last segment."""

_DATASET_COLUMNS = (
    col(Dataset.id),
    col(Dataset.uri),
    col(Dataset.version),
    col(Dataset.name),
    col(Dataset.entity_ref),
    col(Dataset.created_at),
)


class DatasetStore:
    """Datasets, written idempotently and read in batches; the base of ``LineageStore``."""

    name = SOURCE

    def __init__(self, metadb: MetaDB) -> None:
        self._metadb = metadb
        self._postgres = metadb.engine.dialect.name == "postgresql"

    async def upsert_datasets(self, items: Sequence[DatasetItem]) -> list[str]:
        """Store the datasets not stored yet; return every item's id, in order.

        Idempotent: a stored dataset is kept as it is (first name wins).
        Raises ``ConflictError`` if an id is taken by another (uri, version),
        which only a URI containing ``@`` can cause.
        """
        async with self._metadb.session() as session, session.begin():
            return await self.upsert_datasets_in(session, items)

    async def upsert_datasets_in(
        self, session: AsyncSession, items: Sequence[DatasetItem]
    ) -> list[str]:
        """``upsert_datasets`` inside the caller's transaction."""
        if len(items) > MAX_BATCH:
            raise InputError(
                f"at most {MAX_BATCH} datasets at once, got {len(items)}", source=SOURCE
            )
        rows: dict[str, dict[str, Any]] = {}
        for index, (uri, version, name) in enumerate(items):
            id = _checked_dataset(index, uri, version, name)
            default = uri.rstrip("/").rsplit("/", 1)[-1] or uri
            rows.setdefault(
                id,
                {
                    "id": id,
                    "uri": uri,
                    "version": version,
                    "name": name or default,
                    "created_at": utcnow(),
                },
            )
        if not rows:
            return []
        await session.exec(
            self._insert(Dataset).values(list(rows.values())).on_conflict_do_nothing()
        )
        statement = sa.select(col(Dataset.id), col(Dataset.uri), col(Dataset.version)).where(
            self._among(col(Dataset.id), list(rows))
        )
        conn = await session.connection()
        stored = {r.id: (r.uri, r.version) for r in (await conn.execute(statement)).all()}
        for id, row in rows.items():
            if stored.get(id) != (row["uri"], row["version"]):
                raise ConflictError(
                    f"dataset id {id[:80]!r} is taken by another uri and version", source=SOURCE
                )
        return [dataset_key(uri, version) for uri, version, _ in items]

    async def datasets_by_ids(self, ids: Sequence[str]) -> list[DatasetRow | None]:
        """The datasets in key order, ``None`` for an id not stored; one statement."""
        if not ids:
            return []
        statement = sa.select(*_DATASET_COLUMNS).where(
            self._among(col(Dataset.id), list(dict.fromkeys(ids)))
        )
        async with self._metadb.connection() as conn:
            found = {r.id: _dataset_row(r) for r in (await conn.execute(statement)).all()}
        return [found.get(id) for id in ids]

    async def dataset_by_uri(self, uri: str, version: str | None) -> DatasetRow | None:
        """The dataset stored for (uri, version), unversioned when ``version`` is None."""
        [found] = await self.datasets_by_ids([dataset_key(uri, version)])
        if found is None or (found.uri, found.version) != (uri, version):
            return None
        return found

    # -------------------------------------------------------------- helpers ---

    def _insert(self, model: type[MetaDBModel]) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that can take ``ON CONFLICT`` on this backend."""
        return postgresql.insert(model) if self._postgres else sqlite.insert(model)

    def _among(self, column: Mapped[str], keys: list[str]) -> sa.ColumnElement[bool]:
        """``column IN keys`` with the keys as one parameter, whatever their number."""
        if self._postgres:
            return column == sa.any_(sa.literal(keys, type_=postgresql.ARRAY(sa.String())))
        values = sa.func.json_each(sa.literal(json.dumps(keys))).table_valued("value")
        return column.in_(sa.select(values.c.value))


def _checked_dataset(index: int, uri: str, version: str | None, name: str | None) -> str:
    """The dataset's id; ``InputError`` naming the item if it is malformed."""
    if not all(isinstance(v, str) for v in (uri, version or "", name or "")):
        raise InputError(f"dataset {index}: uri, version and name must be strings", source=SOURCE)
    if not uri.strip() or (version is not None and not version.strip()):
        raise InputError(f"dataset {index}: uri and version must not be empty", source=SOURCE)
    id = dataset_key(uri, version)
    try:
        split_key(node_key(NodeType.DATASET, id))
    except InputError as exc:
        raise InputError(f"dataset {index}: {exc.message}", source=SOURCE) from None
    return id


def _dataset_row(row: Any) -> DatasetRow:
    return DatasetRow(
        id=row.id,
        uri=row.uri,
        version=row.version,
        name=row.name,
        entity_ref=row.entity_ref,
        created_at=row.created_at,
    )
