"""Checks of what callers hand the metric store: points, idempotency keys, series requests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import itemgetter

from sources.errors import InputError
from sources.metadb.metrics.base import SOURCE
from sources.metrics.model import (
    MAX_BATCH_POINTS,
    MAX_NAME_LENGTH,
    MAX_SERIES_POINTS,
    NAME_PATTERN,
    PointIn,
    SeriesRequest,
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MIN_SERIES_POINTS = 4
"""Smallest maxPoints: one bucket's min and max, and the range's first and last points."""
MAX_IDEMPOTENCY_KEY_LENGTH = 200

Point = tuple[str, int, int | None, float]
"""A validated point: (name, step, ts_ms, value)."""


def _checked(points: Sequence[PointIn]) -> list[Point]:
    """The points to store, by (name, step); a repeat of an earlier point of the batch is dropped.

    Raises ``InputError`` for the first bad point, or when there are too many.
    """
    if len(points) > MAX_BATCH_POINTS:
        raise InputError(
            f"{len(points)} points given; at most {MAX_BATCH_POINTS} may be logged in one call",
            source=SOURCE,
        )
    unique: dict[tuple[str, int], Point] = {}
    names: set[str] = set()  # checked already: a batch repeats a few names
    for index, point in enumerate(points):
        name, step, ts_ms = point.name, point.step, point.timestamp_ms
        value: float | None = point.value
        if type(name) is not str or (name not in names and not _add_name(names, name)):
            raise InputError(
                f"point {index}: metric name {_shown(name)} is not allowed: use 1 to "
                f"{MAX_NAME_LENGTH} letters, digits, spaces, '_', '-', '.', '/' or ':'",
                source=SOURCE,
            )
        if not _is_int64(step):
            raise InputError(
                f"point {index} ({name!r}): step {_shown(step)} is not a signed 64-bit integer",
                source=SOURCE,
            )
        if type(value) is not float or not math.isfinite(value):
            value = _finite(value)
        if value is None:
            raise InputError(
                f"point {index} ({name!r} at step {step}): value {_shown(point.value)} is not "
                "a finite number; NaN and infinities are refused",
                source=SOURCE,
            )
        if ts_ms is not None and not _is_int64(ts_ms):
            raise InputError(
                f"point {index} ({name!r} at step {step}): timestamp {_shown(ts_ms)} is not "
                "a signed 64-bit integer of epoch milliseconds",
                source=SOURCE,
            )
        unique.setdefault((name, step), (name, step, ts_ms, value))
    return sorted(unique.values(), key=itemgetter(0, 1))


def _add_name(names: set[str], name: str) -> bool:
    if NAME_PATTERN.fullmatch(name) is None:
        return False
    names.add(name)
    return True


def _is_int64(value: object) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and (INT64_MIN <= value <= INT64_MAX)
    )


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_idempotency_key(key: str) -> None:
    if not isinstance(key, str) or not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InputError(
            f"idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
            source=SOURCE,
        )


def _check_series_request(request: SeriesRequest) -> None:
    if not MIN_SERIES_POINTS <= request.max_points <= MAX_SERIES_POINTS:
        raise InputError(
            f"maxPoints must be between {MIN_SERIES_POINTS} and {MAX_SERIES_POINTS}, "
            f"got {request.max_points}",
            source=SOURCE,
        )
    for what, bound in (("minStep", request.min_step), ("maxStep", request.max_step)):
        if bound is not None and not _is_int64(bound):
            raise InputError(f"{what} {bound} is not a signed 64-bit integer", source=SOURCE)
    low, high = _range(request)
    if low > high:
        raise InputError(f"minStep {low} is greater than maxStep {high}", source=SOURCE)


def _range(request: SeriesRequest) -> tuple[int, int]:
    low = INT64_MIN if request.min_step is None else request.min_step
    high = INT64_MAX if request.max_step is None else request.max_step
    return low, high
