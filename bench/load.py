"""The gateway under concurrent load: 1 and 3 replicas, on SQLite and PostgreSQL, one Redis.

Real processes (``bench/servers.py``): one moto server with the demo's AWS data, and per
configuration 1 or 3 uvicorn replicas of ``gateway.app:create_app_from_env`` on their own
ports, sharing one metadb (3 replicas on SQLite share one file) and Redis db 7
(``MLMETA_REDIS_URL``: budgets and subscription fan-out; flushed before each
configuration). PostgreSQL runs use a fresh database ``mlmeta_load_<random>`` on
127.0.0.1:5432 (user postgres), migrated with ``mlmeta migrate`` and dropped at the end.

50 client tasks (asyncio + httpx, each its own keep-alive client) send a fixed mix of portal
queries (entity page x2, runs table, metric evolution, model card, lineage), spreading
requests over the replicas round-robin themselves (no proxy). ``--rate N`` is an open loop of
N requests/s per replica, latency counted from each request's scheduled time (so queueing
shows); ``--rate 0`` is a closed loop (each client sends as soon as it has its answer).
A warm-up (not counted) runs first. Before the load, the gateway's own overhead is timed
sequentially on one replica: ``{ __typename }``, a catalog-only query answered from cache,
and the entity page.

The benchmark's token gets a budget no load here reaches
(``MLMETA_SERVICE_TOKEN_BUDGETS=loadbench:1000000:10000000``) and, as 50 clients share it,
``MLMETA_MAX_CONCURRENT_OPERATIONS=0``: a real portal is many principals.

Reproduce (loopback only; each run is bounded by ``--seconds`` and request timeouts):

    .venv/bin/python -m bench.load                       # all 4, 100/s per replica + closed
    .venv/bin/python -m bench.load --modes open --rate 20   # the same at 20/s per replica
    .venv/bin/python -m bench.load --soak --rate 30 --seconds 600  # 1 replica, RSS every 10 s
    .venv/bin/python -m bench.load --profile               # 1 replica under cProfile, 100/s
    .venv/bin/python -m bench.load --only entity_page --modes open   # the target's query alone

``--tree <worktree>`` measures another checkout (README's figures: a worktree of HEAD, as
others were editing this one). The clients and the query mix are in ``bench/load_client.py``.

Results are merged into ``bench/results/load.json`` (one key per configuration with its runs
by mode, ``soak <rate>/s``, ``profile``), so the commands can run separately.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import resource
import secrets
import signal
import subprocess
import tempfile
import time
from collections import Counter
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import redis

from bench.flood import stalls
from bench.load_client import (
    MIX,
    QUERIES,
    TOKEN,
    Outcome,
    drive,
    overhead,
    prepare_queries,
    slope_per_minute,
    stats_ms,
)
from bench.servers import PYTHON, REPO, Fleet, Gateway, machine, tree_env

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "load.json"
REDIS_URL = "redis://127.0.0.1:6379/7"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
CONFIGS = ("sqlite-1", "sqlite-3", "postgres-1", "postgres-3")
SERVER_ENV = {
    "MLMETA_SERVICE_TOKENS": f"loadbench:token:{TOKEN}",
    "MLMETA_SERVICE_TOKEN_BUDGETS": "loadbench:1000000:10000000",
    "MLMETA_MAX_CONCURRENT_OPERATIONS": "0",
    "MLMETA_REDIS_URL": REDIS_URL,
    "MLMETA_AUTO_MIGRATE": "false",
}
# One replica under cProfile (main thread: the event loop); SIGUSR1 starts a fresh profile
# (after the warm-up), and the profile is written when uvicorn returns (SIGTERM).
_PROFILED = """
import cProfile, signal, sys, uvicorn
out = sys.argv.pop(1)
state = {"profile": cProfile.Profile()}
def restart(*_):
    state["profile"].disable()
    state["profile"] = cProfile.Profile()
    state["profile"].enable()
signal.signal(signal.SIGUSR1, restart)
# uvicorn re-raises the signal it stopped on once it has shut down; the default SIGTERM
# action would then end the process before the profile is written.
signal.signal(signal.SIGTERM, lambda *_: None)
state["profile"].enable()
try:
    uvicorn.main(args=sys.argv[1:], standalone_mode=False)
finally:
    state["profile"].disable()
    state["profile"].dump_stats(out)
"""


# -- processes --------------------------------------------------------------------------


def proc_sample(pid: int) -> dict[str, float]:
    """VmRSS (MB) and CPU seconds (user + system) of one process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {"rss_mb": round(rss_kb / 1024, 1), "cpu_s": (int(fields[11]) + int(fields[12])) / ticks}


