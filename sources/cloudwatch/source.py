"""CloudWatch adapter over one shared aiobotocore client: training jobs' metric series.

SageMaker publishes every metric of a training job's MetricDefinitions to the
namespace ``/aws/sagemaker/TrainingJobs``, dimension ``Host`` =
``<training-job-name>/algo-<n>``, under the definition's name. This source reads
the first instance's (``algo-1``) series with GetMetricData.

Steps: CloudWatch keeps no training step, only times. A series comes back as
points ordered by time with ``step`` = its index (0..n-1) and ``timestamp_ms``
the start of the CloudWatch period that held the value: step i is "the i-th
period with data", not the i-th iteration. Periods without data are left out,
so steps of two series line up only where both have data in the same periods;
join them on ``timestamp_ms`` when that matters. Each point's value is the
period's Average (one log line a minute gives the value itself).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sources.aws import translate
from sources.errors import InputError, UpstreamError
from sources.metrics.model import PointIn

log = logging.getLogger("mlmeta.sources.cloudwatch")

TRAINING_NAMESPACE = "/aws/sagemaker/TrainingJobs"
HOST_DIMENSION = "Host"
FIRST_HOST = "algo-1"
MAX_QUERIES_PER_CALL = 500
"""GetMetricData takes at most 500 MetricDataQueries."""
MAX_CONCURRENT_CALLS = 4
"""Batches of one ``training_series`` call in flight at once."""
MAX_PAGES_PER_CALL = 200
"""NextToken pages followed for one batch (100,800 datapoints each by default)."""
STANDARD_PERIOD = 60
HIGH_RESOLUTION_PERIOD = 1
SHORT_PERIODS = frozenset({1, 5, 10, 20, 30})
"""Periods under a minute GetMetricData takes (high-resolution metrics)."""
CHECK_METRIC = "mlmeta-health-check"
"""ListMetrics is filtered to this name so the readiness check lists (almost) nothing."""

# How long CloudWatch keeps each resolution: a start further back than the bound
# needs a period that is a multiple of the value, or no datapoints come back.
_RETENTION = (
    (timedelta(hours=3), 1),
    (timedelta(days=15), 60),
    (timedelta(days=63), 300),
)
_OLDEST_PERIOD = 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class CloudWatchSource:
    name = "cloudwatch"

    def __init__(self, client: Any, *, clock: Callable[[], datetime] = _now) -> None:
        """``clock`` (aware UTC datetimes) decides which periods a start time allows."""
        self._client = client
        self._clock = clock

    async def check(self) -> None:
        """ListMetrics in the training namespace, filtered to one name: cheap, and
        it needs the same ``cloudwatch:*`` read access as the series."""
        try:
            await self._client.list_metrics(Namespace=TRAINING_NAMESPACE, MetricName=CHECK_METRIC)
        except Exception as exc:
            raise translate(exc, self.name) from exc

    async def training_series(
        self,
        jobs: Sequence[tuple[str, Sequence[str]]],
        start: datetime,
        end: datetime,
        *,
        period: int = STANDARD_PERIOD,
    ) -> list[dict[str, list[PointIn]]]:
        """For each (job, metric names), each metric's series in [start, end), in order.

        Every asked name is a key, with ``[]`` when CloudWatch has no data for it.
        Queries go to GetMetricData 500 at a time (a (job, metric) asked twice
        is queried once), at most ``MAX_CONCURRENT_CALLS`` batches at once, each
        following NextToken. ``period`` is 60 (standard resolution) or, for
        high-resolution metrics, 1, 5, 10, 20 or 30; CloudWatch only keeps fine
        periods for recent data, so for an older ``start`` the period is raised to
        the finest one it still has (60 after 3 h, 300 after 15 days, 3600 after
        63 days) rather than getting nothing back.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise InputError("start and end must be timezone-aware", source=self.name)
        if start >= end:
            raise InputError("start must be before end", source=self.name)
        if period not in SHORT_PERIODS and (period <= 0 or period % 60):
            raise InputError(
                "period must be 1, 5, 10, 20, 30 or a multiple of 60", source=self.name
            )
        for _, names in jobs:
            if isinstance(names, str):
                raise InputError("metric names must be a list, not a string", source=self.name)
        keys = list(dict.fromkeys((job, name) for job, names in jobs for name in names))
        period = effective_period(period, start, self._clock())
        batches = [
            keys[index : index + MAX_QUERIES_PER_CALL]
            for index in range(0, len(keys), MAX_QUERIES_PER_CALL)
        ]
        limit = asyncio.Semaphore(MAX_CONCURRENT_CALLS)

        async def fetch(batch: list[tuple[str, str]]) -> list[list[PointIn]]:
            async with limit:
                return await self._batch(batch, start, end, period)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(fetch(batch)) for batch in batches]
        except ExceptionGroup as failed:
            raise failed.exceptions[0]  # noqa: B904 - keeps the error's own cause chain
        series: dict[tuple[str, str], list[PointIn]] = {}
        for batch, task in zip(batches, tasks, strict=True):
            series.update(zip(batch, task.result(), strict=True))
        return [{name: list(series[job, name]) for name in names} for job, names in jobs]

    async def _batch(
        self, keys: list[tuple[str, str]], start: datetime, end: datetime, period: int
    ) -> list[list[PointIn]]:
        """One GetMetricData request (all its pages) for up to 500 (job, metric) keys."""
        params: dict[str, Any] = {
            "MetricDataQueries": [
                {
                    "Id": f"m{index}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": TRAINING_NAMESPACE,
                            "MetricName": name,
                            "Dimensions": [{"Name": HOST_DIMENSION, "Value": host(job)}],
                        },
                        "Period": period,
                        "Stat": "Average",
                    },
                    "ReturnData": True,
                }
                for index, (job, name) in enumerate(keys)
            ],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        values: dict[str, list[tuple[datetime, float]]] = {f"m{i}": [] for i in range(len(keys))}
        for _ in range(MAX_PAGES_PER_CALL):
            page = await self._call(**params)
            for result in page.get("MetricDataResults") or []:
                status = result.get("StatusCode")
                if status in ("InternalError", "Forbidden"):
                    raise UpstreamError(
                        f"{self.name} answered {status} for a metric query", source=self.name
                    )
                collected = values.get(result.get("Id", ""))
                if collected is None:
                    continue
                timestamps, numbers = result.get("Timestamps") or [], result.get("Values") or []
                collected += zip(timestamps, numbers, strict=False)  # equal lengths upstream
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        else:
            raise UpstreamError(f"{self.name} kept paging GetMetricData", source=self.name)
        return [points(name, values[f"m{index}"]) for index, (_, name) in enumerate(keys)]

    async def _call(self, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = await self._client.get_metric_data(**params)
        except Exception as exc:
            raise translate(exc, self.name) from exc
        return response


def host(job_name: str) -> str:
    """The Host dimension SageMaker publishes a job's first instance's metrics under."""
    return f"{job_name}/{FIRST_HOST}"


def effective_period(period: int, start: datetime, now: datetime) -> int:
    """``period``, or the finest period CloudWatch still keeps for data as old as ``start``
    (a multiple of it when ``period`` is coarser but not a multiple)."""
    age = now - start
    finest = next((p for bound, p in _RETENTION if age <= bound), _OLDEST_PERIOD)
    if period % finest == 0:
        return period
    return -(-period // finest) * finest


def points(name: str, values: Sequence[tuple[datetime, float]]) -> list[PointIn]:
    """Ordered by time, step = index, non-finite values (never stored by CloudWatch) dropped."""
    ordered = sorted(
        ((timestamp, value) for timestamp, value in values if math.isfinite(value)),
        key=lambda item: item[0],
    )
    return [
        PointIn(name=name, value=float(value), step=step, timestamp_ms=_epoch_ms(timestamp))
        for step, (timestamp, value) in enumerate(ordered)
    ]


def _epoch_ms(value: datetime) -> int:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)
