"""The client side of ``bench/load.py``: the portal's query mix and the clients that send it.

Pure parts (the round-robin assignment, error classification, percentiles, the RSS slope) are
plain functions; ``drive`` runs 50 keep-alive httpx clients in one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.portal_query import BODY as ENTITY_PAGE_BODY
from bench.portal_query import ENTITY_REF
from bench.servers import percentile

TOKEN = "loadbench-token-0123456789abcdef"
PIPELINE = {"ref": "component:churn-training-pipeline"}

# The portal's queries, on the demo's data. The SageMaker pipeline's runs are left out:
# moto lacks ListPipelineExecutionSteps, so their steps would be a (legitimate) partial error.
QUERIES: dict[str, dict[str, Any]] = {
    "entity_page": ENTITY_PAGE_BODY,
    "runs_table": {
        "query": """query RunsTable($ref: String!) { pipeline(ref: $ref) {
          executions(first: 50) { table(metrics: ["pr_auc", "roc_auc"]) } } }""",
        "variables": PIPELINE,
    },
    "metric_evolution": {
        "query": """query Evolution($ref: String!) { pipeline(ref: $ref) {
          metricEvolution(metrics: ["pr_auc", "roc_auc", "loss"], lastRuns: 50) {
            metric points { startedAt value execution { id name } } } } }""",
        "variables": PIPELINE,
    },
    "model_card": {
        "query": """query ModelCard($model: String!) { model(ref: $model) { name
          latestVersion(status: APPROVED) { version artifactUri metrics { name value }
            deployments { name environment status }
            card { source revision status completeness markdown } } } }""",
        "variables": {"model": "churn-model"},
    },
    "lineage": {
        "query": """query Lineage($of: ID!) { lineage(of: $of, direction: UPSTREAM, depth: 10) {
          digest truncated nodes { id __typename } edges { from to kind } } }""",
        "variables": {"of": ""},  # the churn-model-prod deployment's id, read at start
    },
}
MIX = ("entity_page", "runs_table", "entity_page", "metric_evolution", "model_card", "lineage")
OVERHEAD: dict[str, dict[str, Any]] = {
    "typename": {"query": "{ __typename }"},
    "catalog_cached": {
        "query": """query Catalog($ref: String!) { entity(ref: $ref) {
          ref title description owner { ref title } } }""",
        "variables": {"ref": ENTITY_REF},
    },
    "entity_page": ENTITY_PAGE_BODY,
}
DEPLOYMENT = '{ modelVersion(model: "churn-model", version: "3") { deployments { id name } } }'


@dataclass
class Outcome:
    """Every request of one measured run."""

    latencies: dict[str, list[float]] = field(default_factory=dict)  # kind -> ms
    service: list[float] = field(default_factory=list)  # ms from sending, all kinds
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    unsent: int = 0  # open loop: still queued when the run's time was up (overload)
    seconds: float = 0.0


def assign(index: int, replicas: int, mix: tuple[str, ...] = MIX) -> tuple[int, str]:
    """Request ``index`` goes to replica ``index % replicas``; every kind visits every replica."""
    return index % replicas, mix[(index // replicas) % len(mix)]


def error_key(kind: str, status: int, content: bytes) -> str | None:
    """None for a clean answer, else what went wrong (HTTP status or GraphQL codes and paths)."""
    if status != 200:
        return f"{kind}: HTTP {status}"
    if b'"errors"' not in content:
        return None
    errors = json.loads(content).get("errors") or []
    if not errors:
        return None
    first = errors[0]
    code = (first.get("extensions") or {}).get("code", "?")
    path = ".".join(str(p) for p in first.get("path") or [])
    return f"{kind}: {code} at {path or '-'} ({len(errors)} errors)"


async def drive(
    urls: list[str], seconds: float, rate: float, clients: int = 50, mix: tuple[str, ...] = MIX
) -> Outcome:
    """``clients`` keep-alive clients for ``seconds``: open loop at ``rate`` requests/s in
    total, or closed loop (``rate`` 0), sending the kinds of ``mix`` in turn. Open-loop
    latency counts from the scheduled time."""
    outcome = Outcome(latencies={kind: [] for kind in QUERIES})
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    counter = iter(range(10**9))
    # Made before the clock starts, with one TLS context: each client making its own costs
    # ~70 ms of CPU (unused here: plain HTTP on loopback). Idle connections are dropped after
    # 4 s, before uvicorn's 5 s keep-alive timeout: reusing one that uvicorn is closing would
    # be a ReadError that no server fault caused.
    headers = {"Authorization": f"Bearer {TOKEN}"}
    tls = ssl.create_default_context()
    limits = httpx.Limits(keepalive_expiry=4.0)
    https = [
        httpx.AsyncClient(timeout=30, headers=headers, verify=tls, limits=limits)
        for _ in range(clients)
    ]
    started = time.perf_counter()
    end = started + seconds

    async def send(http: httpx.AsyncClient, index: int, since: float) -> None:
        replica, kind = assign(index, len(urls), mix)
        sent = time.perf_counter()
        try:
            response = await http.post(f"{urls[replica]}/graphql", json=QUERIES[kind])
            problem = error_key(kind, response.status_code, response.content)
        except httpx.HTTPError as exc:
            problem = f"{kind}: {type(exc).__name__}"
        now = time.perf_counter()
        outcome.latencies[kind].append((now - since) * 1000)
        outcome.service.append((now - sent) * 1000)
        outcome.sent += 1
        if problem:
            outcome.errors[problem] += 1

    async def worker(http: httpx.AsyncClient) -> None:
        async with http:
            if rate <= 0:
                while time.perf_counter() < end:
                    await send(http, next(counter), time.perf_counter())
                return
            while (item := await queue.get()) is not None:
                await send(http, *item)
                queue.task_done()

    async def schedule() -> None:
        index = 0
        while (now := time.perf_counter()) < end:
            due = int((now - started) * rate) + 1
            while index < due:
                queue.put_nowait((index, started + index / rate))
                index += 1
            await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
        # Requests still queued 10 s after the run's time are not sent: overload.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(queue.join(), max(0.0, end + 10 - time.perf_counter()))
        while not queue.empty():
            queue.get_nowait()
            outcome.unsent += 1
        for _ in range(clients):
            queue.put_nowait(None)

    tasks = [worker(http) for http in https]
    await asyncio.gather(*tasks, *([schedule()] if rate > 0 else []))
    outcome.seconds = time.perf_counter() - started
    return outcome


def stats_ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
    }


def slope_per_minute(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB), in MB per minute."""
    if len(samples) < 2:
        return None
    slope, _ = statistics.linear_regression([t for t, _ in samples], [mb for _, mb in samples])
    return round(slope * 60, 3)


