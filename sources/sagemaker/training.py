"""SageMaker training jobs: what DescribeTrainingJob says, as the metrics domain takes it.

Final metrics (``FinalMetricDataList``) are one value per metric, with the time
SageMaker recorded it and no training step. They come out with ``step = 0``;
once the metric's CloudWatch series is known (``CloudWatchSource.training_series``),
``with_final_steps`` moves each to the last step of its series, so the final
value sits at the end of the curve it summarises instead of at its start.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sources.metrics.model import PointIn

log = logging.getLogger("mlmeta.sources.sagemaker")

TRAINING_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
"""The pattern DescribeTrainingJob takes for ``TrainingJobName``."""
TRAINING_JOB_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:training-job/(?P<name>[^/]+)$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TrainingJobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


FINISHED_STATUSES = frozenset(
    {TrainingJobStatus.COMPLETED, TrainingJobStatus.FAILED, TrainingJobStatus.STOPPED}
)


@dataclass(frozen=True)
class TrainingJob:
    name: str
    arn: str
    status: TrainingJobStatus
    finished: bool
    """Completed, Failed or Stopped: neither status nor metrics change any more."""
    created_at: datetime | None
    started_at: datetime | None
    """TrainingStartTime: None until instances are up (and for jobs that never started)."""
    ended_at: datetime | None
    final_metrics: list[PointIn] = field(default_factory=list)
    """FinalMetricDataList, in SageMaker's order; step 0 until ``with_final_steps``."""
    metric_definitions: list[str] = field(default_factory=list)
    """Names of AlgorithmSpecification.MetricDefinitions: the metric names SageMaker
    publishes to CloudWatch for this job (built-in algorithms may have none here)."""
    failure_reason: str | None = None
    input_uris: tuple[str, ...] = ()
    """The S3 URIs of InputDataConfig's channels, in channel order (file-system channels
    have none): the data the job read."""
    model_artifact: str | None = None
    """ModelArtifacts.S3ModelArtifacts: where the trained model was written."""


def training_job_name(name_or_arn: str) -> str | None:
    """The name DescribeTrainingJob takes, from a name or a training job ARN; None if neither.

    SageMaker ARNs hold the name lower-cased; names are unique case-insensitively,
    so the ARN's form finds the job.
    """
    match = TRAINING_JOB_ARN.match(name_or_arn)
    name = match.group("name") if match else name_or_arn
    return name if TRAINING_JOB_NAME.match(name) else None


def is_training_job_arn(name_or_arn: str) -> bool:
    return TRAINING_JOB_ARN.match(name_or_arn) is not None


def training_job_from_description(response: Mapping[str, Any]) -> TrainingJob:
    """Map a DescribeTrainingJob response.

    An unknown TrainingJobStatus (one AWS adds later) is taken as InProgress and
    logged: not finished, so callers look again rather than freeze a wrong state.
    """
    name = response["TrainingJobName"]
    raw_status = response.get("TrainingJobStatus")
    try:
        status = TrainingJobStatus(str(raw_status))
    except ValueError:
        log.warning("training job %s has an unknown status %r", name, raw_status)
        status = TrainingJobStatus.IN_PROGRESS
    algorithm = response.get("AlgorithmSpecification") or {}
    return TrainingJob(
        name=name,
        arn=response["TrainingJobArn"],
        status=status,
        finished=status in FINISHED_STATUSES,
        created_at=_utc(response.get("CreationTime")),
        started_at=_utc(response.get("TrainingStartTime")),
        ended_at=_utc(response.get("TrainingEndTime")),
        final_metrics=_final_metrics(name, response.get("FinalMetricDataList") or []),
        metric_definitions=[
            definition["Name"]
            for definition in algorithm.get("MetricDefinitions") or []
            if definition.get("Name")
        ],
        failure_reason=response.get("FailureReason") or None,
        input_uris=_input_uris(response.get("InputDataConfig") or []),
        model_artifact=(response.get("ModelArtifacts") or {}).get("S3ModelArtifacts") or None,
    )


def with_final_steps(job: TrainingJob, series: Mapping[str, Sequence[PointIn]]) -> TrainingJob:
    """``job`` with each final metric at the highest step of its series in ``series``.

    Metrics without a series there (or with an empty one) keep step 0.
    """
    final = [
        dataclasses.replace(point, step=max(p.step for p in series[point.name]))
        if series.get(point.name)
        else point
        for point in job.final_metrics
    ]
    return dataclasses.replace(job, final_metrics=final)


def _input_uris(channels: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """Each S3 channel's URI once, in channel order (FileSystemDataSource has none)."""
    uris = (
        ((channel.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
        for channel in channels
    )
    return tuple(dict.fromkeys(uri for uri in uris if isinstance(uri, str) and uri))


def _final_metrics(job: str, items: Sequence[Mapping[str, Any]]) -> list[PointIn]:
    points = []
    for item in items:
        name, value = item.get("MetricName"), item.get("Value")
        if not name or value is None or not math.isfinite(value):
            log.warning("training job %s has an unusable final metric %r", job, item)
            continue
        timestamp = _utc(item.get("Timestamp"))
        points.append(
            PointIn(
                name=name,
                value=float(value),
                step=0,
                timestamp_ms=None if timestamp is None else _epoch_ms(timestamp),
            )
        )
    return points


def _utc(value: datetime | None) -> datetime | None:
    """botocore's datetimes are aware (tzlocal or tzutc); ours are UTC."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _epoch_ms(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)
