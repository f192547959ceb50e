"""The `mlmeta` command: every subcommand, and the demo a new user starts first."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway import __version__
from gateway.cli import main
from gateway.config import Settings
from gateway.schema import build_schema
from sources.metadb import current_revision, head_revision

COMMANDS = ["serve", "migrate", "export-schema", "seed-demo", "version"]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"mlmeta {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert f"mlmeta {command}" in capsys.readouterr().out


def test_export_schema_prints_the_sdl(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    assert main(["export-schema", "-o", str(out)]) == 0
    assert out.read_text() == str(build_schema(Settings())) + "\n"


def test_migrate_brings_the_metadb_to_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db' / 'mlmeta.db'}"
    monkeypatch.setenv("MLMETA_DATABASE_URL", url)
    assert main(["migrate"]) == 0
    assert asyncio.run(current_revision(url)) == head_revision()
    assert head_revision() in capsys.readouterr().out


def test_bad_configuration_exits_2_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLMETA_PORT", "eighty")
    assert main(["version"]) == 2
    assert "MLMETA_PORT" in capsys.readouterr().err


def test_seed_demo_refuses_anything_but_a_local_fake(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MLMETA_AWS_ENDPOINT_URL", raising=False)
    assert main(["seed-demo"]) == 2
    assert "local AWS fake" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_demo_starts_a_working_gateway(tmp_path: Path) -> None:
    """README's first command, minus the venv set-up: everything a new user sees."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLMETA_", "AWS_", "MOTO"))}
    env["MLMETA_DATA_DIR"] = str(tmp_path / "data")
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--demo",
            "--port",
            str(port),
            "--no-browser",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.5)
        graphiql = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"})
        query = """{ viewer { kind } sources { name healthy }
          entity(ref: "component:churn-training-pipeline") {
            specType owner { ref } arn: annotation(key: "mlmeta.io/step-functions-arn") } }"""
        body = httpx.post(f"{base}/graphql", json={"query": query}).json()
        second = _second_demo_on(port, tmp_path / "second", env)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        log.close()
    assert graphiql.status_code == 200
    assert "errors" not in body, body
    assert body["data"]["viewer"] == {"kind": "ANONYMOUS"}
    assert all(s["healthy"] for s in body["data"]["sources"])
    assert body["data"]["entity"]["specType"] == "ml-pipeline"
    assert body["data"]["entity"]["arn"].endswith(":stateMachine:churn-training-pipeline")
    output = (tmp_path / "serve.log").read_text()
    assert "ANONYMOUS ACCESS IS ON" in output
    assert (tmp_path / "data" / "mlmeta.db").exists()
    assert second.returncode == 1
    assert f"port {port} is in use" in second.stderr
    assert not (tmp_path / "second").exists(), "the second demo seeded before failing"


def _second_demo_on(
    port: int, data_dir: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """A second `./run` while one serves: refused before it starts or seeds anything."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--demo",
            "--port",
            str(port),
            "--no-browser",
        ],
        env={**env, "MLMETA_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