def prepare_queries(url: str) -> dict[str, Any]:
    """Fill in the lineage root and ask each query once: sizes, and any error, up front."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, timeout=60, headers=headers) as http:
        answer = http.post("/graphql", json={"query": DEPLOYMENT}).json()
        deployments = answer["data"]["modelVersion"]["deployments"]
        prod = next(d for d in deployments if d["name"] == "churn-model-prod")
        QUERIES["lineage"]["variables"] = {"of": prod["id"]}
        probe = {}
        for kind, body in {**QUERIES, **OVERHEAD}.items():
            response = http.post("/graphql", json=body)
            problem = error_key(kind, response.status_code, response.content)
            probe[kind] = {"bytes": len(response.content), "error": problem}
            if problem:
                print(f"warning: {problem}: {response.text[:300]}")
    return probe


def overhead(url: str, rounds: int = 200, max_seconds: float = 30.0) -> dict[str, Any]:
    """One client, one request at a time, interleaved: the gateway's own cost per query."""
    times: dict[str, list[float]] = {kind: [] for kind in OVERHEAD}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + max_seconds
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
        for index in range(rounds + 20):
            if time.monotonic() > deadline:
                break
            for kind, body in OVERHEAD.items():
                started = time.perf_counter()
                http.post("/graphql", json=body).raise_for_status()
                if index >= 20:  # warm-up rounds
                    times[kind].append((time.perf_counter() - started) * 1000)
    return {kind: stats_ms(values) for kind, values in times.items()}
