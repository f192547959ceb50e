"""The rollup buckets: their widths, the rows a batch of points adds, step ranges cut to them.

``metric_rollups`` summarises each metric of a run per bucket of ``w`` steps
for every width; each width's buckets are four of the previous one's.
"""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter
from typing import Any

from sources.metadb.metrics.checks import Point

WIDTHS = (4, 16, 64, 256, 1024, 4096, 16384, 65536)
"""Rollup bucket widths: each is four of the previous."""
TOP = WIDTHS[-1]

Rollup = tuple[int, str, int, int, int, float, int | None, int, float, int | None, int, int]
"""(width, name, bucket, n, min_step, min_value, min_ts_ms, max_step, max_value, max_ts_ms,
first_step, last_step): a row of ``metric_rollups``."""


def _rollups(points: list[Point]) -> list[Rollup]:
    """The rollup rows of ``points`` (sorted by name and step, unique), every width.

    Each width is built from the one below, four buckets into one. Points and
    buckets come in step order, so keeping a min or max only when strictly
    beaten leaves the lowest step on ties.
    """
    rows: list[Rollup] = []
    for name, group in groupby(points, key=itemgetter(0)):
        # [bucket, n, min_step, min_value, min_ts, max_step, max_value, max_ts, first, last]
        level: list[list[Any]] = []
        for _, step, ts_ms, value in group:
            bucket = step >> 2  # step // 4
            if level and level[-1][0] == bucket:
                acc = level[-1]
                acc[1] += 1
                if value < acc[3]:
                    acc[2:5] = step, value, ts_ms
                if value > acc[6]:
                    acc[5:8] = step, value, ts_ms
                acc[9] = step
            else:
                level.append([bucket, 1, step, value, ts_ms, step, value, ts_ms, step, step])
        for width in WIDTHS:
            rows.extend((width, name, *acc) for acc in level)
            if width == TOP:
                break
            wider: list[list[Any]] = []
            for acc in level:
                bucket = acc[0] >> 2
                if wider and wider[-1][0] == bucket:
                    up = wider[-1]
                    up[1] += acc[1]
                    if acc[3] < up[3]:
                        up[2:5] = acc[2:5]
                    if acc[6] > up[6]:
                        up[5:8] = acc[5:8]
                    up[9] = acc[9]
                else:
                    wider.append([bucket, *acc[1:]])
            level = wider
    return rows


def _blocks(first: int, last: int, top: int) -> list[tuple[int, int, int]]:
    """Steps ``first..last`` as aligned blocks: (width, first bucket, last bucket).

    Width 1 means raw steps. Going up the widths from each end, at most three
    blocks of a width are needed before the next width's boundary; the middle
    is one run of ``top``-wide buckets. No block crosses a ``top`` boundary.
    """
    blocks: list[tuple[int, int, int]] = []
    low, high = first, last + 1  # half-open
    width = 1
    for wider in (w for w in WIDTHS if w <= top):
        left = min(-(-low // wider) * wider, high)
        if low < left:
            blocks.append((width, low // width, left // width - 1))
        right = max(high // wider * wider, left)
        if right < high:
            blocks.append((width, right // width, high // width - 1))
        low, high, width = left, right, wider
        if low >= high:
            return blocks
    blocks.append((width, low // width, high // width - 1))
    return blocks
