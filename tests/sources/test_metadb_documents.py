"""Trusted documents in the metadb, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

from sources.metadb import MetaDB
from sources.metadb.documents import DocumentStore, document_hash

QUERY = "query Viewer { viewer { kind } }"


def test_the_hash_is_the_sha256_of_the_exact_text() -> None:
    assert document_hash(QUERY) == hashlib.sha256(QUERY.encode()).hexdigest()
    assert document_hash(QUERY + "\n") != document_hash(QUERY)


async def test_a_document_is_found_by_its_hash(metadb: MetaDB) -> None:
    store = DocumentStore(metadb)
    (sha256,) = await store.add([QUERY], source="cli", registered_by="ci")
    assert await store.get(sha256) == QUERY
    assert await store.get("0" * 64) is None


async def test_registering_twice_keeps_the_first_record(metadb: MetaDB) -> None:
    store = DocumentStore(metadb)
    await store.add([QUERY], source="cli", registered_by="ci")
    await store.add([QUERY, QUERY], source="apq", registered_by="anonymous")
    [stored] = await store.list()
    assert (stored.source, stored.registered_by, stored.document) == ("cli", "ci", QUERY)
