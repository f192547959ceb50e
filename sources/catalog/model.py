"""What every catalog source takes and returns, whatever the backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.auth.principal import Principal
from sources.errors import UpstreamError

Entity = dict[str, Any]


@dataclass(frozen=True)
class EntityFilter:
    """AND across fields; OR within a list field. Refs are canonical."""

    kinds: tuple[str, ...] = ()
    spec_types: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    """Owned by any of these (canonical refs)."""
    tag: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class EntityQuery:
    filter: EntityFilter = field(default_factory=EntityFilter)
    limit: int = 50
    cursor: str | None = None
    """An opaque cursor this source returned (``EntityPage.next_cursor``)."""


@dataclass(frozen=True)
class EntityPage:
    items: list[Entity]
    next_cursor: str | None
    """Where the next page starts; None on the last page."""
    item_cursors: list[str]
    """For each item, a cursor that resumes right after it (Relay edge cursors)."""
    total: int | None = None
    """Matching entities in all pages, where the source knows it."""
    incomplete: UpstreamError | None = None
    """Why entities may be missing from the page (part of the catalog failed), or None."""


class CatalogSource(Protocol):
    """A software catalog: Backstage's REST API or a local folder."""

    name: str

    async def check(self) -> None: ...

    async def entities_by_refs(
        self, refs: Sequence[str], principal: Principal
    ) -> list[Entity | Exception | None]:
        """Entities in key order; None for an unknown ref; an error for a malformed one."""

    async def query_entities(self, query: EntityQuery, principal: Principal) -> EntityPage:
        """One page of entities matching the filter, ordered by metadata.name."""

    async def facets(
        self, facet: str, entity_filter: EntityFilter, principal: Principal
    ) -> list[tuple[str, int]]:
        """Counts per value of ``facet`` (e.g. 'spec.type') among matching entities."""
