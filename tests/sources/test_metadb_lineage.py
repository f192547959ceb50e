"""LineageStore on both backends: edges recorded, retired and walked as of an instant; datasets."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from sources.errors import ConflictError, InputError
from sources.lineage.model import Direction, EdgeInput
from sources.metadb import MetaDB
from sources.metadb.lineage import LineageStore
from sources.metadb.models import LineageEdge, LineageEdgeKind
from tests.support.sql import statements

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CONSUMED = LineageEdgeKind.CONSUMED
PRODUCED = LineageEdgeKind.PRODUCED
DERIVED = LineageEdgeKind.DERIVED_FROM
DOWN, UP, BOTH = Direction.DOWNSTREAM, Direction.UPSTREAM, Direction.BOTH


@pytest.fixture
def store(metadb: MetaDB) -> LineageStore:
    return LineageStore(metadb)


def ds(name: str) -> str:
    return f"Dataset:s3://bucket/{name}"


def run(name: str) -> str:
    return f"PipelineExecution:external:train:{name}"


def derived(a: str, b: str) -> EdgeInput:
    return EdgeInput(ds(a), ds(b), DERIVED)


async def stored_rows(db: MetaDB) -> list[tuple[Any, ...]]:
    columns = ("from_id", "to_id", "kind", "origin", "retired_at")
    table = LineageEdge.__table__  # type: ignore[attr-defined]
    async with db.engine.connect() as conn:
        result = await conn.execute(sa.select(*(table.c[c] for c in columns)))
        return [tuple(row) for row in result]


async def bulk_insert(db: MetaDB, pairs: list[tuple[str, str]]) -> None:
    rows = [
        {"from_id": a, "to_id": b, "kind": "DERIVED_FROM", "origin": "test", "recorded_at": T0}
        for a, b in pairs
    ]
    async with db.engine.begin() as conn:
        await conn.execute(sa.insert(LineageEdge), rows)


# ---------------------------------------------------------------- record ---


async def test_record_returns_how_many_edges_were_new(store: LineageStore) -> None:
    count = await store.record(
        [EdgeInput(ds("raw"), run("r1"), CONSUMED), EdgeInput(run("r1"), ds("feat"), PRODUCED)],
        origin="api",
        at=T0,
    )

    assert count == 2


async def test_recording_a_live_edge_again_is_a_no_op_that_keeps_the_first_origin(
    store: LineageStore, metadb: MetaDB
) -> None:
    await store.record([derived("a", "b")], origin="api", at=T0)

    count = await store.record([derived("a", "b")], origin="openlineage", at=T0 + HOUR)

    assert count == 0
    assert await stored_rows(metadb) == [(ds("a"), ds("b"), DERIVED, "api", None)]


async def test_an_edge_repeated_within_a_batch_is_recorded_once(store: LineageStore) -> None:
    assert await store.record([derived("a", "b"), derived("a", "b")], origin="api") == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (EdgeInput("Table:x", ds("b"), DERIVED), "must start with one of"),
        (EdgeInput("Dataset:", ds("b"), DERIVED), "empty natural key"),
        (EdgeInput(ds("x" * 2_100), ds("b"), DERIVED), "at most 2048"),
        (EdgeInput(ds("a\n"), ds("b"), DERIVED), "control characters"),
        (EdgeInput(run("r1"), ds("b"), CONSUMED), "cannot go from a PipelineExecution"),
        (EdgeInput(ds("a"), ds("b"), "COPIED"), "not one of"),  # type: ignore[arg-type]
        (EdgeInput(ds("a"), ds("a"), DERIVED), "itself"),
    ],
    ids=["type", "empty", "long", "control", "direction", "kind", "self"],
)
async def test_a_batch_with_one_invalid_edge_stores_nothing(
    store: LineageStore, metadb: MetaDB, bad: EdgeInput, message: str
) -> None:
    with pytest.raises(InputError, match=message) as raised:
        await store.record([derived("a", "b"), bad], origin="api")

    assert raised.value.message.startswith("edge 1: ")
    assert await stored_rows(metadb) == []


async def test_a_batch_over_a_thousand_edges_is_refused(
    store: LineageStore, metadb: MetaDB
) -> None:
    edges = [derived("a", f"b{i}") for i in range(1_001)]

    with pytest.raises(InputError, match="at most 1000 edges"):
        await store.record(edges, origin="api")

    assert await stored_rows(metadb) == []


# -------------------------------------------------------- retire and asOf ---


async def test_an_edge_holds_from_its_recording_on(store: LineageStore) -> None:
    await store.record([derived("a", "b")], origin="api", at=T0)

    assert await store.neighbours([ds("a")], DOWN, T0 - HOUR) == []
    [edge] = await store.neighbours([ds("a")], DOWN, T0)
    assert (edge.to_key, edge.recorded_at, edge.origin) == (ds("b"), T0, "api")


async def test_a_retired_edge_holds_before_its_retirement_and_not_from_it_on(
    store: LineageStore,
) -> None:
    await store.record([derived("a", "b")], origin="api", at=T0)

    assert await store.retire([derived("a", "b")], at=T0 + HOUR) == 1

    assert len(await store.neighbours([ds("a")], DOWN, T0 + HOUR / 2)) == 1
    assert await store.neighbours([ds("a")], DOWN, T0 + HOUR) == []


async def test_a_read_as_of_before_a_retirement_does_not_show_it(store: LineageStore) -> None:
    await store.record([derived("a", "b")], origin="api", at=T0)
    await store.retire([derived("a", "b")], at=T0 + HOUR)

    [edge] = await store.neighbours([ds("a")], DOWN, T0)

    assert edge.retired_at is None


async def test_a_retired_edge_recorded_again_keeps_both_intervals(
    store: LineageStore, metadb: MetaDB
) -> None:
    await store.record([derived("a", "b")], origin="api", at=T0)
    await store.retire([derived("a", "b")], at=T0 + HOUR)
    await store.record([derived("a", "b")], origin="api", at=T0 + 2 * HOUR)

    held = [len(await store.neighbours([ds("a")], DOWN, T0 + n * HOUR / 2)) for n in range(6)]

    assert held == [1, 1, 0, 0, 1, 1]
    assert len(await stored_rows(metadb)) == 2


async def test_retiring_an_edge_twice_keeps_its_first_retirement(
    store: LineageStore, metadb: MetaDB
) -> None:
    await store.record([derived("a", "b")], origin="api", at=T0)
    await store.retire([derived("a", "b")], at=T0 + HOUR)

    assert await store.retire([derived("a", "b")], at=T0 + 2 * HOUR) == 0
    [row] = await stored_rows(metadb)
    assert row[-1] == T0 + HOUR


async def test_retiring_before_an_edge_was_recorded_leaves_it_live(store: LineageStore) -> None:
    await store.record([derived("a", "b")], origin="api", at=T0)

    assert await store.retire([derived("a", "b")], at=T0 - HOUR) == 0
    assert len(await store.neighbours([ds("a")], DOWN, T0 + HOUR)) == 1


async def test_a_naive_as_of_is_refused(store: LineageStore) -> None:
    with pytest.raises(InputError, match="time zone"):
        await store.neighbours([ds("a")], DOWN, datetime(2026, 3, 1))


async def test_a_walk_as_of_a_past_instant_shows_the_graph_as_it_was(
    store: LineageStore,
) -> None:
    await store.record([derived("a", "b")], origin="api", at=T0)
    await store.record([derived("b", "c")], origin="api", at=T0 + HOUR)
    await store.retire([derived("a", "b")], at=T0 + 2 * HOUR)

    before = await store.walk(ds("a"), direction=DOWN, depth=5, as_of=T0 + HOUR / 2)
    during = await store.walk(ds("a"), direction=DOWN, depth=5, as_of=T0 + HOUR)
    after = await store.walk(ds("a"), direction=DOWN, depth=5, as_of=T0 + 2 * HOUR)

    assert before.nodes == [ds("a"), ds("b")]
    assert during.nodes == [ds("a"), ds("b"), ds("c")]
    assert after.nodes == [ds("a")]
    assert during.as_of == T0 + HOUR


# ------------------------------------------------------------------ walk ---


@pytest.fixture
async def chain(store: LineageStore) -> None:
    """raw -> r1 -> feat -> r2 -> model, plus feat -DERIVED_FROM-> sample."""
    model = "ModelVersion:arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn/1"
    await store.record(
        [
            EdgeInput(ds("raw"), run("r1"), CONSUMED),
            EdgeInput(run("r1"), ds("feat"), PRODUCED),
            EdgeInput(ds("feat"), run("r2"), CONSUMED),
            EdgeInput(run("r2"), model, PRODUCED),
            derived("feat", "sample"),
        ],
        origin="api",
        at=T0,
    )


@pytest.mark.usefixtures("chain")
async def test_walk_downstream_follows_edges_along_their_direction(store: LineageStore) -> None:
    graph = await store.walk(ds("feat"), direction=DOWN, depth=5, as_of=T0)

    assert graph.nodes[:3] == [ds("feat"), ds("sample"), run("r2")]
    assert graph.nodes[3].startswith("ModelVersion:")
    assert ds("raw") not in graph.nodes
    assert not graph.truncated


@pytest.mark.usefixtures("chain")
async def test_walk_upstream_follows_edges_against_their_direction(store: LineageStore) -> None:
    graph = await store.walk(ds("feat"), direction=UP, depth=5, as_of=T0)

    assert graph.nodes == [ds("feat"), run("r1"), ds("raw")]
    assert [(e.from_key, e.to_key) for e in graph.edges] == [
        (ds("raw"), run("r1")),
        (run("r1"), ds("feat")),
    ]


@pytest.mark.usefixtures("chain")
async def test_walk_both_ways_reaches_ancestors_and_descendants(store: LineageStore) -> None:
    graph = await store.walk(ds("feat"), direction=BOTH, depth=1, as_of=T0)

    assert graph.nodes == [ds("feat"), ds("sample"), run("r1"), run("r2")]
    assert len(graph.edges) == 3


@pytest.mark.usefixtures("chain")
async def test_walk_stops_at_depth_and_says_it_was_truncated(store: LineageStore) -> None:
    graph = await store.walk(ds("raw"), direction=DOWN, depth=2, as_of=T0)

    assert graph.nodes == [ds("raw"), run("r1"), ds("feat")]
    assert graph.truncated


@pytest.mark.usefixtures("chain")
async def test_walk_reaching_the_end_before_depth_is_not_truncated(store: LineageStore) -> None:
    graph = await store.walk(ds("raw"), direction=DOWN, depth=4, as_of=T0)

    assert len(graph.nodes) == 6
    assert not graph.truncated


@pytest.mark.usefixtures("chain")
async def test_walk_at_depth_zero_is_the_root_truncated_when_it_has_edges(
    store: LineageStore,
) -> None:
    graph = await store.walk(ds("raw"), direction=DOWN, depth=0, as_of=T0)
    leaf = await store.walk(ds("sample"), direction=DOWN, depth=0, as_of=T0)

    assert (graph.nodes, graph.edges, graph.truncated) == ([ds("raw")], [], True)
    assert not leaf.truncated


async def test_walk_both_ways_is_truncated_by_an_edge_between_two_last_level_nodes(
    store: LineageStore,
) -> None:
    await store.record([derived("a", "b"), derived("a", "c"), derived("b", "c")], origin="api")

    graph = await store.walk(ds("a"), direction=BOTH, depth=1)

    assert graph.nodes == [ds("a"), ds("b"), ds("c")]
    assert len(graph.edges) == 2
    assert graph.truncated


async def test_walk_visits_each_node_of_a_cycle_once(store: LineageStore) -> None:
    await store.record([derived("a", "b"), derived("b", "c"), derived("c", "a")], origin="api")

    graph = await store.walk(ds("a"), direction=DOWN, depth=10)

    assert graph.nodes == [ds("a"), ds("b"), ds("c")]
    assert [(e.from_key, e.to_key) for e in graph.edges] == [
        (ds("a"), ds("b")),
        (ds("b"), ds("c")),
        (ds("c"), ds("a")),
    ]
    assert not graph.truncated


async def test_walk_lists_each_level_in_key_order(store: LineageStore) -> None:
    await store.record(
        [derived("a", "z"), derived("a", "m"), derived("z", "b"), derived("m", "y")],
        origin="api",
    )

    graph = await store.walk(ds("a"), direction=DOWN, depth=2)

    assert graph.nodes == [ds("a"), ds("m"), ds("z"), ds("b"), ds("y")]


async def test_walk_within_the_node_budget_keeps_the_first_keys_and_is_truncated(
    store: LineageStore,
) -> None:
    await store.record([derived("root", f"n{i}") for i in range(5)], origin="api")

    graph = await store.walk(ds("root"), direction=DOWN, depth=3, node_budget=3)

    assert graph.nodes == [ds("root"), ds("n0"), ds("n1")]
    assert len(graph.edges) == 2
    assert graph.truncated


async def test_walk_costs_one_statement_per_level_whatever_its_width(
    store: LineageStore, metadb: MetaDB
) -> None:
    # narrow: root -> hub -> 1 leaf; wide: root -> hub -> 300 leaves
    await store.record([derived("narrow", "narrow-hub"), derived("narrow-hub", "x")], origin="t")
    await store.record(
        [derived("wide", "wide-hub")] + [derived("wide-hub", f"w{i:03}") for i in range(300)],
        origin="t",
    )

    with statements(metadb) as narrow_sent:
        narrow = await store.walk(ds("narrow"), direction=DOWN, depth=5)
    with statements(metadb) as wide_sent:
        wide = await store.walk(ds("wide"), direction=DOWN, depth=5)

    assert (len(narrow.nodes), len(wide.nodes)) == (3, 302)
    assert len(narrow_sent) == len(wide_sent) == 3  # levels expanded: root, hub, leaves


async def test_neighbours_of_one_key_or_of_many_is_one_statement(
    store: LineageStore, metadb: MetaDB
) -> None:
    await store.record([derived("a", f"b{i}") for i in range(700)], origin="t")
    many = [ds(f"b{i}") for i in range(700)]

    with statements(metadb) as one_sent:
        one = await store.neighbours([ds("a")], DOWN)
    with statements(metadb) as many_sent:
        upstream = await store.neighbours(many, UP)

    assert (len(one), len(upstream)) == (700, 700)
    assert len(one_sent) == len(many_sent) == 1


async def test_walk_of_a_ten_thousand_node_graph_stops_at_the_node_budget_quickly(
    store: LineageStore, metadb: MetaDB
) -> None:
    await bulk_insert(metadb, [(ds(f"n{(i - 1) // 2}"), ds(f"n{i}")) for i in range(1, 10_000)])

    started = time.perf_counter()
    graph = await store.walk(ds("n0"), direction=DOWN, depth=50, as_of=T0, node_budget=1_000)
    elapsed = time.perf_counter() - started

    assert len(graph.nodes) == 1_000
    assert graph.truncated
    assert elapsed < 5


async def test_walk_refuses_a_depth_or_budget_out_of_bounds(store: LineageStore) -> None:
    with pytest.raises(InputError, match="depth"):
        await store.walk(ds("a"), direction=DOWN, depth=101)
    with pytest.raises(InputError, match="node budget"):
        await store.walk(ds("a"), direction=DOWN, depth=1, node_budget=0)


# -------------------------------------------------------------- datasets ---


async def test_upsert_datasets_returns_their_ids_and_is_idempotent(store: LineageStore) -> None:
    items = [("s3://b/churn.parquet", None, "churn"), ("s3://b/churn.parquet", "3", None)]

    first = await store.upsert_datasets(items)
    again = await store.upsert_datasets(items)

    assert first == again == ["s3://b/churn.parquet", "s3://b/churn.parquet@3"]


async def test_datasets_by_ids_follow_key_order_with_none_in_one_statement(
    store: LineageStore, metadb: MetaDB
) -> None:
    await store.upsert_datasets([("s3://b/x", "1", None), ("s3://b/y", None, "why")])

    with statements(metadb) as sent:
        found = await store.datasets_by_ids(["s3://b/y", "missing", "s3://b/x@1"])

    assert [(d.uri, d.version, d.name) if d else None for d in found] == [
        ("s3://b/y", None, "why"),
        None,
        ("s3://b/x", "1", "x"),
    ]
    assert len(sent) == 1


async def test_dataset_by_uri_tells_versions_apart(store: LineageStore) -> None:
    await store.upsert_datasets([("s3://b/x", "1", None)])

    found = await store.dataset_by_uri("s3://b/x", "1")

    assert found is not None
    assert found.id == "s3://b/x@1"
    assert await store.dataset_by_uri("s3://b/x", None) is None


async def test_dataset_id_taken_by_another_uri_and_version_is_a_conflict(
    store: LineageStore,
) -> None:
    await store.upsert_datasets([("s3://b/x@1", None, None)])

    with pytest.raises(ConflictError):
        await store.upsert_datasets([("s3://b/x", "1", None)])


async def test_a_dataset_without_a_uri_is_refused(store: LineageStore) -> None:
    with pytest.raises(InputError, match="dataset 0"):
        await store.upsert_datasets([("", "1", None)])
