"""Warn when the event loop was blocked (``MLMETA_LOOP_STALL_WARN_MS``).

Everything this process serves shares one event loop: while one callback runs
(completing a large result, encoding it), /healthz, other callers and
subscriptions wait. A task sleeps for a few milliseconds at a time and measures
how late it wakes; lateness over the threshold is logged at WARNING as
``event loop blocked for N ms``, so a query that monopolises the process shows
up in the logs (bench/flood.py reads these lines to report the worst stall).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

log = logging.getLogger("mlmeta.loop")
INTERVAL_SECONDS = 0.01  # the measured stall is short by at most this much


async def watch_loop(threshold_ms: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(INTERVAL_SECONDS)
        late_ms = (loop.time() - started - INTERVAL_SECONDS) * 1000
        if late_ms >= threshold_ms:
            log.warning("event loop blocked for %.0f ms", late_ms)


@contextlib.asynccontextmanager
async def loop_monitor(threshold_ms: float) -> AsyncIterator[None]:
    """Watch the running loop while the block runs; ``threshold_ms`` 0 turns it off."""
    if threshold_ms <= 0:
        yield
        return
    task = asyncio.create_task(watch_loop(threshold_ms), name="mlmeta-loop-monitor")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
