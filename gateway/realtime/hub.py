"""Live execution updates: one poller per watched execution, however many watch it.

Per execution this process keeps a *watch* while at least one subscriber is
attached. The watch listens on the execution's bus channel and competes for
the execution's lease; the replica holding it polls the upstream and publishes
each changed snapshot, every other replica only listens. Subscribers get the
current snapshot, then every change, and the stream ends after a finished one.

Messages on a channel (JSON):
- ``snapshot``: a changed snapshot, from the owner (and the unchanged one
  again every lease period, for replicas that missed a message);
- ``error``: the owner gave up polling; every subscriber's stream ends with it;
- ``poke``: something says the execution changed: the owner polls now;
- ``sync``: a replica just started watching: the owner polls now and
  publishes even if nothing changed, so the newcomer gets the current state;
- ``release``: the owner stopped (no subscriber left there): take over now.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from hashlib import sha256
from typing import Any
from uuid import uuid4

from gateway.realtime.bus import Bus, Handler
from gateway.realtime.codec import Snapshot, decode_snapshot, encode_snapshot
from gateway.realtime.failure import Failure
from gateway.realtime.leases import Leases, LocalLeases, RedisLeases
from sources.errors import MlmetaError, UpstreamError

log = logging.getLogger("mlmeta.realtime")

Fetch = Callable[[str], Awaitable[Snapshot]]
"""Fetch an execution and its steps now; raises ``MlmetaError`` when it cannot."""


_Item = Snapshot | Failure | None
"""What a subscriber's queue holds; None means the hub closed."""


@dataclass(eq=False)
class _Watch:
    execution_id: str
    channel: str
    lease_key: str
    subscribers: set[asyncio.Queue[_Item]] = field(default_factory=set)
    latest: Snapshot | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    resend: bool = False
    owner: bool = False
    over: bool = False
    task: asyncio.Task[None] | None = None