def postgres_counts(database: str) -> dict[str, int]:
    """Sessions opened and transactions ended so far in ``database`` (pg_stat_database)."""

    async def read() -> dict[str, int]:
        connection = await asyncpg.connect(PG_SERVER)
        try:
            row = await connection.fetchrow(
                "SELECT sessions, xact_commit, xact_rollback FROM pg_stat_database"
                " WHERE datname = $1",
                database,
            )
        finally:
            await connection.close()
        return dict(row)

    return asyncio.run(read())


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class PostgresDatabase(AbstractContextManager["PostgresDatabase"]):
    """A fresh database for one run, migrated with ``mlmeta migrate``, dropped on exit."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self.name = f"mlmeta_load_{secrets.token_hex(4)}"
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.name}"

    def __enter__(self) -> PostgresDatabase:
        _pg(f'CREATE DATABASE "{self.name}"')
        env = tree_env(self.tree, {"MLMETA_DATABASE_URL": self.url})
        migrate = [str(PYTHON), "-m", "gateway.cli", "migrate"]
        subprocess.run(migrate, cwd=self.tree, env=env, check=True, stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _pg(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _pg(statement: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(PG_SERVER)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@dataclass
class Deployment:
    """The replicas of one configuration and the processes beside them."""

    name: str
    replicas: list[Gateway]
    moto_pid: int
    logs: list[Path]
    database: str = ""  # a PostgreSQL database's name: its sessions are counted

    @property
    def urls(self) -> list[str]:
        return [g.url for g in self.replicas]

    def sample(self) -> dict[str, Any]:
        return {
            "replicas": [proc_sample(g.process.pid) for g in self.replicas],
            "moto": proc_sample(self.moto_pid),
            "postgres": postgres_counts(self.database) if self.database else {},
            "client_cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
            # The replicas' own "event loop blocked for N ms" warnings (default 250 ms).
            "stalls": [stalls(log) for log in self.logs],
            "load_average": load_average(),
        }


def start_replicas(
    fleet: Fleet, tree: Path, name: str, data_dir: Path, count: int, database_url: str, logs: Path
) -> Deployment:
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {**SERVER_ENV, **({"MLMETA_DATABASE_URL": database_url} if database_url else {})}
    replicas, paths = [], [logs / f"{name}-{index}.log" for index in range(count)]
    for index, path in enumerate(paths):
        with path.open("wb") as log:
            replicas.append(fleet.start_gateway(f"{name}-{index}", tree, data_dir, env, log))
    database = database_url.rsplit("/", 1)[1] if database_url else ""
    return Deployment(name, replicas, fleet.processes[0].pid, paths, database)


# -- measurements -----------------------------------------------------------------------


def measured(
    deployment: Deployment, seconds: float, rate: float, only: str | None = None
) -> dict[str, Any]:
    """One timed run: latencies per kind and overall, throughput, errors, RSS and CPU.
    ``only``: that query alone instead of the mix."""
    before = deployment.sample()
    outcome = asyncio.run(drive(deployment.urls, seconds, rate, mix=(only,) if only else MIX))
    after = deployment.sample()
    every = [ms for values in outcome.latencies.values() for ms in values]
    return {
        "mode": (f"open {rate:g}/s" if rate > 0 else "closed") + (f", {only} only" if only else ""),
        "target_rate": rate,
        "seconds": round(outcome.seconds, 1),
        "requests": outcome.sent,
        "throughput": round(outcome.sent / outcome.seconds, 1),
        "unsent": outcome.unsent,
        "errors": sum(outcome.errors.values()),
        "error_kinds": dict(outcome.errors),
        "ms": {"all": stats_ms(every)} | {k: stats_ms(v) for k, v in outcome.latencies.items()},
        # Open loop: from sending, without the wait for a free client (the queueing).
        "service_ms": stats_ms(outcome.service),
        "replicas": [
            {
                "rss_mb_start": b["rss_mb"],
                "rss_mb_end": a["rss_mb"],
                "cpu_s": round(a["cpu_s"] - b["cpu_s"], 1),
                "loop_stalls_ms": stalls_after[len(stalls_before) :],
            }
            for b, a, stalls_before, stalls_after in zip(
                before["replicas"],
                after["replicas"],
                before["stalls"],
                after["stalls"],
                strict=True,
            )
        ],
        "moto_cpu_s": round(after["moto"]["cpu_s"] - before["moto"]["cpu_s"], 1),
        # New PostgreSQL connections (each a server process) and transactions in the run.
        "postgres": {k: v - before["postgres"][k] for k, v in after["postgres"].items()},
        "client_cpu_s": round(after["client_cpu_s"] - before["client_cpu_s"], 1),
        "load_average": {"start": before["load_average"], "end": after["load_average"]},
    }


def run_configuration(
    fleet: Fleet, config: str, data_dir: Path, database_url: str, args: argparse.Namespace
) -> dict[str, Any]:
    backend, count = config.split("-")
    deployment = start_replicas(
        fleet, args.tree, config, data_dir, int(count), database_url, args.logs
    )
    probe = prepare_queries(deployment.urls[0])
    asyncio.run(drive(deployment.urls, args.warmup, 0))  # warm every replica's caches
    result: dict[str, Any] = {
        "backend": backend,
        "replicas": int(count),
        "metadb": "one SQLite file shared by the replicas" if backend == "sqlite" else "PostgreSQL",
        "probe": probe,
        "overhead_ms": overhead(deployment.urls[0]),
        "runs": {},
    }
    for mode in args.modes:
        rate = args.rate * int(count) if mode == "open" else 0.0
        run = measured(deployment, args.seconds, rate, args.only)
        result["runs"][run["mode"]] = run
        print_run(config, run)
    for gateway in deployment.replicas:
        gateway.process.terminate()
        gateway.process.wait(timeout=30)
    return result


def soak(fleet: Fleet, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One replica at a fixed rate; RSS every 10 s; its slope in MB per minute."""
    deployment = start_replicas(fleet, args.tree, "soak", data_dir, 1, "", args.logs)
    prepare_queries(deployment.urls[0])
    asyncio.run(drive(deployment.urls, args.warmup, 0))
    pid = deployment.replicas[0].process.pid
    samples: list[tuple[float, float]] = []

    async def sampled() -> Outcome:
        async def sample_rss() -> None:
            started = time.perf_counter()
            while time.perf_counter() - started <= args.seconds:
                samples.append((time.perf_counter() - started, proc_sample(pid)["rss_mb"]))
                await asyncio.sleep(10)

        load = asyncio.create_task(drive(deployment.urls, args.seconds, args.rate))
        await sample_rss()
        return await load

    before = deployment.sample()
    outcome = asyncio.run(sampled())
    after = deployment.sample()
    every = [ms for values in outcome.latencies.values() for ms in values]
    return {
        "replicas": 1,
        "backend": "sqlite",
        "rate": args.rate,
        "seconds": round(outcome.seconds, 1),
        "requests": outcome.sent,
        "throughput": round(outcome.sent / outcome.seconds, 1),
        "unsent": outcome.unsent,
        "errors": sum(outcome.errors.values()),
        "error_kinds": dict(outcome.errors),
        "ms": {"all": stats_ms(every), "entity_page": stats_ms(outcome.latencies["entity_page"])},
        "service_ms": stats_ms(outcome.service),
        "rss_samples": [[round(t), mb] for t, mb in samples],
        "rss_slope_mb_per_min": slope_per_minute(samples),
        "rss_slope_after_first_minute": slope_per_minute([s for s in samples if s[0] >= 60]),
        "rss_slope_second_half": slope_per_minute(samples[len(samples) // 2 :]),
        "cpu_s": round(after["replicas"][0]["cpu_s"] - before["replicas"][0]["cpu_s"], 1),
        "load_average": {"start": before["load_average"], "end": after["load_average"]},
    }


def profile(fleet: Fleet, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One replica under cProfile while the load runs; top 15 by cumulative and by tottime."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    stats_file = args.logs / "gateway.prof"
    log_path = args.logs / "profile.log"
    with log_path.open("wb") as log:
        launcher = ("-c", _PROFILED, str(stats_file))
        gateway = fleet.start_gateway("profiled", args.tree, data_dir, SERVER_ENV, log, launcher)
    deployment = Deployment("profile", [gateway], fleet.processes[0].pid, [log_path])
    prepare_queries(gateway.url)
    asyncio.run(drive(deployment.urls, args.warmup, 0))
    os.kill(gateway.process.pid, signal.SIGUSR1)  # profile from here on
    run = measured(deployment, args.seconds, args.rate, args.only)
    gateway.process.send_signal(signal.SIGTERM)
    gateway.process.wait(timeout=60)
    top = {}
    for order in ("cumulative", "tottime"):
        text = StringIO()
        pstats.Stats(str(stats_file), stream=text).sort_stats(order).print_stats(15)
        lines = text.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
        top[order] = [line.replace(str(args.tree) + "/", "") for line in lines[start:] if line]
    stats = pstats.Stats(str(stats_file))
    return {"note": "cProfile slows the replica: its latencies are not the benchmark's", **run} | {
        "tottime_by_package": tottime_by_package(stats, args.tree),
        "top15": top,
    }


def tottime_by_package(stats: pstats.Stats, tree: Path) -> dict[str, float]:
    """Own time (tottime) summed per installed package, per mlmeta package, asyncio, the
    rest of the standard library and C builtins; as % of the profile's total, top 15."""
    shares: Counter[str] = Counter()
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in filename:
            package = filename.split("site-packages/", 1)[1].split("/", 1)[0]
            key = package.removesuffix(".py").split(".")[0]
        elif filename.startswith(str(tree)):
            key = "mlmeta " + filename[len(str(tree)) + 1 :].split("/", 1)[0]
        elif filename == "~":
            key = "builtins (C)"
        else:
            key = "asyncio" if "/asyncio/" in filename else "stdlib (other)"
        shares[key] += tottime
    total = sum(shares.values())
    return {key: round(100 * value / total, 1) for key, value in shares.most_common(15)}


# -- output -----------------------------------------------------------------------------


def print_run(config: str, run: dict[str, Any]) -> None:
    ms = run["ms"]
    rss = " ".join(f"{r['rss_mb_start']:.0f}->{r['rss_mb_end']:.0f}" for r in run["replicas"])
    cpu = " ".join(f"{r['cpu_s']:.0f}" for r in run["replicas"])
    print(
        f"{config:<11} {run['mode']:<11} {run['throughput']:>7.1f}/s "
        f"all p50/p95/p99 {ms['all']['p50']:>6}/{ms['all']['p95']:>6}/{ms['all']['p99']:>6} "
        f"entity p99 {ms['entity_page'].get('p99', '-'):>6} ms  errors {run['errors']:<3} "
        f"unsent {run['unsent']:<4} RSS MB {rss}  CPU s {cpu}  load {run['load_average']['end']}",
        flush=True,
    )


def tree_state(tree: Path) -> dict[str, Any]:
    """The commit measured, and the files of the server's packages changed from it."""

    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=tree, capture_output=True, text=True).stdout

    dirty = git("status", "--short", "--", "gateway", "resolvers", "sources").splitlines()
    return {"path": str(tree), "commit": git("rev-parse", "HEAD").strip(), "uncommitted": dirty}


def save(update: dict[str, Any], path: Path) -> None:
    """Merge ``update`` into the results file, so each command keeps the others' results
    (and a configuration keeps its runs at other rates)."""
    results = json.loads(path.read_text()) if path.exists() else {}
    for key, value in update.items():
        kept_runs = results.get(key, {}).get("runs")
        if isinstance(kept_runs, dict) and "runs" in value:
            value["runs"] = kept_runs | value["runs"]
        results[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="tree to measure")
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument(
        "--modes", nargs="+", choices=("open", "closed"), default=["open", "closed"]
    )
    parser.add_argument(
        "--rate", type=float, default=100.0, help="open loop: requests/s per replica"
    )
    parser.add_argument(
        "--only", choices=QUERIES, help="send this query alone instead of the mix (not --soak)"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="per measured run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up, not counted")
    parser.add_argument("--soak", action="store_true", help="1 replica, --rate, RSS slope")
    parser.add_argument("--profile", action="store_true", help="1 replica under cProfile")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument("--logs", type=Path, help="keep the servers' logs here")
    args = parser.parse_args()
    args.seconds = min(args.seconds, 900.0 if args.soak else 300.0)
    args.tree = args.tree.resolve()
    server_env = SERVER_ENV | {"MLMETA_SERVICE_TOKENS": "loadbench:token:<hidden>"}
    header = {"machine": machine(), "tree": tree_state(args.tree), "server_env": server_env}

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlmeta-load-")))
        args.logs = args.logs or workdir
        args.logs.mkdir(parents=True, exist_ok=True)
        fleet = stack.enter_context(Fleet(workdir))
        fleet.start_moto(args.tree)
        sqlite_data = fleet.seed("sqlite", args.tree)
        stamp = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), **header}
        if args.soak:
            save({f"soak {args.rate:g}/s": stamp | soak(fleet, sqlite_data, args)}, args.output)
            return
        if args.profile:
            save({"profile": stamp | profile(fleet, sqlite_data, args)}, args.output)
            return
        print(f"{'configuration':<11} {'mode':<11} {'req/s':>9} latency ms (from schedule) ...")
        postgres: PostgresDatabase | None = None
        pg_data = workdir
        for config in args.configs:
            database_url, data_dir = "", sqlite_data
            if config.startswith("postgres"):
                if postgres is None:
                    postgres = stack.enter_context(PostgresDatabase(args.tree))
                    pg_data = fleet.seed("postgres", args.tree, postgres.url)
                database_url, data_dir = postgres.url, pg_data
            started = datetime.now(UTC).isoformat(timespec="seconds")
            result = run_configuration(fleet, config, data_dir, database_url, args)
            stamp = {"started_at": started, **header, "rate_per_replica": args.rate}
            save({config: stamp | result}, args.output)  # as soon as each has numbers
    print(f"-> {args.output}")


if __name__ == "__main__":
    main()
