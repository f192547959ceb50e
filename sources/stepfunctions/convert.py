"""Step Functions API shapes -> the pipeline domain; console deep links."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sources.metadb.models import ExecutionStatus, Orchestrator
from sources.pipelines.model import ExecutionInfo, PipelineInfo

STATUSES = {
    "RUNNING": ExecutionStatus.RUNNING,
    "SUCCEEDED": ExecutionStatus.SUCCEEDED,
    "FAILED": ExecutionStatus.FAILED,
    "TIMED_OUT": ExecutionStatus.TIMED_OUT,
    "ABORTED": ExecutionStatus.ABORTED,
    # Failed and waiting to be redriven: it may still go on.
    "PENDING_REDRIVE": ExecutionStatus.RUNNING,
}
STATUS_FILTERS = {
    ExecutionStatus.RUNNING: "RUNNING",
    ExecutionStatus.SUCCEEDED: "SUCCEEDED",
    ExecutionStatus.FAILED: "FAILED",
    ExecutionStatus.TIMED_OUT: "TIMED_OUT",
    ExecutionStatus.ABORTED: "ABORTED",
}


def status_of(value: str) -> ExecutionStatus:
    # An unknown future status is shown as running rather than failing the whole list.
    return STATUSES.get(value, ExecutionStatus.RUNNING)


def region_of(arn: str, default: str) -> str:
    """The region field of an ARN (``arn:partition:service:region:...``)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else default


def console_base(arn: str, region: str) -> str:
    region = region_of(arn, region)
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}"


def execution_console_url(arn: str, region: str) -> str:
    return f"{console_base(arn, region)}#/v2/executions/details/{arn}"


def state_machine_console_url(arn: str, region: str) -> str:
    return f"{console_base(arn, region)}#/statemachines/view/{arn}"


def pipeline_info(arn: str, name: str, region: str) -> PipelineInfo:
    return PipelineInfo(
        id=arn,
        orchestrator=Orchestrator.STEP_FUNCTIONS,
        name=name,
        arn=arn,
        console_url=state_machine_console_url(arn, region),
    )


def execution_from_summary(item: dict[str, Any], region: str) -> ExecutionInfo:
    """A ListExecutions item: no input, error or cause (``detailed=False``)."""
    arn = str(item["executionArn"])
    return ExecutionInfo(
        id=arn,
        pipeline_id=str(item["stateMachineArn"]),
        name=str(item["name"]),
        status=status_of(str(item["status"])),
        started_at=item["startDate"],
        stopped_at=item.get("stopDate"),
        arn=arn,
        console_url=execution_console_url(arn, region),
        detailed=False,
    )


def execution_from_description(item: dict[str, Any], region: str) -> ExecutionInfo:
    """A DescribeExecution answer: the summary's fields, plus input as parameters."""
    return replace(
        execution_from_summary(item, region),
        error=item.get("error") or None,
        cause=item.get("cause") or None,
        parameters=parameters_of(item.get("input")),
        detailed=True,
    )


def parameters_of(raw: Any) -> dict[str, Any]:
    """A JSON object input is the run's parameters; any other input is kept whole."""
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {"input": raw}
    return value if isinstance(value, dict) else {"input": raw}
