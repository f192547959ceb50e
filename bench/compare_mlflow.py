"""mlmeta against MLflow's tracking server: same data, same machine, interleaved rounds.

To reproduce README's table (both backends; PostgreSQL on 127.0.0.1:5432, trust
auth; about 30-40 minutes on a 2-core machine, most of it loading 11M long-series
points into each backend; the rounds wait, up to 15 minutes, for a 1-minute load
average <= 1.5, and the load average is recorded):

    .venv/bin/python -m bench.compare_mlflow --rounds 5 --long-ingest http --quiet-load 1.5

Quicker: ``--skip-long`` (no long series), ``--backends sqlite``, ``--rounds 3``.
``--only REGEX`` limits MLflow to the methods it matches (for trying the harness only:
MLflow's best is then the best of those).

How it runs. Both servers are up at once: MLflow's (``bench.mlflow_side``: its own
virtualenv, ``mlflow server --workers 1`` over SQLite, seeded and timed by the shared
anchor benchmark's own functions) and one ``mlmeta serve`` process per backend
(``bench.mlmeta_side``: a fresh gateway process after loading, so its memory is its
own). Then ``--rounds`` rounds; in each, workload by workload, MLflow times every
method the anchor has for it and each mlmeta backend times its request(s) for it;
MLflow goes first in rounds 1, 3, 5..., mlmeta in rounds 2, 4... Before round 1
every method and workload is called ``--warmup`` times untimed. Within a round each is timed
``--reps`` times and the round's figure is the median of those reps (with the
default ``--reps 1``, the one timing). Timings include the client's JSON decoding,
as the anchor's do.

What it reports, per workload and backend: MLflow's best method (the eligible
method with the lowest median over the rounds: it must return every point) with
its min/median/max over the rounds, mlmeta's min/median/max, the ratio of the
medians and the range of the per-round ratios (mlmeta round k / the same MLflow
method in round k), the target and a verdict: ``pass`` when every round's ratio is
within the target, ``pass*`` when the median's is but some rounds' are not,
``MISS`` otherwise. Also the gateway's RSS (VmRSS after, VmHWM peak during the
100k-point query; the peak is reset before each workload) against MLflow's server.
Every method's figures, every sample and the load average per round go to
``bench/results/compare_mlflow.json``.

Workloads (MLflow's counterpart in brackets):

* ``points_100k``: 5 metrics x 200 runs, full history, one compareRuns + metricSeries
  request (columns) [MLflow's points_100k]
* ``points_20k``: 1 metric x 200 runs [points_20k]
* ``run_list``: 200 runs with parameters and latest metrics, 2 pages of 100 [run_list]
* ``run_list_compare``: the same 200 rows through compareRuns, 1 call [run_list]
* ``run_list_table``: the same 2 pages as one ``RunTable`` scalar each [run_list]
* ``long_*``: 20 runs x 5 metrics with 100,000 steps stored each, then 10,000, read
  with maxPoints 500: the time must follow the points returned, not the points stored.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.mlflow_side import (
    POINTS_20K,
    POINTS_100K,
    RUN_LIST,
    MlflowSide,
    add_round,
    mlflow_side,
    summarise,
)
from bench.mlmeta_side import (
    LONG_MAX_POINTS,
    LONG_RUNS,
    RUN_LIST_COMPARE,
    RUN_LIST_TABLE,
    Backend,
    GraphQLError,
    WrongAnswerError,
    expect,
    start_backend,
)

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "compare_mlflow.json"
REPO = Path(__file__).resolve().parent.parent
# mlmeta's workloads timed next to each of MLflow's.
GROUPS: dict[str, tuple[str, ...]] = {
    POINTS_100K: (POINTS_100K,),
    POINTS_20K: (POINTS_20K,),
    RUN_LIST: (RUN_LIST, RUN_LIST_COMPARE, RUN_LIST_TABLE),
}
MLFLOW_OF = {name: group for group, names in GROUPS.items() for name in names}
TARGETS: dict[str, float] = {
    POINTS_100K: 0.05,
    POINTS_20K: 0.05,
    RUN_LIST: 0.5,
    RUN_LIST_COMPARE: 0.5,
    RUN_LIST_TABLE: 0.5,
}
LABELS = {
    POINTS_100K: "100k points: 5 metrics x 200 runs, full history",
    POINTS_20K: "20k points: 1 metric x 200 runs",
    RUN_LIST: "200 runs as objects (2 pages)",
    RUN_LIST_COMPARE: "200 runs as objects via compareRuns (1 call)",
    RUN_LIST_TABLE: "200 runs as RunTable (2 pages)",
}
RSS_TARGET_MIB = 150.0  # issue 18: the gateway serving the 100k-point query
# The long series passes when 10x more points stored costs at most this factor more time.
LONG_GROWTH_LIMIT = 2.0

Log = Callable[[str], None]


def log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -------------------------------------------------------------------------------- rounds
class MlmetaTimings:
    """One backend's figures over the rounds, in ``bench.mlflow_side``'s store shape."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.store: dict[str, dict[str, Any]] = {}
        self.memory: dict[str, list[dict[str, Any]]] = {}
        self.failed: dict[str, str] = {}
        self.peak_reset = True

    def time(self, name: str, reps: int, warmup: int, log: Log) -> None:
        workload = self.backend.workloads.get(name)
        if workload is None or name in self.failed:
            return
        gateway = self.backend.gateway
        try:
            for _ in range(warmup):
                workload.call()
            self.peak_reset = gateway.reset_peak() and self.peak_reset
            samples: list[float] = []
            info: dict[str, Any] = {}
            for _ in range(reps):
                started = time.perf_counter()
                info = workload.call()
                samples.append((time.perf_counter() - started) * 1000)
                expect(name, info, **workload.wanted)
        except (GraphQLError, WrongAnswerError, httpx.HTTPError) as exc:
            self.failed[name] = f"{type(exc).__name__}: {exc}"
            log(f"    {self.backend.name} {name} FAILED: {self.failed[name][:300]}")
            return
        self.memory.setdefault(name, []).append(gateway.memory())
        add_round(self.store, {name: {"samples_ms": samples, "eligible": True, "info": info}})

    def figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, entry in self.store.items():
            figures = summarise({name: entry})["methods"][name]
            out[name] = {**figures, "gateway_memory_mib": self.memory.get(name, [])}
        for name, error in self.failed.items():
            out[name] = {"error": error}
        return out


