"""Drive Debian's chromium through the gateway's GraphiQL with playwright-core, offline.

``runner/`` holds package.json, package-lock.json and browse.mjs; ``npm ci``
installs playwright-core (which never downloads a browser; the harness says so
with ``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1`` anyway) into a cache folder outside
the clone, keyed by a hash of those files, under a file lock::

    ${MLMETA_BROWSER_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mlmeta}/graphiql-browser-<hash>/

The browser is the machine's: ``/usr/bin/chromium`` (``.ci/run`` installs
Debian's package when it is missing), or ``MLMETA_CHROMIUM``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

RUNNER_DIR = Path(__file__).resolve().parent / "runner"
RUNNER_FILES = ("package.json", "package-lock.json", "browse.mjs")
INSTALLED_MARKER = ".mlmeta-installed"
INSTALL_TIMEOUT_SECONDS = 300
BROWSE_TIMEOUT_SECONDS = 120


class BrowserUnavailableError(RuntimeError):
    """Node.js or npm is missing, or installing playwright-core failed."""


def chromium_path() -> str:
    return os.environ.get("MLMETA_CHROMIUM", "/usr/bin/chromium")


def cache_root() -> Path:
    override = os.environ.get("MLMETA_BROWSER_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mlmeta"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BrowserUnavailableError(f"`{name}` was not found on PATH (needs Node.js 20+)")
    return path


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
        "npm_config_update_notifier": "false",
    }


def ensure_installed() -> Path:
    """The folder holding the installed runner (installed once per content hash)."""
    npm = _tool("npm")
    digest = hashlib.sha256()
    for name in RUNNER_FILES:
        digest.update(name.encode() + b"\0" + (RUNNER_DIR / name).read_bytes() + b"\0")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    dest = root / f"graphiql-browser-{digest.hexdigest()[:16]}"
    marker = dest / INSTALLED_MARKER
    if marker.exists():
        return dest
    with open(root / f"{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not marker.exists():  # another process may have installed meanwhile
                if dest.exists():
                    shutil.rmtree(dest)
                dest.mkdir(parents=True)
                for name in RUNNER_FILES:
                    shutil.copyfile(RUNNER_DIR / name, dest / name)
                done = subprocess.run(
                    [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                    cwd=dest,
                    capture_output=True,
                    text=True,
                    timeout=INSTALL_TIMEOUT_SECONDS,
                    env=_env(),
                    check=False,
                )
                if done.returncode != 0:
                    raise BrowserUnavailableError(
                        f"`npm ci` in {dest} failed:\n{done.stderr[-2000:]}"
                    )
                marker.write_text("ok\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return dest


def browse_graphiql(page_url: str, screenshot: Path) -> dict[str, Any]:
    """Run ``browse.mjs`` on ``page_url``; its report (see the script) as a dict."""
    folder = ensure_installed()
    done = subprocess.run(
        [_tool("node"), "browse.mjs", page_url, str(screenshot)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=BROWSE_TIMEOUT_SECONDS,
        env={**_env(), "MLMETA_CHROMIUM": chromium_path()},
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"browse.mjs failed (the page then: {screenshot}.failed.png):\n{done.stderr[-4000:]}"
        )
    report: dict[str, Any] = json.loads(done.stdout)
    return report
