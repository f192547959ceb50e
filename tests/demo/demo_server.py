"""`mlmeta serve --demo` as a new user starts it: a real process, its own moto, its own data.

The demo backdates moto's in-process objects, so it runs in a process of its
own: the suite's shared moto server is left as every other test expects it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEMO_TOKEN = "demo-token-for-the-tests-0123456789"


@dataclass
class DemoServer:
    base_url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    seconds_to_ready: float

    def gql(self, query: str, token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.base_url}/graphql", json={"query": query}, headers=headers, timeout=30
        )
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, token: str | None = None) -> dict[str, Any]:
        body = self.gql(query, token)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo(workdir: Path, data_dir: Path, *, log_name: str = "serve.log") -> DemoServer:
    """Start the demo and wait for /readyz; one step a second so live runs move quickly."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLMETA_", "AWS_", "MOTO"))}
    env |= {
        "MLMETA_DATA_DIR": str(data_dir),
        "MLMETA_DEMO_STEP_SECONDS": "1",
        "MLMETA_DEMO_TOKEN": DEMO_TOKEN,
        "MLMETA_POLL_INTERVAL_SECONDS": "0.3",
    }
    log_path = workdir / log_name
    command = [sys.executable, "-m", "gateway.cli", "serve", "--demo", "--no-browser"]
    started = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = DemoServer(f"http://127.0.0.1:{port}", data_dir, log_path, process, 0.0)
    deadline = started + 120
    while True:
        assert process.poll() is None, server.log
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, server.log
        time.sleep(0.25)
    server.seconds_to_ready = time.monotonic() - started
    return server
