"""SageMaker Pipelines shapes mapped to the pipeline domain: pure functions, no I/O.

Inputs are what botocore returns (timestamps already parsed to ``datetime``)
or the pipeline definition JSON (schema version 2020-12-01).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sources.errors import InputError
from sources.metadb.models import ExecutionStatus
from sources.pipelines.model import (
    FINISHED,
    ExecutionInfo,
    GraphEdge,
    GraphNode,
    PipelineGraph,
    StepState,
)

SOURCE = "sagemaker"

EXECUTION_STATUSES = {
    "Executing": ExecutionStatus.RUNNING,
    "Stopping": ExecutionStatus.RUNNING,
    "Stopped": ExecutionStatus.ABORTED,
    "Failed": ExecutionStatus.FAILED,
    # Newer API value: the run finished but some steps (e.g. ForEach items) failed.
    "CompletedWithFailures": ExecutionStatus.FAILED,
    "Succeeded": ExecutionStatus.SUCCEEDED,
}
STEP_STATUSES = {
    # A starting step already has a StartTime and a job being launched.
    "Starting": ExecutionStatus.RUNNING,
    "Executing": ExecutionStatus.RUNNING,
    "Stopping": ExecutionStatus.RUNNING,
    "Stopped": ExecutionStatus.ABORTED,
    "Failed": ExecutionStatus.FAILED,
    "Succeeded": ExecutionStatus.SUCCEEDED,
}
# Step metadata key -> the step ``Type`` a pipeline definition uses for it.
# Keys not listed here name their type themselves (Condition, Lambda, EMR, ...).
METADATA_TYPES = {
    "TrainingJob": "Training",
    "ProcessingJob": "Processing",
    "TransformJob": "Transform",
    "TuningJob": "Tuning",
    "AutoMLJob": "AutoML",
}
# Present next to a step's own metadata, never the step's kind.
AUXILIARY_METADATA = frozenset({"Lineage"})
UNKNOWN_TYPE = "Unknown"
_STEP_REFERENCE = re.compile(r"Steps\.([A-Za-z0-9_-]+)")
_TYPED_REASON = re.compile(r"([A-Za-z][\w.]*):\s+(.+)", re.DOTALL)
_EPOCH = datetime.fromtimestamp(0, UTC)


def execution_status(value: str | None) -> ExecutionStatus:
    """An unknown (future) status counts as running, so callers keep polling."""
    return EXECUTION_STATUSES.get(value or "", ExecutionStatus.RUNNING)


def utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def required_time(value: datetime | None) -> datetime:
    """SageMaker always sends start/creation times; a missing one must not fail a page."""
    return utc(value) or _EPOCH


def split_failure_reason(reason: str | None) -> tuple[str | None, str | None]:
    """(error, cause) from a FailureReason like ``"AlgorithmError: ExecuteUserScriptError..."``.

    A leading ``Name:`` becomes the error and the rest the cause, as Step
    Functions reports them; a reason without one is kept whole as the error.
    """
    if not reason:
        return None, None
    match = _TYPED_REASON.fullmatch(reason.strip())
    if match is None:
        return reason, None
    return match.group(1), match.group(2)


# ---- ARNs and console links -------------------------------------------------------------


@dataclass(frozen=True)
class PipelineArn:
    region: str
    pipeline: str
    execution_id: str | None = None


def parse_pipeline_arn(arn: str) -> PipelineArn | None:
    """``arn:aws:sagemaker:<region>:<account>:pipeline/<name>[/execution/<id>]``, else None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sagemaker":
        return None
    resource = parts[5].split("/")
    if resource[0] != "pipeline" or len(resource) < 2 or not resource[1]:
        return None
    if len(resource) == 4 and resource[2] == "execution" and resource[3]:
        return PipelineArn(parts[3], resource[1], resource[3])
    return PipelineArn(parts[3], resource[1]) if len(resource) == 2 else None


def pipeline_arn_of_execution(execution_arn: str) -> str:
    return execution_arn.split("/execution/", 1)[0]


def execution_id_of(execution_arn: str) -> str:
    return execution_arn.rsplit("/", 1)[-1]


