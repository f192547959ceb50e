"""PipelineStore: pipelines, executions and steps in the metadb, on both backends."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from sources.errors import ConflictError, InputError, NotFoundError
from sources.metadb import MetaDB
from sources.metadb.models import Execution, ExecutionStatus, ExecutionStep, Orchestrator
from sources.metadb.pipelines import PipelineStore
from sources.pipelines.model import ExecutionInfo, PipelineInfo, StepState
from tests.support.sql import statements

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SUCCEEDED = ExecutionStatus.SUCCEEDED
RUNNING = ExecutionStatus.RUNNING
FAILED = ExecutionStatus.FAILED


@pytest.fixture
def store(metadb: MetaDB) -> PipelineStore:
    return PipelineStore(metadb)


def selects(sent: list[str]) -> list[str]:
    return [s for s in sent if s.lstrip().upper().startswith("SELECT")]


def writes(sent: list[str]) -> list[str]:
    return [s for s in sent if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def pipeline(id: str = "pipe-1", **fields: Any) -> PipelineInfo:
    defaults: dict[str, Any] = {"orchestrator": Orchestrator.STEP_FUNCTIONS, "name": id}
    return PipelineInfo(id=id, **{**defaults, **fields})


def execution(id: str = "exec-1", **fields: Any) -> ExecutionInfo:
    defaults: dict[str, Any] = {
        "pipeline_id": "pipe-1",
        "name": id,
        "status": SUCCEEDED,
        "started_at": T0,
        "stopped_at": T0 + timedelta(minutes=5),
    }
    return ExecutionInfo(id=id, **{**defaults, **fields})


def step(name: str, position: int = 0, **fields: Any) -> StepState:
    defaults: dict[str, Any] = {"type": "Task", "status": SUCCEEDED}
    return StepState(name=name, position=position, **{**defaults, **fields})


async def stored_execution(store: PipelineStore, id: str) -> ExecutionInfo | None:
    [found] = await store.executions_by_ids([id])
    return found


# -------------------------------------------------------------- pipelines ---


async def test_saved_pipeline_reads_back(store: PipelineStore) -> None:
    saved = pipeline(arn="arn:aws:states:eu-west-1:1:stateMachine:churn", entity_ref="c:churn")
    await store.save_pipeline(saved)

    assert await store.pipelines_by_ids(["pipe-1"]) == [saved]


async def test_saving_a_pipeline_again_updates_it(store: PipelineStore) -> None:
    await store.save_pipeline(pipeline(name="churn"))
    await store.save_pipeline(pipeline(name="churn-v2", entity_ref="component:churn"))

    [found] = await store.pipelines_by_ids(["pipe-1"])

    assert found == pipeline(name="churn-v2", entity_ref="component:churn")


async def test_pipeline_taking_another_pipelines_arn_is_a_conflict(store: PipelineStore) -> None:
    await store.save_pipeline(pipeline("a", arn="arn:1"))

    with pytest.raises(ConflictError):
        await store.save_pipeline(pipeline("b", arn="arn:1"))

    assert await store.pipelines_by_ids(["b"]) == [None]


async def test_pipelines_by_ids_follow_key_order_with_none_for_missing(
    store: PipelineStore, metadb: MetaDB
) -> None:
    for id in ("a", "b", "c"):
        await store.save_pipeline(pipeline(id))

    with statements(metadb) as sent:
        found = await store.pipelines_by_ids(["c", "missing", "a", "c"])

    assert [p.id if p else None for p in found] == ["c", None, "a", "c"]
    assert len(sent) == 1


async def test_list_pipelines_orders_by_name_and_says_whether_more_follow(
    store: PipelineStore,
) -> None:
    for id, name in [("1", "delta"), ("2", "alpha"), ("3", "charlie"), ("4", "bravo")]:
        await store.save_pipeline(pipeline(id, name=name))

    first, more_after_first = await store.list_pipelines(None, None, limit=3, offset=0)
    second, more_after_second = await store.list_pipelines(None, None, limit=3, offset=3)

    assert [p.name for p in first] == ["alpha", "bravo", "charlie"]
    assert more_after_first is True
    assert [p.name for p in second] == ["delta"]
    assert more_after_second is False


async def test_list_pipelines_filters_by_orchestrator_and_name_text(store: PipelineStore) -> None:
    await store.save_pipeline(pipeline("1", name="Churn-Train"))
    await store.save_pipeline(pipeline("2", name="churn_eval", orchestrator=Orchestrator.EXTERNAL))
    await store.save_pipeline(pipeline("3", name="fraud-train"))
    await store.save_pipeline(pipeline("4", name="churnXeval"))

    by_text, _ = await store.list_pipelines(None, "CHURN_", limit=10, offset=0)
    by_both, _ = await store.list_pipelines(
        [Orchestrator.STEP_FUNCTIONS], "train", limit=10, offset=0
    )

    assert [p.id for p in by_text] == ["2"]  # "_" is a character, not a LIKE wildcard
    assert [p.id for p in by_both] == ["1", "3"]


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (10, -1)])
async def test_list_pipelines_refuses_a_bad_page(
    store: PipelineStore, limit: int, offset: int
) -> None:
    with pytest.raises(InputError) as raised:
        await store.list_pipelines(None, None, limit=limit, offset=offset)
    assert raised.value.source == "metadb"


# ------------------------------------------------------------- executions ---


async def test_saved_execution_reads_back_with_utc_datetimes_and_json_parameters(
    store: PipelineStore,
) -> None:
    await store.save_pipeline(pipeline())
    berlin = timezone(timedelta(hours=2))
    parameters = {"lr": 0.001, "layers": [64, 32], "optimizer": {"name": "adam"}, "note": "ü"}
    saved = execution(
        started_at=datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=berlin),
        stopped_at=datetime(2026, 6, 1, 14, 40, tzinfo=berlin),
        arn="arn:aws:states:eu-west-1:1:execution:churn:exec-1",
        error="States.TaskFailed",
        cause="boom",
        parameters=parameters,
    )
    await store.save_execution(saved)

    found = await stored_execution(store, "exec-1")

    assert found == saved
    assert found is not None
    assert found.started_at.tzinfo is UTC
    assert found.started_at.hour == 12
    assert found.detailed is True
    assert found.parameters == parameters


async def test_executions_by_ids_follow_key_order_with_none_for_missing(
    store: PipelineStore,
) -> None:
    await store.save_pipeline(pipeline())
    await store.save_execution(execution("a"))
    await store.save_execution(execution("b"))

    found = await store.executions_by_ids(["b", "missing", "a"])

    assert [e.id if e else None for e in found] == ["b", None, "a"]


async def test_executions_by_ids_of_100_ids_is_one_query(
    store: PipelineStore, metadb: MetaDB
) -> None:
    await store.save_pipeline(pipeline())
    for i in range(50):
        await store.save_execution(execution(f"exec-{i:03}"))
    ids = [f"exec-{i:03}" for i in range(100)]

    with statements(metadb) as sent:
        found = await store.executions_by_ids(ids)

    assert [e.id if e else None for e in found] == ids[:50] + [None] * 50
    assert len(selects(sent)) == len(sent) == 1


async def test_execution_of_an_unstored_pipeline_is_refused(store: PipelineStore) -> None:
    with pytest.raises(NotFoundError, match="pipe-1"):
        await store.save_execution(execution(), [step("Train")])

    assert await stored_execution(store, "exec-1") is None


async def test_saving_an_unfinished_execution_again_updates_it_and_replaces_its_steps(
    store: PipelineStore,
) -> None:
    await store.save_pipeline(pipeline())
    await store.save_execution(
        execution(status=RUNNING, stopped_at=None),
        [step("Prepare", 0), step("Train", 1, status=RUNNING)],
    )
    done = execution()
    await store.save_execution(done, [step("Train", 0), step("Evaluate", 1)])

    assert await stored_execution(store, "exec-1") == done
    assert await store.steps_by_execution_ids(["exec-1"]) == [
        [step("Train", 0), step("Evaluate", 1)]
    ]


async def test_saving_without_steps_keeps_the_stored_steps(store: PipelineStore) -> None:
    await store.save_pipeline(pipeline())
    await store.save_execution(execution(status=RUNNING, stopped_at=None), [step("Train")])
    await store.save_execution(execution())

    assert await store.steps_by_execution_ids(["exec-1"]) == [[step("Train")]]


async def test_stored_finished_execution_is_immutable(store: PipelineStore, metadb: MetaDB) -> None:
    await store.save_pipeline(pipeline())
    finished = execution(status=FAILED, error="boom")
    await store.save_execution(finished, [step("Train", status=FAILED)])

    with statements(metadb) as sent:
        await store.save_execution(execution(status=SUCCEEDED, error=None), [step("Other")])

    assert await stored_execution(store, "exec-1") == finished
    assert await store.steps_by_execution_ids(["exec-1"]) == [[step("Train", status=FAILED)]]
    assert [s.split()[0].upper() for s in writes(sent)] == ["INSERT"]  # the refused upsert only


async def test_failing_step_insert_leaves_the_execution_and_its_steps_unchanged(
    store: PipelineStore,
) -> None:
    await store.save_pipeline(pipeline())
    running = execution(status=RUNNING, stopped_at=None)
    await store.save_execution(running, [step("Prepare", 0), step("Train", 1)])
    # The second step's naive datetime is refused by its column, after the
    # execution was updated and the old steps deleted in the same transaction.
    bad_steps = [step("Evaluate", 0), step("Deploy", 1, started_at=datetime(2026, 3, 1, 12))]

    with pytest.raises(StatementError, match="naive datetime"):
        await store.save_execution(execution(), bad_steps)

    assert await stored_execution(store, "exec-1") == running
    assert await store.steps_by_execution_ids(["exec-1"]) == [
        [step("Prepare", 0), step("Train", 1)]
    ]


async def test_duplicate_step_names_are_refused_and_nothing_is_stored(
    store: PipelineStore,
) -> None:
    await store.save_pipeline(pipeline())
    running = execution(status=RUNNING, stopped_at=None)
    await store.save_execution(running, [step("Train")])

    with pytest.raises(InputError, match="'Evaluate' is given more than once"):
        await store.save_execution(execution(), [step("Evaluate", 0), step("Evaluate", 1)])

    assert await stored_execution(store, "exec-1") == running
    assert await store.steps_by_execution_ids(["exec-1"]) == [[step("Train")]]


async def test_finished_steps_only_for_stored_finished_executions_in_one_query(
    store: PipelineStore, metadb: MetaDB
) -> None:
    await store.save_pipeline(pipeline())
    await store.save_execution(execution("done"), [step("Evaluate", 2), step("Train", 1)])
    await store.save_execution(execution("no-steps"), [])
    await store.save_execution(
        execution("running", status=RUNNING, stopped_at=None), [step("Train")]
    )

    with statements(metadb) as sent:
        found = await store.finished_steps_by_execution_ids(
            ["running", "done", "missing", "no-steps"]
        )

    assert found == [None, [step("Train", 1), step("Evaluate", 2)], None, []]
    assert len(sent) == 1


async def test_steps_by_execution_ids_include_unfinished_executions(
    store: PipelineStore, metadb: MetaDB
) -> None:
    await store.save_pipeline(pipeline())
    await store.save_execution(
        execution("running", status=RUNNING, stopped_at=None),
        [step("Train", 1, status=RUNNING), step("Prepare", 0)],
    )
    await store.save_execution(execution("done"), [step("Train")])

    with statements(metadb) as sent:
        found = await store.steps_by_execution_ids(["running", "missing", "done"])

    assert found == [
        [step("Prepare", 0), step("Train", 1, status=RUNNING)],
        [],
        [step("Train")],
    ]
    assert len(sent) == 1


# ------------------------------------------------------- listing executions ---


async def save_runs(store: PipelineStore, *runs: ExecutionInfo) -> None:
    await store.save_pipeline(pipeline())
    await store.save_pipeline(pipeline("pipe-2"))
    for run in runs:
        await store.save_execution(run)


async def test_list_executions_pages_newest_first_with_ties_broken_by_id(
    store: PipelineStore,
) -> None:
    # Seven runs, several starting at the same instant: pages of 3 must neither
    # skip nor repeat any of them.
    starts = {"a": 0, "b": 1, "c": 1, "d": 1, "e": 1, "f": 2, "g": 2}
    await save_runs(
        store,
        *(execution(id, started_at=T0 + timedelta(hours=h)) for id, h in starts.items()),
        execution("other-pipeline", pipeline_id="pipe-2", started_at=T0 + timedelta(hours=9)),
    )

    pages = []
    cursor = None
    for _ in range(3):
        page = await store.list_executions("pipe-1", None, None, limit=3, cursor=cursor)
        pages.append([e.id for e in page.items])
        cursor = page.next_token

    assert pages == [["g", "f", "e"], ["d", "c", "b"], ["a"]]
    assert cursor is None


async def test_list_executions_page_is_not_shifted_by_a_newer_execution(
    store: PipelineStore,
) -> None:
    await save_runs(
        store,
        *(
            execution(id, started_at=T0 + timedelta(hours=h))
            for id, h in [("a", 0), ("b", 1), ("c", 2)]
        ),
    )
    first = await store.list_executions("pipe-1", None, None, limit=2, cursor=None)
    await store.save_execution(execution("newest", started_at=T0 + timedelta(hours=5)))

    second = await store.list_executions("pipe-1", None, None, limit=2, cursor=first.next_token)

    assert [e.id for e in second.items] == ["a"]


async def test_list_executions_filters_by_status(store: PipelineStore) -> None:
    await save_runs(
        store,
        execution("ok", started_at=T0),
        execution("failed", status=FAILED, started_at=T0 + timedelta(hours=1)),
        execution("running", status=RUNNING, stopped_at=None, started_at=T0 + timedelta(hours=2)),
    )

    page = await store.list_executions("pipe-1", [RUNNING, FAILED], None, limit=10, cursor=None)

    assert [e.id for e in page.items] == ["running", "failed"]
    assert page.next_token is None


async def test_list_executions_filters_by_since_inclusive(store: PipelineStore) -> None:
    await save_runs(
        store, *(execution(f"h{h}", started_at=T0 + timedelta(hours=h)) for h in range(4))
    )
    since = (T0 + timedelta(hours=2)).astimezone(timezone(timedelta(hours=-5)))

    page = await store.list_executions("pipe-1", None, since, limit=10, cursor=None)

    assert [e.id for e in page.items] == ["h3", "h2"]


async def test_list_executions_refuses_a_since_without_time_zone(store: PipelineStore) -> None:
    with pytest.raises(InputError, match="since must have a time zone"):
        await store.list_executions("pipe-1", None, datetime(2026, 3, 1), limit=10, cursor=None)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not base64!", id="not-base64"),
        pytest.param(b64("{not json"), id="not-json"),
        pytest.param(b64('{"s": "2026-03-01T12:00:00+00:00", "i": "a"}'), id="object"),
        pytest.param(b64('["2026-03-01T12:00:00+00:00"]'), id="one-item"),
        pytest.param(b64('["yesterday", "a"]'), id="bad-date"),
        pytest.param(b64('["2026-03-01T12:00:00", "a"]'), id="naive-date"),
        pytest.param(b64('["2026-03-01T12:00:00+00:00", 7]'), id="id-not-string"),
        pytest.param("ünïcode", id="non-ascii"),
    ],
)
async def test_malformed_cursor_is_an_input_error(store: PipelineStore, cursor: str) -> None:
    with pytest.raises(InputError, match="malformed cursor") as raised:
        await store.list_executions("pipe-1", None, None, limit=10, cursor=cursor)
    assert raised.value.source == "metadb"


async def test_latest_executions_of_three_pipelines_take_one_select(
    store: PipelineStore, metadb: MetaDB
) -> None:
    for id in ("p1", "p2", "p3", "empty"):
        await store.save_pipeline(pipeline(id))
    for pipeline_id, hours in [("p1", [0, 3, 1]), ("p2", [5]), ("p3", [2, 2])]:
        for i, h in enumerate(hours):
            await store.save_execution(
                execution(
                    f"{pipeline_id}-{i}",
                    pipeline_id=pipeline_id,
                    started_at=T0 + timedelta(hours=h),
                )
            )

    with statements(metadb) as sent:
        latest = await store.latest_executions(["p3", "empty", "p1", "p2", "unknown"])

    assert [e.id if e else None for e in latest] == ["p3-1", None, "p1-1", "p2-0", None]
    assert len(selects(sent)) == len(sent) == 1


# ------------------------------------------------------------ pushed runs ---


async def push(store: PipelineStore, **fields: Any) -> ExecutionInfo:
    arguments: dict[str, Any] = {
        "pipeline_name": "churn",
        "run_id": "run-1",
        "status": RUNNING,
        "started_at": T0,
        **fields,
    }
    return await store.record_external_run(**arguments)


async def test_pushed_run_creates_the_external_pipeline_and_execution(
    store: PipelineStore,
) -> None:
    returned = await push(
        store,
        parameters={"epochs": 3},
        steps=[step("Train", status=RUNNING, started_at=T0)],
        entity_ref="component:default/churn",
    )

    [stored_pipeline] = await store.pipelines_by_ids(["external:churn"])
    assert stored_pipeline == PipelineInfo(
        id="external:churn",
        orchestrator=Orchestrator.EXTERNAL,
        name="churn",
        entity_ref="component:default/churn",
    )
    assert returned == ExecutionInfo(
        id="external:churn:run-1",
        pipeline_id="external:churn",
        name="run-1",
        status=RUNNING,
        started_at=T0,
        parameters={"epochs": 3},
    )
    assert await stored_execution(store, "external:churn:run-1") == returned
    assert await store.steps_by_execution_ids([returned.id]) == [
        [step("Train", status=RUNNING, started_at=T0)]
    ]


async def test_later_push_updates_the_run(store: PipelineStore) -> None:
    await push(store, parameters={"epochs": 3})
    stopped = T0 + timedelta(minutes=30)

    returned = await push(store, status=FAILED, stopped_at=stopped, error="OOM", cause="killed")

    assert returned.status is FAILED
    assert (returned.stopped_at, returned.error, returned.parameters) == (stopped, "OOM", {})
    assert await stored_execution(store, returned.id) == returned


async def test_later_push_without_entity_ref_keeps_the_pipelines(store: PipelineStore) -> None:
    await push(store, entity_ref="component:default/churn")
    await push(store, status=SUCCEEDED)

    [found] = await store.pipelines_by_ids(["external:churn"])

    assert found is not None
    assert found.entity_ref == "component:default/churn"


async def test_pushed_steps_merge_by_name(store: PipelineStore) -> None:
    await push(
        store,
        steps=[
            step("Prepare", 0, started_at=T0, stopped_at=T0 + timedelta(minutes=1)),
            step("Train", 1, status=RUNNING, started_at=T0 + timedelta(minutes=1)),
        ],
    )
    train_done = step(
        "Train",
        1,
        started_at=T0 + timedelta(minutes=1),
        stopped_at=T0 + timedelta(minutes=9),
        attempts=2,
        resource_arn="arn:aws:sagemaker:eu-west-1:1:training-job/t",
    )
    returned = await push(store, steps=[train_done, step("Evaluate", 2, status=RUNNING)])

    assert await store.steps_by_execution_ids([returned.id]) == [
        [
            step("Prepare", 0, started_at=T0, stopped_at=T0 + timedelta(minutes=1)),
            train_done,
            step("Evaluate", 2, status=RUNNING),
        ]
    ]


async def test_pushed_steps_keep_their_first_place_and_new_ones_go_after(
    store: PipelineStore,
) -> None:
    # Each push numbers its own steps from 0.
    await push(store, steps=[step("Prepare", 0), step("Train", 1, status=RUNNING)])
    returned = await push(
        store, steps=[step("Evaluate", 0, status=RUNNING), step("Train", 1), step("Audit", 2)]
    )

    [steps] = await store.steps_by_execution_ids([returned.id])

    assert [(s.name, s.position) for s in steps] == [
        ("Prepare", 0),
        ("Train", 1),
        ("Evaluate", 2),
        ("Audit", 3),
    ]


async def test_changing_the_status_of_a_finished_pushed_run_is_a_conflict(
    store: PipelineStore,
) -> None:
    finished = await push(store, status=SUCCEEDED, stopped_at=T0 + timedelta(hours=1))

    with pytest.raises(ConflictError, match="finished run is immutable") as raised:
        await push(store, status=FAILED, stopped_at=T0 + timedelta(hours=2), entity_ref="c:x")

    assert raised.value.source == "metadb"
    assert await stored_execution(store, finished.id) == finished
    [stored_pipeline] = await store.pipelines_by_ids(["external:churn"])
    assert stored_pipeline is not None
    assert stored_pipeline.entity_ref is None  # rolled back with the refused run


async def test_changing_the_steps_of_a_finished_pushed_run_is_a_conflict(
    store: PipelineStore,
) -> None:
    finished = await push(store, status=SUCCEEDED, steps=[step("Train")])

    with pytest.raises(ConflictError, match="finished run is immutable"):
        await push(store, status=SUCCEEDED, steps=[step("Train", attempts=3)])

    assert await store.steps_by_execution_ids([finished.id]) == [[step("Train")]]


async def test_resending_a_finished_pushed_run_unchanged_writes_nothing(
    store: PipelineStore, metadb: MetaDB
) -> None:
    run: dict[str, Any] = {
        "status": SUCCEEDED,
        "stopped_at": T0 + timedelta(hours=1),
        "parameters": {"epochs": 3},
        "steps": [step("Train")],
        "entity_ref": "component:default/churn",
    }
    first = await push(store, **run)

    with statements(metadb) as sent:
        again = await push(store, **run)

    assert again == first
    # The pipeline upsert runs but changes no row (its WHERE is false).
    assert [s.split()[0].upper() for s in writes(sent)] == ["INSERT"]
    assert "INSERT INTO execution" not in " ".join(sent)


async def test_pushed_run_in_another_time_zone_reads_back_in_utc(store: PipelineStore) -> None:
    tokyo = timezone(timedelta(hours=9))

    returned = await push(store, started_at=T0.astimezone(tokyo))

    assert returned.started_at == T0
    assert returned.started_at.tzinfo is UTC


NAIVE = datetime(2026, 3, 1, 12)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"pipeline_name": ""}, "pipeline name must not be empty", id="empty-name"),
        pytest.param({"pipeline_name": "  "}, "pipeline name must not be empty", id="blank-name"),
        pytest.param(
            {"pipeline_name": "x" * 201},
            "pipeline name must be at most 200 characters, got 201",
            id="long-name",
        ),
        pytest.param({"pipeline_name": "a:b"}, "must not contain ':'", id="colon-in-name"),
        pytest.param({"run_id": ""}, "run id must not be empty", id="empty-run-id"),
        pytest.param(
            {"run_id": "r" * 201},
            "run id must be at most 200 characters, got 201",
            id="long-run-id",
        ),
        pytest.param(
            {"started_at": NAIVE},
            "run started_at must have a time zone, got 2026-03-01T12:00:00",
            id="naive-start",
        ),
        pytest.param(
            {"stopped_at": NAIVE}, "run stopped_at must have a time zone", id="naive-stop"
        ),
        pytest.param(
            {"stopped_at": T0 - timedelta(seconds=1)},
            "run stopped_at 2026-03-01T11:59:59\\+00:00 is before its started_at "
            "2026-03-01T12:00:00\\+00:00",
            id="stop-before-start",
        ),
        pytest.param({"steps": [step("")]}, "step name must not be empty", id="empty-step-name"),
        pytest.param(
            {"steps": [step("Train", started_at=NAIVE)]},
            "step 'Train' started_at must have a time zone",
            id="naive-step-start",
        ),
        pytest.param(
            {"steps": [step("Train", started_at=T0, stopped_at=T0 - timedelta(minutes=1))]},
            "step 'Train' stopped_at .* is before its started_at",
            id="step-stop-before-start",
        ),
        pytest.param(
            {"steps": [step("Train"), step("Train", 1)]},
            "step 'Train' is given more than once",
            id="duplicate-step",
        ),
        pytest.param(
            {"parameters": {"when": T0}}, "parameters must be a JSON object", id="not-json"
        ),
        pytest.param(
            {"parameters": {"x": float("nan")}}, "parameters must be a JSON object", id="nan"
        ),
    ],
)
async def test_invalid_push_is_an_input_error_and_stores_nothing(
    store: PipelineStore, metadb: MetaDB, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message) as raised:
        await push(store, **fields)

    assert raised.value.source == "metadb"
    async with metadb.session() as session:
        counts = [
            await session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in (Execution, ExecutionStep)
        ]
    assert counts == [0, 0]
    assert await store.list_pipelines(None, None, limit=10, offset=0) == ([], False)


async def test_pushed_run_into_a_taken_external_pipeline_name_is_a_conflict(
    store: PipelineStore,
) -> None:
    await store.save_pipeline(
        pipeline("custom-id", name="churn", orchestrator=Orchestrator.EXTERNAL)
    )

    with pytest.raises(ConflictError, match="'churn'"):
        await push(store)

    assert await store.executions_by_ids(["external:churn:run-1"]) == [None]


async def test_finished_pushed_run_serves_its_steps_as_finished_steps(
    store: PipelineStore,
) -> None:
    returned = await push(store, status=SUCCEEDED, steps=[step("Train", started_at=T0)])

    assert await store.finished_steps_by_execution_ids([returned.id]) == [
        [step("Train", started_at=T0)]
    ]
