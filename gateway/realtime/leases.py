"""Who polls an execution: a lease per execution, held by one replica at a time.

The lease is a Redis key set with ``SET NX PX`` holding a random token; the
owner renews it while it polls and deletes it when it stops. Renewing and
deleting check the token first (in a Lua script, atomically), so a replica
that lost its lease never extends or frees someone else's. When the owner
dies the key expires and a replica whose clients still watch takes over.

Without Redis there is one replica, which always gets the lease.
"""

from __future__ import annotations

from typing import Protocol
from uuid import uuid4

from gateway import redis_import

# KEYS[1] = lease key, ARGV[1] = token, ARGV[2] = ttl in ms
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Leases(Protocol):
    shared: bool
    """True when other replicas compete for the same leases."""

    async def acquire(self, key: str, ttl: float) -> str | None:
        """Take the lease if free: its token, or None when another holds it."""
        ...

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        """Extend a lease still held with ``token``; False when it was lost."""
        ...

    async def release(self, key: str, token: str) -> bool:
        """Free the lease if still held with ``token``; True when it was."""
        ...

    async def close(self) -> None: ...


class LocalLeases:
    """One replica: every lease is granted."""

    shared = False

    async def acquire(self, key: str, ttl: float) -> str | None:
        return "local"

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        return True

    async def release(self, key: str, token: str) -> bool:
        return True

    async def close(self) -> None:
        return None


class RedisLeases:
    """Leases shared by every replica using the same Redis. Errors are the caller's."""

    shared = True

    def __init__(self, redis_url: str) -> None:
        self._redis = redis_import.connect(redis_url, decode_responses=True)

    async def acquire(self, key: str, ttl: float) -> str | None:
        token = uuid4().hex
        taken = await self._redis.set(key, token, nx=True, px=_ms(ttl))
        return token if taken else None

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        return bool(await self._redis.eval(_RENEW, 1, key, token, str(_ms(ttl))))

    async def release(self, key: str, token: str) -> bool:
        return bool(await self._redis.eval(_RELEASE, 1, key, token))

    async def close(self) -> None:
        await self._redis.aclose()


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
