"""The MLflow half of ``bench.compare_mlflow``: MLflow's own numbers, on this machine.

MLflow is never a dependency of mlmeta. It lives in its own virtualenv outside
the repository (``~/.cache/mlmeta/mlflow-venv``, created once and reused; its
version and install time are recorded next to it), its tracking server runs as
a subprocess (``mlflow server --workers 1`` over a fresh SQLite file), and the
seeding and timing code is the shared anchor benchmark's own
(``shared/bench/mlflow_anchor.py``), run by the MLflow venv's interpreter: this
file re-executes itself there with ``--worker``. The worker seeds once, then
stays up and times one workload per command it reads on stdin (JSON lines), so
the comparison can interleave MLflow's rounds with mlmeta's.

Every method the anchor times is timed, per workload (the anchor's ids):

* ``points_100k`` (5 metrics x 200 runs, 100,000 points): get-history x1,000
  sequential (keep-alive, and a new connection per request), with a thread
  pool; get-history-bulk-interval x10 sequential and with a pool;
  get-history-bulk x10; the GraphQL endpoint in 1 call (e1, e1n, e2, e3-e6).
* ``points_20k`` (1 metric x 200 runs): the same methods, x200 / x2 (b1, b1n,
  b2, c1, c2, c4, d1, d2), plus bulk-interval with a pool (c1p, not in the
  anchor). c3 (bulk-interval max_results=10) returns a sample of the points:
  it is timed and recorded, never MLflow's best.
* ``run_list`` (200 runs, params + latest metrics): runs/search in 1 page and
  in 4 pages, ``MlflowClient.search_runs``, GraphQL mlflowSearchRuns (a1-a4).

Each method must return the whole answer (counted) to be eligible; MLflow's
figure for a workload is its eligible method with the lowest median over the
rounds.

Only the standard library is imported at module level, so the same file runs
under both interpreters.

    python -m bench.mlflow_side [--rounds 3] [--reps 1] [--pool 8] [--only REGEX] [--out f.json]
    python -m bench.mlflow_side --install-only
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

CACHE_DIR = Path(os.environ.get("MLMETA_CACHE_DIR", str(Path.home() / ".cache" / "mlmeta")))
VENV_DIR = CACHE_DIR / "mlflow-venv"
INSTALL_MARKER = "mlmeta-install.json"
# What goes into the venv; MLMETA_BENCH_MLFLOW_SPEC="mlflow==3.1.0" pins a release.
MLFLOW_SPEC = os.environ.get("MLMETA_BENCH_MLFLOW_SPEC", "mlflow")
PACKAGES: tuple[str, ...] = (MLFLOW_SPEC, "requests")
REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT_SECONDS = 120.0
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}

# Data shape, identical to the anchor's generator (checked against it at run time).
EXPERIMENT = "perf_anchor"
RUNS = 200
N_PARAMS = 10
METRICS: tuple[str, ...] = ("loss", "accuracy", "pr_auc", "roc_auc", "f1")
N_STEPS = 100

# Workload keys shared with bench.compare_mlflow.
POINTS_100K = "points_100k"
POINTS_20K = "points_20k"
RUN_LIST = "run_list"

Log = Callable[[str], None]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def anchor_path() -> Path:
    """Where the shared anchor benchmark is: ``MLMETA_MLFLOW_ANCHOR``, else ``shared/`` beside
    the repository, else ``/work/shared``."""
    override = os.environ.get("MLMETA_MLFLOW_ANCHOR")
    candidates = [Path(override)] if override else []
    candidates += [
        REPO_ROOT.parent / "shared" / "bench" / "mlflow_anchor.py",
        Path("/work/shared/bench/mlflow_anchor.py"),
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "mlflow_anchor.py not found (tried "
        + ", ".join(str(c) for c in candidates)
        + "); set MLMETA_MLFLOW_ANCHOR"
    )


# ------------------------------------------------------------------------------------ venv
@dataclass(frozen=True)
class MlflowVenv:
    path: str
    python: str
    mlflow_version: str
    packages: list[str]
    install_seconds: float
    installed_at: str
    installed_now: bool


def ensure_venv(
    venv_dir: Path = VENV_DIR, packages: tuple[str, ...] = PACKAGES, log: Log = _log
) -> MlflowVenv:
    """Create the MLflow virtualenv once (under a file lock) and return what is in it.

    A venv without its marker file (an install that was interrupted) or one
    built from other package specs is rebuilt from scratch.
    """
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = venv_dir.parent / (venv_dir.name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = venv_dir / INSTALL_MARKER
        python = venv_dir / "bin" / "python"
        if marker.is_file() and python.exists():
            info = json.loads(marker.read_text())
            if info.get("packages") == list(packages):
                return MlflowVenv(**{**info, "installed_now": False})
            log(f"mlflow venv at {venv_dir} was built from {info.get('packages')}; rebuilding")
        if venv_dir.exists():
            shutil.rmtree(venv_dir)
        log(f"creating the MLflow virtualenv at {venv_dir} (pip install {' '.join(packages)})")
        started = time.perf_counter()
        base_python = getattr(sys, "_base_executable", sys.executable)
        install_log = venv_dir.parent / (venv_dir.name + "-install.log")
        with open(install_log, "w") as out:
            for command in (
                [base_python, "-m", "venv", str(venv_dir)],
                [str(python), "-m", "pip", "install", "--upgrade", "pip"],
                [str(python), "-m", "pip", "install", *packages],
            ):
                out.write(f"$ {' '.join(command)}\n")
                out.flush()
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
                if done.returncode != 0:
                    tail = install_log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{' '.join(command)} failed (log {install_log}):\n{tail}")
        seconds = round(time.perf_counter() - started, 1)
        version = subprocess.run(
            [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        info = {
            "path": str(venv_dir),
            "python": str(python),
            "mlflow_version": version,
            "packages": list(packages),
            "install_seconds": seconds,
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        marker.write_text(json.dumps(info, indent=1) + "\n")
        log(f"installed MLflow {version} in {seconds:.0f} s")
        return MlflowVenv(**info, installed_now=True)


# ---------------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class MlflowServer:
    url: str
    pid: int
    command: list[str]
    log_path: str


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise RuntimeError(
        f"mlflow server at {url} did not answer within {SERVER_START_TIMEOUT_SECONDS}s"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (it was started in its own session)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def mlflow_server(venv: MlflowVenv, workdir: Path, log: Log = _log) -> Iterator[MlflowServer]:
    """``mlflow server --workers 1`` over ``workdir/mlflow.db``; stopped on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(Path(venv.path) / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{workdir / 'mlflow.db'}",
        "--default-artifact-root",
        str(workdir / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log_path = workdir / "mlflow-server.log"
    # The job runner (huey) is off, as in the anchor's figures: it only costs memory here.
    env = {**os.environ, "MLFLOW_TRACKING_URI": "", **SERVER_ENV}
    env.pop("VIRTUAL_ENV", None)
    with open(log_path, "wb") as server_log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    try:
        started = time.perf_counter()
        _wait_until_up(url, process, log_path)
        seconds = time.perf_counter() - started
        log(f"mlflow server up at {url} in {seconds:.1f} s (pid {process.pid})")
        yield MlflowServer(url=url, pid=process.pid, command=command, log_path=str(log_path))
    finally:
        _stop(process)


# --------------------------------------------------------------------------------- figures
FIGURES = ("min_ms", "median_ms", "max_ms", "rounds_ms")


def summary(samples: Sequence[float]) -> dict[str, Any]:
    """Min, median and max of ``samples`` (ms), and the samples themselves."""
    return {
        "min_ms": round(min(samples), 1),
        "median_ms": round(statistics.median(samples), 1),
        "max_ms": round(max(samples), 1),
        "n": len(samples),
        "samples_ms": [round(s, 1) for s in samples],
    }


def add_round(store: dict[str, dict[str, Any]], timed: dict[str, dict[str, Any]]) -> None:
    """Add one round of a workload's methods (``MlflowSide.time``) to ``store``.

    A round's figure for a method is the median of its reps in that round."""
    for name, timing in timed.items():
        entry = store.setdefault(
            name, {"eligible": timing["eligible"], "rounds_ms": [], "reps_ms": [], **timing["info"]}
        )
        entry["reps_ms"].append([round(s, 1) for s in timing["samples_ms"]])
        entry["rounds_ms"].append(round(statistics.median(timing["samples_ms"]), 1))


def summarise(store: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every method's min/median/max over the rounds and the best eligible one
    (lowest median) as ``best``."""
    methods = {name: {**entry, **summary(entry["rounds_ms"])} for name, entry in store.items()}
    eligible = [name for name, entry in methods.items() if entry["eligible"]]
    if not eligible:
        return {"best": None, "methods": methods}
    best = min(eligible, key=lambda name: float(methods[name]["median_ms"]))
    return {"best": best, **{k: methods[best][k] for k in FIGURES}, "methods": methods}


# ---------------------------------------------------------------------------------- driver
class MlflowSide:
    """A seeded MLflow server and the worker (in the MLflow venv) that times it."""

    def __init__(
        self,
        worker: subprocess.Popen[str],
        venv: MlflowVenv,
        server: MlflowServer,
        anchor: Path,
        ready: dict[str, Any],
    ) -> None:
        self.worker = worker
        self.venv = venv
        self.server = server
        self.anchor = anchor
        self.ready = ready

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.worker.stdin is not None
        self.worker.stdin.write(json.dumps(command) + "\n")
        self.worker.stdin.flush()
        return _read_reply(self.worker)

    def time(self, workload: str, reps: int = 1, warmup: int = 0) -> dict[str, dict[str, Any]]:
        """Time every method of ``workload``: ``warmup`` untimed calls, then ``reps`` timed
        ones each; ``{method: {"samples_ms": [...], "eligible": bool, "info": {...}}}``."""
        reply = self._ask({"cmd": "time", "workload": workload, "reps": reps, "warmup": warmup})
        methods: dict[str, dict[str, Any]] = reply["methods"]
        return methods

    def memory(self) -> dict[str, Any] | None:
        """RSS/PSS of the server's process tree (the anchor's ``tree_memory``)."""
        found: dict[str, Any] | None = self._ask({"cmd": "memory"})["memory"]
        return found

    def describe(self) -> dict[str, Any]:
        return {
            **self.ready,
            "venv": asdict(self.venv),
            "anchor": str(self.anchor),
            "server": {
                "command": " ".join(self.server.command[1:]),
                "workers": 1,
                "env": SERVER_ENV,
                "pid": self.server.pid,
            },
        }


def _read_reply(worker: subprocess.Popen[str]) -> dict[str, Any]:
    assert worker.stdout is not None
    line = worker.stdout.readline()
    if not line:
        raise RuntimeError(f"the MLflow worker exited ({worker.poll()}); see its stderr above")
    reply: dict[str, Any] = json.loads(line)
    if "error" in reply:
        raise RuntimeError(f"MLflow worker: {reply['error']}")
    return reply


def _close_worker(worker: subprocess.Popen[str]) -> None:
    if worker.stdin is not None:
        with contextlib.suppress(OSError):
            worker.stdin.close()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=10)


@contextlib.contextmanager
def mlflow_side(
    pool: int = 8, only: str = "", log: Log = _log, keep_dir: Path | None = None
) -> Iterator[MlflowSide]:
    """Install (once), start and seed MLflow; yield a handle that times its methods."""
    venv = ensure_venv(log=log)
    anchor = anchor_path()
    with contextlib.ExitStack() as stack:
        if keep_dir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlflow-bench-")))
        else:
            workdir = keep_dir
            workdir.mkdir(parents=True, exist_ok=True)
        server = stack.enter_context(mlflow_server(venv, workdir, log))
        command = [
            venv.python,
            str(Path(__file__).resolve()),
            *("--worker", "--url", server.url, "--server-pid", str(server.pid)),
            *("--anchor", str(anchor), "--pool", str(pool), "--only", only),
        ]
        worker = subprocess.Popen(
            command, cwd=workdir, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        stack.callback(_close_worker, worker)
        ready = _read_reply(worker)["ready"]
        yield MlflowSide(worker, venv, server, anchor, ready)


def run_mlflow_side(
    rounds: int = 3,
    reps: int = 1,
    warmup: int = 1,
    pool: int = 8,
    only: str = "",
    log: Log = _log,
    keep_dir: Path | None = None,
) -> dict[str, Any]:
    """MLflow alone: ``rounds`` rounds of every method of every workload."""
    with mlflow_side(pool=pool, only=only, log=log, keep_dir=keep_dir) as side:
        stores: dict[str, dict[str, dict[str, Any]]] = {key: {} for key in WORKLOADS}
        for number in range(rounds):
            for key in WORKLOADS:
                add_round(stores[key], side.time(key, reps, warmup if number == 0 else 0))
            log(f"mlflow round {number + 1}/{rounds} done")
        result = side.describe()
        result["server_memory_after"] = side.memory()
    result.update(rounds=rounds, reps=reps, warmup=warmup, only=only)
    result["workloads"] = {key: summarise(store) for key, store in stores.items()}
    return result


# ---------------------------------------------------------------------------------- worker
WORKLOADS: tuple[str, ...] = (POINTS_100K, POINTS_20K, RUN_LIST)


def _load_anchor(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("mlflow_anchor", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_same_data(anchor: ModuleType) -> None:
    """The mlmeta half generates the anchor's data itself: fail loudly if they drift."""
    same = (
        anchor.EXP_NAME == EXPERIMENT
        and tuple(anchor.METRICS) == METRICS
        and anchor.N_PARAMS == N_PARAMS
        and anchor.N_STEPS == N_STEPS
    )
    if not same:
        raise SystemExit(
            "mlflow_anchor.py's data shape changed "
            f"({anchor.EXP_NAME}, {anchor.METRICS}, {anchor.N_PARAMS}, {anchor.N_STEPS}); "
            "update bench/mlflow_side.py and bench/compare_mlflow.py to match"
        )


@dataclass(frozen=True)
class Method:
    """One of the anchor's approaches to a workload, and the count it must return."""

    name: str
    call: Callable[[], dict[str, Any]]
    count_key: str
    count: int
    sampled: bool = False  # returns a sample of the points: timed, never the best


def anchor_methods(
    anchor: ModuleType, url: str, exp_id: str, run_ids: list[str], pool: int, client: Any
) -> dict[str, list[Method]]:
    """The anchor's methods per workload, named by the anchor's ids (a1, b2, e5...)."""
    a = anchor
    every = list(METRICS)
    one = every[:1]
    n = len(run_ids)
    bulk = a.BULK_LIMIT
    big = ("points", n * len(every) * N_STEPS)
    small = ("points", n * N_STEPS)
    runs = ("runs", n)
    return {
        POINTS_100K: [
            Method("e1 get-history x1000, sequential, keep-alive",
                   lambda: a.history_naive(url, run_ids, every, 1), *big),
            Method("e1n get-history x1000, sequential, new conn/request",
                   lambda: a.history_naive(url, run_ids, every, 1, keepalive=False), *big),
            Method(f"e2 get-history x1000, pool={pool}",
                   lambda: a.history_naive(url, run_ids, every, pool), *big),
            Method("e3 bulk-interval x10, sequential",
                   lambda: a.history_bulk_interval(url, run_ids, every, N_STEPS), *big),
            Method(f"e4 bulk-interval x10, pool={pool}",
                   lambda: a.history_bulk_interval(url, run_ids, every, N_STEPS, pool), *big),
            Method("e5 get-history-bulk (non-interval) x10, sequential",
                   lambda: a.history_bulk(url, run_ids, every), *big),
            Method("e6 GraphQL, 1 call (5 aliased fields x 200 ids)",
                   lambda: a.gql_bulk(url, run_ids, every, N_STEPS, n), *big),
        ],
        POINTS_20K: [
            Method("b1 get-history x200, sequential, keep-alive",
                   lambda: a.history_naive(url, run_ids, one, 1), *small),
            Method("b1n get-history x200, sequential, new conn/request",
                   lambda: a.history_naive(url, run_ids, one, 1, keepalive=False), *small),
            Method(f"b2 get-history x200, pool={pool}",
                   lambda: a.history_naive(url, run_ids, one, pool), *small),
            Method("c1 bulk-interval max_results=100 (=all), 2 calls, sequential",
                   lambda: a.history_bulk_interval(url, run_ids, one, N_STEPS), *small),
            Method(f"c1p bulk-interval max_results=100, 2 calls, pool={pool}",
                   lambda: a.history_bulk_interval(url, run_ids, one, N_STEPS, pool), *small),
            Method("c2 bulk-interval max_results=2500 (default), 2 calls",
                   lambda: a.history_bulk_interval(url, run_ids, one, 2500), *small),
            Method("c3 bulk-interval max_results=10 (a sample), 2 calls",
                   lambda: a.history_bulk_interval(url, run_ids, one, 10), *small, sampled=True),
            Method("c4 get-history-bulk (non-interval), 2 calls",
                   lambda: a.history_bulk(url, run_ids, one), *small),
            Method("d1 GraphQL bulk-interval, 200 ids in 1 call",
                   lambda: a.gql_bulk(url, run_ids, one, N_STEPS, n), *small),
            Method("d2 GraphQL bulk-interval, 2 calls x 100 ids",
                   lambda: a.gql_bulk(url, run_ids, one, N_STEPS, bulk), *small),
        ],
        RUN_LIST: [
            Method("a1 runs/search max_results=200 (1 page)",
                   lambda: a.rest_search_runs(url, exp_id, n)[0], *runs),
            Method("a2 runs/search max_results=50 (4 pages)",
                   lambda: a.rest_search_runs(url, exp_id, 50)[0], *runs),
            Method("a3 MlflowClient.search_runs max_results=200 (incl. entity parsing)",
                   lambda: {"runs": len(client.search_runs([exp_id], max_results=n))}, *runs),
            Method("a4 GraphQL mlflowSearchRuns maxResults=200",
                   lambda: a.gql_search_runs(url, exp_id, n), *runs),
        ],
    }  # fmt: skip


def _time_method(method: Method, reps: int, warmup: int) -> dict[str, Any]:
    for _ in range(warmup):
        method.call()
    samples: list[float] = []
    info: dict[str, Any] = {}
    for _ in range(reps):
        started = time.perf_counter()
        info = method.call()
        samples.append((time.perf_counter() - started) * 1000)
        got = info.get(method.count_key)
        if got != method.count and not method.sampled:
            raise RuntimeError(f"{method.name}: expected {method.count_key}={method.count}: {info}")
    return {"samples_ms": samples, "eligible": not method.sampled, "info": info}


def worker_main(args: argparse.Namespace) -> None:
    """Runs inside the MLflow venv: seed with the anchor's ``seed``, then answer commands
    (one JSON object a line on stdin, one reply a line on stdout) until stdin closes."""
    import traceback

    import mlflow  # type: ignore[import-not-found]  # only in the MLflow venv
    from mlflow.tracking import MlflowClient  # type: ignore[import-not-found]

    # Replies get their own copy of stdout; anything MLflow prints goes to stderr.
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def reply(payload: dict[str, Any]) -> None:
        replies.write(json.dumps(payload) + "\n")

    anchor = _load_anchor(Path(args.anchor))
    _check_same_data(anchor)
    url = args.url.rstrip("/")
    exp_id, seed_seconds, seed_calls = anchor.seed(url, RUNS)
    _log(f"seeded {RUNS} runs into MLflow in {seed_seconds:.1f} s ({seed_calls} HTTP calls)")
    _, runs = anchor.rest_search_runs(url, exp_id, 1000)
    run_ids = sorted(r["info"]["run_id"] for r in runs)
    assert len(run_ids) == RUNS, len(run_ids)
    methods = anchor_methods(anchor, url, exp_id, run_ids, args.pool, MlflowClient(url))
    only = re.compile(args.only) if args.only else None
    reply(
        {
            "ready": {
                "mlflow_version": mlflow.__version__,
                "python": sys.version.split()[0],
                "nproc": os.cpu_count(),
                "pool": args.pool,
                "seed": {"seconds": round(seed_seconds, 2), "http_calls": seed_calls, "runs": RUNS},
                "server_memory_after_seed": anchor.tree_memory(args.server_pid),
            }
        }
    )
    for line in sys.stdin:
        command = json.loads(line)
        try:
            if command["cmd"] == "memory":
                reply({"memory": anchor.tree_memory(args.server_pid)})
                continue
            timed = {}
            for method in methods[command["workload"]]:
                if only and not only.search(method.name):
                    continue
                timed[method.name] = _time_method(method, command["reps"], command["warmup"])
                median = statistics.median(timed[method.name]["samples_ms"])
                _log(f"  mlflow {command['workload']:12s} {method.name:58s} {median:>9.1f} ms")
            reply({"methods": timed})
        except Exception:  # reported to the driver, which stops
            reply({"error": traceback.format_exc()})


# ------------------------------------------------------------------------------------ main
def print_summary(result: dict[str, Any]) -> None:
    venv = result["venv"]
    print(
        f"MLflow {result['mlflow_version']} (venv {venv['path']}, "
        f"installed in {venv['install_seconds']:.0f} s), server --workers 1, "
        f"seed {result['seed']['seconds']:.1f} s, {result['rounds']} rounds x {result['reps']} reps"
    )
    for key, workload in result["workloads"].items():
        print(f"  {key}: best {workload['best']}")
        for name, m in workload["methods"].items():
            note = "" if m["eligible"] else "  (a sample: not eligible)"
            print(
                f"    {name:66s} min {m['min_ms']:>8.1f}  median {m['median_ms']:>8.1f}  "
                f"max {m['max_ms']:>8.1f} ms{note}"
            )
    memory = result.get("server_memory_after") or {}
    if memory:
        print(f"  server memory (process tree RSS): {memory['total']['rss_mib']:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=1, help="timed calls per method per round")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls before round 1")
    parser.add_argument("--pool", type=int, default=8, help="threads for the threaded variants")
    parser.add_argument("--only", default="", help="regex: time only the methods it matches")
    parser.add_argument("--install-only", action="store_true", help="create the venv and stop")
    parser.add_argument("--out", default="", help="write the results as JSON here")
    parser.add_argument("--keep-dir", default="", help="keep the server's DB and log here")
    # Internal: the half that runs inside the MLflow venv.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--anchor", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    if args.install_only:
        venv = ensure_venv()
        print(json.dumps(asdict(venv), indent=1))
        return
    result = run_mlflow_side(
        rounds=args.rounds,
        reps=args.reps,
        warmup=args.warmup,
        pool=args.pool,
        only=args.only,
        keep_dir=Path(args.keep_dir) if args.keep_dir else None,
    )
    print_summary(result)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
