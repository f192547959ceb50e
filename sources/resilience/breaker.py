"""Circuit breakers: one per source per process, made in the lifespan.

After ``failure_threshold`` consecutive upstream failures a source's circuit
opens: calls fail at once with ``CircuitOpenError`` (``UPSTREAM_UNAVAILABLE``)
instead of each waiting for a timeout, which would tie up the request's
deadline and pile more load on an upstream that is already struggling. After
``cooldown_seconds`` the circuit is half-open: exactly one call goes through as
a probe while the others still fail fast; its success closes the circuit, its
failure opens it for another cool-down.

Which exceptions count is the caller's decision (``guard(failure=...)``), since
only the source knows its exception tree; the default counts ``UpstreamError``
(unreachable, 5xx, timeouts and throttling: a throttled upstream asks us to
back off, and failing fast is backing off) and plain connection errors. An
upstream that answers "not found", "not allowed" or "bad input" is up: such
answers count as successes.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sources.errors import UpstreamError
from sources.telemetry import upstream_call

log = logging.getLogger("mlmeta.breaker")

Clock = Callable[[], float]
WallClock = Callable[[], datetime]
FailureTest = Callable[[BaseException], bool]


class CircuitState(enum.Enum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class CircuitOpenError(UpstreamError):
    """Refused without calling the upstream: its circuit is open (or probing)."""


def is_upstream_failure(exc: BaseException) -> bool:
    """The default test: our upstream errors, and connection or timeout errors."""
    return isinstance(exc, (UpstreamError, TimeoutError, ConnectionError))


@dataclass(frozen=True)
class BreakerStatus:
    """What a breaker shows to /readyz, ``sources { circuit }`` and metrics."""

    source: str
    state: CircuitState
    consecutive_failures: int
    open_until: datetime | None
    """When an open circuit lets a probe through (None unless OPEN)."""
    times_opened: int
    """How often the circuit has opened since the process started (a counter)."""
    rejected_calls: int
    """Calls failed fast without reaching the upstream (a counter)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CircuitBreaker:
    """The circuit of one source. ``clock`` (monotonic seconds) is injectable for tests."""

    def __init__(
        self,
        source: str,
        *,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        clock: Clock = time.monotonic,
        wall_clock: WallClock = _utcnow,
    ) -> None:
        self.source = source
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._open_until = 0.0
        self._probing = False
        self._times_opened = 0
        self._rejected = 0

    @property
    def enabled(self) -> bool:
        return self.failure_threshold > 0

    @property
    def state(self) -> CircuitState:
        # An open circuit whose cool-down is over is half-open, even before a caller comes.
        if self._state is CircuitState.OPEN and self._clock() >= self._open_until:
            return CircuitState.HALF_OPEN
        return self._state

    def status(self) -> BreakerStatus:
        state = self.state
        until = None
        if state is CircuitState.OPEN:
            until = self._wall_clock() + timedelta(seconds=self._open_until - self._clock())
        return BreakerStatus(
            source=self.source,
            state=state,
            consecutive_failures=self._failures,
            open_until=until,
            times_opened=self._times_opened,
            rejected_calls=self._rejected,
        )

    @asynccontextmanager
    async def guard(
        self, failure: FailureTest = is_upstream_failure, operation: str = "call"
    ) -> AsyncIterator[None]:
        """Run the block as one upstream call: refused while open, its outcome recorded.

        A block that is cancelled (or raises a non-``Exception``) counts neither
        way; if it was the probe, the next caller probes instead. Every call is
        also counted, timed and traced as ``operation`` (``sources.telemetry``).
        """
        with upstream_call(self.source, operation) as call:
            try:
                probe = self._admit()
            except CircuitOpenError:
                call.outcome = "circuit_open"
                raise
            try:
                yield
            except Exception as exc:
                if failure(exc):
                    call.outcome = "failure"
                    self._failed(probe)
                else:
                    call.outcome = "error"
                    self._succeeded(probe)
                raise
            except BaseException:
                call.outcome = "cancelled"
                if probe:
                    self._probing = False
                raise
            self._succeeded(probe)

    # -- transitions

    def _admit(self) -> bool:
        """Let a call through (True: it is the probe) or raise ``CircuitOpenError``."""
        if not self.enabled:
            return False
        state = self.state
        if state is CircuitState.CLOSED:
            return False
        if state is CircuitState.HALF_OPEN and not self._probing:
            self._state, self._probing = CircuitState.HALF_OPEN, True
            log.info("%s circuit half-open: one probe call goes through", self.source)
            return True
        self._rejected += 1
        raise CircuitOpenError(self._refusal(state), source=self.source)

    def _refusal(self, state: CircuitState) -> str:
        if state is CircuitState.HALF_OPEN:
            return f"{self.source} is unavailable: circuit half-open, a probe call is in flight"
        until = self._wall_clock() + timedelta(seconds=self._open_until - self._clock())
        return (
            f"{self.source} is unavailable: circuit open until "
            f"{until.isoformat(timespec='seconds')} after {self._failures} consecutive failures"
        )

    def _failed(self, probe: bool) -> None:
        if probe:
            self._probing = False
            self._open()
        elif self._state is CircuitState.CLOSED and self.enabled:
            # Calls admitted before the circuit opened do not extend or re-open it.
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._open()

    def _succeeded(self, probe: bool) -> None:
        if probe:
            self._probing = False
            self._state = CircuitState.CLOSED
            log.info("%s circuit closed: the probe call succeeded", self.source)
        if self._state is CircuitState.CLOSED:
            self._failures = 0

    def _open(self) -> None:
        self._state = CircuitState.OPEN
        self._open_until = self._clock() + self.cooldown_seconds
        self._times_opened += 1
        log.warning(
            "%s circuit open for %g s after %d consecutive failures",
            self.source,
            self.cooldown_seconds,
            self._failures,
        )


class Breakers:
    """Every source's breaker, by source name: the read API for readiness and metrics."""

    def __init__(
        self,
        names: Iterable[str],
        *,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._breakers = {
            name: CircuitBreaker(
                name,
                failure_threshold=failure_threshold,
                cooldown_seconds=cooldown_seconds,
                clock=clock,
            )
            for name in names
        }

    def __getitem__(self, source: str) -> CircuitBreaker:
        return self._breakers[source]

    def state(self, source: str) -> CircuitState:
        """The source's circuit; CLOSED for a source without a breaker (nothing to trip)."""
        breaker = self._breakers.get(source)
        return breaker.state if breaker is not None else CircuitState.CLOSED

    def statuses(self) -> list[BreakerStatus]:
        """Every breaker's status, by source name (what a metrics exporter reads)."""
        return [self._breakers[name].status() for name in sorted(self._breakers)]
