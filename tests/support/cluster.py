"""Several real ``mlmeta serve`` processes on one PostgreSQL and one Redis, behind a proxy.

What a portal's production looks like, on one machine: each replica is its own
process (``python -m gateway.cli serve``) with its own port, data folder and
log file; they share a PostgreSQL database (migrated once with ``mlmeta
migrate``, as the deployment's migration Job does), a redis-server of the
test's own, the demo's catalog folder and the session's moto server.

``RoundRobinProxy`` is the load balancer: each new TCP connection goes to the
next replica, skipping one that refuses connections (a killed or stopping
replica), as a load balancer's health checks would. Tests reach a replica
directly through ``Replica.url`` when which one matters (a subscription on A,
an edit on B) and through ``Cluster.url`` when it must not.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metric(self, sample: str, **labels: str) -> float:
        """The sum of the replica's ``/metrics`` samples named ``sample`` whose labels
        include ``labels`` (loopback scrapes need no token)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return sum(
            found.value
            for family in text_string_to_metric_families(text)
            for found in family.samples
            if found.name == sample and labels.items() <= found.labels.items()
        )

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start in time:\n{self.log()[-3000:]}")


@dataclass
class Cluster:
    """Replicas started with one environment; ``proxy`` balances over the live ones."""

    env: dict[str, str]
    workdir: Path
    replicas: list[Replica] = field(default_factory=list)
    proxy: RoundRobinProxy | None = None
    _names: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def url(self) -> str:
        assert self.proxy is not None
        return self.proxy.url

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "gateway.cli", "migrate"],
            env=self.env,
            cwd=REPO,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self, count: int, env: dict[str, str] | None = None) -> list[Replica]:
        """Start ``count`` more replicas at once (``env``: settings of their own); return
        when every one answers."""
        started = [self._spawn(env or {}) for _ in range(count)]
        for replica in started:
            replica.wait_until_ready()
        self.replicas += started
        return started

    def _spawn(self, own: dict[str, str]) -> Replica:
        name = f"replica-{next(self._names)}"
        port = free_port()
        data_dir = self.workdir / name
        data_dir.mkdir(parents=True)
        log_path = self.workdir / f"{name}.log"
        env = {**self.env, **own, "MLMETA_DATA_DIR": str(data_dir), "MLMETA_PORT": str(port)}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--no-browser"],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Replica(name, port, log_path, process)

    def live(self) -> list[Replica]:
        return [r for r in self.replicas if r.alive]

    def stop(self) -> None:
        for replica in self.replicas:
            if replica.alive:
                replica.signal(signal.SIGTERM)
        for replica in self.replicas:
            try:
                replica.wait(timeout=20)
            except subprocess.TimeoutExpired:
                replica.signal(signal.SIGKILL)
                replica.wait(timeout=5)


class RoundRobinProxy:
    """A TCP load balancer in a thread: each connection to the next port that accepts it."""

    def __init__(self, ports: Callable[[], list[int]]) -> None:
        self._ports = ports
        self._turn = itertools.count()
        self.connections: Counter[int] = Counter()
        """Connections forwarded, by replica port."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RoundRobinProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        ports = self._ports()
        start = next(self._turn)
        for offset in range(len(ports)):
            port = ports[(start + offset) % len(ports)]
            try:
                upstream = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue  # refused: a dead or stopping replica; the next one
            self.connections[port] += 1
            return upstream
        return None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect()
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(
            _copy(reader, up_writer), _copy(up_reader, writer), return_exceptions=True
        )


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def python_env(extra: dict[str, str]) -> dict[str, str]:
    """The test's environment for a replica, minus any MLMETA_ setting of the caller's."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLMETA_")}
    return {**base, "PYTHONUNBUFFERED": "1", **extra}
