"""Stale while revalidate: the last good value of slow-changing data, when its upstream fails.

A source that keeps a value it read (an index, an entity) may hand it out again
when the next read fails with an ``UpstreamError`` (unreachable, timeout,
throttled, circuit open), as long as the value is at most ``max_staleness``
seconds old. Each such use is recorded in the operation's ``StaleLog``, which
``gateway.extensions.stale`` reports as ``extensions.stale``: a caller always
learns that part of the answer is old, and how old.

The log is found through a context variable rather than passed down: sources
are shared by every request and know nothing of GraphQL contexts, while the
loaders and resolvers that call them run in the operation's task (or tasks
created from it, which copy the variable). Outside an operation (readiness
checks, pollers) nothing is recorded.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass, field
from typing import TypeVar

from sources.errors import UpstreamError

log = logging.getLogger("mlmeta.stale")

V = TypeVar("V")


@dataclass
class StaleLog:
    """Sources whose data an operation served stale, with the oldest age served."""

    ages: dict[str, float] = field(default_factory=dict)

    def record(self, source: str, age_seconds: float) -> None:
        self.ages[source] = max(age_seconds, self.ages.get(source, 0.0))

    def report(self) -> list[dict[str, object]]:
        """``extensions.stale``: one ``{source, ageSeconds}`` per source, by source name."""
        return [
            {"source": source, "ageSeconds": round(age, 1)}
            for source, age in sorted(self.ages.items())
        ]


current_stale_log: contextvars.ContextVar[StaleLog | None] = contextvars.ContextVar(
    "mlmeta_stale_log", default=None
)


def record_stale(source: str, age_seconds: float) -> None:
    """Note in the running operation (if any) that ``source``'s data was served stale."""
    stale_log = current_stale_log.get()
    if stale_log is not None:
        stale_log.record(source, age_seconds)


def serve_stale(error: UpstreamError, source: str, value: V, age: float, max_staleness: float) -> V:
    """``value`` (recorded as stale) if it is young enough, else ``error`` is raised."""
    if max_staleness <= 0 or age > max_staleness:
        raise error
    log.info("%s failed (%s): serving data %.1f s old", source, error.message, age)
    record_stale(source, age)
    return value
