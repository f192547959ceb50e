"""Every benchmark command README shows names a real module and only flags it accepts.

The benchmarks themselves run for minutes (they live in bench/, not in the
suite); what can rot cheaply is the command: a module renamed, a flag dropped.
Each command is checked against the module's own ``--help``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
# Commands inside backticks or code blocks; a trailing backslash continues the line.
COMMAND = re.compile(r"python -m (bench\.[a-z_]+)((?:[^`\n\\]|\\\n)*)")


def commands() -> list[tuple[str, list[str]]]:
    found = []
    for match in COMMAND.finditer(README):
        arguments = match.group(2).replace("\\\n", " ")
        flags = re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", arguments)
        found.append((match.group(1), flags))
    return found


# One interpreter for every module: they share their imports (the gateway's), which
# is most of the time a --help takes.
_HELP_ALL = """
import contextlib, io, json, runpy, sys
texts = {}
for module in sys.argv[1:]:
    sys.argv = [module, "--help"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            texts[module] = out.getvalue() if exc.code in (0, None) else None
print(json.dumps(texts))
"""


@cache
def help_texts() -> dict[str, str | None]:
    modules = sorted({module for module, _ in commands()})
    done = subprocess.run(
        [sys.executable, "-c", _HELP_ALL, *modules],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    texts: dict[str, str | None] = json.loads(done.stdout.splitlines()[-1])
    return texts


def help_text(module: str) -> str:
    text = help_texts().get(module)
    assert text, f"python -m {module} --help did not print its usage"
    return text


def test_readme_shows_benchmark_commands() -> None:
    assert len(commands()) >= 5


@pytest.mark.parametrize(("module", "flags"), commands(), ids=lambda v: str(v))
def test_a_benchmark_command_in_readme_runs_as_written(module: str, flags: list[str]) -> None:
    accepted = help_text(module)
    for flag in flags:
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", accepted), (
            f"README runs `python -m {module} {flag}`, which --help does not list"
        )
