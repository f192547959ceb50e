"""What the sources tell the operator: Prometheus metrics and OpenTelemetry spans.

Every upstream call passes its source's circuit breaker
(``sources.resilience.breaker``), so ``CircuitBreaker.guard`` is where each call
is counted, timed and traced (``upstream_call``): AWS operations through the
guarded aiobotocore client, catalog requests through the Backstage client,
metadb sessions (one span per batch of SQL statements) and Redis.

The metrics live in prometheus-client's process registry (in multiprocess mode,
in its files under ``PROMETHEUS_MULTIPROC_DIR``; ``gateway.observability``
serves them). Labels are bounded: source and operation names come from code,
never from a request. Spans go to OpenTelemetry's global tracer provider, a
no-op until ``gateway.observability.tracing`` installs one (``OTEL_*``).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from functools import cache
from types import TracebackType

from opentelemetry import trace
from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

UPSTREAM_CALLS = Counter(
    "mlmeta_upstream_calls",
    "Upstream calls by source, operation and outcome (ok, error: answered with an error "
    "such as not found, failure: unreachable, 5xx, timeout or throttled, circuit_open: "
    "refused by the breaker without calling, cancelled).",
    ["source", "operation", "outcome"],
)
UPSTREAM_SECONDS = Histogram(
    "mlmeta_upstream_call_duration_seconds",
    "Latency of upstream calls that reached the upstream, by source and operation.",
    ["source", "operation"],
    buckets=LATENCY_BUCKETS,
)
CACHE_LOOKUPS = Counter(
    "mlmeta_cache_lookups",
    "Lookups of the shared caches (indexes and pipeline definitions re-read every "
    "MLMETA_REGISTRY_CACHE_SECONDS, live runs and run lists shared for "
    "MLMETA_LIVE_CACHE_SECONDS, the introspection and parsed-document caches), by cache and "
    "result (hit, miss).",
    ["cache", "result"],
)
LOADER_BATCH_SIZE = Histogram(
    "mlmeta_loader_batch_size",
    "Keys per DataLoader batch (one batch is one call of a source's batch method).",
    ["loader"],
    buckets=BATCH_BUCKETS,
)
METRIC_POINTS = Counter(
    "mlmeta_metric_points_ingested",
    "Metric points written to the metadb (logMetrics, the REST endpoint, imports from "
    "SageMaker and CloudWatch), by result: stored, or duplicate of a stored point.",
    ["result"],
)

tracer = trace.get_tracer("mlmeta")


_tracing = False
_next_check = 0.0


def tracing() -> bool:
    """True once an SDK tracer provider is installed (``OTEL_*``, or a test's): only then
    are spans worth making; until then the API's no-op spans would cost time for nothing.

    Asked on every upstream call, so the answer is kept: a provider, once installed,
    stays; its absence is checked again at most once a second (``refresh_tracing``
    checks now, for whoever just installed one)."""
    global _next_check
    if _tracing:
        return True
    now = time.monotonic()
    if now >= _next_check:
        _next_check = now + 1.0
        refresh_tracing()
    return _tracing


def refresh_tracing() -> None:
    global _tracing
    _tracing = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


class UpstreamCall:
    """One call in flight, counted, timed and (when tracing) a CLIENT span, child of the
    current one. Its guard sets ``outcome`` before it ends."""

    __slots__ = ("_span", "_started", "operation", "outcome", "source")

    def __init__(self, source: str, operation: str) -> None:
        self.source = source
        self.operation = operation
        self.outcome = "ok"
        self._span: AbstractContextManager[trace.Span] | None = None
        self._started = 0.0

    def __enter__(self) -> UpstreamCall:
        if tracing():
            self._span = tracer.start_as_current_span(
                f"{self.source} {self.operation}",
                kind=trace.SpanKind.CLIENT,
                attributes={"mlmeta.source": self.source, "mlmeta.operation": self.operation},
                record_exception=False,
                set_status_on_exception=False,
            )
            self._span.__enter__()
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        outcome = self.outcome
        _calls(self.source, self.operation, outcome).inc()
        if outcome != "circuit_open":
            _seconds(self.source, self.operation).observe(time.perf_counter() - self._started)
        if self._span is not None:
            span = trace.get_current_span()
            span.set_attribute("mlmeta.outcome", outcome)
            if outcome not in ("ok", "error"):
                span.set_status(trace.StatusCode.ERROR, outcome)
            self._span.__exit__(kind, error, traceback)


# The labelled children, kept: labels() takes a lock and builds a key on every call.
@cache
def _calls(source: str, operation: str, outcome: str) -> Counter:
    return UPSTREAM_CALLS.labels(source, operation, outcome)


@cache
def _seconds(source: str, operation: str) -> Histogram:
    return UPSTREAM_SECONDS.labels(source, operation)


def upstream_call(source: str, operation: str) -> UpstreamCall:
    """Use as ``with upstream_call(source, operation) as call:``."""
    return UpstreamCall(source, operation)


def cache_lookup(cache: str, hit: bool) -> None:
    CACHE_LOOKUPS.labels(cache, "hit" if hit else "miss").inc()


def metric_points_ingested(stored: int, duplicates: int) -> None:
    METRIC_POINTS.labels("stored").inc(stored)
    METRIC_POINTS.labels("duplicate").inc(duplicates)
