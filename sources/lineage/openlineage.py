"""OpenLineage ingestion: a RunEvent becomes an EXTERNAL run, datasets and lineage edges.

``parse_run_event`` (from ``runevent``) checks the body; ``LineageIngestor.
ingest`` stores it in ONE transaction, so any failure stores nothing:

- the pipeline ``external:<job namespace>/<job name>`` and its execution
  ``external:<job namespace>/<job name>:<runId>`` (runId is a UUID, so the
  execution id splits unambiguously at its last ``:`` even when the namespace
  holds colons);
- the run's state, merged so that late, repeated or out-of-order events do
  no harm: ``started_at`` is the earliest eventTime seen; the first terminal
  event (COMPLETE -> SUCCEEDED, FAIL -> FAILED with the ``errorMessage``
  facet as error/cause, ABORT -> ABORTED) sets the status and ``stopped_at``
  for good; START and RUNNING make an unfinished run RUNNING; OTHER keeps the
  status (a run first seen through OTHER is RUNNING). The ``parent`` run
  facet is kept in the run's parameters (``openlineage.parent.*``), merged
  over the stored ones, and is not turned into an edge;
- each input and output dataset: uri ``<namespace>/<name>`` joined by one
  ``/`` (``s3://bucket`` + ``a/b`` -> ``s3://bucket/a/b``), version from
  the ``version`` facet's ``datasetVersion`` (or a ``datasetVersion`` facet);
  an output named by a SageMaker model package ARN is the ``ModelVersion:``
  node of that ARN instead;
- the edges Dataset -CONSUMED-> run and run -PRODUCED-> output, origin
  ``openlineage``.

Posting the same event again stores nothing new (the run is written only when
its merged state differs from the stored one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from sources.errors import InputError
from sources.lineage.model import EdgeInput, NodeType, check_edge, dataset_key, node_key
from sources.lineage.runevent import (
    UUID_PATTERN,
    DatasetRef,
    EventType,
    RunEvent,
    facet_string,
    parse_run_event,
)
from sources.metadb.datasets import DatasetItem
from sources.metadb.db import MetaDB
from sources.metadb.lineage import LineageStore
from sources.metadb.models import (
    Execution,
    ExecutionStatus,
    LineageEdgeKind,
    MetaDBModel,
    utcnow,
)
from sources.metadb.pipelines import PipelineStore
from sources.pipelines.model import FINISHED, external_execution_id, external_pipeline_id

__all__ = [
    "DatasetRef",
    "EventType",
    "IngestResult",
    "LineageIngestor",
    "RunEvent",
    "parse_run_event",
]

SOURCE = "openlineage"
ORIGIN = "openlineage"
MAX_ERROR_LENGTH = 1_000
MAX_CAUSE_LENGTH = 32_768
MODEL_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/\S+$")
_TERMINAL = {
    EventType.COMPLETE: ExecutionStatus.SUCCEEDED,
    EventType.FAIL: ExecutionStatus.FAILED,
    EventType.ABORT: ExecutionStatus.ABORTED,
}


@dataclass(frozen=True)
class IngestResult:
    """What an event left stored: the run's state and the nodes it touched."""

    execution_id: str
    status: ExecutionStatus
    started_at: datetime
    stopped_at: datetime | None
    inputs: list[str]
    """Node keys of the inputs, in event order."""
    outputs: list[str]
    edges_recorded: int
    """Edges new with this event (0 when they were all live already)."""
    run_changed: bool
    """Whether the stored run was created or changed by this event."""


@dataclass(frozen=True)
class _RunState:
    status: ExecutionStatus
    started_at: datetime
    stopped_at: datetime | None
    error: str | None
    cause: str | None
    parameters: dict[str, Any]


