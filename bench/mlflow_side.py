"""The MLflow half of ``bench.compare_mlflow``: MLflow's own numbers, on this machine.

MLflow is never a dependency of mlmeta. It lives in its own virtualenv outside
the repository (``~/.cache/mlmeta/mlflow-venv``, created once and reused; its
version and install time are recorded next to it), its tracking server runs as
a subprocess (``mlflow server --workers 1`` over a fresh SQLite file), and the
seeding and timing code is the shared anchor benchmark's own
(``shared/bench/mlflow_anchor.py``), run by the MLflow venv's interpreter: this
file re-executes itself there with ``--worker``.

Workloads, each timed with the anchor's fastest method (median of ``--reps``
after one warm-up):

* ``points_100k``: 5 metrics x 200 runs, full history (100,000 points),
  get-history-bulk-interval, 10 calls (100 run ids each), sequential and with a
  thread pool; the faster of the two is MLflow's figure.
* ``points_20k``: 1 metric x 200 runs (20,000 points), the same endpoint, 2 calls.
* ``run_list``: 200 runs with params and latest metrics, runs/search, 1 call.

Only the standard library is imported at module level, so the same file runs
under both interpreters.

    python -m bench.mlflow_side [--reps 7] [--pool 8] [--out results.json]
    python -m bench.mlflow_side --install-only
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
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


# ---------------------------------------------------------------------------------- driver
def run_mlflow_side(
    reps: int = 7, pool: int = 8, log: Log = _log, keep_dir: Path | None = None
) -> dict[str, Any]:
    """Install (once), start, seed and time MLflow; return its results as a dict.

    ``result["workloads"][key]["median_ms"]`` is MLflow's figure for each key
    in (POINTS_100K, POINTS_20K, RUN_LIST).
    """
    venv = ensure_venv(log=log)
    anchor = anchor_path()
    with contextlib.ExitStack() as stack:
        if keep_dir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlflow-bench-")))
        else:
            workdir = keep_dir
            workdir.mkdir(parents=True, exist_ok=True)
        server = stack.enter_context(mlflow_server(venv, workdir, log))
        out = workdir / "worker-results.json"
        worker = [
            venv.python,
            str(Path(__file__).resolve()),
            "--worker",
            "--url",
            server.url,
            "--server-pid",
            str(server.pid),
            "--anchor",
            str(anchor),
            "--reps",
            str(reps),
            "--pool",
            str(pool),
            "--out",
            str(out),
        ]
        subprocess.run(worker, check=True, cwd=workdir)
        result: dict[str, Any] = json.loads(out.read_text())
    result["venv"] = asdict(venv)
    result["anchor"] = str(anchor)
    result["server"] = {"command": " ".join(server.command[1:]), "workers": 1, "env": SERVER_ENV}
    return result


# ---------------------------------------------------------------------------------- worker
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


def worker_main(args: argparse.Namespace) -> None:
    """Runs inside the MLflow venv: seed with the anchor's ``seed`` and time its methods."""
    import mlflow  # type: ignore[import-not-found]  # only in the MLflow venv

    anchor = _load_anchor(Path(args.anchor))
    _check_same_data(anchor)
    url = args.url.rstrip("/")
    exp_id, seed_seconds, seed_calls = anchor.seed(url, RUNS)
    _log(f"seeded {RUNS} runs into MLflow in {seed_seconds:.1f} s ({seed_calls} HTTP calls)")
    _, runs = anchor.rest_search_runs(url, exp_id, 1000)
    run_ids = sorted(r["info"]["run_id"] for r in runs)
    assert len(run_ids) == RUNS, len(run_ids)
    metrics = list(METRICS)
    one = metrics[:1]
    variants: dict[str, dict[str, Any]] = {}

    def rec(name: str, fn: Callable[[], dict[str, Any]], expect: tuple[str, int]) -> None:
        timing = anchor.timeit(fn, args.reps)
        key, value = expect
        if timing.get(key) != value:
            raise RuntimeError(f"{name}: expected {key}={value}, got {timing}")
        variants[name] = timing
        _log(f"  mlflow {name:44s} median {timing['median_ms']:>9.1f} ms")

    pool = args.pool
    rec(
        f"{POINTS_100K}/bulk-interval pool={pool}",
        lambda: anchor.history_bulk_interval(url, run_ids, metrics, N_STEPS, pool),
        ("points", RUNS * len(METRICS) * N_STEPS),
    )
    rec(
        f"{POINTS_100K}/bulk-interval sequential",
        lambda: anchor.history_bulk_interval(url, run_ids, metrics, N_STEPS, 1),
        ("points", RUNS * len(METRICS) * N_STEPS),
    )
    rec(
        f"{POINTS_20K}/bulk-interval pool={pool}",
        lambda: anchor.history_bulk_interval(url, run_ids, one, N_STEPS, pool),
        ("points", RUNS * N_STEPS),
    )
    rec(
        f"{POINTS_20K}/bulk-interval sequential",
        lambda: anchor.history_bulk_interval(url, run_ids, one, N_STEPS, 1),
        ("points", RUNS * N_STEPS),
    )
    rec(
        f"{RUN_LIST}/runs-search max_results=200",
        lambda: anchor.rest_search_runs(url, exp_id, RUNS)[0],
        ("runs", RUNS),
    )
    workloads: dict[str, dict[str, Any]] = {}
    for key in (POINTS_100K, POINTS_20K, RUN_LIST):
        name, best = min(
            ((n, t) for n, t in variants.items() if n.startswith(key + "/")),
            key=lambda item: item[1]["median_ms"],
        )
        workloads[key] = {**best, "method": name.split("/", 1)[1]}
    result = {
        "mlflow_version": mlflow.__version__,
        "python": sys.version.split()[0],
        "nproc": os.cpu_count(),
        "reps": args.reps,
        "seed": {"seconds": round(seed_seconds, 2), "http_calls": seed_calls, "runs": RUNS},
        "workloads": workloads,
        "variants": variants,
        "server_memory_after": anchor.tree_memory(args.server_pid),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


# ------------------------------------------------------------------------------------ main
def print_summary(result: dict[str, Any]) -> None:
    venv = result["venv"]
    print(
        f"MLflow {result['mlflow_version']} (venv {venv['path']}, "
        f"installed in {venv['install_seconds']:.0f} s), server --workers 1, "
        f"seed {result['seed']['seconds']:.1f} s"
    )
    for key, timing in result["workloads"].items():
        print(
            f"  {key:12s} median {timing['median_ms']:>9.1f} ms  "
            f"(min {timing['min_ms']:.1f}, max {timing['max_ms']:.1f}; {timing['method']})"
        )
    memory = result.get("server_memory_after") or {}
    if memory:
        print(f"  server memory (process tree RSS): {memory['total']['rss_mib']:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--pool", type=int, default=8, help="threads for the threaded variants")
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
        reps=args.reps, pool=args.pool, keep_dir=Path(args.keep_dir) if args.keep_dir else None
    )
    print_summary(result)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
