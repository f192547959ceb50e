"""Every upstream call passing a circuit breaker is counted by outcome and timed."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from sources.errors import NotFoundError, UpstreamError
from sources.resilience.breaker import CircuitBreaker, CircuitOpenError


def calls(source: str, outcome: str) -> float:
    labels = {"source": source, "operation": "GetThing", "outcome": outcome}
    return REGISTRY.get_sample_value("mlmeta_upstream_calls_total", labels) or 0.0


def timed(source: str) -> float:
    labels = {"source": source, "operation": "GetThing"}
    return REGISTRY.get_sample_value("mlmeta_upstream_call_duration_seconds_count", labels) or 0.0


async def test_each_outcome_of_a_call_is_counted() -> None:
    source = "telemetry-test"
    breaker = CircuitBreaker(source, failure_threshold=1, cooldown_seconds=60)
    async with breaker.guard(operation="GetThing"):
        pass
    with pytest.raises(NotFoundError):
        async with breaker.guard(operation="GetThing"):
            raise NotFoundError("no such thing", source=source)
    with pytest.raises(UpstreamError):
        async with breaker.guard(operation="GetThing"):
            raise UpstreamError("down", source=source)
    with pytest.raises(CircuitOpenError):
        async with breaker.guard(operation="GetThing"):
            pass
    assert [calls(source, o) for o in ("ok", "error", "failure", "circuit_open")] == [1, 1, 1, 1]
    # A call refused by the open circuit never reached the upstream: no latency for it.
    assert timed(source) == 3
