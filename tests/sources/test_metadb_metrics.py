"""MetricStore: ingestion, downsampling, summaries and evolution, on both backends.

Properties are checked on seeded random data (hypothesis is not a dependency):
every seed is a fixed case, so a failure reproduces.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
import sqlalchemy as sa

from sources.errors import InputError, NotFoundError
from sources.metadb import MetaDB, downgrade, upgrade
from sources.metadb.metrics import (
    INT64_MAX,
    INT64_MIN,
    SQLITE_CHUNK_PARAMETERS,
    TOP,
    WIDTHS,
    MetricStore,
    _blocks,
)
from sources.metadb.models import (
    Execution,
    ExecutionStatus,
    MetricPoint,
    MetricRollup,
    Orchestrator,
    Pipeline,
)
from sources.metrics.model import (
    MAX_BATCH_POINTS,
    EvolutionRequest,
    LogResult,
    MetricSummary,
    PointIn,
    Series,
    SeriesRequest,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Stored = tuple[int, int | None, float]
"""A stored point as the tests see it: (step, ts_ms, value)."""


@pytest.fixture
def sent() -> list[str]:
    """Every statement the store sends (its own driver calls; engine events do not see them)."""
    return []


@pytest.fixture
def store(metadb: MetaDB, sent: list[str]) -> MetricStore:
    return MetricStore(metadb, trace=sent.append)


async def add_runs(db: MetaDB, *ids: str, pipeline: str = "pipe-1") -> None:
    """Executions ``ids``, started one hour apart from T0 on."""
    async with db.session() as session:
        if await session.get(Pipeline, pipeline) is None:
            session.add(Pipeline(id=pipeline, orchestrator=Orchestrator.EXTERNAL, name=pipeline))
            await session.flush()
        session.add_all(
            Execution(
                id=run,
                pipeline_id=pipeline,
                name=run,
                status=ExecutionStatus.SUCCEEDED,
                started_at=T0 + timedelta(hours=i),
            )
            for i, run in enumerate(ids)
        )
        await session.commit()


async def rows(db: MetaDB, model: type[Any]) -> int:
    async with db.session() as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(model))
    return int(count or 0)


async def stored_points(db: MetaDB, run: str, name: str) -> list[Stored]:
    async with db.engine.connect() as conn:
        result = await conn.execute(
            sa.text(
                "SELECT step, ts_ms, value FROM metric_points "
                "WHERE execution_id = :run AND name = :name ORDER BY step"
            ),
            {"run": run, "name": name},
        )
        return [tuple(row) for row in result]  # type: ignore[misc]


async def log_all(store: MetricStore, run: str, points: list[PointIn]) -> None:
    for start in range(0, len(points), MAX_BATCH_POINTS):
        await store.log_points(run, points[start : start + MAX_BATCH_POINTS])


def curve(name: str, steps: Iterable[int], seed: int = 0) -> list[PointIn]:
    rng = random.Random(seed)
    return [PointIn(name, rng.gauss(0, 1), step, 1_700_000_000_000 + step) for step in steps]


def selects(sent: list[str]) -> int:
    return sum(1 for s in sent if s.lstrip().upper().startswith(("SELECT", "WITH")))


# -------------------------------------------------------------- reference ---


def reference(points: list[Stored], max_points: int) -> list[Stored]:
    """The promised downsampling, written plainly: what ``series`` must return.

    (max_points - 2) // 2 buckets; bucket k holds the rollup-width-``w``
    buckets b with (b - b0) * buckets // nw == k, ``w`` the widest width
    spanning at least ``buckets`` of them. Each bucket keeps its min and max
    (lowest step on ties), and the range keeps its first and last points.
    """
    if len(points) <= max_points:
        return points
    buckets = (max_points - 2) // 2
    first, last = points[0][0], points[-1][0]
    width = next((w for w in reversed(WIDTHS) if last // w - first // w + 1 >= buckets), 1)
    b0, nw = first // width, last // width - first // width + 1
    grouped: dict[int, list[Stored]] = {}
    for point in points:
        grouped.setdefault((point[0] // width - b0) * buckets // nw, []).append(point)
    keep = {first, last}
    for group in grouped.values():
        keep.add(min(group, key=lambda p: (p[2], p[0]))[0])
        keep.add(min(group, key=lambda p: (-p[2], p[0]))[0])
    return [p for p in points if p[0] in keep]


def as_stored(series: Series) -> list[Stored]:
    return list(zip(series.steps, series.timestamps_ms, series.values, strict=True))


def recomputed_rollups(points: dict[str, list[Stored]]) -> set[tuple[Any, ...]]:
    expected = set()
    for name, series in points.items():
        for width in WIDTHS:
            grouped: dict[int, list[Stored]] = {}
            for point in series:
                grouped.setdefault(point[0] // width, []).append(point)
            for bucket, group in grouped.items():
                low = min(group, key=lambda p: (p[2], p[0]))
                high = min(group, key=lambda p: (-p[2], p[0]))
                low_point = (low[0], low[2], low[1])  # (step, value, ts) as the table has them
                high_point = (high[0], high[2], high[1])
                ends = (group[0][0], group[-1][0])
                expected.add((width, name, bucket, len(group), *low_point, *high_point, *ends))
    return expected


async def stored_rollups(db: MetaDB, run: str) -> set[tuple[Any, ...]]:
    async with db.engine.connect() as conn:
        result = await conn.execute(
            sa.text(
                "SELECT width, name, bucket, n, min_step, min_value, min_ts_ms, max_step, "
                "max_value, max_ts_ms, first_step, last_step FROM metric_rollups "
                "WHERE execution_id = :run"
            ),
            {"run": run},
        )
        return {tuple(row) for row in result}


# -------------------------------------------------------------- ingestion ---


async def test_logged_points_read_back_exactly(store: MetricStore, metadb: MetaDB) -> None:
    await add_runs(metadb, "r1")
    # (-0.0 equals 0.0; SQLite may hand it back as 0.0)
    points = [PointIn("loss", 0.1 + 0.2, 0, 1_700_000_000_123), PointIn("loss", -0.0, 1)]
    points.append(PointIn("loss", 5e-324, INT64_MAX, INT64_MIN))

    result = await store.log_points("r1", points)
    [[series]] = await store.series([SeriesRequest("r1", None)])

    assert result == LogResult(accepted=3, duplicates=0)
    assert as_stored(series) == [
        (0, 1_700_000_000_123, 0.1 + 0.2),
        (1, None, -0.0),
        (INT64_MAX, INT64_MIN, 5e-324),
    ]


async def test_stored_point_is_a_duplicate_and_keeps_its_value(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1")
    await store.log_points("r1", [PointIn("loss", 1.0, 1), PointIn("loss", 2.0, 2)])

    result = await store.log_points("r1", [PointIn("loss", 9.0, 2), PointIn("loss", 3.0, 3)])

    assert result == LogResult(accepted=1, duplicates=1)
    assert await stored_points(metadb, "r1", "loss") == [
        (1, None, 1.0),
        (2, None, 2.0),
        (3, None, 3.0),
    ]


async def test_repeated_point_within_a_batch_keeps_the_first(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1")

    result = await store.log_points("r1", [PointIn("acc", 0.5, 7), PointIn("acc", 0.9, 7)])

    assert result == LogResult(accepted=1, duplicates=1)
    assert await stored_points(metadb, "r1", "acc") == [(7, None, 0.5)]


async def test_retry_with_idempotency_key_returns_first_result_and_writes_nothing(
    store: MetricStore, metadb: MetaDB, sent: list[str]
) -> None:
    await add_runs(metadb, "r1")
    first = await store.log_points("r1", curve("loss", range(10)), idempotency_key="req-1")
    sent.clear()

    again = await store.log_points("r1", curve("loss", range(10, 30)), idempotency_key="req-1")

    assert again == first == LogResult(accepted=10, duplicates=0)
    assert await rows(metadb, MetricPoint) == 10
    assert not [s for s in sent if s.lstrip().upper().startswith("INSERT")]


async def test_idempotency_key_is_scoped_to_the_run(store: MetricStore, metadb: MetaDB) -> None:
    await add_runs(metadb, "r1", "r2")
    await store.log_points("r1", curve("loss", range(3)), idempotency_key="req-1")

    other = await store.log_points("r2", curve("loss", range(5)), idempotency_key="req-1")

    assert other == LogResult(accepted=5, duplicates=0)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param(
            PointIn("loss", math.nan, 5), "point 3 ('loss' at step 5): value nan", id="nan"
        ),
        pytest.param(
            PointIn("loss", math.inf, 5), "point 3 ('loss' at step 5): value inf", id="inf"
        ),
        pytest.param(PointIn("loss", -math.inf, 5), "value -inf is not a finite", id="-inf"),
        pytest.param(
            PointIn("lo$s", 1.0, 5), "point 3: metric name 'lo$s' is not allowed", id="name"
        ),
        pytest.param(PointIn("loss\n", 1.0, 5), "point 3: metric name 'loss\\n'", id="newline"),
        pytest.param(PointIn("", 1.0, 5), "point 3: metric name ''", id="empty-name"),
        pytest.param(PointIn("x" * 251, 1.0, 5), "is not allowed: use 1 to 250", id="long-name"),
        pytest.param(PointIn("loss", 1.0, 2**63), f"step {2**63} is not a signed", id="step"),
        pytest.param(PointIn("loss", 1.0, 1, 2**64), "timestamp", id="timestamp"),
    ],
)
async def test_bad_point_refuses_the_whole_batch(
    store: MetricStore, metadb: MetaDB, bad: PointIn, message: str
) -> None:
    await add_runs(metadb, "r1")
    batch = [*curve("loss", range(3)), bad, *curve("loss", range(10, 13))]

    with pytest.raises(InputError) as raised:
        await store.log_points("r1", batch)

    assert message in raised.value.message
    assert (await rows(metadb, MetricPoint), await rows(metadb, MetricRollup)) == (0, 0)


async def test_too_many_points_are_refused_naming_the_limit(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1")

    with pytest.raises(InputError, match=f"{MAX_BATCH_POINTS + 1} points given; at most 10000"):
        await store.log_points("r1", curve("loss", range(MAX_BATCH_POINTS + 1)))

    assert await rows(metadb, MetricPoint) == 0


async def test_unknown_run_is_not_found_and_nothing_is_stored(
    store: MetricStore, metadb: MetaDB
) -> None:
    with pytest.raises(NotFoundError, match="execution 'missing' is not stored"):
        await store.log_points("missing", curve("loss", range(5)), idempotency_key="k")

    assert (await rows(metadb, MetricPoint), await rows(metadb, MetricRollup)) == (0, 0)


async def test_concurrent_writers_neither_lose_nor_duplicate_points(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1")
    batches = [
        curve("loss", range(start, start + 600), seed=start) for start in range(0, 1500, 250)
    ]
    batches += [curve("acc", range(start, 2000, 3)) for start in range(3)]

    results = await asyncio.gather(*(store.log_points("r1", b) for b in batches))

    logged = {(p.name, p.step) for batch in batches for p in batch}
    assert sum(r.accepted for r in results) == len(logged) == await rows(metadb, MetricPoint)
    assert sum(r.accepted + r.duplicates for r in results) == sum(map(len, batches))
    points = {n: await stored_points(metadb, "r1", n) for n in ("acc", "loss")}
    assert await stored_rollups(metadb, "r1") == recomputed_rollups(points)


async def test_rollups_follow_out_of_order_batches_and_negative_steps(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1")
    rng = random.Random(7)
    for _ in range(12):
        steps = rng.sample(range(-3000, 3000), rng.randint(1, 400))
        batch = [
            PointIn(rng.choice(["a", "b"]), float(rng.randint(-5, 5)), s, rng.choice([None, s]))
            for s in steps
        ]
        await store.log_points("r1", batch)

    points = {n: await stored_points(metadb, "r1", n) for n in ("a", "b")}
    assert await stored_rollups(metadb, "r1") == recomputed_rollups(points)


# ------------------------------------------------------------------ series ---


async def test_series_within_max_points_comes_whole_by_name(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1")
    await store.log_points("r1", curve("val_loss", range(50)) + curve("acc", range(20)))

    [found] = await store.series([SeriesRequest("r1", None, max_points=50)])

    assert [(s.name, s.count, s.downsampled, len(s.steps)) for s in found] == [
        ("acc", 20, False, 20),
        ("val_loss", 50, False, 50),
    ]


async def test_series_stats_describe_every_point_in_range(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1")
    points = curve("loss", range(1000), seed=3)
    await store.log_points("r1", points)

    [[s]] = await store.series([SeriesRequest("r1", ("loss",), 10, 100, 899)])

    in_range = [p.value for p in points if 100 <= p.step <= 899]
    assert (s.count, s.min, s.max, s.last) == (800, min(in_range), max(in_range), in_range[-1])
    assert s.downsampled
    assert len(s.steps) <= 10


async def test_range_applies_before_sampling(store: MetricStore, metadb: MetaDB) -> None:
    await add_runs(metadb, "r1")
    await store.log_points("r1", curve("loss", range(0, 5000, 5)))

    [[s]] = await store.series([SeriesRequest("r1", ("loss",), 20, 1003, 3996)])

    assert (s.steps[0], s.steps[-1], s.count) == (1005, 3995, 599)
    assert as_stored(s) == reference(
        [p for p in await stored_points(metadb, "r1", "loss") if 1003 <= p[0] <= 3996], 20
    )


async def test_a_spike_in_the_middle_survives_downsampling(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1")
    flat = [PointIn("loss", 1.0, step) for step in range(20_000)]
    flat[12_345] = PointIn("loss", 1e6, 12_345)
    flat[7_777] = PointIn("loss", -1e6, 7_777)
    await log_all(store, "r1", flat)

    [[s]] = await store.series([SeriesRequest("r1", ("loss",), 50)])

    assert {12_345, 7_777, 0, 19_999} <= set(s.steps)
    assert (s.max, s.min, len(s.steps) <= 50) == (1e6, -1e6, True)


async def test_unknown_run_or_metric_gives_no_series_and_empty_range_an_empty_one(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1")
    await store.log_points("r1", curve("loss", range(10)))

    found = await store.series(
        [
            SeriesRequest("missing", None),
            SeriesRequest("r1", ("nope",)),
            SeriesRequest("r1", ("loss", "nope"), 500, 100, 200),
        ]
    )

    assert found[:2] == [[], []]
    [empty] = found[2]
    assert (empty.name, empty.count, empty.steps, empty.last) == ("loss", 0, [], None)


@pytest.mark.parametrize("max_points", [3, 10_001])
async def test_max_points_out_of_bounds_is_refused(store: MetricStore, max_points: int) -> None:
    with pytest.raises(InputError, match="maxPoints must be between 4 and 10000"):
        await store.series([SeriesRequest("r1", None, max_points)])


async def test_downsampling_keeps_its_promises_on_random_series(
    metadb: MetaDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random walks with gaps, spikes, ties and negative steps, read both ways."""
    tops: list[int] = []

    def blocks(first: int, last: int, top: int) -> list[tuple[int, int, int]]:
        tops.append(top)
        return _blocks(first, last, top)

    monkeypatch.setattr("sources.metadb.metrics.series._blocks", blocks)
    rollups = MetricStore(metadb, rollup_min_points=0)
    raw = MetricStore(metadb, rollup_min_points=2**62)
    rng = random.Random(2026)
    truth: dict[tuple[str, str], list[Stored]] = {}
    runs = [f"r{i}" for i in range(3)]
    await add_runs(metadb, *runs)
    for run in runs:
        for name in ("loss", "acc"):
            start, step, value, points = rng.randint(-50_000, 50_000), 0, 0.0, []
            for _ in range(rng.choice([300, 3_000, 15_000])):
                step += rng.choice([1, 1, 1, 2, 7]) if rng.random() > 0.001 else 5_000
                value = round(value + rng.gauss(0, 1), 1)  # rounding makes ties
                if rng.random() < 0.002:
                    value *= 100
                points.append(PointIn(name, value, start + step, rng.choice([None, step])))
            await log_all(rollups, run, points)
            truth[run, name] = [(p.step, p.timestamp_ms, p.value) for p in points]
    requests = []
    for _ in range(40):
        run, name = rng.choice(runs), rng.choice(["loss", "acc"])
        steps = [p[0] for p in truth[run, name]]
        low, high = sorted(rng.sample(steps, 2)) if rng.random() < 0.6 else (None, None)
        requests.append(SeriesRequest(run, (name,), rng.randint(4, 700), low, high))

    found = await rollups.series(requests)
    rollup_reads = sum(1 for top in tops if top < TOP)  # blocks of downsampled series
    again = await rollups.series(requests)
    from_raw = await raw.series(requests)

    assert found == again == from_raw
    assert rollup_reads >= 10
    for request, [series] in zip(requests, found, strict=True):
        low = INT64_MIN if request.min_step is None else request.min_step
        high = INT64_MAX if request.max_step is None else request.max_step
        in_range = [p for p in truth[request.execution_id, series.name] if low <= p[0] <= high]
        kept = as_stored(series)
        assert kept == reference(in_range, request.max_points)
        assert len(kept) <= request.max_points
        assert series.steps == sorted(set(series.steps))
        assert (kept[0], kept[-1]) == (in_range[0], in_range[-1])
        assert series.count == len(in_range)
        assert series.downsampled == (len(in_range) > request.max_points)
        values = [p[2] for p in in_range]
        assert (series.min, series.max, series.last) == (min(values), max(values), values[-1])
        assert min(values) in series.values
        assert max(values) in series.values


