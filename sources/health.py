"""Readiness of the sources: each one checked concurrently, with a time limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
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
