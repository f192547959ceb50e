"""A catalog read from ``catalog-info.yaml`` files in a local folder.

The embedded default and the demo use it. Multi-document YAML files are read,
and ``Location`` entities are followed (relative targets, as Backstage does for
``file`` locations). The folder is re-read when a file in it changes, so edits
show up without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from gateway.auth.principal import Principal
from sources.catalog.refs import EntityRef, entity_ref_of, parse_ref
from sources.errors import InputError, UpstreamError

log = logging.getLogger("mlmeta.catalog")
Entity = dict[str, Any]


class FolderCatalog:
    name = "catalog"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._entities: dict[EntityRef, Entity] = {}
        self._stamp: tuple[tuple[str, float], ...] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> None:
        await self._load()

    async def entities_by_refs(
        self, refs: Sequence[str], principal: Principal
    ) -> list[Entity | None]:
        """Entities in key order, ``None`` for an unknown ref, an error for a bad one."""
        entities = await self._load()
        out: list[Any] = []
        for ref in refs:
            try:
                out.append(entities.get(parse_ref(ref)))
            except InputError as exc:
                out.append(exc)
        return out

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
                if not isinstance(doc, dict) or not isinstance(doc.get("metadata"), dict):
                    continue
                doc["metadata"].setdefault("namespace", "default")
                entities[entity_ref_of(doc)] = doc
                if str(doc.get("kind", "")).lower() == "location":
                    spec = doc.get("spec") or {}
                    targets = [spec.get("target"), *(spec.get("targets") or [])]
                    pending += [path.parent / t for t in targets if isinstance(t, str)]
        return entities