def test_blocks_cover_a_range_exactly_without_crossing_the_top_width() -> None:
    rng = random.Random(11)
    cases = [(INT64_MIN, INT64_MAX, TOP), (0, 0, TOP), (-1, 0, 4), (5, 5, 1)]
    for _ in range(300):
        first = rng.randint(-(10**7), 10**7)
        cases.append((first, first + rng.randint(0, 10**6), rng.choice([1, *WIDTHS])))
    for first, last, top in cases:
        blocks = _blocks(first, last, top)
        spans = sorted((b * w, (h + 1) * w - 1) for w, b, h in blocks)
        assert (spans[0][0], spans[-1][1]) == (first, last)
        assert all(a[1] + 1 == b[0] for a, b in pairwise(spans))
        assert all(
            (w <= top and b // (top // w) == h // (top // w)) or w == top for w, b, h in blocks
        )
        assert len(blocks) <= 2 * len([w for w in WIDTHS if w <= top]) + 1


# ------------------------------------------------ summaries and evolution ---


async def test_summaries_give_each_metrics_last_value_per_run(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1", "r2", "r3")
    await store.log_points("r1", [PointIn("loss", 0.5, 3, 30), PointIn("loss", 0.9, 1)])
    await store.log_points("r1", [PointIn("acc", 0.7, 2)])
    await store.log_points("r2", [PointIn("loss", 0.4, 70_000), PointIn("loss", 0.3, 69_999)])

    found = await store.summaries(["r2", "r1", "r3", "missing"])

    assert found == [
        [MetricSummary("loss", 0.4, 70_000, None)],
        [MetricSummary("acc", 0.7, 2, None), MetricSummary("loss", 0.5, 3, 30)],
        [],
        [],
    ]


async def test_compare_keeps_only_the_asked_metrics(store: MetricStore, metadb: MetaDB) -> None:
    await add_runs(metadb, "r1", "r2")
    await store.log_points("r1", [PointIn("loss", 0.5, 3), PointIn("acc", 0.7, 2)])
    await store.log_points("r2", [PointIn("f1", 0.1, 1)])

    found = await store.compare(["r1", "r2"], ["loss", "f1"])

    assert found == [[MetricSummary("loss", 0.5, 3, None)], [MetricSummary("f1", 0.1, 1, None)]]


async def test_metric_names_of_pipelines_are_distinct_and_sorted(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1", "r2")
    await add_runs(metadb, "q1", pipeline="pipe-2")
    await store.log_points("r1", [PointIn("loss", 0.5, 3), PointIn("acc", 0.7, 2)])
    await store.log_points("r2", [PointIn("loss", 0.1, 1), PointIn("Zeta", 0.1, 1)])

    found = await store.metric_names_for_pipelines(["pipe-1", "pipe-2", "missing"])

    assert found == [["Zeta", "acc", "loss"], [], []]


async def test_evolution_gives_last_runs_oldest_first_with_none_when_missing(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r0", "r1", "r2", "r3")
    for i, run in enumerate(["r0", "r1", "r3"]):
        await store.log_points(run, [PointIn("loss", 1.0 / (i + 1), 5), PointIn("loss", 9.0, 1)])
    await store.log_points("r2", [PointIn("acc", 0.8, 1)])

    loss, acc = await store.evolution(EvolutionRequest("pipe-1", ("loss", "acc"), last_runs=3))

    assert [(p.execution_id, p.started_at, p.value) for p in loss.points] == [
        ("r1", T0 + timedelta(hours=1), 0.5),
        ("r2", T0 + timedelta(hours=2), None),
        ("r3", T0 + timedelta(hours=3), 1 / 3),
    ]
    assert [p.value for p in acc.points] == [None, 0.8, None]
    assert (loss.metric, acc.metric) == ("loss", "acc")


async def test_evolution_since_keeps_runs_started_at_or_after_it(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r0", "r1", "r2")

    [loss] = await store.evolution(
        EvolutionRequest("pipe-1", ("loss",), since=T0 + timedelta(hours=1))
    )

    assert [(p.execution_id, p.value) for p in loss.points] == [("r1", None), ("r2", None)]


# --------------------------------------------------------- statement counts ---


async def test_reads_send_the_same_statements_for_1_and_50_runs(
    store: MetricStore, metadb: MetaDB, sent: list[str]
) -> None:
    runs = [f"r{i:02d}" for i in range(50)]
    await add_runs(metadb, *runs)
    for i, run in enumerate(runs):
        await store.log_points(run, curve("loss", range(60 if i % 2 else 600)) + curve("acc", [1]))

    counts = []
    for ids in (runs[:1], runs):  # r00's loss is downsampled, its acc comes whole
        sent.clear()
        await store.summaries(ids)
        await store.metric_names_for_pipelines(["pipe-1"] * len(ids))
        await store.evolution(EvolutionRequest("pipe-1", ("loss", "acc"), last_runs=len(ids)))
        await store.series([SeriesRequest(run, None, 100) for run in ids])
        counts.append(selects(sent))

    # one each, and for series: stats, whole series, downsampled series
    assert counts == [6, 6]
    assert len(sent) == 6


async def test_a_write_sends_a_fixed_number_of_statements_and_one_per_insert_chunk(
    store: MetricStore, metadb: MetaDB, sent: list[str]
) -> None:
    await add_runs(metadb, "r1", "r2")
    counts = []
    for run, size in (("r1", 10), ("r2", MAX_BATCH_POINTS)):
        sent.clear()
        await store.log_points(run, curve("loss", range(size)), idempotency_key="k")
        counts.append(len(sent))

    if metadb.engine.dialect.name == "postgresql":  # one INSERT of arrays per table
        assert counts == [5, 5]  # lock, state, points, rollups, key
    else:  # state, multi-row INSERTs (5 values per point, 13 per rollup row), key
        rollup_rows = 2500 + 625 + 157 + 40 + 10 + 3 + 1 + 1
        chunks = -(-10_000 // (SQLITE_CHUNK_PARAMETERS // 5))
        chunks += -(-rollup_rows // (SQLITE_CHUNK_PARAMETERS // 13))
        assert counts == [4, 1 + chunks + 1]


# -------------------------------------------------------------- migration ---


async def test_migration_0002_round_trips(metadb_url: str) -> None:
    await upgrade(metadb_url, "0001")
    await upgrade(metadb_url, "0002")
    await downgrade(metadb_url, "0001")
    assert await metric_columns(metadb_url) == (
        ["execution_id", "name", "step", "timestamp", "value"],
        False,
    )

    await upgrade(metadb_url, "0002")

    assert await metric_columns(metadb_url) == (
        ["execution_id", "name", "step", "ts_ms", "value"],
        True,
    )
    db = MetaDB.connect(metadb_url)
    try:
        await add_runs(db, "r1")
        store = MetricStore(db)
        assert await store.log_points("r1", curve("loss", range(5))) == LogResult(5, 0)
        [[summary]] = await store.summaries(["r1"])
        assert summary.name == "loss"
    finally:
        await db.close()


async def test_points_are_keyed_for_series_reads(metadb: MetaDB) -> None:
    async with metadb.engine.connect() as conn:
        if metadb.engine.dialect.name == "sqlite":
            sql = await conn.scalar(
                sa.text("SELECT sql FROM sqlite_master WHERE name = 'metric_points'")
            )
            assert "WITHOUT ROWID" in str(sql)
        else:
            index = await conn.scalar(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'pk_metric_points'")
            )
            assert "(execution_id, name, step) INCLUDE (ts_ms, value)" in str(index)


async def metric_columns(url: str) -> tuple[list[str], bool]:
    db = MetaDB.connect(url)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(
                lambda c: (
                    [col["name"] for col in sa.inspect(c).get_columns("metric_points")],
                    sa.inspect(c).has_table("metric_rollups"),
                )
            )
    finally:
        await db.close()
