"""Which job or resource a task ran, from its history events.

Best is the job named in the task's output (a ``.sync`` SageMaker
integration answers with DescribeTrainingJob, ``aws-sdk`` calls with the
Create* response): ``TrainingJobArn``, ``ProcessingJobArn``, ... Else what
the task was scheduled against: an ARN among its parameters (a Lambda
``FunctionName``, a nested ``StateMachineArn``), the Lambda function or
activity of the legacy events, or the integration itself
(``arn:aws:states:::sagemaker:createTrainingJob.sync``). Parameters such as
``RoleArn`` are never taken: they name who ran the job, not the job.
"""

from __future__ import annotations

import json
from typing import Any

# Keys of a task's output that name the job it ran, best first.
JOB_ARN_KEYS = (
    "TrainingJobArn",
    "ProcessingJobArn",
    "TransformJobArn",
    "HyperParameterTuningJobArn",
    "AutoMLJobArn",
    "CompilationJobArn",
    "LabelingJobArn",
    "ModelPackageArn",
    "ModelArn",
    "EndpointArn",
    "PipelineExecutionArn",
    "ExecutionArn",
    "JobArn",
    "FunctionArn",
)
PARAMETER_ARN_KEYS = ("FunctionName", "StateMachineArn")


def scheduled_resource(kind: str, details: dict[str, Any]) -> str | None:
    """From a *Scheduled event: what the task was sent to."""
    resource = _text(details.get("resource"))
    if kind != "TaskScheduled":
        return resource  # a Lambda function or activity ARN
    parameters = _json_object(details.get("parameters"))
    for key in PARAMETER_ARN_KEYS:
        value = parameters.get(key)
        if isinstance(value, str) and value.startswith("arn:"):
            return value
    resource_type = _text(details.get("resourceType"))
    if resource_type and resource:
        return f"arn:aws:states:::{resource_type}:{resource}"
    return None


def output_job_arn(output: Any) -> str | None:
    """From a *Succeeded event's output (a JSON text): the job ARN it names, if any."""
    found = _json_object(output)
    keys = [*JOB_ARN_KEYS, *(k for k in found if k.endswith("JobArn"))]
    for key in keys:
        value = found.get(key)
        if isinstance(value, str) and value.startswith("arn:"):
            return value
    return None


def _json_object(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
