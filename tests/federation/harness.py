"""Apollo's real federation tools from npm: composition, and a gateway to query through.

``js/`` holds package.json, package-lock.json and two scripts; ``npm ci``
installs them (pure JavaScript, ~25 s the first time) into the cache folder the
real-Backstage harness manages (``tests/backstage_real/harness.py``), keyed by
a hash of the package files::

    ${MLMETA_BACKSTAGE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mlmeta}/federation-<hash>/
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.backstage_real.harness import _free_port, ensure_installed

JS_DIR = Path(__file__).resolve().parent / "js"
COMPOSE_TIMEOUT_SECONDS = 60
ROUTER_START_SECONDS = 30.0


def installed() -> Path:
    return ensure_installed(
        JS_DIR, ("package.json", "package-lock.json"), "federation", ("compose.mjs", "router.mjs")
    )


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("`node` (Node.js 20+) is needed on PATH for the federation tests")
    return node


@dataclass(frozen=True)
class Subgraph:
    name: str
    url: str
    sdl: str


@dataclass(frozen=True)
class Composition:
    errors: list[dict[str, Any]]
    hints: list[dict[str, Any]]
    supergraph_sdl: str | None


def compose(subgraphs: list[Subgraph]) -> Composition:
    """``composeServices`` of @apollo/composition, as ``rover supergraph compose`` runs it."""
    folder = installed()
    request = [{"name": s.name, "url": s.url, "sdl": s.sdl} for s in subgraphs]
    done = subprocess.run(
        [_node(), "compose.mjs"],
        cwd=folder,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=COMPOSE_TIMEOUT_SECONDS,
        check=True,
    )
    result = json.loads(done.stdout)
    return Composition(result["errors"], result["hints"], result["supergraphSdl"])


@contextmanager
def run_router(supergraph_sdl: str, workdir: Path) -> Iterator[str]:
    """@apollo/gateway in @apollo/server over ``supergraph_sdl``; yields its URL. It
    forwards each caller's Authorization and traceparent headers to the subgraphs."""
    folder = installed()
    supergraph = workdir / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl)
    log_path = workdir / "router.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [_node(), "router.mjs", str(supergraph), str(_free_port())],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield _wait_listening(process, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_listening(process: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + ROUTER_START_SECONDS
    while time.monotonic() < deadline:
        for line in log_path.read_text().splitlines():
            if line.startswith("listening "):
                return line.removeprefix("listening ").strip()
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"the router did not start; its log:\n{log_path.read_text()[-3000:]}")
