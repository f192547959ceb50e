"""`mlmeta documents`: register a plugin's documents into the metadb, list them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gateway.cli import main

VIEWER = "query Viewer { viewer { kind } }\n"
SOURCES = "query Sources { sources { name healthy } }"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db' / 'mlmeta.db'}"
    monkeypatch.setenv("MLMETA_DATABASE_URL", url)
    return url


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def test_register_graphql_files_and_a_manifest_then_list(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    viewer = tmp_path / "viewer.graphql"
    viewer.write_text(VIEWER)
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps({sha(SOURCES): SOURCES}))
    # README: mlmeta documents register plugin/src/queries/*.graphql persisted-documents.json
    assert main(["documents", "register", str(viewer), str(manifest)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"{sha(VIEWER)}  {viewer}",
        f"{sha(SOURCES)}  {manifest}#{sha(SOURCES)[:12]}",
    ]
    # README: mlmeta documents list
    assert main(["documents", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{sha(VIEWER)}  cli" in listed
    assert "query Viewer" in listed
    assert "query Sources" in listed


def test_an_apollo_manifest_is_accepted(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "persisted-query-manifest.json"
    operations = [{"id": sha(SOURCES), "name": "Sources", "type": "query", "body": SOURCES}]
    manifest.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    assert main(["documents", "register", str(manifest)]) == 0
    assert capsys.readouterr().out.startswith(sha(SOURCES))


def test_nothing_is_registered_when_a_document_does_not_validate(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "good.graphql", tmp_path / "bad.graphql"
    good.write_text(VIEWER)
    bad.write_text("query Bad { nope }")
    assert main(["documents", "register", str(good), str(bad)]) == 1
    assert "bad.graphql: Cannot query field 'nope'" in capsys.readouterr().err
    assert main(["documents", "list"]) == 0
    assert capsys.readouterr().out == ""


def test_a_manifest_keyed_by_another_hash_is_refused(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps({"sha1-or-anything": SOURCES}))
    assert main(["documents", "register", str(manifest)]) == 2
    assert "not the sha256" in capsys.readouterr().err
