"""The fan-out bus: text messages published on a channel reach every handler of it.

``InProcessBus`` serves one replica. ``RedisBus`` spans replicas with Redis
pub/sub over ONE subscriber connection per process, whatever the number of
channels: a reader task dispatches each message to the handlers of its channel.

Pub/sub is fire and forget: a replica that is disconnected misses what was
published meanwhile. The hub is built for that: receivers deduplicate, the
poller republishes its latest snapshot every lease period, and a replica takes
over polling when the lease of the one that stopped expires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol
from uuid import uuid4

from gateway import redis_import
from sources.errors import UpstreamError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = logging.getLogger("mlmeta.realtime")

Handler = Callable[[str], None]
"""Called on the event loop for each message; it must not block."""


class Bus(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, channel: str, message: str) -> None:
        """Deliver ``message`` to every handler of ``channel``, in any replica."""
        ...

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Call ``handler`` for each message on ``channel`` published from now on."""
        ...

    async def unsubscribe(self, channel: str, handler: Handler) -> None: ...


class _Handlers:
    """Handlers by channel; a failing handler is logged and does not stop the others."""

    def __init__(self) -> None:
        self.by_channel: dict[str, list[Handler]] = {}

    def add(self, channel: str, handler: Handler) -> bool:
        """Add; True when it is the channel's first handler."""
        handlers = self.by_channel.setdefault(channel, [])
        handlers.append(handler)
        return len(handlers) == 1

    def remove(self, channel: str, handler: Handler) -> bool:
        """Remove; True when the channel has no handler left."""
        handlers = self.by_channel.get(channel)
        if handlers is None:
            return False
        if handler in handlers:
            handlers.remove(handler)
        if handlers:
            return False
        del self.by_channel[channel]
        return True

    def dispatch(self, channel: str, message: str) -> None:
        for handler in list(self.by_channel.get(channel, ())):
            try:
                handler(message)
            except Exception:
                log.exception("a handler of %s failed", channel)


class InProcessBus:
    """Fan-out within this process: publishing calls the handlers directly."""

    def __init__(self) -> None:
        self._handlers = _Handlers()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        self._handlers.by_channel.clear()

    async def publish(self, channel: str, message: str) -> None:
        self._handlers.dispatch(channel, message)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers.add(channel, handler)

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        self._handlers.remove(channel, handler)


class RedisBus:
    """Fan-out across replicas through Redis pub/sub.

    ``open`` fails when Redis cannot be reached, so a wrong ``MLMETA_REDIS_URL``
    stops the start-up instead of silently degrading to one replica. Later
    failures raise ``UpstreamError`` (source ``redis``); the reader reconnects
    and resubscribes by itself.
    """

    def __init__(
        self, redis_url: str, *, confirm_timeout: float = 5.0, retry_delay: float = 1.0
    ) -> None:
        self._url = redis_url
        self._confirm_timeout = confirm_timeout
        self._retry_delay = retry_delay
        self._handlers = _Handlers()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._changes = asyncio.Lock()
        self._redis: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        # The pub/sub connection needs at least one channel to be read from.
        self._own_channel = f"mlmeta:bus:{uuid4().hex}"

    async def open(self) -> None:
        self._redis = redis_import.connect(self._url, decode_responses=True)
        self._pubsub = self._redis.pubsub()
        try:
            await self._pubsub.subscribe(self._own_channel)
        except redis_import.errors() as exc:
            await self.close()
            raise UpstreamError(f"Redis is unreachable: {exc}", source="redis") from exc
        self._reader = asyncio.create_task(self._read(self._pubsub), name="mlmeta-redis-bus")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def publish(self, channel: str, message: str) -> None:
        if self._redis is None:
            raise RuntimeError("the bus is not open")
        try:
            await self._redis.publish(channel, message)
        except redis_import.errors() as exc:
            raise UpstreamError("Could not publish to Redis.", source="redis") from exc

    async def subscribe(self, channel: str, handler: Handler) -> None:
        if self._pubsub is None:
            raise RuntimeError("the bus is not open")
        async with self._changes:
            if self._handlers.add(channel, handler):
                self._confirmed[channel] = asyncio.Event()
                try:
                    await self._pubsub.subscribe(channel)
                except redis_import.errors() as exc:
                    self._handlers.remove(channel, handler)
                    del self._confirmed[channel]
                    raise UpstreamError("Could not subscribe in Redis.", source="redis") from exc
            confirmed = self._confirmed[channel]
        # Messages published before Redis registered the subscription are not
        # delivered: wait for its confirmation, so "from now on" holds.
        try:
            async with asyncio.timeout(self._confirm_timeout):
                await confirmed.wait()
        except TimeoutError:
            log.warning("Redis did not confirm the subscription to %s in time", channel)

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        async with self._changes:
            if not self._handlers.remove(channel, handler):
                return
            self._confirmed.pop(channel, None)
            if self._pubsub is None:
                return
            try:
                await self._pubsub.unsubscribe(channel)
            except redis_import.errors():
                log.warning("could not unsubscribe from %s", channel, exc_info=True)

    async def _read(self, pubsub: PubSub) -> None:
        failing = False
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except redis_import.errors() as exc:
                # Once per outage, not once per retry.
                log.log(
                    logging.DEBUG if failing else logging.WARNING,
                    "Redis pub/sub connection lost (%s); reconnecting",
                    exc,
                )
                failing = True
                await asyncio.sleep(self._retry_delay)
                continue
            if failing:
                log.warning("Redis pub/sub connection is back; resubscribed")
                failing = False
            if not message:
                continue
            kind, channel = message["type"], message["channel"]
            if kind == "message":
                self._handlers.dispatch(channel, message["data"])
            elif kind == "subscribe" and channel in self._confirmed:
                self._confirmed[channel].set()
