"""The metrics domain: what ingestion takes and what queries return.

Steps are integers (64-bit), timestamps are epoch milliseconds (bigint in the
metadb: cheaper to store, index and decode than timestamptz), values are finite
floats. A series is returned in columns, which chart libraries consume directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

MAX_BATCH_POINTS = 10_000
"""Points in one logMetrics call / one bulk request; more is refused whole."""
MAX_NAME_LENGTH = 250
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_\-./: ]{1,250}$")
"""Metric names as MLflow allows them: letters, digits, _ - . / : and spaces."""
MAX_SERIES_POINTS = 10_000
"""Largest maxPoints a series query may ask for."""
MAX_OBJECT_POINTS = 5_000
"""Largest number of points served in the object form (`points { step value }`)."""


@dataclass(frozen=True)
class PointIn:
    name: str
    value: float
    step: int = 0
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class LogResult:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class MetricSummary:
    """The last reported value of one metric of one run (highest step)."""

    name: str
    value: float
    step: int
    timestamp_ms: int | None


@dataclass(frozen=True)
class SeriesRequest:
    execution_id: str
    names: tuple[str, ...] | None
    """None: every metric of the run."""
    max_points: int = 500
    min_step: int | None = None
    max_step: int | None = None
    encoded: bool = False
    """The caller serves only the columns, as JSON: the store may hand them over
    already encoded (``Series.encoded_columns``) instead of as lists."""


@dataclass(frozen=True)
class Series:
    execution_id: str
    name: str
    steps: list[int]
    values: list[float]
    timestamps_ms: list[int | None]
    count: int
    """Points stored in the requested step range, before downsampling."""
    downsampled: bool
    min: float | None
    max: float | None
    last: float | None
    encoded_columns: bytes | None = None
    """``{"steps": [...], "values": [...], "timestamps": [...]}`` as JSON, the same
    numbers a JSON encoder writes for the lists, which are then left empty; None when
    the lists are filled (the request was not ``encoded``, or the series downsampled)."""


@dataclass(frozen=True)
class RunValue:
    """One run's final value of one metric, for the cross-run evolution graph."""

    execution_id: str
    started_at: datetime
    metric: str
    value: float | None
    """None when the run did not report the metric."""


@dataclass(frozen=True)
class EvolutionRequest:
    pipeline_id: str
    metrics: tuple[str, ...]
    last_runs: int = 50
    since: datetime | None = None


@dataclass(frozen=True)
class Evolution:
    metric: str
    points: list[RunValue] = field(default_factory=list)
