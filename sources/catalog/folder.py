"""A catalog read from ``catalog-info.yaml`` files in a local folder.

The embedded default and the demo use it, with the same filtering, ordering
and paging semantics as the Backstage source. Multi-document YAML files are
read, ``Location`` entities are followed (relative targets, as Backstage does
for ``file`` locations) and relations are computed as Backstage computes them.
The folder is re-read when a file in it changes, so edits show up without a
restart. A folder has no permission policy: every principal sees everything.

A file that cannot be read (malformed YAML, unreadable) is the catalog failing
for the entities in it, which nobody can name any more. Within
``max_staleness`` of the change that broke it, its last good version is served
(``extensions.stale``); without one, its entities are missing, and each answer
that may have needed them says so with an ``UpstreamError`` naming the file: a
ref found nowhere is that error rather than "no such entity", a page of
entities carries it in ``EntityPage.incomplete``, and facets (whose counts
would be wrong) raise it. The other files' entities answer as before.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.auth.principal import Principal
from sources.catalog.model import Entity, EntityFilter, EntityPage, EntityQuery
from sources.catalog.refs import EntityRef, entity_ref_of, parse_ref
from sources.catalog.relations import compute_relations
from sources.cursors import decode_cursor, encode_cursor
from sources.errors import InputError, UpstreamError
from sources.resilience.stale import record_stale

log = logging.getLogger("mlmeta.catalog")


@dataclass(frozen=True)
class _FileState:
    """What one file held when last read."""

    mtime: float
    documents: list[Any] | None
    """Its last good parse (None: never read well)."""
    problem: str | None = None
    """Why its current content cannot be read (None: it can)."""
    since: float = 0.0
    """When that problem was first seen (monotonic seconds)."""


class FolderCatalog:
    name = "catalog"

    def __init__(
        self,
        folder: Path,
        *,
        max_staleness: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = folder
        self._max_staleness = max_staleness
        self._clock = clock
        self._entities: dict[EntityRef, Entity] = {}
        self._ordered: list[Entity] = []
        self._origin: dict[EntityRef, Path] = {}
        self._files: dict[Path, _FileState] = {}
        self._stale: set[Path] = set()
        """Files whose last good version is served, their current one being unreadable."""
        self._stamp: tuple[tuple[str, float], ...] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> None:
        """Ready when the folder exists and every file in it can be read."""
        await self._load()
        unreadable = [path for path, state in self._files.items() if state.problem]
        if unreadable:
            raise self._failure(unreadable)

    async def entities_by_refs(
        self, refs: Sequence[str], principal: Principal
    ) -> list[Entity | Exception | None]:
        entities = await self._load()
        missing = self._missing()
        out: list[Entity | Exception | None] = []
        for ref in refs:
            try:
                found = entities.get(parse_ref(ref))
            except InputError as exc:
                out.append(exc)
                continue
            out.append(missing if found is None and missing is not None else found)
        self._served([e for e in out if isinstance(e, dict)])
        return out

    async def query_entities(self, query: EntityQuery, principal: Principal) -> EntityPage:
        await self._load()
        matching = [e for e in self._ordered if _matches(e, query.filter)]
        offset = _decode_cursor(query.cursor, query.filter) if query.cursor else 0
        items = matching[offset : offset + query.limit]
        end = offset + len(items)
        next_cursor = _encode_cursor(end, query.filter) if end < len(matching) else None
        self._served(items)
        return EntityPage(
            items=items,
            next_cursor=next_cursor,
            item_cursors=[_encode_cursor(offset + i + 1, query.filter) for i in range(len(items))],
            total=len(matching),
            incomplete=self._missing(),
        )

    async def facets(
        self, facet: str, entity_filter: EntityFilter, principal: Principal
    ) -> list[tuple[str, int]]:
        await self._load()
        if (missing := self._missing()) is not None:
            raise missing
        counts: Counter[str] = Counter()
        matching = [e for e in self._ordered if _matches(e, entity_filter)]
        for entity in matching:
            counts.update(str(v) for v in _values_at(entity, facet))
        self._served(matching)
        return sorted(counts.items())

    def _list_files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.suffix in (".yaml", ".yml"))

    async def _load(self) -> dict[EntityRef, Entity]:
        if not self.folder.is_dir():
            raise UpstreamError(f"catalog folder {self.folder} does not exist", source=self.name)
        async with self._lock:
            files = await asyncio.to_thread(self._list_files)
            stamp = tuple((str(p), p.stat().st_mtime) for p in files)
            if stamp != self._stamp or any(not self._fresh(p) for p in self._stale):
                self._entities = await asyncio.to_thread(self._read, files)
                self._ordered = sorted(
                    self._entities.values(),
                    key=lambda e: (str(e["metadata"]["name"]).lower(), str(entity_ref_of(e))),
                )
                self._stamp = stamp
            return self._entities

    def _read(self, files: list[Path]) -> dict[EntityRef, Entity]:
        entities: dict[EntityRef, Entity] = {}
        origin: dict[EntityRef, Path] = {}
        states: dict[Path, _FileState] = {}
        pending = list(files)
        while pending:
            path = pending.pop(0).resolve()
            if path in states or not path.is_file():
                continue
            states[path] = state = self._state_of(path)
            usable = state.problem is None or self._usable_stale(state)
            documents = state.documents if usable else None
            # Stored parses stay as read: relations are computed on copies.
            for doc in copy.deepcopy(documents or []):
                if not _is_entity(doc):
                    continue
                doc["metadata"].setdefault("namespace", "default")
                ref = entity_ref_of(doc)
                entities[ref], origin[ref] = doc, path
                if str(doc["kind"]).lower() == "location":
                    spec = doc.get("spec") or {}
                    targets = [spec.get("target"), *(spec.get("targets") or [])]
                    pending += [path.parent / t for t in targets if isinstance(t, str)]
        self._files, self._origin = states, origin
        self._stale = {p for p, s in states.items() if s.problem and self._usable_stale(s)}
        compute_relations(entities)
        return entities

    def _state_of(self, path: Path) -> _FileState:
        """The file as read now; parsed again only when it changed."""
        known = self._files.get(path)
        mtime = -1.0  # unknown: read again next time
        try:
            mtime = path.stat().st_mtime
            if known is not None and known.mtime == mtime:
                return known
            documents = list(yaml.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError) as exc:
            log.warning("catalog file %s cannot be read: %s", path, exc)
            broken_before = known is not None and known.problem is not None
            return _FileState(
                mtime=mtime,
                documents=known.documents if known is not None else None,
                problem=_problem(exc),
                since=known.since if known is not None and broken_before else self._clock(),
            )
        return _FileState(mtime=mtime, documents=documents)

    def _usable_stale(self, state: _FileState) -> bool:
        return (
            state.documents is not None
            and self._max_staleness > 0
            and self._clock() - state.since <= self._max_staleness
        )

    def _fresh(self, path: Path) -> bool:
        """Whether a file's entities may be served: readable, or stale but young enough."""
        state = self._files.get(path)
        return state is None or state.problem is None or self._usable_stale(state)

    def _missing(self) -> UpstreamError | None:
        """The failure of the files whose entities are missing (unreadable, none kept)."""
        broken = [p for p, s in self._files.items() if s.problem and p not in self._stale]
        return self._failure(broken) if broken else None

    def _failure(self, paths: list[Path]) -> UpstreamError:
        first = sorted(paths)[0]
        more = f" (and {len(paths) - 1} more files)" if len(paths) > 1 else ""
        return UpstreamError(
            f"catalog file {self._name_of(first)} cannot be read: "
            f"{self._files[first].problem}{more}",
            source=self.name,
        )

    def _name_of(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.folder.resolve()))
        except ValueError:
            return path.name

    def _served(self, entities: Sequence[Entity]) -> None:
        """Note in the operation how old the kept version of a broken file served is."""
        origins = {self._origin.get(entity_ref_of(e)) for e in entities}
        ages = [self._clock() - self._files[path].since for path in self._stale & origins]
        if ages:
            record_stale(self.name, max(ages))


def _problem(exc: Exception) -> str:
    """What is wrong with a file, for the caller: YAML's own words and where."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"malformed YAML ({exc.problem}{where})"
    if isinstance(exc, yaml.YAMLError):
        return "malformed YAML"
    return f"unreadable ({type(exc).__name__})"


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
