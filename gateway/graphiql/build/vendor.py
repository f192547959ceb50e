"""Vendor GraphiQL's browser bundles into ``gateway/graphiql/static/`` (no CDN at run time).

    .venv/bin/python gateway/graphiql/build/vendor.py [--static-dir DIR]

Installs exactly ``package-lock.json`` (``npm ci --ignore-scripts``) into a cache
folder outside the clone, keyed by a hash of package.json and package-lock.json,
under a file lock::

    ${XDG_CACHE_HOME:-~/.cache}/mlmeta/graphiql-assets-<hash>/

then copies the files of ``FILES`` into the static folder and writes
``MANIFEST.json``: each file's package, version, path in the package, sha256 and
size. To update GraphiQL, change the versions in package.json, run
``npm install --package-lock-only --ignore-scripts`` here, run this script and
commit the three of them with the new static files.

A standalone script (not part of the installed package): standard library only.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

BUILD_DIR = Path(__file__).resolve().parent
STATIC_DIR = BUILD_DIR.parent / "static"
INSTALL_FILES = ("package.json", "package-lock.json")
INSTALLED_MARKER = ".mlmeta-installed"
INSTALL_TIMEOUT_SECONDS = 600

# (served name, npm package, path inside the package). The UMD builds run in a browser
# as they are: no bundler. graphiql.min.js carries @graphiql/react, graphql and graphql-ws
# (the explorer plugin finds them as GraphiQL.React and GraphiQL.GraphQL).
FILES: tuple[tuple[str, str, str], ...] = (
    ("react.production.min.js", "react", "umd/react.production.min.js"),
    ("react-dom.production.min.js", "react-dom", "umd/react-dom.production.min.js"),
    ("graphiql.min.js", "graphiql", "graphiql.min.js"),
    ("graphiql.min.css", "graphiql", "graphiql.min.css"),
    ("graphiql-plugin-explorer.umd.js", "@graphiql/plugin-explorer", "dist/index.umd.js"),
    ("graphiql-plugin-explorer.css", "@graphiql/plugin-explorer", "dist/style.css"),
    ("react.LICENSE.txt", "react", "LICENSE"),
    ("react-dom.LICENSE.txt", "react-dom", "LICENSE"),
    ("graphiql.LICENSE.txt", "graphiql", "LICENSE"),
)
MANIFEST = "MANIFEST.json"


class VendorError(RuntimeError):
    """npm is missing or ``npm ci`` failed."""


def cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mlmeta"


def install_key() -> str:
    digest = hashlib.sha256()
    for name in INSTALL_FILES:
        digest.update(name.encode() + b"\0" + (BUILD_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_installed() -> Path:
    """The folder holding ``node_modules`` of package-lock.json (installed once per hash)."""
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("`npm` was not found on PATH (vendoring GraphiQL needs Node.js and npm)")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    dest = root / f"graphiql-assets-{install_key()}"
    marker = dest / INSTALLED_MARKER
    if marker.exists():
        return dest
    with open(root / f"{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not marker.exists():  # another process may have installed meanwhile
                _install(npm, dest)
                marker.write_text("ok\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return dest


def _install(npm: str, dest: Path) -> None:
    if dest.exists():  # leftovers of a failed or interrupted install
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in INSTALL_FILES:
        shutil.copyfile(BUILD_DIR / name, dest / name)
    done = subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=dest,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        env={**os.environ, "npm_config_update_notifier": "false"},
        check=False,
    )
    if done.returncode != 0:
        raise VendorError(f"`npm ci` in {dest} failed:\n{done.stderr[-2000:]}")


def _package_json(node_modules: Path, package: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((node_modules / package / "package.json").read_text())
    return data


def vendor(static_dir: Path) -> dict[str, Any]:
    """Copy ``FILES`` into ``static_dir`` and write its manifest; return the manifest."""
    node_modules = ensure_installed() / "node_modules"
    static_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    for served, package, path in FILES:
        meta = _package_json(node_modules, package)
        data = (node_modules / package / path).read_bytes()
        (static_dir / served).write_bytes(data)
        files[served] = {
            "package": package,
            "version": meta["version"],
            "license": meta.get("license", ""),
            "path": path,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    manifest = {
        "generated_by": "gateway/graphiql/build/vendor.py from gateway/graphiql/build/"
        "package-lock.json",
        "files": files,
    }
    (static_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--static-dir", type=Path, default=STATIC_DIR, help=f"where to write (default {STATIC_DIR})"
    )
    args = parser.parse_args(argv)
    try:
        manifest = vendor(args.static_dir)
    except VendorError as exc:
        print(exc, file=sys.stderr)
        return 1
    total = sum(entry["bytes"] for entry in manifest["files"].values())
    print(f"{len(manifest['files'])} files, {total:,} bytes, in {args.static_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
