"""Per-principal budgets: token buckets charged by each operation's cost.

A bucket holds up to ``burst`` points and refills at ``per_second``; an operation
is let through when the bucket holds at least its cost, which is then taken.
In one process the buckets are a dict; with several replicas they live in Redis
and one Lua script reads, refills and charges a bucket atomically, so replicas
share one budget per principal.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from gateway import redis_import
from sources.resilience.breaker import CircuitBreaker, CircuitOpenError

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("mlmeta.budget")

Clock = Callable[[], float]

# Anonymous callers are keyed by address: bound the dict an address scan could grow.
_MAX_IN_PROCESS_KEYS = 10_000
REDIS_TIMEOUT_SECONDS = 1.0
"""Connect and read timeout of a charge. Every operation waits for its charge, so a
Redis that accepts connections but never answers (paused, wedged) must not hold
them: past this, the charge counts in-process and the failure counts for the breaker."""


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: float
    """Points left in the bucket after this operation (or before it, when refused)."""
    retry_after: int = 0
    """Whole seconds until the bucket holds the cost asked (0 when allowed)."""


def _retry_after(missing: float, rate: Rate) -> int:
    return max(1, math.ceil(missing / rate.per_second)) if missing > 0 else 0


class RefusalMemory:
    """Who was refused lately, and until when.

    A refused principal is told to wait ``Retry-After`` seconds. Until then its
    requests are refused on arrival, before their document is parsed, validated
    or costed: a client that floods on regardless costs a dict lookup per request,
    not a parse (each replica remembers its own refusals).
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._until: dict[str, tuple[float, float]] = {}  # key -> (until, remaining)

    def note(self, key: str, decision: Decision) -> None:
        if len(self._until) >= _MAX_IN_PROCESS_KEYS:
            now = self.clock()
            self._until = {k: v for k, v in self._until.items() if v[0] > now}
        self._until[key] = (self.clock() + decision.retry_after, decision.remaining)

    def check(self, key: str) -> Decision | None:
        """The standing refusal of ``key``, with the whole seconds still to wait."""
        found = self._until.get(key)
        if found is None:
            return None
        until, remaining = found
        wait = until - self.clock()
        if wait <= 0:
            del self._until[key]
            return None
        return Decision(False, remaining, max(1, math.ceil(wait)))


class Buckets(Protocol):
    refusals: RefusalMemory

    async def charge(self, key: str, cost: float, rate: Rate) -> Decision: ...


class InProcessBuckets:
    """Buckets of one replica. ``clock`` is injectable so tests refill without sleeping."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (points, at)
        self.refusals = RefusalMemory(clock)

    async def charge(self, key: str, cost: float, rate: Rate) -> Decision:
        now = self.clock()
        points, at = self._buckets.get(key, (rate.burst, now))
        points = min(rate.burst, points + max(0.0, now - at) * rate.per_second)
        if points < cost:
            self._buckets[key] = (points, now)
            return Decision(False, points, _retry_after(cost - points, rate))
        self._buckets[key] = (points - cost, now)
        if len(self._buckets) > _MAX_IN_PROCESS_KEYS:
            self._forget_full(now, rate)
        return Decision(True, points - cost)

    def _forget_full(self, now: float, rate: Rate) -> None:
        # A bucket that has refilled to its burst is the same as no bucket at all.
        full_after = rate.burst / rate.per_second
        for key, (_, at) in list(self._buckets.items()):
            if now - at >= full_after:
                del self._buckets[key]


# KEYS[1]: the bucket; ARGV: burst, per_second, cost, now ('' = the server's clock).
_CHARGE = """
local burst, rate, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'points', 'at')
local points = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
points = math.min(burst, points + math.max(0, now - at) * rate)
local allowed = 0
if points >= cost then
  points = points - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'points', tostring(points), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(points)}
"""


class RedisBuckets:
    """Buckets shared by every replica using the same Redis."""

    def __init__(
        self,
        redis: Redis,
        clock: Clock | None = None,
        prefix: str = "mlmeta:budget:",
        breaker: CircuitBreaker | None = None,
    ):
        self.redis = redis
        # Redis's circuit: while it is open, charges go to the fallback at once
        # instead of each waiting for a connection that will not come.
        self.breaker = breaker or CircuitBreaker("redis", failure_threshold=0)
        self.clock = clock  # None: Redis's own clock, the same for every replica
        self.prefix = prefix
        self._script = redis.register_script(_CHARGE)
        # While Redis is unreachable each replica keeps its own buckets: budgets stay
        # enforced (per replica) and queries are not failed for want of a counter.
        self._fallback = InProcessBuckets(clock or time.monotonic)
        self.refusals = RefusalMemory(clock or time.monotonic)

    async def charge(self, key: str, cost: float, rate: Rate) -> Decision:
        now = "" if self.clock is None else repr(self.clock())
        try:
            async with self.breaker.guard(_redis_failure):
                allowed, points = await self._script(
                    keys=[self.prefix + key], args=[rate.burst, rate.per_second, cost, now]
                )
        except CircuitOpenError:
            return await self._fallback.charge(key, cost, rate)  # logged when it opened
        except redis_import.errors() as exc:
            log.warning("budget counter unavailable, counting in-process: %s", exc)
            return await self._fallback.charge(key, cost, rate)
        remaining = float(points)
        if allowed:
            return Decision(True, remaining)
        return Decision(False, remaining, _retry_after(cost - remaining, rate))


def _redis_failure(exc: BaseException) -> bool:
    return isinstance(exc, redis_import.errors())


@asynccontextmanager
async def open_buckets(
    redis_url: str, clock: Clock | None = None, breaker: CircuitBreaker | None = None
) -> AsyncIterator[Buckets]:
    """Redis buckets when a URL is given, in-process ones otherwise; closed on exit."""
    if not redis_url:
        yield InProcessBuckets(clock or time.monotonic)
        return
    redis = redis_import.connect(
        redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        yield RedisBuckets(redis, clock, breaker=breaker)
    finally:
        await redis.aclose()
