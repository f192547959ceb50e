"""Readiness of the sources: each one checked concurrently, with a time limit.

``HealthCache`` is what the probes and the ``sources`` field ask: anyone may call
/readyz, so its answer is reused for a few seconds and concurrent callers share
one check; otherwise anonymous callers could drive AWS calls at will.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sources.errors import MlmetaError


class Checkable(Protocol):
    """A source that can tell whether its upstream answers."""

    name: str

    async def check(self) -> None:
        """Return when the upstream answers; raise when it does not."""


@dataclass(frozen=True)
class SourceHealth:
    name: str
    healthy: bool
    latency_ms: float | None
    last_error: str | None
    checked_at: datetime


async def check_one(source: Checkable, limit_seconds: float) -> SourceHealth:
    started = time.perf_counter()
    error: str | None = None
    try:
        await asyncio.wait_for(source.check(), limit_seconds)
    except TimeoutError:
        error = f"no answer within {limit_seconds:g} s"
    except MlmetaError as exc:
        error = exc.message
    except Exception as exc:  # a readiness probe reports, it never raises
        error = type(exc).__name__
    elapsed = (time.perf_counter() - started) * 1000
    return SourceHealth(
        name=source.name,
        healthy=error is None,
        latency_ms=round(elapsed, 2),
        last_error=error,
        checked_at=datetime.now(UTC),
    )


async def check_all(sources: Sequence[Checkable], limit_seconds: float) -> list[SourceHealth]:
    return list(await asyncio.gather(*(check_one(s, limit_seconds) for s in sources)))


class HealthCache:
    """The last check of every source, reused for ``ttl_seconds``; one check at a time."""

    def __init__(
        self,
        sources: Sequence[Checkable],
        limit_seconds: float,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = sources
        self.limit_seconds = limit_seconds
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._results: list[SourceHealth] | None = None
        self._checked_at = 0.0
        self._pending: asyncio.Future[list[SourceHealth]] | None = None

    async def results(self) -> list[SourceHealth]:
        fresh = self._clock() - self._checked_at < self.ttl_seconds
        if self._results is not None and fresh:
            return self._results
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._check())
        # Shielded: a caller that goes away must not cancel the check the others wait on.
        return await asyncio.shield(self._pending)

    async def _check(self) -> list[SourceHealth]:
        try:
            results = await check_all(self.sources, self.limit_seconds)
            self._results, self._checked_at = results, self._clock()
            return results
        finally:
            self._pending = None