class LineageIngestor:
    """Stores OpenLineage RunEvents in the metadb, each in one transaction."""

    name = SOURCE

    def __init__(self, metadb: MetaDB) -> None:
        self._metadb = metadb
        self._lineage = LineageStore(metadb)
        self._pipelines = PipelineStore(metadb)

    async def ingest(self, event: RunEvent) -> IngestResult:
        """Store ``event`` (see the module docstring); nothing is stored if any part fails.

        Raises ``InputError`` for an event that cannot be stored as given and
        ``ConflictError`` when its ids collide with other stored things.
        """
        pipeline_name = f"{event.job_namespace}/{event.job_name}"
        execution_id = external_execution_id(pipeline_name, event.run_id)
        run_key = node_key(NodeType.PIPELINE_EXECUTION, execution_id)
        parameters = _parent_parameters(event.run_facets)
        error, cause = _error(event)
        inputs = [_node(ref, f"inputs[{i}]", False) for i, ref in enumerate(event.inputs)]
        outputs = [_node(ref, f"outputs[{i}]", True) for i, ref in enumerate(event.outputs)]
        in_keys, out_keys = [k for k, _ in inputs], [k for k, _ in outputs]
        edges = [EdgeInput(k, run_key, LineageEdgeKind.CONSUMED) for k in in_keys]
        edges += [EdgeInput(run_key, k, LineageEdgeKind.PRODUCED) for k in out_keys]
        for edge in edges:  # every key checked before the transaction starts
            check_edge(edge)
        datasets = [d for _, d in inputs + outputs if d is not None]

        async with self._metadb.session() as session, session.begin():
            # Locks the pipeline's row on PostgreSQL (a no-op update), which serializes
            # the events of one job: two events of a run cannot both read it as absent.
            await self._pipelines.upsert_external_pipeline_in(session, pipeline_name, None)
            stored = await _stored_run(session, execution_id)
            state = _merged(stored, event, parameters, error, cause)
            if state != stored:
                await self._write_run(session, execution_id, pipeline_name, event.run_id, state)
            await self._lineage.upsert_datasets_in(session, datasets)
            # An edge holds from when the event says it happened (as AWS-derived edges
            # hold from their fact's start), so asOf reads a late-reported run right;
            # never later than now, so a producer's fast clock cannot hide it.
            since = min(event.event_time, utcnow())
            recorded = await self._lineage.record_in(session, edges, origin=ORIGIN, at=since)
        return IngestResult(
            execution_id=execution_id,
            status=state.status,
            started_at=state.started_at,
            stopped_at=state.stopped_at,
            inputs=in_keys,
            outputs=out_keys,
            edges_recorded=recorded,
            run_changed=state != stored,
        )

    def _insert(self, model: type[MetaDBModel]) -> postgresql.Insert | sqlite.Insert:
        if self._metadb.engine.dialect.name == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)

    async def _write_run(
        self,
        session: AsyncSession,
        execution_id: str,
        pipeline_name: str,
        run_id: str,
        state: _RunState,
    ) -> None:
        row = {
            "id": execution_id,
            "pipeline_id": external_pipeline_id(pipeline_name),
            "name": run_id,
            "arn": None,
            "status": state.status,
            "started_at": state.started_at,
            "stopped_at": state.stopped_at,
            "error": state.error,
            "cause": state.cause,
            "parameters": state.parameters,
            "finished": state.status in FINISHED,
            "fetched_at": None,
            "updated_at": utcnow(),
        }
        insert = self._insert(Execution).values(row)
        await session.exec(
            insert.on_conflict_do_update(
                index_elements=["id"],
                set_={c.name: c for c in insert.excluded if c.name not in ("id", "fetched_at")},
            )
        )


async def _stored_run(session: AsyncSession, execution_id: str) -> _RunState | None:
    statement = sa.select(
        col(Execution.status),
        col(Execution.started_at),
        col(Execution.stopped_at),
        col(Execution.error),
        col(Execution.cause),
        col(Execution.parameters),
    ).where(col(Execution.id) == execution_id)
    row = (await (await session.connection()).execute(statement)).first()
    if row is None:
        return None
    status, started_at, stopped_at, error, cause, parameters = row
    return _RunState(status, started_at, stopped_at, error, cause, dict(parameters))


