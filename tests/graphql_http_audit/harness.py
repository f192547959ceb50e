"""Install and run graphql-http's server audit (the GraphQL over HTTP spec's own tests).

``runner/`` holds package.json, package-lock.json and audit.mjs; ``npm ci``
installs them (two small packages, no native code) into a cache folder outside
the clone, keyed by a hash of those files, under a file lock so parallel test
processes install once::

    ${MLMETA_AUDIT_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mlmeta}/graphql-http-audit-<hash>/
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
RUNNER_FILES = ("package.json", "package-lock.json", "audit.mjs")
INSTALLED_MARKER = ".mlmeta-installed"
INSTALL_TIMEOUT_SECONDS = 300
AUDIT_TIMEOUT_SECONDS = 120


class AuditUnavailableError(RuntimeError):
    """Node.js or npm is missing, or installing the audit failed."""


def cache_root() -> Path:
    override = os.environ.get("MLMETA_AUDIT_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mlmeta"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AuditUnavailableError(f"`{name}` was not found on PATH (the audit needs Node.js 18+)")
    return path


def ensure_installed() -> Path:
    """The folder holding the installed runner (installed once per content hash)."""
    npm = _tool("npm")
    digest = hashlib.sha256()
    for name in RUNNER_FILES:
        digest.update(name.encode() + b"\0" + (RUNNER_DIR / name).read_bytes() + b"\0")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    dest = root / f"graphql-http-audit-{digest.hexdigest()[:16]}"
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
                    [npm, "ci", "--no-audit", "--no-fund"],
                    cwd=dest,
                    capture_output=True,
                    text=True,
                    timeout=INSTALL_TIMEOUT_SECONDS,
                    env={**os.environ, "npm_config_update_notifier": "false"},
                    check=False,
                )
                if done.returncode != 0:
                    raise AuditUnavailableError(
                        f"`npm ci` in {dest} failed:\n{done.stderr[-2000:]}"
                    )
                marker.write_text("ok\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return dest


def run_audit(url: str) -> list[dict[str, Any]]:
    """Every audit's result for the GraphQL endpoint at ``url``."""
    folder = ensure_installed()
    done = subprocess.run(
        [_tool("node"), "audit.mjs", url],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"the audit runner failed:\n{done.stderr[-2000:]}")
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results
