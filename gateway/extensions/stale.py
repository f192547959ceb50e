"""Tell the caller which parts of the answer are old: ``extensions.stale``.

When a source fails and serves its last good value instead
(``sources.resilience.stale``), the operation's ``StaleLog`` (kept in the
request's Context) records the source and the value's age. Every response
that used stale data carries ``extensions.stale = [{"source", "ageSeconds"}]``,
one entry per source with the oldest age served; a response without stale
data has no ``stale`` key at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from sources.resilience.stale import StaleLog, current_stale_log


class StaleReport(SchemaExtension):
    """Binds the request's StaleLog for the sources, and reports it with the result."""

    _stale: StaleLog | None = None

    def on_operation(self) -> Iterator[None]:
        found = getattr(self.execution_context.context, "stale", None)
        # A context without a log (a test's, a bare schema.execute) gets one per operation.
        self._stale = found if isinstance(found, StaleLog) else StaleLog()
        token = current_stale_log.set(self._stale)
        try:
            yield
        finally:
            current_stale_log.reset(token)

    def get_results(self) -> dict[str, Any]:
        if self._stale is None or not self._stale.ages:
            return {}
        return {"stale": self._stale.report()}