def _merged(
    stored: _RunState | None,
    event: RunEvent,
    parameters: dict[str, Any],
    error: str | None,
    cause: str | None,
) -> _RunState:
    """The run's state once ``event`` is applied to ``stored`` (see the module docstring)."""
    at = event.event_time
    terminal = _TERMINAL.get(event.event_type)
    if stored is None:
        return _RunState(
            status=terminal or ExecutionStatus.RUNNING,
            started_at=at,
            stopped_at=at if terminal else None,
            error=error if terminal else None,
            cause=cause if terminal else None,
            parameters=parameters,
        )
    merged = {**stored.parameters, **parameters}
    started_at = min(stored.started_at, at)
    if stored.status in FINISHED or (terminal is None and event.event_type is EventType.OTHER):
        return _RunState(
            stored.status, started_at, stored.stopped_at, stored.error, stored.cause, merged
        )
    if terminal is None:
        return _RunState(ExecutionStatus.RUNNING, started_at, None, None, None, merged)
    return _RunState(terminal, started_at, at, error, cause, merged)


def _parent_parameters(facets: dict[str, Any]) -> dict[str, Any]:
    """The ``parent`` run facet as flat run parameters (empty without one)."""
    if "parent" not in facets:
        return {}
    parent = facets["parent"]
    path = "run.facets.parent"
    run, job = parent.get("run"), parent.get("job")
    if not isinstance(run, dict) or not isinstance(job, dict):
        raise InputError(f"{path}: must have run and job objects", source=SOURCE)
    run_id = facet_string(parent, "run", "runId", path)
    namespace = facet_string(parent, "job", "namespace", path)
    name = facet_string(parent, "job", "name", path)
    if run_id is None or namespace is None or name is None:
        raise InputError(f"{path}: needs run.runId, job.namespace and job.name", source=SOURCE)
    if not UUID_PATTERN.match(run_id):
        raise InputError(f"{path}.run.runId: not a UUID", source=SOURCE)
    return {
        "openlineage.parent.job": f"{namespace}/{name}",
        "openlineage.parent.runId": run_id.lower(),
        "openlineage.parent.execution": external_execution_id(f"{namespace}/{name}", run_id),
    }


def _error(event: RunEvent) -> tuple[str | None, str | None]:
    """(error, cause) from a FAIL event's ``errorMessage`` facet."""
    if event.event_type is not EventType.FAIL:
        return None, None
    path = "run.facets"
    message = facet_string(event.run_facets, "errorMessage", "message", path)
    trace = facet_string(event.run_facets, "errorMessage", "stackTrace", path)
    return (
        message[:MAX_ERROR_LENGTH] if message else None,
        trace[:MAX_CAUSE_LENGTH] if trace else None,
    )


def _node(ref: DatasetRef, path: str, output: bool) -> tuple[str, DatasetItem | None]:
    """The node key of a dataset named in an event, and the dataset to store (if one).

    The uri joins namespace and name with exactly one ``/`` (``s3://bucket`` +
    ``a/b`` -> ``s3://bucket/a/b``). An output named by a model package ARN
    is that model version's node, with no dataset.
    """
    if output and MODEL_PACKAGE_ARN.match(ref.name):
        return node_key(NodeType.MODEL_VERSION, ref.name), None
    uri = f"{ref.namespace.rstrip('/')}/{ref.name.lstrip('/')}"
    path = f"{path}.facets"
    version = facet_string(ref.facets, "version", "datasetVersion", path)
    if version is None:
        version = facet_string(ref.facets, "datasetVersion", "datasetVersion", path)
    return node_key(NodeType.DATASET, dataset_key(uri, version)), (uri, version, ref.name)
