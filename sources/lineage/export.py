"""A lineage graph as OpenLineage RunEvents (spec 2-0-2), for Marquez and friends.

One event per ``PipelineExecution`` node, describing the run's latest state:
its inputs are the datasets with a CONSUMED edge into it, its outputs the
PRODUCED targets (a model version becomes a dataset with the ``datasetType``
facet ``MODEL``). Everything is derived from the graph and the metadata given,
never from the clock, so exporting the same graph twice gives identical
events: ``runId`` is ``uuid5(RUN_ID_NAMESPACE, execution id)`` and
``eventTime`` the run's stop (else start) time. An execution node without
metadata in ``executions`` is skipped: without a time there is no valid event.

Dataset names are split back into OpenLineage's (namespace, name): after the
authority of a URI with a scheme (``s3://bucket/a/b`` -> ``s3://bucket``,
``a/b``), else at the first ``/``, as ``LineageIngestor`` joined them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sources.lineage.model import DatasetRow, Graph, NodeType, split_key
from sources.metadb.models import ExecutionStatus, LineageEdgeKind

RUN_ID_NAMESPACE = uuid.UUID("bf1abb82-22e1-4318-8e97-b87b71ead4d2")
"""Fixed for good: changing it changes every exported runId."""
PRODUCER = "https://github.com/mlmeta/mlmeta"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
JOB_NAMESPACE = "mlmeta"
MODEL_NAMESPACE = "sagemaker"
_FACETS = "https://openlineage.io/spec/facets"
VERSION_FACET = f"{_FACETS}/1-0-0/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
TYPE_FACET = f"{_FACETS}/1-0-1/DatasetTypeDatasetFacet.json#/$defs/DatasetTypeDatasetFacet"
EVENT_TYPES = {
    ExecutionStatus.PENDING: "OTHER",
    ExecutionStatus.RUNNING: "RUNNING",
    ExecutionStatus.SUCCEEDED: "COMPLETE",
    ExecutionStatus.FAILED: "FAIL",
    ExecutionStatus.TIMED_OUT: "FAIL",
    ExecutionStatus.ABORTED: "ABORT",
}


@dataclass(frozen=True)
class ExecutionMeta:
    """What an exported event says of a run besides its lineage."""

    pipeline_name: str
    status: ExecutionStatus
    started_at: datetime
    stopped_at: datetime | None = None


def run_id(execution_id: str) -> str:
    """The OpenLineage runId of an execution: stable across exports and processes."""
    return str(uuid.uuid5(RUN_ID_NAMESPACE, execution_id))


def to_openlineage(
    graph: Graph,
    *,
    executions: Mapping[str, ExecutionMeta],
    datasets: Mapping[str, DatasetRow] | None = None,
) -> list[dict[str, Any]]:
    """One RunEvent per execution node of ``graph``, ordered by execution id.

    ``executions`` and ``datasets`` are keyed by natural key (the execution
    id, the dataset id). A dataset found in ``datasets`` is exported with its
    exact uri and a ``version`` facet; otherwise its id is taken as the uri.
    """
    inputs: dict[str, list[str]] = {}
    outputs: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.kind == LineageEdgeKind.CONSUMED:
            inputs.setdefault(edge.to_key, []).append(edge.from_key)
        elif edge.kind == LineageEdgeKind.PRODUCED:
            outputs.setdefault(edge.from_key, []).append(edge.to_key)
    runs = sorted(
        (natural, key)
        for key in set(graph.nodes)
        for node_type, natural in [split_key(key)]
        if node_type is NodeType.PIPELINE_EXECUTION
    )
    events = []
    for execution_id, key in runs:
        meta = executions.get(execution_id)
        if meta is None:
            continue
        events.append(
            {
                "eventType": EVENT_TYPES[meta.status],
                "eventTime": _instant(meta.stopped_at or meta.started_at),
                "producer": PRODUCER,
                "schemaURL": SCHEMA_URL,
                "run": {"runId": run_id(execution_id)},
                "job": {"namespace": JOB_NAMESPACE, "name": meta.pipeline_name},
                "inputs": [_dataset(k, datasets or {}) for k in sorted(set(inputs.get(key, [])))],
                "outputs": [_dataset(k, datasets or {}) for k in sorted(set(outputs.get(key, [])))],
            }
        )
    return events


def _dataset(key: str, datasets: Mapping[str, DatasetRow]) -> dict[str, Any]:
    node_type, natural = split_key(key)
    if node_type is NodeType.MODEL_VERSION:
        facet = {"_producer": PRODUCER, "_schemaURL": TYPE_FACET, "datasetType": "MODEL"}
        return {"namespace": MODEL_NAMESPACE, "name": natural, "facets": {"datasetType": facet}}
    row = datasets.get(natural)
    namespace, name = _split_uri(row.uri if row is not None else natural)
    dataset: dict[str, Any] = {"namespace": namespace, "name": name}
    if row is not None and row.version is not None:
        version = {"_producer": PRODUCER, "_schemaURL": VERSION_FACET}
        dataset["facets"] = {"version": {**version, "datasetVersion": row.version}}
    return dataset


def _split_uri(uri: str) -> tuple[str, str]:
    """(namespace, name): ``s3://bucket/a/b`` -> (``s3://bucket``, ``a/b``); ``ns/a`` -> (ns, a)."""
    scheme, sep, rest = uri.partition("://")
    if sep:
        authority, _, name = rest.partition("/")
        return f"{scheme}://{authority}", name or "/"
    namespace, sep, name = uri.partition("/")
    return (namespace, name) if sep and namespace and name else (JOB_NAMESPACE, uri)


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
