"""Real gateway processes for latency benchmarks: moto, seeded demo data, uvicorn.

Every process runs from the tree it measures (``cwd`` and ``PYTHONPATH`` set to
it, with this repo's virtualenv python), so two checkouts of mlmeta can be
compared on the same machine and the same data. Everything listens on
127.0.0.1 only; every child dies with the ``Fleet`` that started it.

The data is the embedded demo's: one moto server seeded once by ``seed_aws``
(idempotent, so each tree's seeding finds the same AWS data), the demo catalog
folder, and a metadb per tree seeded by that tree's own ``_seed_metadb``
(metric curves, model cards, lineage), so each tree migrates its own schema.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

REPO = Path(__file__).resolve().parents[1]
PYTHON = REPO / ".venv" / "bin" / "python"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

# Runs in its own process so the gateways' AWS calls do not share the benchmark
# client's GIL. It lives until its stdin closes (the Fleet closes it).
_MOTO = """
import sys
from gateway.demo import start_moto
handle = start_moto()
print(handle.endpoint_url, flush=True)
sys.stdin.read()
handle.stop()
"""

# The demo's seeding, as `mlmeta serve --demo` does it, minus the live runs
# (they would change the data between rounds).
_SEED = """
import asyncio, sys
from pathlib import Path
from gateway.cli import _seed_metadb
from gateway.config import Settings
from gateway.demo import seed_aws, write_catalog
endpoint, data_dir, catalog = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
database_url = sys.argv[4] if len(sys.argv) > 4 else ""
write_catalog(Path(catalog))
summary = asyncio.run(seed_aws(endpoint))
settings = Settings(
    data_dir=data_dir, catalog_folder=catalog, aws_endpoint_url=endpoint, database_url=database_url
)
print(asyncio.run(_seed_metadb(settings, summary)), "metric points")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tree_env(tree: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **AWS_ENV, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    return {**env, **(extra or {})}


@dataclass
class Gateway:
    """One uvicorn process serving one tree."""

    name: str
    tree: Path
    url: str
    process: subprocess.Popen[bytes]


@dataclass
class Fleet(AbstractContextManager["Fleet"]):
    """A moto server and the gateways started against it; all stopped on exit."""

    workdir: Path
    moto_url: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_moto(self, tree: Path) -> str:
        process = subprocess.Popen(
            [str(PYTHON), "-c", _MOTO],
            cwd=tree,
            env=tree_env(tree),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.processes.append(process)
        assert process.stdout is not None
        self.moto_url = process.stdout.readline().decode().strip()
        if not self.moto_url.startswith("http://127.0.0.1:"):
            raise RuntimeError("moto did not start")
        return self.moto_url

    def seed(self, name: str, tree: Path, database_url: str = "") -> Path:
        """Seed the demo data for ``tree``; return its data folder.

        The metadb is ``<data folder>/mlmeta.db`` unless ``database_url`` names another
        (already migrated) one.
        """
        data_dir = self.workdir / name
        catalog = data_dir / "catalog"
        subprocess.run(
            [str(PYTHON), "-c", _SEED, self.moto_url, str(data_dir), str(catalog), database_url],
            cwd=tree,
            env=tree_env(tree),
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=300,
        )
        return data_dir

    def start_gateway(
        self,
        name: str,
        tree: Path,
        data_dir: Path,
        env: dict[str, str] | None = None,
        stderr: IO[bytes] | None = None,
        launcher: tuple[str, ...] = ("-m", "uvicorn"),
    ) -> Gateway:
        """Start uvicorn (or ``python <launcher>`` given uvicorn's arguments) on a free port."""
        port = free_port()
        settings = {
            "MLMETA_DATA_DIR": str(data_dir),
            "MLMETA_CATALOG_FOLDER": str(data_dir / "catalog"),
            "MLMETA_AWS_ENDPOINT_URL": self.moto_url,
            "MLMETA_ALLOW_ANONYMOUS": "true",
            "MLMETA_GRAPHIQL": "false",
            **(env or {}),
        }
        process = subprocess.Popen(
            [
                *(str(PYTHON), *launcher, "gateway.app:create_app_from_env", "--factory"),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            ],
            cwd=tree,
            env=tree_env(tree, settings),
            stderr=stderr,
        )
        self.processes.append(process)
        gateway = Gateway(name, tree, f"http://127.0.0.1:{port}", process)
        _wait_until_up(gateway)
        return gateway

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for process in reversed(self.processes):
            if process.stdin is not None:
                process.stdin.close()
            else:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_up(gateway: Gateway, limit_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"{gateway.name}: uvicorn exited with {gateway.process.returncode}")
        try:
            if httpx.get(f"{gateway.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{gateway.name}: not up within {limit_seconds:g} s")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: small samples stay honest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "min": round(ordered[0], 2),
        "median": round(statistics.median(ordered), 2),
        "p95": round(percentile(ordered, 95), 2),
        "max": round(ordered[-1], 2),
    }


def machine() -> dict[str, str | int]:
    return {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count() or 0,
        "load_average_1m": f"{os.getloadavg()[0]:.2f}",
    }