def studio_landing_url(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/studio-landing"


def pipeline_console_url(arn: str, studio_domain_id: str | None) -> str | None:
    """The pipeline in SageMaker Studio; the console's Studio page when no domain is known.

    Pipelines are only shown inside a Studio domain, whose URL needs its id.
    """
    parsed = parse_pipeline_arn(arn)
    if parsed is None:
        return None
    if studio_domain_id is None:
        return studio_landing_url(parsed.region)
    return f"{_studio(studio_domain_id, parsed.region)}/pipelines/view/{quote(parsed.pipeline)}"


def execution_console_url(arn: str, studio_domain_id: str | None) -> str | None:
    """The execution's graph in SageMaker Studio (or the console's Studio page)."""
    parsed = parse_pipeline_arn(arn)
    if parsed is None or parsed.execution_id is None:
        return None
    if studio_domain_id is None:
        return studio_landing_url(parsed.region)
    return (
        f"{_studio(studio_domain_id, parsed.region)}/pipelines/view/{quote(parsed.pipeline)}"
        f"/executions/{quote(parsed.execution_id)}/graph"
    )


def _studio(domain_id: str, region: str) -> str:
    return f"https://studio-{domain_id}.studio.{region}.sagemaker.aws"


# ---- Executions -----------------------------------------------------------------------------


def execution_from_summary(
    summary: dict[str, Any], studio_domain_id: str | None = None
) -> ExecutionInfo:
    """A ListPipelineExecutions summary: no parameters, and its failure reason is not read."""
    arn = summary["PipelineExecutionArn"]
    return ExecutionInfo(
        id=arn,
        pipeline_id=pipeline_arn_of_execution(arn),
        name=summary.get("PipelineExecutionDisplayName") or execution_id_of(arn),
        status=execution_status(summary.get("PipelineExecutionStatus")),
        started_at=required_time(summary.get("StartTime")),
        arn=arn,
        console_url=execution_console_url(arn, studio_domain_id),
        detailed=False,
    )


def execution_from_description(
    described: dict[str, Any], parameters: dict[str, Any], studio_domain_id: str | None = None
) -> ExecutionInfo:
    """A DescribePipelineExecution answer; it has no start or end time, so creation and
    last modification stand in for them."""
    arn = described["PipelineExecutionArn"]
    status = execution_status(described.get("PipelineExecutionStatus"))
    error, cause = split_failure_reason(described.get("FailureReason"))
    return ExecutionInfo(
        id=arn,
        pipeline_id=described.get("PipelineArn") or pipeline_arn_of_execution(arn),
        name=described.get("PipelineExecutionDisplayName") or execution_id_of(arn),
        status=status,
        started_at=required_time(described.get("CreationTime")),
        stopped_at=utc(described.get("LastModifiedTime")) if status in FINISHED else None,
        arn=arn,
        error=error,
        cause=cause,
        parameters=parameters,
        console_url=execution_console_url(arn, studio_domain_id),
    )


# ---- Page tokens ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageToken:
    """Where a page of executions resumes: an upstream page and an offset into it.

    ListPipelineExecutions cannot filter by status, so a filtered page may end
    in the middle of an upstream page; the offset says how far it was read.
    ``page_size`` is the MaxResults that page was fetched with, so the same
    page comes back when it is fetched again.
    """

    upstream: str | None
    offset: int
    page_size: int

    def encode(self) -> str:
        body = json.dumps({"u": self.upstream, "o": self.offset, "n": self.page_size})
        return base64.urlsafe_b64encode(body.encode()).decode()

    @classmethod
    def decode(cls, token: str) -> PageToken:
        try:
            body = json.loads(base64.urlsafe_b64decode(token.encode()))
            upstream, offset, size = body["u"], body["o"], body["n"]
        except (binascii.Error, ValueError, TypeError, KeyError) as exc:
            raise InputError("next_token is not a token this source issued", source=SOURCE) from exc
        valid = (
            (upstream is None or isinstance(upstream, str))
            and isinstance(offset, int)
            and isinstance(size, int)
            and offset >= 0
            and 1 <= size <= 100
        )
        if not valid:
            raise InputError("next_token is not a token this source issued", source=SOURCE)
        return cls(upstream, offset, size)


# ---- The pipeline graph ---------------------------------------------------------------------


def graph_from_pipeline_definition(definition: dict[str, Any]) -> PipelineGraph:
    """Steps and their dependencies from a pipeline definition.

    A step depends on another through ``DependsOn`` or by reading one of its
    properties (``{"Get": "Steps.<name>...."}`` anywhere in the step); a
    Condition step leads to the steps of its ``IfSteps`` and ``ElseSteps``.
    """
    steps = list(_all_steps(definition.get("Steps")))
    names = {name for name, _ in steps}
    nodes: list[GraphNode] = []
    edges: dict[tuple[str, str], None] = {}  # insertion-ordered set
    seen: set[str] = set()
    for name, step in steps:
        if name in seen:
            continue
        seen.add(name)
        nodes.append(GraphNode(name=name, type=str(step.get("Type") or UNKNOWN_TYPE)))
        depends_on = step.get("DependsOn")
        upstream = (
            [d for d in depends_on if isinstance(d, str)] if isinstance(depends_on, list) else []
        )
        upstream += _references(_without_branches(step))
        for source in upstream:
            if source in names and source != name:
                edges[(source, name)] = None
        for branch in _branch_steps(step):
            edges[(name, str(branch["Name"]))] = None
    return PipelineGraph(nodes=nodes, edges=[GraphEdge(source=s, target=t) for s, t in edges])


def _all_steps(steps: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every step, each Condition followed by the steps of its branches."""
    if not isinstance(steps, list):
        return
    for step in steps:
        if isinstance(step, dict) and isinstance(step.get("Name"), str):
            yield step["Name"], step
            yield from _all_steps(list(_branch_steps(step)))


def _branch_steps(step: dict[str, Any]) -> Iterator[dict[str, Any]]:
    arguments = step.get("Arguments")
    if step.get("Type") != "Condition" or not isinstance(arguments, dict):
        return
    for key in ("IfSteps", "ElseSteps"):
        branch = arguments.get(key)
        if isinstance(branch, list):
            yield from (s for s in branch if isinstance(s, dict) and isinstance(s.get("Name"), str))


def _without_branches(step: dict[str, Any]) -> dict[str, Any]:
    """The step minus its branches: a branch step's references are its own."""
    arguments = step.get("Arguments")
    if step.get("Type") != "Condition" or not isinstance(arguments, dict):
        return step
    kept = {k: v for k, v in arguments.items() if k not in ("IfSteps", "ElseSteps")}
    return {**step, "Arguments": kept}


def _references(value: Any) -> list[str]:
    """Names of the steps whose properties ``value`` reads, in order of appearance."""
    found: list[str] = []
    if isinstance(value, dict):
        reference = value.get("Get")
        if isinstance(reference, str) and (match := _STEP_REFERENCE.match(reference)):
            found.append(match.group(1))
        for item in value.values():
            found += _references(item)
    elif isinstance(value, list):
        for item in value:
            found += _references(item)
    return found


# ---- Step states ----------------------------------------------------------------------------


def steps_from_sagemaker(step_summaries: list[dict[str, Any]]) -> list[StepState]:
    """StepStates from ListPipelineExecutionSteps summaries, positioned by start time.

    Steps not started yet come last, in the order given.
    """
    indexed = list(enumerate(step_summaries))
    indexed.sort(key=lambda pair: _start_order(pair[1], pair[0]))
    return [_step_state(summary, position) for position, (_, summary) in enumerate(indexed)]


def _start_order(summary: dict[str, Any], index: int) -> tuple[bool, datetime, int]:
    started = utc(summary.get("StartTime"))
    return started is None, started or _EPOCH, index


def _step_state(summary: dict[str, Any], position: int) -> StepState:
    metadata = summary.get("Metadata") or {}
    kind = _metadata_kind(metadata)
    reason = summary.get("FailureReason") or (metadata.get("Fail") or {}).get("ErrorMessage")
    error, cause = split_failure_reason(reason)
    return StepState(
        # StepName, not StepDisplayName: it is what the graph's nodes are named.
        name=summary.get("StepName") or "",
        type=METADATA_TYPES.get(kind, kind) if kind else UNKNOWN_TYPE,
        status=STEP_STATUSES.get(summary.get("StepStatus") or "", ExecutionStatus.RUNNING),
        position=position,
        started_at=utc(summary.get("StartTime")),
        stopped_at=utc(summary.get("EndTime")),
        attempts=int(summary.get("AttemptCount") or 0),
        error=error,
        cause=cause,
        resource_arn=_resource_arn(metadata.get(kind) if kind else None),
    )


def _metadata_kind(metadata: dict[str, Any]) -> str | None:
    """The metadata key that says what the step ran (a step carries one, plus Lineage)."""
    kinds = [key for key in metadata if key not in AUXILIARY_METADATA]
    return kinds[0] if kinds else None


def _resource_arn(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    arn = entry.get("Arn") or entry.get("CheckJobArn")
    return arn if isinstance(arn, str) and arn else None
