"""Series read as the JSON of their columns give the very numbers of the lists, on both
backends: the same steps, the same doubles (still floats), the same timestamps and nulls.

On SQLite the bytes are exactly what orjson writes for the lists (the previous
encoding of ``columns``); PostgreSQL writes its own shortest form of each double
(``1e-07`` for ``1e-7``, say), which reads back as the same number.
"""

from __future__ import annotations

import json
import random

import orjson
import pytest

from sources.metadb import MetaDB
from sources.metadb.metrics import INT64_MAX, INT64_MIN, MetricStore
from sources.metrics.model import PointIn, Series, SeriesRequest
from tests.sources.test_metadb_metrics import add_runs, log_all

# Doubles whose text is easy to get wrong: integral ones (".0" or not, and where an
# exponent starts), the smallest and largest, ones needing 17 digits, negative zero.
AWKWARD = [
    1.0,
    -0.0,
    0.0,
    100.0,
    -2.5,
    0.1,
    0.1 + 0.2,
    1 / 3,
    2 / 3,
    1e-7,
    1.5e-5,
    0.0001,
    123456789012345.0,
    999999999999999.0,
    1e15,
    -1e15,
    1e16,
    1.2345678901234567e17,
    1e300,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    9007199254740993.0,
    0.30000000000000004,
]


@pytest.fixture
def store(metadb: MetaDB) -> MetricStore:
    return MetricStore(metadb)


def columns_of(series: Series) -> dict[str, list[object]]:
    return {"steps": series.steps, "values": series.values, "timestamps": series.timestamps_ms}


def read_back(series: Series) -> dict[str, list[object]]:
    assert series.encoded_columns is not None
    assert (series.steps, series.values, series.timestamps_ms) == ([], [], [])
    decoded: dict[str, list[object]] = json.loads(series.encoded_columns)
    assert orjson.loads(series.encoded_columns) == decoded
    return decoded


async def both_ways(store: MetricStore, *requests: SeriesRequest) -> list[tuple[Series, Series]]:
    """Each series read as lists and as JSON (same snapshot contents)."""
    lists = await store.series(requests)
    encoded = await store.series(
        [
            SeriesRequest(r.execution_id, r.names, r.max_points, r.min_step, r.max_step, True)
            for r in requests
        ]
    )
    pairs = []
    for plain_group, encoded_group in zip(lists, encoded, strict=True):
        assert [s.name for s in plain_group] == [s.name for s in encoded_group]
        pairs.extend(zip(plain_group, encoded_group, strict=True))
    return pairs


def same_numbers(got: dict[str, list[object]], want: dict[str, list[object]]) -> None:
    assert got == want
    for key in ("steps", "values", "timestamps"):
        assert [type(v) for v in got[key]] == [type(v) for v in want[key]], key
    # -0.0 == 0.0: the sign is compared apart (where the lists kept it)
    signs = [str(v).startswith("-") for v in want["values"]]
    assert [str(v).startswith("-") for v in got["values"]] == signs


async def test_awkward_doubles_read_back_as_the_same_floats(
    store: MetricStore, metadb: MetaDB, metadb_url: str
) -> None:
    await add_runs(metadb, "r1")
    points = [
        PointIn("v", value, step, None if step % 3 else 1_700_000_000_000 + step)
        for step, value in enumerate(AWKWARD)
    ]
    points.append(PointIn("v", 7.0, INT64_MAX, INT64_MIN))
    await store.log_points("r1", points)

    [(plain, encoded)] = await both_ways(store, SeriesRequest("r1", ("v",), 500))

    want = columns_of(plain)
    assert len(want["values"]) == len(AWKWARD) + 1
    same_numbers(read_back(encoded), want)
    assert (encoded.count, encoded.min, encoded.max, encoded.last) == (
        plain.count,
        plain.min,
        plain.max,
        plain.last,
    )
    if metadb_url.startswith("sqlite"):
        assert encoded.encoded_columns == orjson.dumps(want)


async def test_many_runs_and_metrics_in_one_read_keep_each_series_apart(
    store: MetricStore, metadb: MetaDB
) -> None:
    runs = [f"r{i}" for i in range(12)]
    await add_runs(metadb, *runs)
    rng = random.Random(7)
    for index, run in enumerate(runs):
        points = [
            PointIn(name, rng.uniform(-1e3, 1e3) if k else float(step), step, 1_000 * step)
            for k, name in enumerate(("acc", "loss", "lr"))
            for step in range(index * 7 + 1)
        ]
        await log_all(store, run, points)
    requests = [SeriesRequest(run, None, 100, None, None) for run in runs]
    requests += [SeriesRequest(run, ("loss",), 100, 3, 40) for run in runs[::3]]

    pairs = await both_ways(store, *requests)

    assert len(pairs) == 3 * len(runs) + len(runs[::3])
    for plain, encoded in pairs:
        if plain.count == 0:
            assert encoded.encoded_columns is None
            assert columns_of(encoded) == columns_of(plain)
            continue
        same_numbers(read_back(encoded), columns_of(plain))
        assert encoded.count == plain.count


async def test_a_downsampled_or_empty_series_comes_as_lists(
    store: MetricStore, metadb: MetaDB
) -> None:
    await add_runs(metadb, "r1")
    await store.log_points("r1", [PointIn("loss", 1 / (s + 1), s) for s in range(300)])

    [(thinned, thinned_encoded), (empty, empty_encoded)] = await both_ways(
        store,
        SeriesRequest("r1", ("loss",), 20),
        SeriesRequest("r1", ("loss",), 500, 1000, 2000),
    )

    assert thinned_encoded.downsampled
    assert thinned_encoded.encoded_columns is None
    assert columns_of(thinned_encoded) == columns_of(thinned)
    assert empty_encoded.encoded_columns is None
    assert (
        columns_of(empty_encoded)
        == columns_of(empty)
        == {
            "steps": [],
            "values": [],
            "timestamps": [],
        }
    )
