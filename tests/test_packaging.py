"""Installs are locked: ./run, CI and the image install exactly what uv.lock holds.

No Docker daemon runs where these tests run, so the Dockerfile is checked by reading
it, and its install commands are replayed here against the same lock.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UV = [sys.executable, "-m", "uv"]


def _uv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    return subprocess.run(
        [*UV, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _locked_version(package: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == package)


# --- the lock ---------------------------------------------------------------------------


def test_the_lock_matches_pyproject() -> None:
    checked = _uv("lock", "--check", "--offline", cwd=ROOT)
    assert checked.returncode == 0, checked.stderr


def test_editing_a_dependency_without_relocking_is_caught(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('"orjson>=3.9"', '"orjson>=3.10"', 1))
    assert pyproject.read_text() != text

    # Online: telling "stale" from "cannot resolve" needs the index, which a fresh
    # machine's uv cache does not hold (installs from a lock never read it).
    checked = _uv("lock", "--check", cwd=tmp_path)

    assert checked.returncode != 0
    assert "needs to be updated" in checked.stderr


def test_the_lock_covers_python_3_11_to_3_13_on_linux_and_macos() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert lock["requires-python"] == ">=3.11"
    assert set(lock["supported-markers"]) == {
        "sys_platform == 'linux'",
        "sys_platform == 'darwin'",
    }
    # Every set is in the lock: runtime, demo and dev.
    project = next(p for p in lock["package"] if p["name"] == "mlmeta")
    assert set(project["optional-dependencies"]) == {"demo", "dev"}


def test_library_users_keep_ranges_not_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = [d for d in project["dependencies"] if "==" in d]
    assert pinned == [], "pins belong in uv.lock; pyproject.toml keeps compatible ranges"


def test_run_bootstraps_the_locked_uv() -> None:
    run = (ROOT / "run").read_text()
    bootstrap = re.search(r"^UV_VERSION=(\S+)$", run, re.MULTILINE)
    assert bootstrap is not None
    assert bootstrap.group(1) == _locked_version("uv")
    # Installs only through the lock: sync --locked, never a bare pip install of the project.
    assert "sync --locked" in run
    assert "pip install -e" not in run
    assert "lock --check" in run


# --- the image ----------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _stages(dockerfile: Path) -> list[Stage]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def test_the_image_is_built_in_two_stages_from_the_lock() -> None:
    build, runtime = _stages(ROOT / "Dockerfile")
    assert build.name == "build"
    copied = " ".join(build.args_of("COPY"))
    assert "uv.lock" in copied
    runs = build.args_of("RUN")
    assert f'"uv=={_locked_version("uv")}"' in runs[0]
    syncs = [r for r in runs if r.startswith("uv sync")]
    assert syncs, "the build stage installs with uv sync"
    assert all("--locked" in r for r in syncs)
    assert not [r for r in runs if "pip install" in r and "uv==" not in r]
    assert runtime.args_of("COPY") == ["--from=build /opt/mlmeta /opt/mlmeta"]


def test_the_final_image_has_no_compiler_and_runs_unprivileged() -> None:
    runtime = _stages(ROOT / "Dockerfile")[-1]
    assert runtime.base.endswith("-slim")
    for command in runtime.args_of("RUN"):
        assert not re.search(r"\b(apt-get|apk|gcc|build-essential|uv|pip)\b", command), command
    (user,) = runtime.args_of("USER")
    assert user.split(":")[0] not in ("root", "0")
    (healthcheck,) = runtime.args_of("HEALTHCHECK")
    assert "/healthz" in healthcheck


@pytest.mark.slow
def test_the_images_install_commands_give_a_working_runtime_set(tmp_path: Path) -> None:
    """Replays the build stage's `uv sync` lines on a copy of the project (uv's cache
    is shared, so nothing is downloaded twice), with this Python instead of the image's."""
    build = _stages(ROOT / "Dockerfile")[0]
    env = {**os.environ}
    for args in build.args_of("ENV"):
        for assignment in shlex.split(args):
            key, _, value = assignment.partition("=")
            env[key] = value
    venv = tmp_path / "opt-mlmeta"
    env.update(UV_PROJECT_ENVIRONMENT=str(venv), UV_NO_CACHE="0")
    env.pop("VIRTUAL_ENV", None)
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in ("gateway", "resolvers", "sources"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    for command in build.args_of("RUN"):
        if not command.startswith("uv sync"):
            continue
        argv = shlex.split(command.replace("/usr/local/bin/python3.11", sys.executable))
        done = subprocess.run(
            [*UV, *argv[1:]], cwd=src, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr

    version = subprocess.run(
        [str(venv / "bin" / "mlmeta"), "version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("mlmeta ")
    installed = subprocess.run(
        [*UV, "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert {"strawberry-graphql", "uvicorn", "aiobotocore"} <= names
    # The runtime set only: no demo AWS fake, no test or lint tools.
    assert not names & {"moto", "pytest", "mypy", "ruff", "uv"}
    assert f"strawberry-graphql=={_locked_version('strawberry-graphql')}" in installed


# --- ./run ----------------------------------------------------------------------------------


def _run(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    return subprocess.run(
        ["bash", str(checkout / "run"), *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_run_installs_once_and_then_starts_without_reinstalling(tmp_path: Path) -> None:
    """A second start with nothing changed touches nothing in .venv, and the dev tools
    of an earlier `./run test` survive a plain `./run`."""
    checkout = tmp_path / "clone"
    checkout.mkdir()
    for name in ("run", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, checkout / name)
    for package in ("gateway", "resolvers", "sources"):
        shutil.copytree(
            ROOT / package, checkout / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    # The uv that ./run would install from PyPI; uv's own cache serves the packages.
    (checkout / ".tools").symlink_to(ROOT / ".tools")

    first = _run(checkout, "version")
    assert first.returncode == 0, first.stderr
    venv = checkout / ".venv"
    marks = {
        p: p.stat().st_mtime_ns
        for p in (venv / "pyvenv.cfg", next(venv.glob("lib/python3.*/site-packages/strawberry")))
    }

    second = _run(checkout, "version")

    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("mlmeta ")
    assert {p: p.stat().st_mtime_ns for p in marks} == marks, "the second start reinstalled"
    assert second.stderr.strip() == ""


def test_a_stale_lock_stops_run_with_the_command_that_fixes_it() -> None:
    run = (ROOT / "run").read_text()
    assert "uv.lock does not match pyproject.toml" in run
    assert "Run ./run lock" in run