class ExecutionHub:
    """Shares one poller per execution among every subscriber, across replicas.

    ``redis_url`` given: the poller of an execution runs in one replica only,
    the holder of a Redis lease (``SET NX PX``, ``lease_seconds`` long,
    renewed while it runs); the others get its snapshots through ``bus``,
    which must then be a ``RedisBus`` on the same Redis. Without it every
    lease is granted: use an ``InProcessBus`` and run one replica.
    """

    def __init__(
        self,
        fetch: Fetch,
        bus: Bus,
        poll_interval: float,
        *,
        redis_url: str | None = None,
        key_prefix: str = "mlmeta:",
        max_failures: int = 5,
        max_backoff: float = 30.0,
        lease_seconds: float | None = None,
        queue_size: int = 64,
    ) -> None:
        if poll_interval <= 0 or max_failures < 1:
            raise ValueError("poll_interval must be positive and max_failures at least 1")
        self._fetch = fetch
        self._bus = bus
        self._poll_interval = poll_interval
        self._prefix = key_prefix
        self._max_failures = max_failures
        self._max_backoff = max(max_backoff, poll_interval)
        # Long enough that a slow event loop does not hand the poll over by mistake.
        self._lease_seconds = lease_seconds or max(3 * poll_interval, 1.0)
        # A follower asks for the lease this often: when its owner dies without freeing
        # it, the watch is polled again within the lease plus this.
        self._follow_interval = min(poll_interval, self._lease_seconds / 4)
        self._queue_size = queue_size
        self._leases: Leases = RedisLeases(redis_url) if redis_url else LocalLeases()
        self._id = uuid4().hex
        self._watches: dict[str, _Watch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def watched(self) -> frozenset[str]:
        """Executions somebody in this process is subscribed to."""
        return frozenset(self._watches)

    def activity(self) -> tuple[int, int]:
        """(subscribers, pollers) in this process: what the metrics report."""
        watches = self._watches.values()
        return sum(len(w.subscribers) for w in watches), sum(w.owner for w in watches)

    async def subscribe(self, execution_id: str) -> AsyncGenerator[Snapshot, None]:
        """The current snapshot, then each changed one; ends after a finished one.

        Raises ``MlmetaError`` when polling gave up (a not-found execution at
        once, an upstream failing ``max_failures`` times in a row). Closing
        the iterator (or cancelling its consumer) detaches the subscriber.
        """
        if self._closed:
            raise RuntimeError("the execution hub is closed")
        watch = self._watch(execution_id)
        queue: asyncio.Queue[_Item] = asyncio.Queue(self._queue_size)
        watch.subscribers.add(queue)
        if watch.latest is not None:
            queue.put_nowait(watch.latest)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, Failure):
                    raise item.exception()
                info, steps = item
                yield info, list(steps)
                if info.finished:
                    return
        finally:
            self._leave(watch, queue)

    async def poke(self, execution_id: str) -> None:
        """The execution changed (an upstream event says so): its poller polls now."""
        await self._bus.publish(self._channel(execution_id), self._message("poke"))

    async def close(self) -> None:
        """End every subscriber's stream and stop the pollers (freeing their leases)."""
        self._closed = True
        for watch in self._watches.values():
            watch.over = True
            for queue in watch.subscribers:
                _offer(queue, None)
        self._watches.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._leases.close()

    # ------------------------------------------------------------ subscribers

    def _channel(self, execution_id: str) -> str:
        digest = sha256(execution_id.encode()).hexdigest()[:32]
        return f"{self._prefix}execution:{digest}"

    def _watch(self, execution_id: str) -> _Watch:
        watch = self._watches.get(execution_id)
        if watch is None or watch.over:
            channel = self._channel(execution_id)
            watch = _Watch(execution_id, channel=channel, lease_key=f"{channel}:poller")
            self._watches[execution_id] = watch
            watch.task = asyncio.create_task(self._run(watch), name=f"mlmeta-watch:{execution_id}")
            self._tasks.add(watch.task)
            watch.task.add_done_callback(self._tasks.discard)
        return watch

    def _leave(self, watch: _Watch, queue: asyncio.Queue[_Item]) -> None:
        watch.subscribers.discard(queue)
        if not watch.subscribers and not watch.over:
            # Stop at once, even in the middle of a fetch; the task frees the lease.
            self._end(watch)
            if watch.task is not None:
                watch.task.cancel()

    def _end(self, watch: _Watch) -> None:
        """No one needs this watch any more; its task winds down by itself."""
        watch.over = True
        watch.wake.set()
        if self._watches.get(watch.execution_id) is watch:
            del self._watches[watch.execution_id]

    def _deliver(self, watch: _Watch, snapshot: Snapshot) -> None:
        if watch.over or snapshot == watch.latest:
            return
        watch.latest = snapshot
        for queue in watch.subscribers:
            _offer(queue, snapshot)
        if snapshot[0].finished:
            self._end(watch)

    def _deliver_failure(self, watch: _Watch, failure: Failure) -> None:
        if watch.over:
            return
        for queue in watch.subscribers:
            _offer(queue, failure)
        self._end(watch)

    # ---------------------------------------------------------------- the bus

    def _message(self, kind: str, **body: Any) -> str:
        return json.dumps({"kind": kind, "from": self._id, **body}, separators=(",", ":"))

    def _on_message(self, watch: _Watch, raw: str) -> None:
        try:
            message = json.loads(raw)
            kind = message["kind"]
            if kind in ("poke", "sync"):
                if watch.owner:
                    watch.resend = watch.resend or kind == "sync"
                    watch.wake.set()
            elif kind == "release":
                if not watch.owner:
                    watch.wake.set()
            elif message.get("from") == self._id:
                return  # our own snapshot or failure, already delivered here
            elif kind == "snapshot":
                self._deliver(watch, decode_snapshot(message["snapshot"]))
            elif kind == "error":
                self._deliver_failure(watch, Failure(**message["error"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed message on %s", watch.channel, exc_info=True)

    async def _publish(self, watch: _Watch, message: str) -> None:
        try:
            await self._bus.publish(watch.channel, message)
        except Exception as exc:
            # This replica's subscribers already have it; the others catch up later.
            log.warning("could not publish on %s: %s", watch.channel, exc)

    # ----------------------------------------------------------------- polling

    async def _run(self, watch: _Watch) -> None:
        """The watch's life: follow the owner, or own the lease and poll."""
        handler: Handler = partial(self._on_message, watch)
        try:
            await self._bus.subscribe(watch.channel, handler)
            asked = False
            while not watch.over:
                token = await self._acquire(watch)
                if token is not None:
                    await self._own(watch, token)
                    continue
                if not asked:
                    # Even with a snapshot in hand: it may be one already on its way
                    # when we subscribed, older than the poller's latest.
                    await self._publish(watch, self._message("sync"))
                    asked = True
                await _nap(watch.wake, self._follow_interval)
        except Exception as exc:
            log.warning("watching %s failed", watch.execution_id, exc_info=True)
            self._deliver_failure(watch, Failure.of(exc))
        finally:
            await self._bus.unsubscribe(watch.channel, handler)

    async def _acquire(self, watch: _Watch) -> str | None:
        try:
            return await self._leases.acquire(watch.lease_key, self._lease_seconds)
        except Exception:
            log.warning("could not ask for the lease of %s", watch.execution_id, exc_info=True)
            return None

    async def _own(self, watch: _Watch, token: str) -> None:
        """Poll until the watch is over, or the lease is lost (then back to following)."""
        watch.owner = True
        tasks = {asyncio.create_task(self._poll(watch))}
        if self._leases.shared:
            tasks.add(asyncio.create_task(self._keep(watch, token)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            watch.owner = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._release(watch, token)

    async def _keep(self, watch: _Watch, token: str) -> None:
        """Renew the lease while polling; return when it is lost."""
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                if not await self._leases.renew(watch.lease_key, token, self._lease_seconds):
                    log.warning("lost the lease of %s; following its new poller", watch.lease_key)
                    return
            except Exception:
                # Unknown (Redis unreachable): keep polling; we learn the truth when it is back.
                log.warning("could not renew the lease of %s", watch.lease_key, exc_info=True)

    async def _release(self, watch: _Watch, token: str) -> None:
        try:
            released = await self._leases.release(watch.lease_key, token)
        except Exception:
            log.warning("could not release the lease of %s", watch.lease_key, exc_info=True)
            return
        if released and self._leases.shared:
            # Replicas whose clients still watch take over now, not at the lease's expiry.
            await self._publish(watch, self._message("release"))

    async def _poll(self, watch: _Watch) -> None:
        """Fetch, publish what changed, wait a poll interval (or a poke), again."""
        failures = 0
        published: Snapshot | None = None
        loop = asyncio.get_running_loop()
        published_at = loop.time()
        watch.wake.clear()  # whatever woke us before we owned the lease: this poll is it
        while not watch.over:
            try:
                snapshot = await self._fetch(watch.execution_id)
            except Exception as exc:
                failures += 1
                final = isinstance(exc, MlmetaError) and not isinstance(exc, UpstreamError)
                if final or failures >= self._max_failures:
                    log.warning(
                        "polling %s failed %d time(s), giving up: %s",
                        watch.execution_id,
                        failures,
                        exc,
                        exc_info=not isinstance(exc, MlmetaError),
                    )
                    failure = Failure.of(exc)
                    self._deliver_failure(watch, failure)
                    await self._publish(watch, self._message("error", error=asdict(failure)))
                    return
                log.warning(
                    "polling %s failed (%d in a row), retrying: %s",
                    watch.execution_id,
                    failures,
                    exc,
                    exc_info=not isinstance(exc, MlmetaError),
                )
                delay = min(self._poll_interval * 2**failures, self._max_backoff)
            else:
                failures = 0
                # Unchanged, it is still republished now and then: a replica that
                # missed a message (Redis reconnecting) catches up within a lease period.
                stale = self._leases.shared and loop.time() - published_at >= self._lease_seconds
                if snapshot != published or watch.resend or stale:
                    watch.resend = False
                    published, published_at = snapshot, loop.time()
                    self._deliver(watch, snapshot)
                    message = self._message("snapshot", snapshot=encode_snapshot(snapshot))
                    await self._publish(watch, message)
                if snapshot[0].finished:
                    return
                delay = self._poll_interval
            await _nap(watch.wake, delay)


async def _nap(wake: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``wake`` is set; clear it."""
    try:
        async with asyncio.timeout(seconds):
            await wake.wait()
    except TimeoutError:
        pass
    wake.clear()


def _offer(queue: asyncio.Queue[_Item], item: _Item) -> None:
    """Queue without blocking; a subscriber that lags loses its oldest snapshot."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)
