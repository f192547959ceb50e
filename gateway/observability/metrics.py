"""Prometheus metrics of the gateway, served at ``/metrics`` (README: "Metrics").

Counters and histograms are kept where things happen: operations here (by
``gateway.extensions.observe``), upstream calls, caches, loader batches and
ingested points in ``sources.telemetry``. State (circuit breakers, subscriptions
and pollers, the metadb pool) is read from the process when scraped.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``mlmeta serve --workers N`` sets it),
every worker writes its samples to files there and a scrape, answered by any
worker, adds them up; state gauges are then refreshed by each worker every few
seconds, and summed (or, for circuits, the worst state) over live workers.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from sources.resilience.breaker import CircuitState
from sources.telemetry import LATENCY_BUCKETS

if TYPE_CHECKING:
    from gateway.resources import Resources

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_SECONDS = 5.0
MAX_OPERATION_NAMES = 100
MAX_OPERATION_NAME_LENGTH = 80
OTHER = "other"
ANONYMOUS = "anonymous"

REQUEST_SECONDS = Histogram(
    "mlmeta_graphql_request_duration_seconds",
    "Queries and mutations, by operation name (the first 100 names a process sees; later "
    "ones, and names over 80 characters, count as 'other'; unnamed: 'anonymous') and "
    "outcome (success; partial: data and errors; error: no data).",
    ["operation", "outcome"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter(
    "mlmeta_graphql_errors",
    "Errors in GraphQL responses, by extensions.code (a collapsed error counts for each "
    "occurrence).",
    ["code"],
)
CIRCUIT_STATE = Gauge(
    "mlmeta_circuit_state",
    "Each source's circuit breaker: 1 for its current state (closed, half_open, open), "
    "0 for the others. Over several workers: the worst worker's state.",
    ["source", "state"],
    multiprocess_mode="livemax",
)
SUBSCRIPTIONS = Gauge(
    "mlmeta_active_subscriptions",
    "Open executionUpdated subscriptions.",
    multiprocess_mode="livesum",
)
POLLERS = Gauge(
    "mlmeta_active_pollers",
    "Executions being polled for subscribers (one poller per watched execution).",
    multiprocess_mode="livesum",
)
METADB_POOL = Gauge(
    "mlmeta_metadb_pool_connections",
    "metadb connection pool: connections in use (checked_out) and the pool's size.",
    ["state"],
    multiprocess_mode="livesum",
)


class OperationNames:
    """Operation names as labels, bounded: the first ``limit`` names, then 'other'."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self._limit = limit
        self._known: set[str] = set()

    def label(self, name: str | None) -> str:
        if not name:
            return ANONYMOUS
        if name in self._known:
            return name
        if len(name) > MAX_OPERATION_NAME_LENGTH or len(self._known) >= self._limit:
            return OTHER
        self._known.add(name)
        return name


operation_names = OperationNames()


def sample(resources: Resources) -> None:
    """Set the state gauges from this process's breakers, hub and metadb pool."""
    for status in resources.breakers.statuses():
        for state in CircuitState:
            current = 1 if status.state is state else 0
            CIRCUIT_STATE.labels(status.source, state.value.lower()).set(current)
    subscribers, pollers = resources.hub.activity()
    SUBSCRIPTIONS.set(subscribers)
    POLLERS.set(pollers)
    pool = resources.metadb.engine.pool
    for label, method in (("checked_out", "checkedout"), ("size", "size")):
        value = getattr(pool, method, None)
        if callable(value):
            METADB_POOL.labels(label).set(value())


@asynccontextmanager
async def sampling(resources: Resources) -> AsyncIterator[None]:
    """With several workers, keep this worker's state gauges fresh for any worker's scrape."""
    if not os.environ.get(MULTIPROC_ENV):
        yield
        return

    async def loop() -> None:
        while True:
            sample(resources)
            await asyncio.sleep(SAMPLE_SECONDS)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # Live gauges (livesum, livemax) of a stopped worker must not count any more.
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def exposition() -> bytes:
    """The text format: this process's registry, or every worker's files added up."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def allowed(request: Request, token: str) -> bool:
    """With ``MLMETA_METRICS_TOKEN``: that bearer token. Without: loopback clients only."""
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: Prometheus' text format."""
    settings = request.app.state.settings
    if not allowed(request, settings.metrics_token):
        return PlainTextResponse(
            "metrics are served to loopback clients, or with MLMETA_METRICS_TOKEN\n",
            status_code=403,
        )
    sample(request.app.state.resources)
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
