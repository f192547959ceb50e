"""The portal's catalog with a fallback: entities a principal read recently, when it fails.

Catalog entities change slowly, and an entity page should not go blank because
the portal's backend restarts. So ``StaleFallbackCatalog`` keeps what each
by-refs lookup and by-query page returned, and when the catalog then fails
with an ``UpstreamError`` (unreachable, 5xx, timeout, throttled, circuit open)
it serves the kept answer, if it is at most ``max_staleness`` seconds old,
marked in ``extensions.stale``.

Permissions: the portal decides what each user may see (their own token is
forwarded), so a kept answer is keyed by *who* asked. A user's answers are
served only to that same user (by subject); the answers read with the
gateway's own service token (service and anonymous principals, the claims
index) are principal-free and shared among those. A user never gets an entity
another user read, and nothing is kept for an answer the catalog refused
(401, 403: those are not upstream failures and are never covered up).

The store is bounded (least recently used first out) and in-process: each
replica falls back on what it has served itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from gateway.auth.principal import Principal, PrincipalKind
from sources.catalog.model import CatalogSource, Entity, EntityFilter, EntityPage, EntityQuery
from sources.catalog.refs import parse_ref
from sources.errors import InputError, UpstreamError
from sources.resilience.stale import record_stale

SOURCE = "catalog"
MAX_KEPT_ENTITIES = 5000
"""Entities kept for all principals together (a few KB each)."""
MAX_KEPT_PAGES = 500
"""by-query pages kept for all principals together."""

V = TypeVar("V")


def principal_key(principal: Principal) -> tuple[str, ...]:
    """Whose view of the catalog an answer is: a user's own, or the gateway's."""
    if principal.kind is PrincipalKind.USER:
        return ("user", principal.subject)
    return ("gateway",)  # read with the service token: the same for every such principal


class _Kept(Generic[V]):
    """A bounded map of key -> (read at, value), least recently used dropped first."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def put(self, key: Hashable, at: float, value: V) -> None:
        self._items[key] = (at, value)
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def get(self, key: Hashable) -> tuple[float, V] | None:
        return self._items.get(key)


class StaleFallbackCatalog:
    """A ``CatalogSource`` around another, serving kept answers while it fails."""

    name = SOURCE

    def __init__(
        self,
        catalog: CatalogSource,
        max_staleness: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = catalog
        self._max_staleness = max_staleness
        self._clock = clock
        self._entities: _Kept[Entity | None] = _Kept(MAX_KEPT_ENTITIES)
        self._pages: _Kept[EntityPage] = _Kept(MAX_KEPT_PAGES)

    async def check(self) -> None:
        await self.inner.check()

    async def entities_by_refs(
        self, refs: Sequence[str], principal: Principal
    ) -> list[Entity | Exception | None]:
        """As the catalog answers; while it fails, each ref this principal read lately is
        served from then, and each other ref gets the catalog's error (its field is null)."""
        who = principal_key(principal)
        keys = [_canonical(ref) for ref in refs]
        try:
            found = await self.inner.entities_by_refs(refs, principal)
        except UpstreamError as error:
            return self._kept_entities(who, keys, error)
        now = self._clock()
        for key, value in zip(keys, found, strict=True):
            if isinstance(key, str) and not isinstance(value, Exception):
                self._entities.put((who, key), now, value)
        return found

    async def query_entities(self, query: EntityQuery, principal: Principal) -> EntityPage:
        """As the catalog answers; while it fails, the same page as this principal last read it."""
        key = (principal_key(principal), query)
        try:
            page = await self.inner.query_entities(query, principal)
        except UpstreamError:
            kept = self._pages.get(key)
            if kept is None or not self._fresh_enough(kept[0]):
                raise
            self._served(kept[0])
            return kept[1]
        self._pages.put(key, self._clock(), page)
        return page

    async def facets(
        self, facet: str, entity_filter: EntityFilter, principal: Principal
    ) -> list[tuple[str, int]]:
        """Counts are not kept: they change with every entity, and no page needs them."""
        return await self.inner.facets(facet, entity_filter, principal)

    # -- internals

    def _kept_entities(
        self, who: tuple[str, ...], keys: list[str | InputError], error: UpstreamError
    ) -> list[Entity | Exception | None]:
        answers: list[Entity | Exception | None] = []
        for key in keys:
            kept = self._entities.get((who, key)) if isinstance(key, str) else None
            if isinstance(key, InputError):
                answers.append(key)
            elif kept is not None and self._fresh_enough(kept[0]):
                self._served(kept[0])
                answers.append(kept[1])
            else:
                answers.append(error)
        return answers

    def _fresh_enough(self, read_at: float) -> bool:
        return self._max_staleness > 0 and self._clock() - read_at <= self._max_staleness

    def _served(self, read_at: float) -> None:
        record_stale(SOURCE, self._clock() - read_at)


def _canonical(ref: str) -> str | InputError:
    """The ref as the catalog knows it, so spellings share one entry; or why it is malformed."""
    try:
        return str(parse_ref(ref))
    except InputError as exc:
        return InputError(exc.message, source=SOURCE)
