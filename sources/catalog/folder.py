"""A catalog read from ``catalog-info.yaml`` files in a local folder.

The embedded default and the demo use it, with the same filtering, ordering
and paging semantics as the Backstage source. Multi-document YAML files are
read, ``Location`` entities are followed (relative targets, as Backstage does
for ``file`` locations) and relations are computed as Backstage computes them.
The folder is re-read when a file in it changes, so edits show up without a
restart. A folder has no permission policy: every principal sees everything.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from gateway.auth.principal import Principal
from sources.catalog.model import Entity, EntityFilter, EntityPage, EntityQuery
from sources.catalog.refs import EntityRef, entity_ref_of, parse_ref
from sources.catalog.relations import compute_relations
from sources.cursors import decode_cursor, encode_cursor
from sources.errors import InputError, UpstreamError

log = logging.getLogger("mlmeta.catalog")


class FolderCatalog:
    name = "catalog"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._entities: dict[EntityRef, Entity] = {}
        self._ordered: list[Entity] = []
        self._stamp: tuple[tuple[str, float], ...] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> None:
        await self._load()

    async def entities_by_refs(
        self, refs: Sequence[str], principal: Principal
    ) -> list[Entity | Exception | None]:
        entities = await self._load()
        out: list[Entity | Exception | None] = []
        for ref in refs:
            try:
                out.append(entities.get(parse_ref(ref)))
            except InputError as exc:
                out.append(exc)
        return out

    async def query_entities(self, query: EntityQuery, principal: Principal) -> EntityPage:
        await self._load()
        matching = [e for e in self._ordered if _matches(e, query.filter)]
        offset = _decode_cursor(query.cursor, query.filter) if query.cursor else 0
        items = matching[offset : offset + query.limit]
        end = offset + len(items)
        next_cursor = _encode_cursor(end, query.filter) if end < len(matching) else None
        return EntityPage(
            items=items,
            next_cursor=next_cursor,
            item_cursors=[_encode_cursor(offset + i + 1, query.filter) for i in range(len(items))],
            total=len(matching),
        )

    async def facets(
        self, facet: str, entity_filter: EntityFilter, principal: Principal
    ) -> list[tuple[str, int]]:
        await self._load()
        counts: Counter[str] = Counter()
        for entity in self._ordered:
            if _matches(entity, entity_filter):
                counts.update(str(v) for v in _values_at(entity, facet))
        return sorted(counts.items())

    def _files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.suffix in (".yaml", ".yml"))

    async def _load(self) -> dict[EntityRef, Entity]:
        if not self.folder.is_dir():
            raise UpstreamError(f"catalog folder {self.folder} does not exist", source=self.name)
        async with self._lock:
            files = await asyncio.to_thread(self._files)
            stamp = tuple((str(p), p.stat().st_mtime) for p in files)
            if stamp != self._stamp:
                self._entities = await asyncio.to_thread(self._read, files)
                self._ordered = sorted(
                    self._entities.values(),
                    key=lambda e: (str(e["metadata"]["name"]).lower(), str(entity_ref_of(e))),
                )
                self._stamp = stamp
            return self._entities

    def _read(self, files: list[Path]) -> dict[EntityRef, Entity]:
        entities: dict[EntityRef, Entity] = {}
        pending = list(files)
        seen: set[Path] = set()
        while pending:
            path = pending.pop(0).resolve()
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            try:
                documents = list(yaml.safe_load_all(path.read_text()))
            except (OSError, yaml.YAMLError) as exc:
                log.warning("skipping %s: %s", path, exc)
                continue
            for doc in documents:
                if not _is_entity(doc):
                    continue
                doc["metadata"].setdefault("namespace", "default")
                entities[entity_ref_of(doc)] = doc
                if str(doc["kind"]).lower() == "location":
                    spec = doc.get("spec") or {}
                    targets = [spec.get("target"), *(spec.get("targets") or [])]
                    pending += [path.parent / t for t in targets if isinstance(t, str)]
        compute_relations(entities)
        return entities


def _is_entity(doc: object) -> bool:
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("kind"), str)
        and isinstance(doc.get("metadata"), dict)
        and isinstance(doc["metadata"].get("name"), str)
    )


def _values_at(entity: Entity, path: str) -> list[Any]:
    """Values at a dotted path, as Backstage's filters and facets see them."""
    if path.startswith("relations."):
        rel_type = path.split(".", 1)[1].lower()
        return [
            r["targetRef"] for r in entity.get("relations", []) if r["type"].lower() == rel_type
        ]
    node: Any = entity
    for part in path.split("."):
        if isinstance(node, dict):
            node = next((v for k, v in node.items() if k.lower() == part.lower()), None)
        else:
            return []
    if node is None:
        return []
    return (
        [v for v in node if not isinstance(v, (dict, list))] if isinstance(node, list) else [node]
    )


def _any_equal(values: list[Any], wanted: Sequence[str]) -> bool:
    lowered = {w.lower() for w in wanted}
    return any(str(v).lower() in lowered for v in values)


def _matches(entity: Entity, f: EntityFilter) -> bool:
    if f.kinds and not _any_equal([entity.get("kind")], f.kinds):
        return False
    if f.spec_types and not _any_equal(_values_at(entity, "spec.type"), f.spec_types):
        return False
    if f.owners and not _any_equal(_values_at(entity, "relations.ownedBy"), f.owners):
        return False
    if f.tag and not _any_equal(_values_at(entity, "metadata.tags"), [f.tag]):
        return False
    if f.text:
        meta = entity["metadata"]
        haystack = " ".join(
            str(meta.get(k) or "") for k in ("name", "title", "description")
        ).lower()
        if not all(term in haystack for term in f.text.lower().split()):
            return False
    return True


def _filter_key(f: EntityFilter) -> str:
    return hashlib.sha256(repr(f).encode()).hexdigest()[:12]


def _encode_cursor(offset: int, f: EntityFilter) -> str:
    return encode_cursor({"o": offset, "f": _filter_key(f)})


def _decode_cursor(cursor: str, f: EntityFilter) -> int:
    try:
        data = decode_cursor(cursor)
        offset = int(data["o"])
        if data["f"] != _filter_key(f) or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            "'after' is not a cursor of this list (cursors only work with the same filter)",
            source="catalog",
        ) from exc
    return offset
