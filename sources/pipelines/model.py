"""The pipeline domain, independent of where a run came from.

Ids are natural keys: a pipeline is its state machine / SageMaker pipeline ARN,
or ``external:<name>`` for pushed runs; an execution is its ARN, or
``external:<pipeline name>:<run id>``. GraphQL ids are derived from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sources.metadb.models import ExecutionStatus, Orchestrator

FINISHED = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMED_OUT,
        ExecutionStatus.ABORTED,
    }
)


def external_pipeline_id(name: str) -> str:
    return f"external:{name}"


def external_execution_id(pipeline_name: str, run_id: str) -> str:
    return f"external:{pipeline_name}:{run_id}"


@dataclass(frozen=True)
class GraphNode:
    name: str
    type: str
    """ASL state type (Task, Choice, Parallel, Map, ...) or SageMaker step type."""
    parent: str | None = None
    """The Parallel or Map state this one runs inside, if any."""


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str


@dataclass(frozen=True)
class PipelineGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]


@dataclass(frozen=True)
class PipelineInfo:
    id: str
    orchestrator: Orchestrator
    name: str
    arn: str | None = None
    console_url: str | None = None
    entity_ref: str | None = None


@dataclass(frozen=True)
class StepState:
    name: str
    type: str
    status: ExecutionStatus
    position: int
    """Order of first entry, for display."""
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    attempts: int = 0
    error: str | None = None
    cause: str | None = None
    resource_arn: str | None = None
    """The job the step ran: training/processing job, Lambda, Glue run..."""


@dataclass(frozen=True)
class ExecutionInfo:
    id: str
    pipeline_id: str
    name: str
    status: ExecutionStatus
    started_at: datetime
    stopped_at: datetime | None = None
    arn: str | None = None
    error: str | None = None
    cause: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    console_url: str | None = None
    detailed: bool = True
    """False for a list summary: error, cause and parameters were not fetched."""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class ExecutionPage:
    items: list[ExecutionInfo]
    next_token: str | None
    """The upstream's token for the next page; None on the last page."""
    item_cursors: list[str] | None = None
    """Where applicable, for each item a cursor resuming right after it."""
