"""redis-py, imported only by a gateway that uses Redis (``MLMETA_REDIS_URL``).

redis-py and the OpenTelemetry modules it loads add ~17 MB to a process; a
single replica without Redis need not hold them. Modules that talk to Redis
import it through here, at the moment they first need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis


def connect(url: str, **options: Any) -> Redis:
    """A client for ``url`` (connections open on first use)."""
    from redis.asyncio import Redis

    return Redis.from_url(url, **options)


def errors() -> tuple[type[BaseException], ...]:
    """What a failing Redis raises: redis-py's errors and the socket's."""
    from redis.exceptions import RedisError

    return (RedisError, OSError)
