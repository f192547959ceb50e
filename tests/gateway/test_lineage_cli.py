"""`mlmeta lineage export | verify` against a real gateway served over HTTP on the demo data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.app import create_app
from gateway.cli import main
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.catalog_files import write_catalog
from gateway.lineage_bundle import CliError
from gateway.lineage_cli import as_of_instant
from resolvers.ids import encode_id
from tests.conftest import SERVICE_TOKEN, WRITER_TOKEN, gql
from tests.support.fault_proxy import AWS_ROUTES, Fault, FaultProxy
from tests.support.http_server import serve_app

WRITER = {"Authorization": f"Bearer {WRITER_TOKEN}"}
RECORD = """mutation ($edges: [LineageEdgeInput!]!) { recordLineage(edges: $edges) }"""
CARD = """mutation ($id: ID!) { upsertModelCard(input: {modelVersionId: $id,
  overview: "Predicts churn for the retention team.", status: PENDING_REVIEW}) { revision } }"""
VERSION = """query { modelVersion(model: "churn-model", version: "3") {
  id arn deployments { id } } }"""


@dataclass(frozen=True)
class Demo:
    url: str
    version: str
    arn: str
    deployment: str
    as_of: str


@pytest.fixture
def demo(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Iterator[Demo]:
    """The demo gateway on a real port, with churn v3 deployed, two datasets and a card."""
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    with (
        serve_app(create_app(settings.replace(catalog_folder=str(folder)))) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        found = gql(client, VERSION)["data"]["modelVersion"]  # type: ignore[arg-type]
        deployment = found["deployments"][0]["id"]
        raw, clean = (encode_id("Dataset", f"s3://mlmeta-audit/{n}") for n in ("raw", "clean"))
        edges = [
            {"from": found["id"], "to": deployment, "kind": "DEPLOYED"},
            {"from": raw, "to": clean, "kind": "DERIVED_FROM"},
        ]
        gql(client, RECORD, {"edges": edges}, WRITER)  # type: ignore[arg-type]
        gql(client, CARD, {"id": found["id"]}, WRITER)  # type: ignore[arg-type]
        as_of = datetime.now(UTC).isoformat()
        yield Demo(url, found["id"], found["arn"], deployment, as_of)


def export(demo: Demo, out: Path, *extra: str, token: str = SERVICE_TOKEN, of: str = "") -> int:
    return main(
        [
            "lineage",
            "export",
            "--of",
            of or demo.deployment,
            "--direction",
            "UPSTREAM",
            "--depth",
            "10",
            "--as-of",
            demo.as_of,
            "--url",
            demo.url,
            "--token",
            token,
            "--output",
            str(out),
            *(extra or ("--format", "json")),
        ]
    )


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """exportedAt is the only volatile field; SOURCE_DATE_EPOCH pins it."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


