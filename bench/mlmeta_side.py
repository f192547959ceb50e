"""The mlmeta half of ``bench.compare_mlflow``: the gateway as its own process, the
anchor's data loaded into it, and the workloads as GraphQL requests.

The data is the anchor's (same runs, parameter names and values, metric names,
steps and values as ``mlflow_anchor.seed``), generated here. The gateway runs as
``mlmeta serve`` (one uvicorn worker, ``MLMETA_*`` settings) over a SQLite file,
or a fresh PostgreSQL database ``mlmeta_bench_<random>`` on 127.0.0.1:5432
(dropped at the end), so its memory is its own and not the benchmark client's.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
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
)

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
GATEWAY_START_TIMEOUT_SECONDS = 60.0
RUN_LIST_COMPARE = "run_list_compare"
RUN_LIST_TABLE = "run_list_table"

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


# ------------------------------------------------------------------------------ gateway
def _kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


@dataclass
class GatewayProcess:
    """``mlmeta serve`` on a free local port; its memory read from ``/proc``."""

    url: str
    process: subprocess.Popen[bytes]
    command: list[str]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory(self) -> dict[str, float | None]:
        """VmRSS now and VmHWM (peak RSS since start or the last ``reset_peak``), MiB."""
        rss, hwm = _kib(self.pid, "VmRSS"), _kib(self.pid, "VmHWM")
        return {
            "rss_mib": None if rss is None else round(rss / 1024, 1),
            "peak_rss_mib": None if hwm is None else round(hwm / 1024, 1),
        }

    def reset_peak(self) -> bool:
        """Start VmHWM afresh (``clear_refs`` 5, Linux >= 4.0); False where not allowed."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
        except OSError:
            return False
        return True


def gateway_env(database: str, data_dir: Path) -> dict[str, str]:
    """The gateway's settings as ``MLMETA_*`` variables (gateway/config.py)."""
    catalog = data_dir / "catalog"
    catalog.mkdir(parents=True, exist_ok=True)
    return {
        "MLMETA_DATA_DIR": str(data_dir),
        "MLMETA_DATABASE_URL": database,
        "MLMETA_ALLOW_ANONYMOUS": "true",
        "MLMETA_STEPFUNCTIONS_ENABLED": "false",
        "MLMETA_SAGEMAKER_ENABLED": "false",
        "MLMETA_CATALOG_FOLDER": str(catalog),
        "MLMETA_SERVICE_TOKENS": f"bench:token:{TOKEN}:write",
        "MLMETA_LOG_LEVEL": "warning",
        "MLMETA_GRAPHIQL": "false",
    }


def _mlmeta_command() -> list[str]:
    script = Path(sys.executable).parent / "mlmeta"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]


@contextmanager
def gateway_process(
    database: str, data_dir: Path, name: str = "gateway"
) -> Iterator[GatewayProcess]:
    """``mlmeta serve --workers 1`` over ``database``; SIGTERM (then SIGKILL) on exit."""
    port = free_port()
    command = [*_mlmeta_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1"]
    # Only these settings: an MLMETA_* variable of the calling shell must not change the run.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLMETA_")}
    env = {**inherited, **gateway_env(database, data_dir)}
    log_path = data_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", process, command, log_path)
    try:
        _wait_until_up(gateway)
        yield gateway
    finally:
        _stop(process)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(gateway: GatewayProcess) -> None:
    deadline = time.monotonic() + GATEWAY_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            tail = gateway.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"mlmeta serve exited with {gateway.process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{gateway.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"mlmeta serve not up within {GATEWAY_START_TIMEOUT_SECONDS:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def client_for(gateway: GatewayProcess) -> Iterator[Client]:
    client = Client(gateway.url)
    try:
        yield client
    finally:
        client.close()


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


# ----------------------------------------------------------------------------- a backend
@dataclass
class Workload:
    """One timed request sequence and the counts its answer must hold."""

    name: str
    call: Callable[[], dict[str, Any]]
    wanted: dict[str, int]


@dataclass
class Backend:
    """A loaded database served by a fresh gateway process, and its workloads."""

    name: str
    gateway: GatewayProcess
    client: Client
    workloads: dict[str, Workload]
    load_seconds: dict[str, float]


def start_backend(
    stack: ExitStack,
    backend: str,
    long_steps: list[int],
    long_runs: int,
    long_ingest: str,
    log: Callable[[str], None],
) -> Backend | str:
    """Create and load ``backend``'s database through one gateway process, then serve it
    from a fresh one (so loading's memory is not counted); everything is closed by
    ``stack``. Returns why not, as a string, when the schema lacks what the workloads ask."""
    log(f"mlmeta on {backend}:")
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlmeta-bench-")))
    database = stack.enter_context(database_url(backend, workdir))
    loads: dict[str, float] = {}
    long_ids: dict[int, list[str]] = {}
    with gateway_process(database, workdir, "loader") as loader, client_for(loader) as client:
        missing = missing_schema_fields(client.schema_sdl())
        if missing:
            return f"the schema lacks {', '.join(missing)}"
        ids, loads["anchor"] = load_anchor_data(client, log)
        for steps in long_steps:
            long_ids[steps], loads[f"long_{steps}"] = load_long_data(
                client, steps, long_runs, long_ingest, log
            )
    gateway = stack.enter_context(gateway_process(database, workdir, "gateway"))
    client = stack.enter_context(client_for(gateway))
    check_anchor_data(client, ids)
    log(f"    serving from pid {gateway.pid} at {gateway.url}")
    every = list(METRICS)
    rows = {"runs": RUNS, "params": RUNS * N_PARAMS, "metrics": RUNS * len(every)}
    workloads = [
        Workload(
            POINTS_100K,
            functools.partial(series_workload, client, ids, every),
            {"points": RUNS * len(every) * N_STEPS, "runs": RUNS},
        ),
        Workload(
            POINTS_20K,
            functools.partial(series_workload, client, ids, every[:1]),
            {"points": RUNS * N_STEPS},
        ),
        Workload(RUN_LIST, functools.partial(run_list_workload, client), rows),
        Workload(RUN_LIST_COMPARE, functools.partial(run_list_compare_workload, client, ids), rows),
        Workload(RUN_LIST_TABLE, functools.partial(run_list_table_workload, client), rows),
    ]
    for steps, some in long_ids.items():
        stored = {"points_stored": long_runs * len(every) * steps, "series": long_runs * len(every)}
        workloads.append(
            Workload(f"long_{steps}", functools.partial(long_workload, client, some), stored)
        )
    return Backend(backend, gateway, client, {w.name: w for w in workloads}, loads)