def run_rounds(
    mlflow: MlflowSide | None,
    backends: list[MlmetaTimings],
    rounds: int,
    reps: int,
    warmup: int,
    results: dict[str, Any],
    save: Callable[[], None],
    log: Log,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Interleave MLflow's and mlmeta's timings workload by workload; return MLflow's
    per-workload method stores."""
    stores: dict[str, dict[str, dict[str, Any]]] = {group: {} for group in GROUPS}
    loads = results["machine"]["load_average_per_round"]
    results["machine"]["load_average_rounds_start"] = [round(v, 2) for v in os.getloadavg()]
    for number in range(rounds):
        warm = warmup if number == 0 else 0
        started = time.perf_counter()
        for group, names in GROUPS.items():

            def mlflow_step(group: str = group, warm: int = warm) -> None:
                if mlflow is not None:
                    add_round(stores[group], mlflow.time(group, reps, warm))

            def mlmeta_step(names: tuple[str, ...] = names, warm: int = warm) -> None:
                for timings in backends:
                    for name in names:
                        timings.time(name, reps, warm, log)

            steps = (mlflow_step, mlmeta_step) if number % 2 == 0 else (mlmeta_step, mlflow_step)
            for step in steps:
                step()
        for timings in backends:
            for name in timings.backend.workloads:
                if name.startswith("long_"):
                    timings.time(name, reps, warm, log)
        loads.append([round(v, 2) for v in os.getloadavg()])
        log(
            f"round {number + 1}/{rounds} in {time.perf_counter() - started:.0f} s, "
            f"load average {loads[-1]}"
        )
        results["mlflow_workloads"] = {g: summarise(s) for g, s in stores.items() if s}
        results["mlmeta"] = {t.backend.name: describe_backend(t) for t in backends}
        save()
    return stores


def describe_backend(timings: MlmetaTimings) -> dict[str, Any]:
    backend = timings.backend
    return {
        "gateway": {"command": " ".join(backend.gateway.command[1:]), "pid": backend.gateway.pid},
        "load_seconds": {k: round(v, 1) for k, v in backend.load_seconds.items()},
        "peak_reset_per_workload": timings.peak_reset,
        "workloads": timings.figures(),
    }


# ------------------------------------------------------------------------------ report
def build_rows(mlflow: dict[str, Any], mlmeta: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per workload and backend."""
    names = list(LABELS)
    for served in mlmeta.values():
        names += [n for n in served["workloads"] if n.startswith("long_") and n not in names]
    rows = []
    for name in names:
        theirs = mlflow.get(MLFLOW_OF.get(name, ""))
        for backend, result in mlmeta.items():
            ours = result["workloads"].get(name)
            if ours is None:
                continue
            row: dict[str, Any] = {
                "workload": name,
                "label": LABELS.get(name) or long_label(ours),
                "backend": backend,
                "target": TARGETS.get(name),
                "mlflow_method": theirs["best"] if theirs else None,
                "mlflow_ms": _figures(theirs) if theirs and theirs["best"] else None,
                "mlmeta_ms": None if "error" in ours else _figures(ours),
                "error": ours.get("error"),
            }
            row.update(ratios(row["mlmeta_ms"], row["mlflow_ms"], row["target"]))
            rows.append(row)
    return rows


def _figures(timing: dict[str, Any]) -> dict[str, Any]:
    return {k: timing[k] for k in ("min_ms", "median_ms", "max_ms", "rounds_ms")}


def long_label(timing: dict[str, Any]) -> str:
    if "error" in timing:
        return "long series"
    return (
        f"long: {timing['series']} series, {timing['points_stored']:,} points stored, "
        f"{timing['points']:,} returned (maxPoints {LONG_MAX_POINTS})"
    )


def ratios(
    ours: dict[str, Any] | None, theirs: dict[str, Any] | None, target: float | None
) -> dict[str, Any]:
    if not ours or not theirs:
        return {"ratio_median": None, "ratio_rounds": [], "verdict": None}
    per_round = [a / b for a, b in zip(ours["rounds_ms"], theirs["rounds_ms"], strict=False)]
    median = ours["median_ms"] / theirs["median_ms"]
    verdict = None
    if target is not None:
        verdict = "pass" if max(per_round) <= target else "pass*" if median <= target else "MISS"
    return {
        "ratio_median": round(median, 4),
        "ratio_min": round(min(per_round), 4),
        "ratio_max": round(max(per_round), 4),
        "ratio_rounds": [round(r, 4) for r in per_round],
        "verdict": verdict,
    }


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def fmt_spread(figures: dict[str, Any] | None) -> str:
    if not figures:
        return "-"
    return " / ".join(fmt_ms(figures[k]) for k in ("min_ms", "median_ms", "max_ms"))


def fmt_ratio(value: float) -> str:
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def table_markdown(rows: list[dict[str, Any]]) -> str:
    header = (
        "| workload | backend | MLflow best method | MLflow min / median / max "
        "| mlmeta min / median / max | ratio median [min-max] | target | verdict |"
    )
    lines = [header, "|" + "---|" * 8]
    for row in rows:
        ratio = "-"
        if row["ratio_median"] is not None:
            ratio = (
                f"{fmt_ratio(row['ratio_median'])} "
                f"[{fmt_ratio(row['ratio_min'])}-{fmt_ratio(row['ratio_max'])}]"
            )
        ours = "FAILED" if row["error"] else fmt_spread(row["mlmeta_ms"])
        target = "-" if row["target"] is None else f"<= {row['target']}"
        lines.append(
            f"| {row['label']} | {row['backend']} | {row['mlflow_method'] or '-'} "
            f"| {fmt_spread(row['mlflow_ms'])} | {ours} | {ratio} | {target} "
            f"| {row['verdict'] or '-'} |"
        )
    return "\n".join(lines)


def memory_report(results: dict[str, Any]) -> list[str]:
    lines = []
    for backend, result in results["mlmeta"].items():
        samples = result["workloads"].get(POINTS_100K, {}).get("gateway_memory_mib") or []
        peaks = [s["peak_rss_mib"] for s in samples if s.get("peak_rss_mib") is not None]
        after = [s["rss_mib"] for s in samples if s.get("rss_mib") is not None]
        if not peaks:
            continue
        peak = max(peaks)
        verdict = "pass" if peak < RSS_TARGET_MIB else "MISS"
        since = "during the query" if result["peak_reset_per_workload"] else "since start"
        result["rss_100k"] = {"peak_mib": peak, "after_mib": max(after), "target_mib": 150}
        lines.append(
            f"gateway RSS on {backend}, 100k-point query: peak (VmHWM, {since}) {peak:.0f} MiB, "
            f"after (VmRSS) {min(after):.0f}-{max(after):.0f} MiB; target < "
            f"{RSS_TARGET_MIB:.0f}: {verdict}"
        )
    memory = (results.get("mlflow") or {}).get("server_memory_after")
    if memory:
        workers = memory["groups"].get("uvicorn_workers") or {}
        lines.append(
            f"MLflow server after the rounds: process tree RSS {memory['total']['rss_mib']:.0f} MiB"
            f" (uvicorn worker {workers.get('rss_mib', 0):.0f} MiB, its peak "
            f"{max(workers.get('per_proc_peak_rss_mib') or [0]):.0f} MiB)"
        )
    return lines


def long_growth(result: dict[str, Any]) -> dict[str, Any] | None:
    longs = sorted(
        (v["points_stored"], v["median_ms"], v["points"])
        for k, v in result["workloads"].items()
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


def wait_for_quiet(limit: float, max_seconds: float, log: Log) -> dict[str, Any]:
    """Before the rounds (loading is not timed), wait until the 1-minute load average is
    at most ``limit``, for at most ``max_seconds``: the machine is shared."""
    started = time.monotonic()
    while os.getloadavg()[0] > limit and time.monotonic() - started < max_seconds:
        log(f"load average {os.getloadavg()[0]:.2f} > {limit}: waiting before the rounds")
        time.sleep(30)
    load = os.getloadavg()[0]
    waited = round(time.monotonic() - started)
    return {"limit": limit, "waited_seconds": waited, "load_1m": round(load, 2)}


# -------------------------------------------------------------------------------- main
def tree_state() -> dict[str, Any]:
    """The commit measured and the files that differ from it (others work in this tree)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "gateway", "resolvers", "sources")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted": dirty.splitlines()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--reps", type=int, default=1, help="timings per round; the round's figure is their median"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls before round 1")
    parser.add_argument(
        "--quiet-load",
        type=float,
        default=0.0,
        help="before the rounds, wait until the 1-minute load average is at most this "
        "(0: do not wait), for at most --quiet-wait seconds",
    )
    parser.add_argument("--quiet-wait", type=float, default=900.0)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--skip-mlflow", action="store_true", help="mlmeta only, no ratios")
    parser.add_argument("--only", default="", help="regex: time only these MLflow methods")
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
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    long_steps = [] if args.skip_long else [int(s) for s in args.long_steps.split(",") if s]
    began = time.perf_counter()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.compare_mlflow", *sys.argv[1:]]),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_start": [round(v, 2) for v in os.getloadavg()],
            "load_average_rounds_start": [],
            "load_average_per_round": [],
        },
        "tree": tree_state(),
        "rounds": args.rounds,
        "reps": args.reps,
        "reps_statistic": "median of the reps within a round",
        "warmup": args.warmup,
        "long_ingest": args.long_ingest,
        "client": "httpx keep-alive, TCP_NODELAY, stdlib json decoding, in this process; "
        "gateway: `mlmeta serve --workers 1`, its own process",
        "mlflow": None,
        "mlmeta": {},
    }
    out = Path(args.out)

    def save() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")

    with ExitStack() as stack:
        timings: list[MlmetaTimings] = []
        for name in backends:
            try:
                backend = start_backend(
                    stack, name, long_steps, args.long_runs, args.long_ingest, log_stderr
                )
            except Exception as exc:  # one broken backend must not stop the other
                log_stderr(traceback.format_exc())
                results["mlmeta"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            if isinstance(backend, str):
                sys.exit(f"mlmeta half not ready: {backend}")
            timings.append(MlmetaTimings(backend))
        mlflow = None
        if not args.skip_mlflow:
            log_stderr("MLflow:")
            mlflow = stack.enter_context(mlflow_side(pool=args.pool, only=args.only))
            results["mlflow"] = mlflow.describe()
        if args.only:
            results["mlflow_only"] = args.only
        errors = {k: v for k, v in results["mlmeta"].items() if "error" in v}
        if args.quiet_load:
            results["machine"]["quiet_wait"] = wait_for_quiet(
                args.quiet_load, args.quiet_wait, log_stderr
            )
        stores = run_rounds(
            mlflow, timings, args.rounds, args.reps, args.warmup, results, save, log_stderr
        )
        results["mlmeta"].update(errors)
        if mlflow is not None:
            results["mlflow"]["server_memory_after"] = mlflow.memory()
    results["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - began)
    mlflow_workloads = {g: summarise(s) for g, s in stores.items() if s}
    results["mlflow_workloads"] = mlflow_workloads
    served = {k: v for k, v in results["mlmeta"].items() if "workloads" in v}
    rows = build_rows(mlflow_workloads, served)
    results["table"] = rows
    report(results, rows, served)
    save()
    print(f"wrote {out}")
    failed = bool(errors) or any(t.failed for t in timings)
    if failed:
        sys.exit(1)


def report(
    results: dict[str, Any], rows: list[dict[str, Any]], served: dict[str, dict[str, Any]]
) -> None:
    mlflow = results["mlflow"]
    machine = results["machine"]
    print()
    if mlflow:
        print(
            f"MLflow {mlflow['mlflow_version']} (server --workers 1, SQLite, client pool "
            f"{mlflow['pool']}); {results['rounds']} interleaved rounds x {results['reps']} "
            f"rep(s); load average before the rounds {machine['load_average_rounds_start']}, "
            f"after each round "
            f"{machine['load_average_per_round']}; {results['seconds'] / 60:.0f} min in all"
        )
    print()
    print(table_markdown(rows))
    print()
    for line in memory_report(results):
        print(line)
    for backend, result in served.items():
        growth = result["long_growth"] = long_growth(result)
        if growth:
            print(
                f"long series on {backend}: {growth['stored_factor']:.0f}x points stored, "
                f"{growth['returned_factor']:.2f}x returned -> {growth['time_factor']:.2f}x time "
                f"({'ok' if growth['passed'] else 'MISS'}: limit {LONG_GROWTH_LIMIT}x)"
            )
    for backend, result in results["mlmeta"].items():
        if "error" in result:
            print(f"mlmeta on {backend} failed: {result['error']}")
        for name, timing in result.get("workloads", {}).items():
            if "error" in timing:
                print(f"FAILED on {backend}: {name}: {timing['error'][:500]}")
    for group, workload in results["mlflow_workloads"].items():
        print(f"MLflow {group}, every method (min / median / max over the rounds):")
        for name, method in workload["methods"].items():
            note = "" if method["eligible"] else " (a sample of the points: not eligible)"
            print(f"  {name}: {fmt_spread(method)}{note}")


if __name__ == "__main__":
    main()