def test_an_exported_bundle_verifies(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle.json"
    assert export(demo, out) == 0
    bundle = json.loads(out.read_text())
    assert bundle["format"] == "mlmeta-lineage-bundle/1"
    graph = bundle["graph"]
    version_key = "ModelVersion:" + demo.arn
    assert graph["root"].startswith("Deployment:arn:aws:sagemaker:")
    assert {"from": version_key, "to": graph["root"], "kind": "DEPLOYED"}.items() <= next(
        e for e in graph["edges"] if e["kind"] == "DEPLOYED"
    ).items()
    # The approved SageMaker card, not the newer mlmeta card still pending review.
    assert [c["key"] for c in bundle["cards"]] == [f"ModelCard:{demo.arn}@sagemaker/2"]
    assert bundle["cards"][0]["status"] == "APPROVED"
    assert bundle["cards"][0]["markdown"].startswith("# ")
    assert [a["key"] for a in bundle["approvals"]] == [version_key]
    capsys.readouterr()
    assert main(["lineage", "verify", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"OK {bundle['digest']}"


def test_a_tampered_edge_fails_verification(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle.json"
    assert export(demo, out) == 0
    bundle = json.loads(out.read_text())
    bundle["graph"]["edges"][0]["recordedAt"] = "2020-01-01T00:00:00+00:00"
    out.write_text(json.dumps(bundle))
    capsys.readouterr()
    assert main(["lineage", "verify", str(out)]) == 1
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"MISMATCH expected {bundle['digest']} got ")
    assert len(line.split()[-1]) == 64


def test_the_same_export_twice_is_byte_identical(
    demo: Demo, tmp_path: Path, pinned_clock: None
) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert export(demo, first) == 0
    assert export(demo, second) == 0
    assert first.read_bytes() == second.read_bytes()


def test_a_model_package_arn_selects_the_same_node_as_its_id(
    demo: Demo, tmp_path: Path, pinned_clock: None
) -> None:
    by_id, by_arn = tmp_path / "id.json", tmp_path / "arn.json"
    assert export(demo, by_id, of=demo.version) == 0
    assert export(demo, by_arn, of=demo.arn) == 0
    assert by_arn.read_bytes() == by_id.read_bytes()


def test_openlineage_format_is_one_event_per_line(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    assert export(demo, out, "--format", "openlineage") == 0
    lines = out.read_text().splitlines()
    assert lines
    for line in lines:
        assert json.loads(line)["schemaURL"].endswith("#/$defs/RunEvent")


def test_dot_format_labels_edges_with_their_kind(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "lineage.dot"
    assert export(demo, out, "--format", "dot") == 0
    dot = out.read_text()
    assert dot.startswith("digraph lineage {")
    assert '[label="DEPLOYED"]' in dot
    assert '[label="DESCRIBES"]' in dot


def test_dot_shows_a_dataset_derivation(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "data.dot"
    raw = "s3://mlmeta-audit/raw"
    assert export(demo, out, "--format", "dot", "--direction", "DOWNSTREAM", of=raw) == 0
    dot = out.read_text()
    assert f'"Dataset:{raw}" -> "Dataset:s3://mlmeta-audit/clean" [label="DERIVED_FROM"]' in dot


def test_a_bad_token_is_one_line_and_exit_1(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle.json"
    assert export(demo, out, token="not-a-real-token") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "HTTP 401" in err
    assert not out.exists()


def test_an_unreachable_gateway_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = Demo(
        "http://127.0.0.1:9", "", "", encode_id("Dataset", "s3://x/y"), "2026-01-01T00:00:00Z"
    )
    assert export(gone, tmp_path / "b.json") == 1
    err = capsys.readouterr().err
    assert err.startswith("mlmeta: cannot reach the gateway at http://127.0.0.1:9")
    assert err.count("\n") == 1


async def lying_graphql(request: Request) -> JSONResponse:
    """A gateway whose digest does not match the graph it sends."""
    a, b = (encode_id("Dataset", f"s3://lie/{n}") for n in "ab")
    edge = {"from": a, "to": b, "kind": "DERIVED_FROM", "retiredAt": None, "origin": "api"}
    lineage = {
        "asOf": "2026-01-01T00:00:00+00:00",
        "truncated": False,
        "digest": "0" * 64,
        "nodeIds": [a, b],
        "edges": [{**edge, "recordedAt": "2025-12-31T00:00:00+00:00"}],
        "nodes": [],
        "openLineage": [],
    }
    return JSONResponse({"data": {"lineage": lineage}})


def test_a_graph_missing_what_aws_implies_is_not_exported(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # SageMaker fails, so the edges its registry implies cannot be derived: the graph
    # answers what is recorded, with the error, and no digest may vouch for it.
    moto = urlsplit(settings.aws_endpoint_url)
    assert moto.hostname is not None
    assert moto.port is not None
    raw, clean = (encode_id("Dataset", f"s3://mlmeta-audit/{n}") for n in ("raw", "clean"))
    out = tmp_path / "bundle.json"
    with (
        FaultProxy((moto.hostname, moto.port), routes=AWS_ROUTES) as aws,
        serve_app(create_app(settings.replace(aws_endpoint_url=aws.url))) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        edge = {"from": raw, "to": clean, "kind": "DERIVED_FROM"}
        gql(client, RECORD, {"edges": [edge]}, WRITER)  # type: ignore[arg-type]
        aws.fail(Fault.HTTP_500, "sagemaker")
        status = export(Demo(url, "", "", clean, datetime.now(UTC).isoformat()), out)

    assert status == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "the gateway answered with errors: sagemaker" in err
    assert "(UPSTREAM_UNAVAILABLE)" in err
    assert not out.exists()


def test_a_digest_that_does_not_match_the_graph_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.json"
    liar = Starlette(routes=[Route("/graphql", lying_graphql, methods=["POST"])])
    with serve_app(liar) as url:
        assert export(Demo(url, "", "", "s3://lie/a", "2026-01-01T00:00:00Z"), out) == 1
    assert "digest mismatch" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("as_of", ["yesterday", "2026-01-01T00:00:00"])
def test_a_bad_as_of_is_refused_before_asking(
    as_of: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = Demo("http://127.0.0.1:9", "", "", "s3://x/y", as_of)
    assert export(gone, tmp_path / "b.json") == 1
    assert "--as-of" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("as_of", "instant"),
    [
        ("2026-11-20Z", "2026-11-20T00:00:00.000Z"),
        ("2026-11-20", "2026-11-20T00:00:00.000Z"),
        ("2026-11-20T12:00:00Z", "2026-11-20T12:00:00.000Z"),
        ("2026-11-20T14:00:00+02:00", "2026-11-20T12:00:00.000Z"),
    ],
)
def test_as_of_takes_a_date_with_or_without_z_or_an_instant(as_of: str, instant: str) -> None:
    assert as_of_instant(as_of) == instant


def test_the_offset_hint_for_a_naive_instant_is_itself_accepted() -> None:
    with pytest.raises(CliError) as refused:
        as_of_instant("2026-11-20T12:00:00")
    hint = str(refused.value).rpartition("e.g. ")[2]
    assert as_of_instant(hint) == "2026-11-20T12:00:00.000Z"


def test_an_export_as_of_a_date_asks_for_midnight_utc(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    day = demo.as_of[:10]
    assert export(replace(demo, as_of=day + "Z"), out) == 0
    assert json.loads(out.read_text())["query"]["asOf"] == f"{day}T00:00:00.000Z"


def test_exporting_a_node_mlmeta_has_never_seen_fails_and_writes_nothing(
    demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle.json"
    nope = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/nope"
    assert export(demo, out, of=nope) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "(NotFoundError)" in err
    assert f"Deployment:{nope}" in err
    assert not out.exists()


def test_verify_refuses_a_file_that_is_not_a_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"hello": "world"}')
    assert main(["lineage", "verify", str(path)]) == 2
    assert "not a lineage bundle" in capsys.readouterr().err
