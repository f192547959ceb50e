"""Run a REAL Backstage catalog backend (from the npm registry) for integration tests.

The backend sources (``backend/package.json``, ``backend/index.js``,
``backend/app-config.template.yaml``) live in the repository; ``node_modules``
(~360 MB, ~80 s to install because better-sqlite3 compiles from source) lives in
a cache folder outside the clone, keyed by a hash of the package files and the
Node ABI, so repeated runs and fresh clones on the same machine reuse it::

    ${MLMETA_BACKSTAGE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mlmeta}/backstage-<hash>/

Typical use::

    with run_backstage(CATALOG_YAML, expected_entities=5) as backstage:
        httpx.get(f"{backstage.catalog_url}/entities/by-query", params={"limit": 1},
                  headers=backstage.auth_headers)

``expected_entities`` counts what the catalog will hold once the file is read:
the entities in ``catalog_yaml`` PLUS the ``Location`` entity the catalog
generates for the file itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

BACKEND_DIR = Path(__file__).resolve().parent / "backend"
# Files copied into the install folder; all of them (plus the Node ABI) form the cache key.
BACKEND_FILES = ("package.json", "package-lock.json", "index.js")
CONFIG_TEMPLATE = BACKEND_DIR / "app-config.template.yaml"
INSTALLED_MARKER = ".mlmeta-installed"

DEFAULT_TOKEN = "mlmeta-tests-static-token-0123456789"
"""Static external-access token; the catalog sees its caller as subject ``mlmeta-tests``."""
OTHER_TOKEN = "mlmeta-tests-other-token-9876543210"
"""A second static token, subject ``mlmeta-tests-other``."""

INSTALL_TIMEOUT_SECONDS = 15 * 60
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
LOG_TAIL_LINES = 50

_TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/=-]{16,}$")
_PLACEHOLDER_RE = re.compile(r"__MLMETA_[A-Z_]+__")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")  # the backend's log lines are coloured
# The harness's own polling requests, left out of log tails in error messages.
_OWN_POLLS = (
    '"GET /.backstage/health/v1/readiness ',
    '"GET /api/catalog/entities/by-query?limit=1 ',
)

T = TypeVar("T")


class BackstageUnavailableError(RuntimeError):
    """Node.js or npm is missing, or installing the backend failed."""


class BackstageStartError(RuntimeError):
    """The backend did not become ready (or not with the expected entities) in time."""


# --------------------------------------------------------------------------- install


def cache_root() -> Path:
    """Folder holding the installed backends (outside the repository clone)."""
    override = os.environ.get("MLMETA_BACKSTAGE_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mlmeta"


def _require_tool(name: str, env: Mapping[str, str] | None = None) -> str:
    path = shutil.which(name, path=(os.environ if env is None else env).get("PATH"))
    if path is None:
        raise BackstageUnavailableError(
            f"`{name}` was not found on PATH. The real-Backstage integration tests need "
            "Node.js 20+ and npm (e.g. `apt-get install nodejs npm`, or nvm), plus a C++ "
            "toolchain and the Node headers to build better-sqlite3."
        )
    return path


def _node_abi(node: str) -> str:
    """Native modules are tied to the Node ABI, so it is part of the cache key."""
    out = subprocess.run(
        [node, "-p", "`${process.versions.modules}-${process.platform}-${process.arch}`"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.stdout.strip()


def install_key(
    node_abi: str, package_dir: Path = BACKEND_DIR, files: tuple[str, ...] = BACKEND_FILES
) -> str:
    digest = hashlib.sha256()
    for name in files:
        path = package_dir / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<absent>")
        digest.update(b"\0")
    digest.update(node_abi.encode())
    return digest.hexdigest()[:16]


def _node_headers_dir(node: str) -> str | None:
    """A folder with ``include/node/node.h`` for node-gyp (better-sqlite3's prebuilt
    binaries cannot be downloaded here, so it is compiled against local headers)."""
    prefix = Path(node).resolve().parent.parent
    for candidate in (prefix, Path("/usr"), Path("/usr/local")):
        if (candidate / "include" / "node" / "node.h").exists():
            return str(candidate)
    return None


def _copy_if_changed(src: Path, dest: Path) -> None:
    if dest.exists() and dest.read_bytes() == src.read_bytes():
        return
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    kept = [
        _ANSI_RE.sub("", line)
        for line in text.splitlines()
        if not any(poll in line for poll in _OWN_POLLS)
    ]
    return "\n".join(kept[-lines:])


def ensure_installed(
    package_dir: Path = BACKEND_DIR,
    files: tuple[str, ...] = BACKEND_FILES,
    name: str = "backstage",
    scripts: tuple[str, ...] = ("index.js",),
    env: Mapping[str, str] | None = None,
    announce: Callable[[str], None] | None = None,
) -> Path:
    """Install the backend's node_modules into the cache (once) and return that folder.

    Other npm packages of the tests use it too: ``package_dir`` holds ``files``
    (package.json, package-lock.json, ...: what the cache is keyed by), the cache
    folder is ``<name>-<hash>``, and ``scripts`` are copied in fresh on every call.
    ``env`` (default: this process's) finds node and npm and runs npm; ``announce``
    is told when an install starts and how long it took.

    Safe to call from several processes: installation happens under an exclusive
    file lock, and the folder only counts as installed once the marker file is
    written after a successful ``npm ci`` (exactly package-lock.json).
    """
    node = _require_tool("node", env)
    npm = _require_tool("npm", env)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    dest = root / f"{name}-{install_key(_node_abi(node), package_dir, files)}"
    marker = dest / INSTALLED_MARKER

    if not marker.exists():
        with open(root / f"{dest.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not marker.exists():  # someone else may have installed meanwhile
                    _install(node, npm, dest, marker, package_dir, files, env, announce)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # Scripts are tiny and may be edited without touching dependencies: keep them fresh.
    for script in scripts:
        _copy_if_changed(package_dir / script, dest / script)
    return dest


def _install(
    node: str,
    npm: str,
    dest: Path,
    marker: Path,
    package_dir: Path,
    files: tuple[str, ...],
    env: Mapping[str, str] | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    if dest.exists():  # leftovers of a failed or interrupted install
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in files:
        if (package_dir / name).exists():
            shutil.copyfile(package_dir / name, dest / name)

    npm_env = dict(os.environ if env is None else env)
    if "npm_config_nodedir" not in npm_env:
        headers = _node_headers_dir(node)
        if headers is not None:
            npm_env["npm_config_nodedir"] = headers
    npm_env.setdefault("npm_config_update_notifier", "false")

    log_path = dest / "npm-install.log"
    started = time.monotonic()
    if announce is not None:
        announce(f"installing {package_dir.name}'s npm packages into {dest} (once)")
    with open(log_path, "w") as log:
        try:
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=dest,
                env=npm_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=INSTALL_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BackstageUnavailableError(
                f"`npm ci` in {dest} took longer than {INSTALL_TIMEOUT_SECONDS} s; "
                f"last lines of {log_path}:\n{_tail(log_path)}"
            ) from exc
    if proc.returncode != 0:
        raise BackstageUnavailableError(
            f"`npm ci` in {dest} failed with exit code {proc.returncode}; "
            f"last lines of {log_path}:\n{_tail(log_path)}"
        )
    seconds = time.monotonic() - started
    marker.write_text(json.dumps({"installed_at": time.time(), "seconds": seconds}) + "\n")
    if announce is not None:
        announce(f"installed in {seconds:.0f} s")


# --------------------------------------------------------------------------- run


@dataclass(frozen=True)
class BackstageHandle:
    """A running backend. ``base_url`` has no trailing slash."""

    base_url: str
    token: str
    other_token: str
    log_path: Path
    workdir: Path
    pid: int
    startup_seconds: float

    @property
    def catalog_url(self) -> str:
        return f"{self.base_url}/api/catalog"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_token(token: str) -> None:
    # Backstage wants >= 16 characters and no whitespace; also keep `${` (config
    # substitution) and YAML specials out.
    if not _TOKEN_RE.match(token):
        raise ValueError(f"static token must match {_TOKEN_RE.pattern}: {token!r}")


def render_app_config(
    *,
    port: int,
    token: str,
    other_token: str,
    catalog_path: Path,
    database_dir: Path | None = None,
) -> str:
    """Fill ``app-config.template.yaml``; every value is JSON-quoted (valid YAML).

    The catalog's database is in memory, or files in ``database_dir`` when given.
    """
    _check_token(token)
    _check_token(other_token)
    if token == other_token:
        raise ValueError("token and other_token must differ")
    values: dict[str, Any] = {
        "BASE_URL": f"http://127.0.0.1:{port}",
        "PORT": port,
        "TOKEN": token,
        "OTHER_TOKEN": other_token,
        "CATALOG_PATH": str(catalog_path.resolve()),
        "DATABASE": {"directory": str(database_dir.resolve())} if database_dir else ":memory:",
    }
    text = CONFIG_TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"__MLMETA_{name}__", json.dumps(value))
    leftover = _PLACEHOLDER_RE.findall(text)
    if leftover:
        raise ValueError(f"unfilled placeholders in {CONFIG_TEMPLATE}: {sorted(set(leftover))}")
    return text


def wait_for(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.25,
    on_timeout: Callable[[], str] = lambda: "",
) -> T:
    """Call ``condition`` until it returns something other than None/False."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise BackstageStartError(
                f"timed out after {timeout:.0f} s waiting for {what}{on_timeout()}"
            )
        time.sleep(interval)


