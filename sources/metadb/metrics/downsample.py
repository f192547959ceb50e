"""The downsampling grid: target buckets made of whole rollup buckets, in SQL and in Python."""

from __future__ import annotations

from collections.abc import Iterator

from sources.metadb.metrics.rollups import WIDTHS
from sources.metadb.metrics.sql import Row

_Grid = tuple[int, str, str, int, int, int, int, int, int]
"""A series to downsample: (sidx, execution id, name, w, b0, nw, buckets, first step, last step)."""
_GRID_COLUMNS = [("sidx", "int8"), ("eid", "text"), ("name", "text")] + [
    (column, "int8") for column in ("w", "b0", "nw", "nb", "a", "b")
]


def _floor_div(x: str, d: str) -> str:
    """``x // d`` for a positive ``d`` (SQL integer division truncates toward zero)."""
    return f"(CASE WHEN {x} >= 0 THEN {x} / {d} ELSE ({x} + 1) / {d} - 1 END)"


def _target(wide_bucket: str) -> str:
    """The target bucket of a ``w``-wide bucket: ``nw`` of them shared evenly among ``nb``."""
    return f"(({wide_bucket} - d.b0) * d.nb / d.nw)"


def _grid(first: int, last: int, buckets: int) -> tuple[int, int, int]:
    """(w, b0, nw): the widest rollup width spanning ``first..last`` with ``buckets`` buckets.

    ``b0`` is the first ``w``-bucket and ``nw`` the number spanned; width 1
    (raw steps) when even the narrowest rollup is too coarse.
    """
    for width in reversed(WIDTHS):
        spanned = last // width - first // width + 1
        if spanned >= buckets:
            return width, first // width, spanned
    return 1, first, last - first + 1


class _Kept:
    """A downsampled series being built, target bucket after target bucket.

    Target buckets cover consecutive step ranges, so adding each one's min and
    max in step order keeps the series in step order. A point can win twice
    (min and max of a one-point bucket, or an end that is also a bucket's min):
    it is kept once.
    """

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.values: list[float] = []
        self.timestamps: list[int | None] = []

    def add_bucket(self, candidates: Iterator[Row]) -> None:
        """Keep the min and max (lowest step on ties) of one target bucket's candidates.

        A candidate is (sidx, target, min step, min value, min timestamp, max
        step, max value, max timestamp).
        """
        _, _, low_step, low, low_ts, high_step, high, high_ts = next(candidates)
        for _, _, step, value, ts, max_step, max_value, max_ts in candidates:
            if value < low or (value == low and step < low_step):
                low_step, low, low_ts = step, value, ts
            if max_value > high or (max_value == high and max_step < high_step):
                high_step, high, high_ts = max_step, max_value, max_ts
        pair = [(low_step, low, low_ts), (high_step, high, high_ts)]
        for step, value, ts in pair if low_step <= high_step else reversed(pair):
            if not self.steps or step != self.steps[-1]:
                self.steps.append(step)
                self.values.append(value)
                self.timestamps.append(ts)
