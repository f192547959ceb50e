"""Lineage digests and OpenLineage exports: the same graph always gives the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sources.lineage.digest import canonical_form, digest
from sources.lineage.export import RUN_ID_NAMESPACE, ExecutionMeta, run_id, to_openlineage
from sources.lineage.model import DatasetRow, Direction, EdgeInput, Graph
from sources.lineage.openlineage import EventType, parse_run_event
from sources.metadb import MetaDB
from sources.metadb.lineage import LineageStore
from sources.metadb.models import ExecutionStatus, LineageEdgeKind

ROOT = Path(__file__).resolve().parents[2]
# Executed here and in a subprocess: both must build the very same graph.
GRAPH_CODE = """
from datetime import UTC, datetime, timedelta, timezone
from sources.lineage.model import Edge, Graph
from sources.metadb.models import LineageEdgeKind as K

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
RUN = "PipelineExecution:arn:aws:states:eu-west-1:123456789012:execution:train:r1"
MODEL = "ModelVersion:arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn/1"
RAW = "Dataset:s3://bucket/données/raw@v1"
GRAPH = Graph(
    root=RAW,
    nodes=[RAW, RUN, MODEL],
    edges=[
        Edge(RAW, RUN, K.CONSUMED, T0, None, "api"),
        Edge(RUN, MODEL, K.PRODUCED, T0.astimezone(timezone(timedelta(hours=2))), None, "api"),
    ],
    truncated=False,
    as_of=T0 + timedelta(days=1),
)
"""
scope: dict[str, object] = {}
exec(GRAPH_CODE, scope)  # noqa: S102
GRAPH: Graph = scope["GRAPH"]  # type: ignore[assignment]
RUN, MODEL, RAW = scope["RUN"], scope["MODEL"], scope["RAW"]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------- digest ---


def test_canonical_form_is_the_documented_json() -> None:
    assert canonical_form(GRAPH).decode("utf-8") == (
        '{"asOf":"2026-03-02T12:00:00.123Z",'
        '"edges":[["Dataset:s3://bucket/données/raw@v1",'
        '"PipelineExecution:arn:aws:states:eu-west-1:123456789012:execution:train:r1",'
        '"CONSUMED","2026-03-01T12:00:00.123Z",null],'
        '["PipelineExecution:arn:aws:states:eu-west-1:123456789012:execution:train:r1",'
        '"ModelVersion:arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn/1",'
        '"PRODUCED","2026-03-01T12:00:00.123Z",null]],'
        '"nodes":["Dataset:s3://bucket/données/raw@v1",'
        '"ModelVersion:arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn/1",'
        '"PipelineExecution:arn:aws:states:eu-west-1:123456789012:execution:train:r1"],'
        '"root":"Dataset:s3://bucket/données/raw@v1"}'
    )


def test_digest_is_the_same_whatever_the_order_of_nodes_and_edges() -> None:
    shuffled = replace(GRAPH, nodes=GRAPH.nodes[::-1], edges=GRAPH.edges[::-1])

    assert digest(shuffled) == digest(GRAPH)


def test_digest_is_the_same_in_another_process() -> None:
    script = GRAPH_CODE + "\nfrom sources.lineage.digest import digest\nprint(digest(GRAPH))\n"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )

    assert result.stdout.strip() == digest(GRAPH)


def test_digest_ignores_truncated_and_edge_origins() -> None:
    other = replace(
        GRAPH, truncated=True, edges=[replace(e, origin="openlineage") for e in GRAPH.edges]
    )

    assert digest(other) == digest(GRAPH)


def test_digest_changes_when_an_edge_changes() -> None:
    first, second = GRAPH.edges
    variants = [
        replace(GRAPH, edges=[first]),
        replace(GRAPH, edges=[first, replace(second, kind=LineageEdgeKind.DERIVED_FROM)]),
        replace(GRAPH, edges=[first, replace(second, recorded_at=T0 + timedelta(seconds=1))]),
        replace(GRAPH, edges=[first, replace(second, retired_at=T0 + timedelta(days=2))]),
    ]

    digests = {digest(v) for v in variants}

    assert len(digests) == len(variants)
    assert digest(GRAPH) not in digests


async def test_digest_of_a_past_walk_survives_a_later_retirement(metadb: MetaDB) -> None:
    store = LineageStore(metadb)
    edge = EdgeInput("Dataset:s3://b/a", "Dataset:s3://b/b", LineageEdgeKind.DERIVED_FROM)
    await store.record([edge], origin="api", at=T0)
    as_of = T0 + timedelta(hours=1)
    before = await store.walk(
        "Dataset:s3://b/a", direction=Direction.DOWNSTREAM, depth=2, as_of=as_of
    )

    await store.retire([edge], at=T0 + timedelta(hours=2))
    after = await store.walk(
        "Dataset:s3://b/a", direction=Direction.DOWNSTREAM, depth=2, as_of=as_of
    )

    assert digest(after) == digest(before)


# ---------------------------------------------------------------- export ---

EXECUTION_ID = RUN.removeprefix("PipelineExecution:")  # type: ignore[attr-defined]
META = {
    EXECUTION_ID: ExecutionMeta(
        pipeline_name="train",
        status=ExecutionStatus.SUCCEEDED,
        started_at=T0,
        stopped_at=T0 + timedelta(minutes=5),
    )
}
DATASETS = {
    "s3://bucket/données/raw@v1": DatasetRow(
        "s3://bucket/données/raw@v1", "s3://bucket/données/raw", "v1", "raw", None, T0
    )
}


def test_export_run_id_is_a_uuid5_of_the_execution_id() -> None:
    [event] = to_openlineage(GRAPH, executions=META)

    assert event["run"]["runId"] == str(uuid.uuid5(RUN_ID_NAMESPACE, EXECUTION_ID))
    assert run_id(EXECUTION_ID) == event["run"]["runId"]


def test_re_exports_are_identical_whatever_the_graph_order() -> None:
    shuffled = replace(GRAPH, nodes=GRAPH.nodes[::-1], edges=GRAPH.edges[::-1])

    assert to_openlineage(shuffled, executions=META, datasets=DATASETS) == to_openlineage(
        GRAPH, executions=META, datasets=DATASETS
    )


def test_export_describes_the_run_its_inputs_and_its_model_output() -> None:
    [event] = to_openlineage(GRAPH, executions=META, datasets=DATASETS)

    assert (event["eventType"], event["eventTime"]) == ("COMPLETE", "2026-03-01T12:05:00.000000Z")
    assert event["job"] == {"namespace": "mlmeta", "name": "train"}
    [dataset] = event["inputs"]
    assert (dataset["namespace"], dataset["name"]) == ("s3://bucket", "données/raw")
    assert dataset["facets"]["version"]["datasetVersion"] == "v1"
    [model] = event["outputs"]
    assert model["name"] == MODEL.removeprefix("ModelVersion:")  # type: ignore[attr-defined]
    assert model["facets"]["datasetType"]["datasetType"] == "MODEL"


def test_exported_events_pass_the_strict_run_event_parser() -> None:
    [event] = to_openlineage(GRAPH, executions=META, datasets=DATASETS)

    parsed = parse_run_event(event)

    assert parsed.event_type is EventType.COMPLETE
    assert parsed.event_time == T0 + timedelta(minutes=5)


def test_export_skips_an_execution_without_metadata() -> None:
    assert to_openlineage(GRAPH, executions={}) == []
