"""Bounded fan-out of AWS calls, and TTL caches whose loads concurrent callers share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

from sources.errors import UpstreamError
from sources.resilience.stale import serve_stale
from sources.telemetry import cache_lookup

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


async def gather_limited(
    keys: Iterable[K], call: Callable[[K], Awaitable[V]], *, limit: int
) -> dict[K, V]:
    """``call`` once per distinct key, at most ``limit`` running at once.

    Any failure cancels the rest and is raised as itself (not an ExceptionGroup),
    so callers see the source's own error.
    """
    semaphore = asyncio.Semaphore(limit)

    async def limited(key: K) -> V:
        async with semaphore:
            return await call(key)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = {key: group.create_task(limited(key)) for key in dict.fromkeys(keys)}
    except ExceptionGroup as failed:
        raise failed.exceptions[0]  # noqa: B904 - keeps the error's own cause chain
    return {key: task.result() for key, task in tasks.items()}


class TtlCache(Generic[V]):
    """One value, loaded by ``load`` and kept for ``ttl_seconds``.

    Callers arriving while a load runs wait for that load instead of starting
    their own, so a burst of requests after expiry costs one refresh. A failed
    load is not cached: the next caller tries again. Only for data that is the
    same for every principal.

    When a refresh fails with an ``UpstreamError`` and the last value is at most
    ``max_stale_seconds`` old, that value is returned instead and the operation
    is told it got ``source``'s data stale (``sources.resilience.stale``).
    """

    def __init__(
        self,
        load: Callable[[], Awaitable[V]],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        source: str = "sagemaker",
        max_stale_seconds: float = 0.0,
        name: str = "sagemaker",
    ) -> None:
        """``name``: the cache's name in ``mlmeta_cache_lookups``."""
        self._name = name
        self._load = load
        self._ttl = ttl_seconds
        self._clock = clock
        self._source = source
        self._max_stale = max_stale_seconds
        self._value: tuple[float, V] | None = None
        self._loading: asyncio.Task[V] | None = None

    async def get(self) -> V:
        fresh = self._value is not None and self._clock() < self._value[0]
        cache_lookup(self._name, fresh)
        if fresh:
            return self._value[1]  # type: ignore[index]
        if self._loading is None:
            self._loading = asyncio.create_task(self._refresh())
            self._loading.add_done_callback(_retrieve)
        # Shielded: a cancelled caller must not cancel the load the others wait for.
        try:
            return await asyncio.shield(self._loading)
        except UpstreamError as error:
            if self._value is None:
                raise
            expires, value = self._value
            age = self._clock() - (expires - self._ttl)
            return serve_stale(error, self._source, value, age, self._max_stale)

    def clear(self) -> None:
        """Forget the value; a load already running still finishes and is kept."""
        self._value = None

    async def _refresh(self) -> V:
        try:
            value = await self._load()
            self._value = (self._clock() + self._ttl, value)
            return value
        finally:
            self._loading = None


class SharedAnswers(Generic[K, V]):
    """Answers per key, kept ``ttl_seconds`` and shared by every request that asks.

    For upstream reads that may still change (a running execution, a run list):
    requests arriving while a key loads wait for that load (with ``ttl_seconds``
    0 that is all it does), and for ``ttl_seconds`` after it they get its answer,
    so N requests a second for one live run cost at most one call per key per
    ``ttl_seconds``, not N. A failed load is not kept. At most ``max_entries``
    answers are kept; the oldest go first. Only for data that is the same for
    every principal.
    """

    def __init__(
        self,
        ttl_seconds: float,
        *,
        name: str,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``name``: the cache's name in ``mlmeta_cache_lookups``."""
        self._ttl = ttl_seconds
        self._name = name
        self._max = max_entries
        self._clock = clock
        self._values: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        kept = self._values.get(key)
        if kept is not None and self._clock() < kept[0]:
            cache_lookup(self._name, True)
            return kept[1]
        cache_lookup(self._name, False)
        task = self._loading.get(key)
        if task is None:
            task = asyncio.create_task(self._load(key, load))
            task.add_done_callback(_retrieve)
            self._loading[key] = task
        # Shielded: a cancelled caller must not cancel the load the others wait for.
        return await asyncio.shield(task)

    def put(self, key: K, value: V) -> None:
        """Keep an answer learnt elsewhere (a poll), fresh from now."""
        if self._ttl <= 0:
            return
        self._values.pop(key, None)  # re-inserted last: dicts keep insertion order
        self._values[key] = (self._clock() + self._ttl, value)
        while len(self._values) > self._max:
            del self._values[next(iter(self._values))]

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await load()
            self.put(key, value)
            return value
        finally:
            del self._loading[key]


def _retrieve(task: asyncio.Task[V]) -> None:
    """Mark a failed load's error as seen: every caller waiting got it, or has gone."""
    if not task.cancelled():
        task.exception()
