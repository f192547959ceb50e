"""Trusted GraphQL documents (persisted queries) kept in the metadb."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from sources.errors import UpstreamError
from sources.metadb.db import MetaDB
from sources.metadb.models import TrustedDocument, utcnow


def document_hash(document: str) -> str:
    """The hex sha256 of the document's UTF-8 text, as Apollo clients compute it."""
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True)
class StoredDocument:
    sha256: str
    document: str
    source: str
    registered_by: str | None
    registered_at: datetime


class DocumentStore:
    """Reads and idempotent writes of ``trusted_documents``: one statement per call."""

    name = "metadb"

    def __init__(self, metadb: MetaDB) -> None:
        self._metadb = metadb

    async def get(self, sha256: str) -> str | None:
        """The document registered under ``sha256``, or None.

        Raises ``UpstreamError`` when the database fails: a request naming its
        document by hash cannot run without it, and must say why with a code.
        """
        statement = select(TrustedDocument.document).where(col(TrustedDocument.sha256) == sha256)
        try:
            async with self._metadb.session() as session:
                return (await session.exec(statement)).first()
        except (SQLAlchemyError, OSError) as exc:
            raise UpstreamError(
                f"metadata database unavailable ({type(exc).__name__})", source=self.name
            ) from exc

    async def add(
        self, documents: Sequence[str], *, source: str, registered_by: str | None = None
    ) -> list[str]:
        """Register each document under its own hash; return the hashes in order.

        A document registered already keeps its first record (who, when, how):
        registering the same text twice, from two replicas at once, is a no-op.
        """
        hashes = [document_hash(d) for d in documents]
        now = utcnow()
        rows = [
            {
                "sha256": h,
                "document": d,
                "source": source,
                "registered_by": registered_by,
                "registered_at": now,
            }
            for h, d in dict(zip(hashes, documents, strict=True)).items()
        ]
        if rows:
            dialect = postgresql if self._metadb.engine.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(TrustedDocument).values(rows)
            async with self._metadb.session() as session, session.begin():
                await session.exec(insert.on_conflict_do_nothing(index_elements=["sha256"]))
        return hashes

    async def list(self) -> list[StoredDocument]:
        """Every registered document, oldest first."""
        statement = select(TrustedDocument).order_by(
            col(TrustedDocument.registered_at), col(TrustedDocument.sha256)
        )
        async with self._metadb.session() as session:
            return [
                StoredDocument(r.sha256, r.document, r.source, r.registered_by, r.registered_at)
                for r in await session.exec(statement)
            ]
