"""mlmeta against MLflow's tracking server, same data, same machine, one run (issue 7).

The MLflow half (``bench.mlflow_side``) installs MLflow once in its own
virtualenv outside the repository, runs ``mlflow server --workers 1`` over a
fresh SQLite file, seeds it with the shared anchor benchmark's generator and
times the anchor's fastest method for each workload.

The mlmeta half generates the same data here (same runs, parameter names and
values, metric names, steps and values as ``mlflow_anchor.seed``), serves the
gateway in-process over uvicorn on a real port (SQLite file, or a fresh
PostgreSQL database ``mlmeta_bench_<random>`` on 127.0.0.1:5432, dropped at
the end), loads the runs with ``recordRun`` and their points with
``logMetrics`` (batches of at most 10,000 points), and times one GraphQL
request per workload from a keep-alive client:

* ``points_100k``: 5 metrics x 200 runs, full history (compareRuns + metricSeries, columns)
* ``points_20k``: 1 metric x 200 runs
* ``run_list``: 200 runs with parameters and latest metrics (executions, 2 pages of 100)
* ``run_list_compare``: the same 200 rows through compareRuns (1 call)
* ``run_list_table``: the same 2 pages as one ``RunTable`` scalar each (aligned columns)
* ``long_*``: 20 runs x 5 metrics with 100,000 steps stored each, then 10,000
  steps, both read with maxPoints 500: the time must follow the points
  returned, not the points stored.

Each figure is the median of ``--reps`` timings after one warm-up, including
the client's JSON decoding, as the anchor does. Results go to
``bench/results/compare_mlflow.json``.

    python -m bench.compare_mlflow [--reps 7] [--backends sqlite,postgres] [--skip-mlflow]
        [--mlflow-results previous.json] [--skip-long] [--long-steps 100000,10000]
        [--long-runs 20] [--long-ingest graphql|http]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import secrets
import socket
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench.mlflow_side import (
    EXPERIMENT,
    METRICS,
    N_PARAMS,
    N_STEPS,
    POINTS_20K,
    POINTS_100K,
    RUN_LIST,
    RUNS,
    run_mlflow_side,
)

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "compare_mlflow.json"
TOKEN = "bench-compare-mlflow-writer-0123456789"
PG_HOST = "127.0.0.1"
PG_PORT = int(os.environ.get("MLMETA_BENCH_POSTGRES_PORT", "5432"))
PG_USER = "postgres"
PG_ADMIN_DATABASES = ("postgres", "test")
BATCH_POINTS = 10_000  # logMetrics' per-call limit
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
LONG_PIPELINE = EXPERIMENT + "_long"
LONG_RUNS = 20
LONG_MAX_POINTS = 500

RUN_LIST_COMPARE = "run_list_compare"
RUN_LIST_TABLE = "run_list_table"
TARGETS: dict[str, float] = {
    POINTS_100K: 0.05,
    POINTS_20K: 0.05,
    RUN_LIST: 0.5,
    RUN_LIST_COMPARE: 0.5,
    RUN_LIST_TABLE: 0.5,
}
# The long series passes when 10x more points stored costs at most this factor more time.
LONG_GROWTH_LIMIT = 2.0

# ---------------------------------------------------------------------- GraphQL documents
# Module-level so they are easy to adjust to the final schema's names.
SCHEMA_REQUIRES = ("logMetrics", "compareRuns", "metricSeries")
RECORD_RUN = """mutation RecordRun($input: RecordRunInput!) {
  recordRun(input: $input) { id }
}"""
LOG_METRICS = """mutation LogMetrics($input: LogMetricsInput!) {
  logMetrics(input: $input) { accepted duplicates }
}"""
# The columnar form: one scalar holding steps, values and timestamps per series, what
# a chart library takes. "name steps values" (plain lists) or "name points { step value }"
# work as well, at a higher cost per point.
SERIES_FIELDS = "name columns"
SERIES_QUERY = f"""query Series($ids: [ID!]!, $names: [String!], $maxPoints: Int!) {{
  compareRuns(executionIds: $ids) {{
    id
    metricSeries(names: $names, maxPoints: $maxPoints) {{ {SERIES_FIELDS} }}
  }}
}}"""
LONG_SERIES_QUERY = f"""query LongSeries($ids: [ID!]!, $maxPoints: Int!) {{
  compareRuns(executionIds: $ids) {{
    id
    metricSeries(maxPoints: $maxPoints) {{ count downsampled {SERIES_FIELDS} }}
  }}
}}"""
RUN_FIELDS = """id name status startedAt stoppedAt
      parameters { key value }
      metrics { name value step timestamp }"""
RUN_LIST_QUERY = f"""query RunList($ref: String!, $after: String) {{
  pipeline(ref: $ref) {{
    executions(first: 100, after: $after) {{
      edges {{ node {{ {RUN_FIELDS} }} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}"""
# The same page as one RunTable scalar (aligned columns), what a data grid takes.
RUN_LIST_TABLE_QUERY = """query RunTable($ref: String!, $after: String) {
  pipeline(ref: $ref) {
    executions(first: 100, after: $after) { table pageInfo { hasNextPage endCursor } }
  }
}"""
RUN_LIST_COMPARE_QUERY = f"""query RunRows($ids: [ID!]!) {{
  compareRuns(executionIds: $ids) {{ {RUN_FIELDS} }}
}}"""
# The plain-HTTP alternative to logMetrics for the long series (--long-ingest http).
INGEST_PATH = "/api/v1/executions/{execution}/metrics"


# ---------------------------------------------------------------------------------- data
def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def param_value(run: int, index: int) -> str:
    """``mlflow_anchor.seed``: ``Param(f"param_{i}", str((r * 31 + i) % 97))``."""
    return str((run * 31 + index) % 97)


def metric_value(key: str, k: int, run: int, step: int) -> float:
    """``mlflow_anchor.seed``'s value of metric ``key`` (the k-th) at ``step`` of run ``run``."""
    if key == "loss":
        return 1.0 / (1 + step + run % 7)
    return 0.5 + 0.5 * step / N_STEPS - 0.01 * k


def anchor_run_input(run: int) -> dict[str, Any]:
    started = BASE_TIME + timedelta(minutes=run)
    return {
        "pipeline": EXPERIMENT,
        "runId": f"run-{run:04d}",
        "status": "SUCCEEDED",
        "startedAt": iso(started),
        "stoppedAt": iso(started + timedelta(seconds=N_STEPS)),
        "parameters": {f"param_{i}": param_value(run, i) for i in range(N_PARAMS)},
    }


def anchor_points(run: int) -> list[dict[str, Any]]:
    """The anchor's 500 points of a run; timestamps one second apart, as the anchor's."""
    started = BASE_TIME + timedelta(minutes=run)
    return [
        {
            "name": key,
            "value": metric_value(key, k, run, step),
            "step": step,
            "timestamp": iso(started + timedelta(seconds=step)),
        }
        for k, key in enumerate(METRICS)
        for step in range(N_STEPS)
    ]


def long_value(k: int, run: int, step: int, steps: int) -> float:
    """A noisy learning curve with deterministic spikes, so downsampling has work to do."""
    noise = ((step * 7919 + k * 104_729 + run * 31) % 1000) / 1000.0
    spike = 0.5 if (step * 2_654_435_761 + k + run) % 4099 == 0 else 0.0
    return 1.0 / (1.0 + 10.0 * step / steps + k) + 0.05 * noise + spike


def long_batches(run: int, steps: int) -> Iterator[list[dict[str, Any]]]:
    """5 metrics x ``steps`` points of a long run, in logMetrics batches (no timestamps)."""
    batch: list[dict[str, Any]] = []
    for k, key in enumerate(METRICS):
        for step in range(steps):
            batch.append({"name": key, "value": long_value(k, run, step, steps), "step": step})
            if len(batch) == BATCH_POINTS:
                yield batch
                batch = []
    if batch:
        yield batch


# ------------------------------------------------------------------------------- client
class GraphQLError(RuntimeError):
    pass


class Client:
    """A keep-alive HTTP client for the gateway, TCP_NODELAY on (as requests/urllib3 do)."""

    def __init__(self, base_url: str) -> None:
        transport = httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        self.base_url = base_url
        self.http = httpx.Client(
            base_url=base_url,
            transport=transport,
            timeout=httpx.Timeout(600.0),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )

    def close(self) -> None:
        self.http.close()

    def post(self, query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """One GraphQL request; returns ``data`` (decoded with the stdlib, like the anchor)
        and the response size."""
        body = json.dumps({"query": query, "variables": variables}, separators=(",", ":"))
        response = self.http.post("/graphql", content=body)
        payload = json.loads(response.content)
        if response.status_code != 200 or payload.get("errors"):
            raise GraphQLError(
                f"HTTP {response.status_code}: {json.dumps(payload.get('errors', payload))[:800]}"
            )
        return payload["data"], len(response.content)

    def post_lines(self, execution_id: str, points: list[dict[str, Any]], key: str) -> int:
        """The plain-HTTP ingestion endpoint: one JSON object per line."""
        body = "\n".join(json.dumps(p, separators=(",", ":")) for p in points)
        response = self.http.post(
            INGEST_PATH.format(execution=quote(execution_id, safe="")),
            content=body,
            headers={"Content-Type": "application/x-ndjson", "Idempotency-Key": key},
        )
        if response.status_code != 200:
            raise RuntimeError(f"ingest HTTP {response.status_code}: {response.text[:800]}")
        return int(response.json()["accepted"])

    def schema_sdl(self) -> str:
        response = self.http.get("/schema.graphql")
        response.raise_for_status()
        return response.text


def missing_schema_fields(sdl: str) -> list[str]:
    return [name for name in SCHEMA_REQUIRES if f"{name}(" not in sdl]


# ------------------------------------------------------------------------------- timing
def timeit(fn: Callable[[], dict[str, Any]], reps: int, warmup: int = 1) -> dict[str, Any]:
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    info: dict[str, Any] = {}
    for _ in range(reps):
        started = time.perf_counter()
        info = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
        "reps": reps,
        "samples_ms": [round(s, 1) for s in samples],
        **info,
    }


# ----------------------------------------------------------------------------- backends
async def _admin_connect() -> Any:
    import asyncpg  # type: ignore[import-untyped]

    failures = []
    for database in PG_ADMIN_DATABASES:
        try:
            return await asyncpg.connect(
                host=PG_HOST, port=PG_PORT, user=PG_USER, database=database, timeout=5
            )
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            failures.append(f"{database}: {type(exc).__name__}: {exc}")
    raise RuntimeError(f"cannot reach PostgreSQL on {PG_HOST}:{PG_PORT}: {'; '.join(failures)}")


async def _create_pg_database(name: str) -> None:
    conn = await _admin_connect()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_pg_database(name: str) -> None:
    conn = await _admin_connect()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def database_url(backend: str, workdir: Path) -> Iterator[str]:
    """A fresh, migrated database for ``backend``; a PostgreSQL one is dropped on exit."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'mlmeta.db'}"  # migrated by the gateway
        return
    if backend != "postgres":
        raise ValueError(f"unknown backend {backend!r} (sqlite or postgres)")
    from sources.metadb.migrate import upgrade

    name = f"mlmeta_bench_{secrets.token_hex(4)}"
    url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    asyncio.run(_create_pg_database(name))
    try:
        asyncio.run(upgrade(url))
        yield url
    finally:
        asyncio.run(_drop_pg_database(name))


@contextmanager
def gateway(backend: str) -> Iterator[Client]:
    """The gateway over uvicorn on a free local port, in this process; a client for it."""
    from gateway.app import create_app
    from gateway.config import ServiceToken, Settings
    from tests.support.http_server import serve_app

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlmeta-bench-")))
        catalog = workdir / "catalog"
        catalog.mkdir()
        url = stack.enter_context(database_url(backend, workdir))
        settings = Settings(
            data_dir=workdir,
            database_url=url,
            allow_anonymous=True,
            stepfunctions_enabled=False,
            sagemaker_enabled=False,
            catalog_folder=str(catalog),
            service_tokens=(ServiceToken.parse(f"bench:token:{TOKEN}:write"),),
            log_level="warning",
        )
        base_url = stack.enter_context(serve_app(create_app(settings)))
        client = Client(base_url)
        stack.callback(client.close)
        yield client


# -------------------------------------------------------------------------------- load
def record_run(client: Client, run_input: dict[str, Any]) -> str:
    data, _ = client.post(RECORD_RUN, {"input": run_input})
    return str(data["recordRun"]["id"])


def log_points(client: Client, execution_id: str, points: list[dict[str, Any]], key: str) -> int:
    data, _ = client.post(
        LOG_METRICS,
        {"input": {"executionId": execution_id, "points": points, "idempotencyKey": key}},
    )
    return int(data["logMetrics"]["accepted"])


def load_anchor_data(client: Client, log: Callable[[str], None]) -> tuple[list[str], float]:
    started = time.perf_counter()
    ids: list[str] = []
    for run in range(RUNS):
        execution_id = record_run(client, anchor_run_input(run))
        accepted = log_points(client, execution_id, anchor_points(run), f"anchor-{run}")
        if accepted != len(METRICS) * N_STEPS:
            raise RuntimeError(f"run {run}: logMetrics accepted {accepted} points")
        ids.append(execution_id)
    seconds = time.perf_counter() - started
    log(f"    loaded {RUNS} runs, {RUNS * len(METRICS) * N_STEPS:,} points in {seconds:.1f} s")
    return ids, seconds


def load_long_data(
    client: Client, steps: int, runs: int, ingest: str, log: Callable[[str], None]
) -> tuple[list[str], float]:
    started = time.perf_counter()
    ids: list[str] = []
    for run in range(runs):
        start = BASE_TIME + timedelta(days=1, minutes=run)
        execution_id = record_run(
            client,
            {
                "pipeline": LONG_PIPELINE,
                "runId": f"long-{steps}-{run:02d}",
                "status": "SUCCEEDED",
                "startedAt": iso(start),
                "stoppedAt": iso(start + timedelta(hours=1)),
                "parameters": {"steps": str(steps)},
            },
        )
        for number, batch in enumerate(long_batches(run, steps)):
            key = f"long-{steps}-{run}-{number}"
            if ingest == "http":
                accepted = client.post_lines(execution_id, batch, key)
            else:
                accepted = log_points(client, execution_id, batch, key)
            if accepted != len(batch):
                raise RuntimeError(f"long run {run} batch {number}: accepted {accepted} points")
        ids.append(execution_id)
        if runs > 1 and steps * len(METRICS) >= 100_000:
            done = (run + 1) * len(METRICS) * steps
            elapsed = time.perf_counter() - started
            log(
                f"      long run {run + 1}/{runs}: {done:,} points, {elapsed:.0f} s "
                f"({done / elapsed:,.0f} points/s, ~{elapsed / (run + 1) * (runs - run - 1):.0f} s"
                " to go)"
            )
    seconds = time.perf_counter() - started
    points = runs * len(METRICS) * steps
    log(
        f"    loaded {runs} runs x {len(METRICS)} metrics x {steps:,} steps "
        f"({points:,} points) in {seconds:.1f} s ({points / seconds:,.0f} points/s, {ingest})"
    )
    return ids, seconds


# --------------------------------------------------------------------------- workloads
def columns(series: dict[str, Any]) -> tuple[list[int], list[float]]:
    """Steps and values of a series, whichever of SERIES_FIELDS' forms was asked for."""
    if "values" in series:
        return series["steps"], series["values"]
    if "columns" in series:
        return series["columns"]["steps"], series["columns"]["values"]
    points = series["points"]
    return [p["step"] for p in points], [p["value"] for p in points]


def series_workload(client: Client, ids: list[str], names: list[str]) -> dict[str, Any]:
    data, size = client.post(SERIES_QUERY, {"ids": ids, "names": names, "maxPoints": N_STEPS})
    rows = data["compareRuns"]
    points = sum(len(columns(s)[1]) for row in rows for s in row["metricSeries"])
    return {"calls": 1, "resp_bytes": size, "points": points, "runs": len(rows)}


def run_list_pages(client: Client, query: str) -> tuple[list[dict[str, Any]], int, int]:
    """Every page of the experiment's run list (``executions``), calls and bytes it took."""
    pages: list[dict[str, Any]] = []
    after: str | None = None
    calls = size = 0
    while True:
        data, n = client.post(query, {"ref": EXPERIMENT, "after": after})
        calls += 1
        size += n
        page = data["pipeline"]["executions"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages, calls, size
        after = page["pageInfo"]["endCursor"]


def run_list_workload(client: Client) -> dict[str, Any]:
    pages, calls, size = run_list_pages(client, RUN_LIST_QUERY)
    nodes = [edge["node"] for page in pages for edge in page["edges"]]
    return {"calls": calls, "resp_bytes": size, **_row_counts(nodes)}


def run_list_table_workload(client: Client) -> dict[str, Any]:
    pages, calls, size = run_list_pages(client, RUN_LIST_TABLE_QUERY)
    tables = [page["table"] for page in pages]
    runs = sum(len(t["id"]) for t in tables)
    params = sum(sum(v is not None for v in c) for t in tables for c in t["parameters"].values())
    metrics = sum(sum(v is not None for v in c) for t in tables for c in t["metrics"].values())
    return {"calls": calls, "resp_bytes": size, "runs": runs, "params": params, "metrics": metrics}


def run_list_compare_workload(client: Client, ids: list[str]) -> dict[str, Any]:
    data, size = client.post(RUN_LIST_COMPARE_QUERY, {"ids": ids})
    return {"calls": 1, "resp_bytes": size, **_row_counts(data["compareRuns"])}


def _row_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "runs": len(rows),
        "params": sum(len(r["parameters"]) for r in rows),
        "metrics": sum(len(r["metrics"]) for r in rows),
    }


def long_workload(client: Client, ids: list[str]) -> dict[str, Any]:
    data, size = client.post(LONG_SERIES_QUERY, {"ids": ids, "maxPoints": LONG_MAX_POINTS})
    series = [s for row in data["compareRuns"] for s in row["metricSeries"]]
    return {
        "calls": 1,
        "resp_bytes": size,
        "series": len(series),
        "points": sum(len(columns(s)[1]) for s in series),
        "points_stored": sum(int(s["count"]) for s in series),
        "downsampled": all(s["downsampled"] for s in series),
    }


def check_anchor_data(client: Client, ids: list[str]) -> None:
    """The series read back equal the generated ones (run 3, every metric)."""
    data, _ = client.post(SERIES_QUERY, {"ids": ids[3:4], "names": list(METRICS), "maxPoints": 100})
    got = {s["name"]: s for s in data["compareRuns"][0]["metricSeries"]}
    for k, key in enumerate(METRICS):
        want = [metric_value(key, k, 3, step) for step in range(N_STEPS)]
        if columns(got[key]) != (list(range(N_STEPS)), want):
            raise WrongAnswerError(f"series {key!r} of run-0003 does not read back as written")


class WrongAnswerError(RuntimeError):
    """A workload's answer does not hold what was loaded."""


def expect(name: str, info: dict[str, Any], **wanted: int) -> None:
    for key, value in wanted.items():
        if info.get(key) != value:
            raise WrongAnswerError(f"{name}: expected {key}={value}, got {info}")


@dataclass
class BackendResult:
    backend: str
    load_seconds: dict[str, float] = field(default_factory=dict)
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_ready: str | None = None
    failed: list[str] = field(default_factory=list)


def run_mlmeta(
    backend: str,
    reps: int,
    long_steps: list[int],
    long_runs: int,
    long_ingest: str,
    log: Callable[[str], None],
) -> BackendResult:
    result = BackendResult(backend)
    log(f"mlmeta on {backend}:")
    with gateway(backend) as client:
        missing = missing_schema_fields(client.schema_sdl())
        if missing:
            result.not_ready = f"the schema lacks {', '.join(missing)}"
            return result
        ids, result.load_seconds["anchor"] = load_anchor_data(client, log)
        check_anchor_data(client, ids)
        metrics = list(METRICS)
        w = result.workloads

        def rec(name: str, fn: Callable[[], dict[str, Any]], **wanted: int) -> None:
            """Time one workload; a failure (a GraphQL error, a wrong count) is recorded and
            reported, and the other workloads still run."""
            try:
                timing = timeit(fn, reps)
                expect(name, timing, **wanted)
            except (GraphQLError, WrongAnswerError, httpx.HTTPError) as exc:
                w[name] = {"error": f"{type(exc).__name__}: {exc}"}
                result.failed.append(name)
                log(f"    {name:22s} FAILED: {w[name]['error'][:300]}")
                return
            w[name] = timing
            log(f"    {name:22s} median {timing['median_ms']:>9.1f} ms")

        total = RUNS * len(metrics) * N_STEPS
        rec(POINTS_100K, lambda: series_workload(client, ids, metrics), points=total, runs=RUNS)
        rec(POINTS_20K, lambda: series_workload(client, ids, metrics[:1]), points=RUNS * N_STEPS)
        rows = {"runs": RUNS, "params": RUNS * N_PARAMS, "metrics": RUNS * len(metrics)}
        rec(RUN_LIST, lambda: run_list_workload(client), **rows)
        rec(RUN_LIST_COMPARE, lambda: run_list_compare_workload(client, ids), **rows)
        rec(RUN_LIST_TABLE, lambda: run_list_table_workload(client), **rows)
        for steps in long_steps:
            long_ids, result.load_seconds[f"long_{steps}"] = load_long_data(
                client, steps, long_runs, long_ingest, log
            )
            name = f"long_{steps}"
            stored = long_runs * len(metrics) * steps
            series = long_runs * len(metrics)
            rec(
                name,
                functools.partial(long_workload, client, long_ids),
                points_stored=stored,
                series=series,
            )
    return result


# ------------------------------------------------------------------------------ report
def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or not theirs:
        return None
    return ours / theirs


def build_rows(
    mlflow: dict[str, Any] | None, backends: dict[str, BackendResult]
) -> list[dict[str, Any]]:
    labels = {
        POINTS_100K: "100k points: 5 metrics x 200 runs, full history",
        POINTS_20K: "20k points: 1 metric x 200 runs",
        RUN_LIST: "run list: 200 runs, params + latest metrics (2 pages)",
        RUN_LIST_COMPARE: "run list via compareRuns (1 call)",
        RUN_LIST_TABLE: "run list as a RunTable (2 pages)",
    }
    mlflow_key = {RUN_LIST_COMPARE: RUN_LIST, RUN_LIST_TABLE: RUN_LIST}
    names = list(labels)
    for result in backends.values():
        names += [n for n in result.workloads if n.startswith("long_") and n not in names]
    rows = []
    for name in names:
        theirs = None
        if mlflow and name in labels:
            theirs = mlflow["workloads"][mlflow_key.get(name, name)]["median_ms"]
        row: dict[str, Any] = {
            "workload": name,
            "label": labels.get(name, ""),
            "mlflow_ms": theirs,
            "target": TARGETS.get(name),
        }
        for backend, result in backends.items():
            timing = result.workloads.get(name)
            if timing and "error" in timing:
                row[f"{backend}_error"] = timing["error"]
                timing = None
            ours = timing["median_ms"] if timing else None
            row[f"{backend}_ms"] = ours
            row[f"{backend}_ratio"] = ratio(ours, theirs)
            if name.startswith("long_") and timing:
                row["label"] = (
                    f"long: {timing['series']} series, {timing['points_stored']:,} points stored, "
                    f"{timing['points']:,} returned (maxPoints {LONG_MAX_POINTS})"
                )
        rows.append(row)
    return rows


def long_growth(result: BackendResult) -> dict[str, Any] | None:
    longs = sorted(
        (v["points_stored"], v["median_ms"], v["points"])
        for k, v in result.workloads.items()
        if k.startswith("long_") and "error" not in v
    )
    if len(longs) < 2:
        return None
    (small_stored, small_ms, small_points), (big_stored, big_ms, big_points) = longs[0], longs[-1]
    factor = big_ms / small_ms
    return {
        "stored_factor": big_stored / small_stored,
        "returned_factor": big_points / small_points,
        "time_factor": round(factor, 2),
        "limit": LONG_GROWTH_LIMIT,
        "passed": factor <= LONG_GROWTH_LIMIT,
    }


def print_table(rows: list[dict[str, Any]], backends: list[str]) -> None:
    header = ["workload", "MLflow median"]
    for backend in backends:
        header += [f"mlmeta {backend}", "ratio"]
    header.append("target")
    lines = [header]
    for row in rows:
        cells = [row["label"] or row["workload"], fmt_ms(row["mlflow_ms"])]
        for backend in backends:
            r = row.get(f"{backend}_ratio")
            target = row["target"]
            verdict = "" if r is None or target is None else (" ok" if r <= target else " MISS")
            ours = "FAILED" if row.get(f"{backend}_error") else fmt_ms(row.get(f"{backend}_ms"))
            cells += [ours, "-" if r is None else f"{r:.3f}{verdict}"]
        cells.append("-" if row["target"] is None else f"<= {row['target']}")
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print()
    for number, line in enumerate(lines):
        print(
            " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if number == 0:
            print("-+-".join("-" * w for w in widths))


def load_mlflow_results(path: Path) -> dict[str, Any]:
    """MLflow's figures from this script's JSON or from ``bench.mlflow_side --out``."""
    data: dict[str, Any] = json.loads(path.read_text())
    found = data if "workloads" in data else data.get("mlflow")
    if not found:
        raise SystemExit(f"{path} holds no MLflow figures")
    return dict(found)


def log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--skip-mlflow", action="store_true", help="mlmeta only, no ratios")
    parser.add_argument(
        "--mlflow-results",
        default="",
        help="reuse MLflow's figures from a JSON written earlier (this script's or "
        "bench.mlflow_side's --out) instead of running MLflow",
    )
    parser.add_argument("--pool", type=int, default=8, help="MLflow client threads")
    parser.add_argument("--skip-long", action="store_true", help="no long-series workload")
    parser.add_argument("--long-steps", default="100000,10000", help="steps per long series")
    parser.add_argument("--long-runs", type=int, default=LONG_RUNS)
    parser.add_argument(
        "--long-ingest",
        choices=("graphql", "http"),
        default="graphql",
        help="load the long series with logMetrics (default) or the JSON-lines endpoint",
    )
    parser.add_argument("--out", default=str(RESULTS_PATH))
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    long_steps = [] if args.skip_long else [int(s) for s in args.long_steps.split(",") if s]

    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "reps": args.reps,
        "long_ingest": args.long_ingest,
        "client": "httpx keep-alive, TCP_NODELAY, stdlib json decoding; gateway in-process "
        "(uvicorn, 1 worker, same interpreter as the client)",
        "mlflow": None,
        "mlmeta": {},
    }
    mlflow: dict[str, Any] | None = None
    if args.mlflow_results:
        mlflow = load_mlflow_results(Path(args.mlflow_results))
        log_stderr(f"MLflow figures from {args.mlflow_results} (MLflow {mlflow['mlflow_version']})")
    elif not args.skip_mlflow:
        log_stderr("MLflow:")
        mlflow = run_mlflow_side(reps=args.reps, pool=args.pool, log=log_stderr)
    results["mlflow"] = mlflow

    out = Path(args.out)
    write_results(out, results)  # MLflow's figures survive whatever happens below
    outcome: dict[str, BackendResult] = {}
    failed = False
    for backend in backends:
        try:
            result = run_mlmeta(
                backend, args.reps, long_steps, args.long_runs, args.long_ingest, log_stderr
            )
        except Exception as exc:  # a broken mlmeta tree must not lose MLflow's figures
            failed = True
            log_stderr(traceback.format_exc())
            results["mlmeta"][backend] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"mlmeta on {backend} failed: {type(exc).__name__}: {exc}")
            continue
        if result.not_ready:
            results["mlmeta_not_ready"] = result.not_ready
            print(f"mlmeta half not ready: {result.not_ready}; MLflow figures only.")
            break
        outcome[backend] = result
        failed = failed or bool(result.failed)
        results["mlmeta"][backend] = {
            "load_seconds": {k: round(v, 1) for k, v in result.load_seconds.items()},
            "workloads": result.workloads,
            "long_growth": long_growth(result),
        }
        write_results(out, results)

    rows = build_rows(mlflow, outcome)
    results["table"] = rows
    if mlflow:
        venv = mlflow.get("venv", {})
        print(
            f"MLflow {mlflow['mlflow_version']} (server --workers 1, SQLite; "
            f"venv {venv.get('path', '?')}, install {venv.get('install_seconds', '?')} s)"
        )
    print_table(rows, list(outcome))
    for backend, result in outcome.items():
        growth = long_growth(result)
        if growth:
            print(
                f"long series on {backend}: {growth['stored_factor']:.0f}x points stored, "
                f"{growth['returned_factor']:.2f}x returned -> {growth['time_factor']:.2f}x time "
                f"({'ok' if growth['passed'] else 'MISS'}: limit {LONG_GROWTH_LIMIT}x)"
            )
    for backend, result in outcome.items():
        for name in result.failed:
            print(f"FAILED on {backend}: {name}: {result.workloads[name]['error'][:500]}")
    write_results(out, results)
    print(f"wrote {out}")
    if failed:
        sys.exit(1)


def write_results(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
