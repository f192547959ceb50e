"""Real time: live execution updates behind ``Subscription.executionUpdated``.

- ``hub``: one poller per watched execution, shared by its subscribers, and
  with Redis by every replica (a lease decides which replica polls);
- ``bus``: the fan-out between replicas (in process, or Redis pub/sub);
- ``events``: the endpoint Step Functions status-change events poke it through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from gateway.config import Settings
from gateway.realtime.bus import Bus, InProcessBus, RedisBus
from gateway.realtime.codec import Snapshot, decode_snapshot, encode_snapshot
from gateway.realtime.events import SECRET_HEADER, stepfunctions_events_endpoint
from gateway.realtime.hub import ExecutionHub, Fetch


@asynccontextmanager
async def open_hub(settings: Settings, fetch: Fetch) -> AsyncIterator[ExecutionHub]:
    """The hub the settings ask for (Redis fan-out when ``redis_url`` is set); closed on exit."""
    bus: Bus = RedisBus(settings.redis_url) if settings.redis_url else InProcessBus()
    await bus.open()
    try:
        hub = ExecutionHub(
            fetch,
            bus,
            settings.poll_interval_seconds,
            redis_url=settings.redis_url or None,
            lease_seconds=settings.poll_lease_seconds or None,
        )
        try:
            yield hub
        finally:
            await hub.close()
    finally:
        await bus.close()


__all__ = [
    "SECRET_HEADER",
    "Bus",
    "ExecutionHub",
    "Fetch",
    "InProcessBus",
    "RedisBus",
    "Snapshot",
    "decode_snapshot",
    "encode_snapshot",
    "open_hub",
    "stepfunctions_events_endpoint",
]