class RealBackstage:
    """One backend process serving ``catalog_yaml``; use as a context manager.

    ``workdir`` (e.g. pytest's ``tmp_path``) receives catalog-info.yaml,
    app-config.yaml and backstage.log and is left in place; without it a
    temporary folder is made and removed on exit (but kept when start fails,
    so the log named in the error can be read).

    ``port`` fixes the port (default: a free one). Either way ``stop_backend``
    and ``restart`` stop the process and start it again on the same port, as a
    portal's backend going down and coming back looks to its clients. The
    catalog's database is in memory, unless ``persistent``: then it is kept in
    files in the work folder, and a restarted backend holds its entities at
    once, as a production portal (on PostgreSQL) does, instead of having none
    until it has read its catalog file again.
    """

    def __init__(
        self,
        catalog_yaml: str,
        *,
        expected_entities: int,
        token: str = DEFAULT_TOKEN,
        other_token: str = OTHER_TOKEN,
        timeout: float = START_TIMEOUT_SECONDS,
        workdir: Path | None = None,
        port: int | None = None,
        persistent: bool = False,
    ) -> None:
        _check_token(token)
        _check_token(other_token)
        self.port = port
        """The backend's port: fixed if given, else the free one the first start took."""
        self._fixed_port = port is not None
        self.persistent = persistent
        self.catalog_yaml = catalog_yaml
        self.expected_entities = expected_entities
        self.token = token
        self.other_token = other_token
        self.timeout = timeout
        self._given_workdir = workdir
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._install_dir: Path | None = None
        self.handle: BackstageHandle | None = None

    # -- lifecycle

    def start(self) -> BackstageHandle:
        if self._proc is not None:
            raise RuntimeError("already started")
        install_dir = self._install_dir = ensure_installed()
        started = time.monotonic()
        if self._given_workdir is not None:
            self._given_workdir.mkdir(parents=True, exist_ok=True)
            self._workdir = self._given_workdir
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="mlmeta-backstage-"))
        catalog_path = self._workdir / "catalog-info.yaml"
        catalog_path.write_text(self.catalog_yaml)
        if self.persistent:
            (self._workdir / "database").mkdir(exist_ok=True)
        log_path = self._workdir / "backstage.log"

        try:
            for attempt in (1, 2):  # a second try only if the free port got taken
                port = self.port if self.port is not None else _free_port()
                base_url = f"http://127.0.0.1:{port}"
                config_path = self._workdir / "app-config.yaml"
                config_path.write_text(
                    render_app_config(
                        port=port,
                        token=self.token,
                        other_token=self.other_token,
                        catalog_path=catalog_path,
                        database_dir=self._workdir / "database" if self.persistent else None,
                    )
                )
                self._spawn(install_dir, config_path, log_path)
                try:
                    self._wait_ready(base_url, log_path)
                except BackstageStartError:
                    taken = "EADDRINUSE" in _tail(log_path)
                    if attempt == 1 and taken and not self._fixed_port:
                        self._terminate()
                        continue
                    raise
                break
            self.port = port
            self._wait_entities(base_url, log_path)
        except BaseException:
            # Keep the folder (even a temporary one): the error message points at its log.
            self._terminate()
            self._workdir = None
            raise

        assert self._proc is not None
        self.handle = BackstageHandle(
            base_url=base_url,
            token=self.token,
            other_token=self.other_token,
            log_path=log_path,
            workdir=self._workdir,
            pid=self._proc.pid,
            startup_seconds=time.monotonic() - started,
        )
        return self.handle

    def stop_backend(self) -> None:
        """Stop the backend process (SIGTERM, as an orchestrator does), keeping its
        folder and port for ``restart``. Its clients then find the port refusing."""
        self._terminate()

    def restart(self) -> BackstageHandle:
        """Start the stopped backend again, same port and catalog; return once it is
        ready and has read its catalog file again."""
        if self.handle is None or self._install_dir is None:
            raise RuntimeError("never started")
        if self._proc is not None:
            raise RuntimeError("still running: stop_backend() first")
        started = time.monotonic()
        handle = self.handle
        config_path = handle.workdir / "app-config.yaml"
        try:
            self._spawn(self._install_dir, config_path, handle.log_path)
            self._wait_ready(handle.base_url, handle.log_path)
            self._wait_entities(handle.base_url, handle.log_path)
        except BaseException:
            self._terminate()
            raise
        assert self._proc is not None
        self.handle = dataclasses.replace(
            handle, pid=self._proc.pid, startup_seconds=time.monotonic() - started
        )
        return self.handle

    def stop(self) -> None:
        self._terminate()
        if self._given_workdir is None and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None

    def __enter__(self) -> BackstageHandle:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals

    def _spawn(self, install_dir: Path, config_path: Path, log_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("APP_CONFIG_")}
        env.pop("NODE_OPTIONS", None)
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in _terminate
        self._proc = subprocess.Popen(
            ["node", "index.js", "--config", str(config_path)],
            cwd=install_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in pytest does not hit it first
        )

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _failure_context(self, log_path: Path) -> Callable[[], str]:
        def describe() -> str:
            return f"; last {LOG_TAIL_LINES} lines of {log_path}:\n{_tail(log_path)}"

        return describe

    def _check_alive(self, log_path: Path) -> None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            raise BackstageStartError(
                f"backend exited with code {code}{self._failure_context(log_path)()}"
            )

    def _wait_ready(self, base_url: str, log_path: Path) -> None:
        url = f"{base_url}/.backstage/health/v1/readiness"

        def ready() -> bool:
            self._check_alive(log_path)
            try:
                return httpx.get(url, timeout=2.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(
            ready,
            timeout=self.timeout,
            what=f"{url} to answer 200",
            on_timeout=self._failure_context(log_path),
        )

    def _wait_entities(self, base_url: str, log_path: Path) -> None:
        url = f"{base_url}/api/catalog/entities/by-query"
        headers = {"Authorization": f"Bearer {self.token}"}
        last: list[Any] = [None]

        def loaded() -> bool:
            self._check_alive(log_path)
            try:
                resp = httpx.get(url, params={"limit": 1}, headers=headers, timeout=5.0)
            except httpx.HTTPError as exc:
                last[0] = repr(exc)
                return False
            if resp.status_code != 200:
                last[0] = f"HTTP {resp.status_code}: {resp.text[:300]}"
                return False
            total = resp.json().get("totalItems", 0)
            last[0] = f"totalItems={total}"
            return total >= self.expected_entities

        def describe() -> str:
            return (
                f" (last answer: {last[0]}; entities present: {present()}). The catalog drops"
                " invalid entities silently (e.g. a Component without spec.owner), and one"
                " entity of a kind no processor knows keeps the whole file out of the catalog"
                f"{self._failure_context(log_path)()}"
            )

        def present() -> str:
            try:
                resp = httpx.get(
                    url,
                    params={"limit": 100, "fields": "kind,metadata.namespace,metadata.name"},
                    headers=headers,
                    timeout=5.0,
                )
                items = resp.json()["items"]
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                return f"<unknown: {exc!r}>"
            refs = sorted(
                f"{e['kind']}:{e['metadata'].get('namespace', 'default')}/{e['metadata']['name']}"
                for e in items
            )
            return ", ".join(refs) or "none"

        wait_for(
            loaded,
            timeout=self.timeout,
            what=f"{self.expected_entities} entities in the catalog",
            on_timeout=describe,
        )


@contextlib.contextmanager
def run_backstage(
    catalog_yaml: str,
    *,
    expected_entities: int,
    token: str = DEFAULT_TOKEN,
    other_token: str = OTHER_TOKEN,
    timeout: float = START_TIMEOUT_SECONDS,
    workdir: Path | None = None,
) -> Iterator[BackstageHandle]:
    """Start a real catalog backend serving ``catalog_yaml``; stop it on exit.

    Waits until ``/.backstage/health/v1/readiness`` answers and then until
    ``by-query`` reports at least ``expected_entities`` (the entities in the
    YAML plus the generated ``Location``), within ``timeout`` seconds each.
    """
    with RealBackstage(
        catalog_yaml,
        expected_entities=expected_entities,
        token=token,
        other_token=other_token,
        timeout=timeout,
        workdir=workdir,
    ) as handle:
        yield handle
