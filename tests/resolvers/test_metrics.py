"""Metrics through GraphQL and the bulk endpoint: ingestion, series, evolution, comparison."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from gateway.executor import prepare
from resolvers import prefetch
from tests.conftest import SERVICE_TOKEN, WRITER_TOKEN, codes, gql
from tests.resolvers.conftest import Portal

WRITER = {"Authorization": f"Bearer {WRITER_TOKEN}"}
READER = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
RECORD = """mutation ($input: RecordRunInput!) { recordRun(input: $input) { id } }"""
LOG = (
    """mutation ($input: LogMetricsInput!) { logMetrics(input: $input) { accepted duplicates } }"""
)


def record(client: TestClient, run_id: str, started: str, status: str = "SUCCEEDED") -> str:
    run = {
        "pipeline": "trainer",
        "runId": run_id,
        "status": status,
        "startedAt": started,
        "stoppedAt": started.replace("T10", "T11") if status != "RUNNING" else None,
        "parameters": {"lr": 0.1, "run": run_id},
    }
    body = gql(client, RECORD, {"input": run}, headers=WRITER)
    return str(body["data"]["recordRun"]["id"])


def log(client: TestClient, run: str, points: list[dict], key: str | None = None) -> dict:
    body = gql(
        client,
        LOG,
        {"input": {"executionId": run, "points": points, "idempotencyKey": key}},
        headers=WRITER,
        expect_errors=True,
    )
    return body


def curve(name: str, steps: int, spike_at: int | None = None) -> list[dict]:
    return [
        {"name": name, "step": s, "value": (100.0 if s == spike_at else 1.0 / (s + 1))}
        for s in range(steps)
    ]


@pytest.fixture
def runs(client: TestClient) -> Iterator[list[str]]:
    ids = [
        record(client, "r1", "2026-11-20T10:00:00Z"),
        record(client, "r2", "2026-11-21T10:00:00Z"),
        record(client, "r3", "2026-11-22T10:00:00Z"),
    ]
    log(client, ids[0], curve("loss", 50) + curve("auc", 50))
    log(client, ids[1], curve("loss", 50))  # r2 never reported auc
    log(client, ids[2], curve("loss", 3000, spike_at=1234) + curve("auc", 10))
    return ids


def test_logging_is_idempotent_on_run_name_and_step(client: TestClient, runs: list[str]) -> None:
    again = log(client, runs[0], curve("loss", 60))
    assert again["data"]["logMetrics"] == {"accepted": 10, "duplicates": 50}


def test_a_retried_call_with_its_key_stores_nothing_twice(
    client: TestClient, runs: list[str]
) -> None:
    points = [{"name": "val_loss", "step": 1, "value": 0.5}]
    first = log(client, runs[0], points, key="retry-1")
    second = log(
        client, runs[0], [*points, {"name": "val_loss", "step": 2, "value": 0.4}], key="retry-1"
    )
    assert first["data"] == second["data"] == {"logMetrics": {"accepted": 1, "duplicates": 0}}


@pytest.mark.parametrize(
    ("point", "fragment"),
    [
        ({"name": "loss", "step": 1, "value": float("nan")}, "nan"),
        ({"name": "bad\nname", "step": 1, "value": 1.0}, "name"),
    ],
)
def test_a_bad_point_refuses_the_whole_batch(
    client: TestClient, runs: list[str], point: dict, fragment: str
) -> None:
    batch = [{"name": "fresh", "step": 1, "value": 1.0}, point]
    body = client.post(
        "/graphql",
        content=json.dumps(
            {"query": LOG, "variables": {"input": {"executionId": runs[0], "points": batch}}}
        ),
        headers={**WRITER, "Content-Type": "application/json"},
    ).json()
    assert codes(body) == ["InputError"]
    assert fragment in body["errors"][0]["message"].lower()
    names = gql(client, '{ pipeline(ref: "trainer") { metricNames } }')
    assert "fresh" not in names["data"]["pipeline"]["metricNames"]


def test_a_read_only_token_cannot_log(client: TestClient, runs: list[str]) -> None:
    body = gql(
        client,
        LOG,
        {"input": {"executionId": runs[0], "points": curve("x", 2)}},
        headers=READER,
        expect_errors=True,
    )
    assert codes(body) == ["NotAllowedError"]


SERIES = """query ($id: ID!, $max: Int!, $min: Int, $maxStep: Int) { node(id: $id) {
  ... on PipelineExecution { metricSeries(names: ["loss"], maxPoints: $max, minStep: $min,
    maxStep: $maxStep) { name count downsampled min max last steps values columns } } } }"""


def test_downsampling_keeps_the_spike_and_the_ends(client: TestClient, runs: list[str]) -> None:
    variables = {"id": runs[2], "max": 100}
    [series] = gql(client, SERIES, variables)["data"]["node"]["metricSeries"]
    assert series["count"] == 3000
    assert series["downsampled"] is True
    assert len(series["steps"]) <= 100
    assert 1234 in series["steps"]
    assert series["max"] == 100.0
    assert series["steps"][0] == 0
    assert series["steps"][-1] == 2999
    assert series["steps"] == sorted(series["steps"])
    assert series["columns"]["steps"] == series["steps"]
    assert series["columns"]["values"] == series["values"]
    again = gql(client, SERIES, variables)["data"]["node"]["metricSeries"]
    assert again == [series]  # deterministic


def test_the_step_range_applies_before_sampling(client: TestClient, runs: list[str]) -> None:
    variables = {"id": runs[2], "max": 10, "min": 100, "maxStep": 119}
    [series] = gql(client, SERIES, variables)["data"]["node"]["metricSeries"]
    assert series["count"] == 20
    assert series["steps"][0] == 100
    assert series["steps"][-1] == 119
    assert len(series["steps"]) <= 10


def test_the_object_form_is_capped(client: TestClient, runs: list[str]) -> None:
    long_run = record(client, "long", "2026-11-23T10:00:00Z")
    log(client, long_run, curve("loss", 6000))
    query = """query ($id: ID!, $max: Int!) { node(id: $id) { ... on PipelineExecution {
      metricSeries(names: ["loss"], maxPoints: $max) { points { step value } } } } }"""
    small = gql(client, query, {"id": long_run, "max": 10})["data"]["node"]["metricSeries"]
    assert 2 <= len(small[0]["points"]) <= 10
    body = gql(client, query, {"id": long_run, "max": 10000}, expect_errors=True)
    assert codes(body) == ["InputError"]
    assert "object form" in body["errors"][0]["message"]


def test_evolution_has_one_point_per_run_and_nulls_for_missing(
    client: TestClient, runs: list[str]
) -> None:
    query = """{ pipeline(ref: "trainer") { metricNames
      metricEvolution(metrics: ["auc", "loss"], lastRuns: 10) {
        metric points { startedAt value execution { name } } } } }"""
    pipeline = gql(client, query)["data"]["pipeline"]
    assert pipeline["metricNames"] == ["auc", "loss"]
    auc, loss = pipeline["metricEvolution"]
    assert auc["metric"] == "auc"
    assert [p["execution"]["name"] for p in auc["points"]] == ["r1", "r2", "r3"]
    assert [p["value"] is None for p in auc["points"]] == [False, True, False]
    assert loss["points"][0]["value"] == pytest.approx(1 / 50)


def test_compare_runs_aligns_parameters_and_metrics(client: TestClient, runs: list[str]) -> None:
    query = """query ($ids: [ID!]!) { compareRuns(executionIds: $ids, metrics: ["auc"]) {
      name parameters { key value } metrics { name value step } } }"""
    rows = gql(client, query, {"ids": [runs[2], runs[0], runs[1]]})["data"]["compareRuns"]
    assert [r["name"] for r in rows] == ["r3", "r1", "r2"]
    assert [[m["name"] for m in r["metrics"]] for r in rows] == [["auc"], ["auc"], []]
    assert {"key": "run", "value": "r3"} in rows[0]["parameters"]


def test_the_run_table_holds_what_the_objects_hold(client: TestClient, runs: list[str]) -> None:
    query = """query { pipeline(ref: "trainer") { executions(first: 10) {
      table edges { node { id name status
        parameters { key value } metrics { name value step } } } } } }"""
    page = gql(client, query)["data"]["pipeline"]["executions"]
    table, nodes = page["table"], [e["node"] for e in page["edges"]]
    assert table["id"] == [n["id"] for n in nodes]
    assert table["name"] == ["r3", "r2", "r1"]
    assert table["status"] == [n["status"] for n in nodes]
    for row, node in enumerate(nodes):
        params = {p["key"]: p["value"] for p in node["parameters"]}
        cells = {k: v[row] for k, v in table["parameters"].items() if v[row] is not None}
        # The objects give text; the table keeps each value's JSON type.
        assert {k: v if isinstance(v, str) else json.dumps(v) for k, v in cells.items()} == params
        metrics = {m["name"]: (m["value"], m["step"]) for m in node["metrics"]}
        cells = {
            name: (values[row], table["metricSteps"][name][row])
            for name, values in table["metrics"].items()
            if values[row] is not None
        }
        assert cells == metrics
    assert table["metrics"]["auc"][1] is None  # r2 never reported auc


def test_the_run_table_gives_nested_parameters_as_dotted_json_columns(
    client: TestClient,
) -> None:
    run = {
        "pipeline": "nested-params",
        "runId": "n1",
        "status": "SUCCEEDED",
        "startedAt": "2026-11-20T10:00:00Z",
        "parameters": {
            "seed": 7,
            "optimizer": {"name": "adam", "lr": 0.01, "betas": [0.9, 0.999]},
            "data": {"train": {"uri": "s3://b/train.csv"}},
            "early_stopping": True,
            "optimizer.lr": 0.02,
        },
    }
    execution = gql(client, RECORD, {"input": run}, headers=WRITER)["data"]["recordRun"]["id"]
    query = """query ($ids: [ID!]!) { compareRunsTable(executionIds: $ids) }"""
    table = gql(client, query, {"ids": [execution]})["data"]["compareRunsTable"]
    assert table["parameters"] == {
        "data.train.uri": ["s3://b/train.csv"],
        "early_stopping": [True],
        "optimizer.betas": [[0.9, 0.999]],
        "optimizer.lr": [0.02],  # written with a dot: wins over the nested 0.01
        "optimizer.name": ["adam"],
        "seed": [7],
    }


def test_compare_runs_table_keeps_the_order_asked(client: TestClient, runs: list[str]) -> None:
    query = """query ($ids: [ID!]!) { compareRunsTable(executionIds: $ids, metrics: ["auc"]) }"""
    table = gql(client, query, {"ids": [runs[2], runs[0], runs[1]]})["data"]["compareRunsTable"]
    assert table["name"] == ["r3", "r1", "r2"]
    assert list(table["metrics"]) == ["auc"]
    assert table["metrics"]["auc"][2] is None


def test_the_bulk_endpoint_takes_json_lines(client: TestClient, runs: list[str]) -> None:
    lines = "\n".join(
        json.dumps({"name": "lr", "step": s, "value": 0.1 / (s + 1)}) for s in range(5)
    )
    url = f"/api/v1/executions/{runs[1]}/metrics"
    ok = client.post(url, content=lines, headers={**WRITER, "Idempotency-Key": "bulk-1"})
    assert ok.status_code == 200
    assert ok.json() == {"accepted": 5, "duplicates": 0}
    bad = client.post(url, content=lines + '\n{"name": "lr", "value": "x"}', headers=WRITER)
    assert bad.status_code == 400
    assert codes(bad.json()) == ["InputError"]
    anonymous = client.post(url, content=lines)
    assert anonymous.status_code == 403
    unknown = client.post(
        "/api/v1/executions/external:trainer:nope/metrics", content=lines, headers=WRITER
    )
    assert unknown.status_code == 404


def test_a_user_owning_the_pipelines_entity_logs_and_others_cannot(
    client: TestClient, portal: Portal
) -> None:
    entity = "component:default/churn-training-pipeline"  # owned by group ml-platform
    owned = {
        "pipeline": "owned-trainer",
        "runId": "o1",
        "status": "RUNNING",
        "startedAt": "2026-11-20T10:00:00Z",
        "entityRef": entity,
    }
    alice = user(portal, "alice", "group:default/ml-platform")
    bob = user(portal, "bob", "group:default/fraud-team")
    run = gql(client, RECORD, {"input": owned}, headers=alice)["data"]["recordRun"]["id"]
    points = [{"name": "loss", "step": 1, "value": 0.5}]
    variables = {"input": {"executionId": run, "points": points}}
    assert gql(client, LOG, variables, headers=alice)["data"]["logMetrics"]["accepted"] == 1
    refused = gql(client, LOG, variables, headers=bob, expect_errors=True)
    assert codes(refused) == ["NotAllowedError"]
    rehome = {**owned, "runId": "o2", "entityRef": "user:default/bob"}
    refused = gql(client, RECORD, {"input": rehome}, headers=bob, expect_errors=True)
    assert codes(refused) == ["NotAllowedError"]


def user(portal: Portal, name: str, group: str) -> dict[str, str]:
    ref = f"user:default/{name}"
    return {"Authorization": f"Bearer {portal.user_token(ref, [ref, group])}"}


COLUMNS = """query ($ids: [ID!]!, $max: Int!) { compareRuns(executionIds: $ids) {
  metricSeries(maxPoints: $max) { name count downsampled columns %s } } }"""


@pytest.mark.parametrize("max_points", [5000, 100])
def test_columns_asked_alone_are_the_same_json_as_with_the_lists(
    client: TestClient, runs: list[str], max_points: int
) -> None:
    # Alone, whole series come as the database's JSON (spliced into the response);
    # with the lists, they are encoded from those lists.
    variables = {"ids": runs, "max": max_points}
    alone = gql(client, COLUMNS % "", variables)["data"]["compareRuns"]
    with_lists = gql(client, COLUMNS % "steps values", variables)["data"]["compareRuns"]
    series = [s for row in with_lists for s in row["metricSeries"]]
    assert len(series) == 5
    assert any(s["downsampled"] for s in series) == (max_points == 100)
    for row_alone, row in zip(alone, with_lists, strict=True):
        for got, want in zip(row_alone["metricSeries"], row["metricSeries"], strict=True):
            assert got["columns"] == want["columns"]
            assert got["columns"]["steps"] == want["steps"]
            assert got["columns"]["values"] == want["values"]
            assert all(type(v) is float for v in got["columns"]["values"])
            assert len(got["columns"]["timestamps"]) == len(want["steps"])


RUN_FIELDS = """id metrics { name value step }
    s1: metricSeries(names: ["loss"], maxPoints: 100) { name count columns }
    s2: metricSeries(maxPoints: 20) { name downsampled steps values }
    ...Series"""
SERIES_FRAGMENT = """fragment Series on PipelineExecution {
    metricSeries(maxPoints: 7) { name columns } }"""


def test_rows_of_a_list_answer_as_each_run_read_on_its_own(
    client: TestClient, runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # compareRuns and executions load their rows' metrics and series in one batch
    # and hand each row its values (resolvers.prefetch); node(id:) reads one run.
    handed: list[str] = []

    def counted(run: object, key: str, value: object) -> None:
        handed.append(key)
        prepare(run, key, value)

    monkeypatch.setattr(prefetch, "prepare", counted)
    alone = {
        run: gql(
            client,
            "query ($id: ID!) { node(id: $id) { ... on PipelineExecution { "
            + RUN_FIELDS
            + " } } }\n"
            + SERIES_FRAGMENT,
            {"id": run},
        )["data"]["node"]
        for run in runs
    }
    compared = gql(
        client,
        f"query ($ids: [ID!]!) {{ compareRuns(executionIds: $ids) {{ {RUN_FIELDS} }} }}"
        f"\n{SERIES_FRAGMENT}",
        {"ids": runs},
    )["data"]["compareRuns"]
    listed = gql(
        client,
        f"""{{ pipeline(ref: "trainer") {{ executions(first: 10) {{
            edges {{ node {{ {RUN_FIELDS} }} }} }} }} }}\n{SERIES_FRAGMENT}""",
    )["data"]["pipeline"]["executions"]["edges"]
    assert compared == [alone[run] for run in runs]
    assert {edge["node"]["id"]: edge["node"] for edge in listed} == alone
    assert any(s["downsampled"] for row in compared for s in row["s2"])
    # every row of both lists got its four fields handed over (none read one by one)
    assert sorted(set(handed)) == ["metricSeries", "metrics", "s1", "s2"]
    assert len(handed) == 4 * 2 * len(runs)
