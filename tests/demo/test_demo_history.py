"""`mlmeta serve --demo`: a history that spans weeks, a heartbeat, and the same demo on every start.

One demo process for the module (its own moto, its own data folder); the
restart test stops it and starts another on the same folder.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.demo.lineage_seed import FEATURE_RUNS
from tests.demo.demo_server import DEMO_TOKEN, DemoServer, start_demo
from tests.support.ws_client import subscribe

pytestmark = pytest.mark.slow

TRAINING = 'pipeline(ref: "component:churn-training-pipeline")'
STAGING = 'pipeline(ref: "component:churn-training-staging")'
RUNS = "executions(first: 20) { edges { node { name status startedAt stoppedAt } } }"
VERSIONS = """{ model(ref: "churn-model") { versions(first: 10) { edges { node {
  version createdAt trainedBy { name stoppedAt } } } } } }"""
EVOLUTION = f"""{{ {TRAINING} {{ metricEvolution(metrics: ["roc_auc"]) {{
  points {{ startedAt value execution {{ name }} }} }} }} }}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    workdir = tmp_path_factory.mktemp("demo")
    server = start_demo(workdir, workdir / "data")
    yield server
    server.stop()


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def training_runs(demo: DemoServer) -> list[dict[str, Any]]:
    data = demo.data(f"{{ {TRAINING} {{ {RUNS} }} }}")
    return [e["node"] for e in data["pipeline"]["executions"]["edges"]]


def deployment_id(demo: DemoServer) -> str:
    query = '{ modelVersion(model: "churn-model", version: "3") { deployments { id } } }'
    return str(demo.data(query)["modelVersion"]["deployments"][0]["id"])


def lineage(demo: DemoServer, as_of: str) -> dict[str, Any]:
    query = f"""{{ lineage(of: "{deployment_id(demo)}", direction: UPSTREAM, depth: 10,
      asOf: "{as_of}") {{ nodes {{ __typename ... on ModelVersion {{ version }}
      ... on PipelineExecution {{ name }} }} edges {{ kind recordedAt }} }} }}"""
    return dict(demo.data(query)["lineage"])


# ---------------------------------------------------------------- a history of weeks


def test_the_demo_runs_happened_over_three_weeks_in_the_past(demo: DemoServer) -> None:
    started = sorted(when(run["startedAt"]) for run in training_runs(demo))
    assert len(started) == 8
    assert started[-1] - started[0] >= timedelta(weeks=3)
    assert started[-1] < datetime.now(UTC) - timedelta(days=1)


def test_metric_points_were_logged_while_their_run_ran(demo: DemoServer) -> None:
    query = f"""{{ {TRAINING} {{ executions(first: 20) {{ edges {{ node {{ name startedAt
      stoppedAt metricSeries(names: ["roc_auc"], maxPoints: 50) {{ timestamps }} }} }} }} }} }}"""
    runs = [e["node"] for e in demo.data(query)["pipeline"]["executions"]["edges"]]
    checked = 0
    for run in runs:
        if run["stoppedAt"] is None or not run["metricSeries"]:
            continue
        start, stop = when(run["startedAt"]), when(run["stoppedAt"])
        stamps = [when(t) for t in run["metricSeries"][0]["timestamps"]]
        assert all(start <= t <= stop for t in stamps), run["name"]
        checked += 1
    assert checked >= 4


def test_the_metric_evolution_is_a_curve_over_weeks(demo: DemoServer) -> None:
    points = demo.data(EVOLUTION)["pipeline"]["metricEvolution"][0]["points"]
    dated = [when(p["startedAt"]) for p in points if p["value"] is not None]
    assert dated == sorted(dated)
    assert dated[-1] - dated[0] >= timedelta(weeks=2)


def test_a_version_is_registered_when_the_run_that_trained_it_ended(demo: DemoServer) -> None:
    versions = [e["node"] for e in demo.data(VERSIONS)["model"]["versions"]["edges"]]
    assert [v["version"] for v in versions] == ["4", "3", "2", "1"]
    for version in versions:
        assert version["createdAt"] == version["trainedBy"]["stoppedAt"], version


def test_lineage_edges_are_dated_across_the_weeks_of_the_story(demo: DemoServer) -> None:
    recorded = [when(e["recordedAt"]) for e in lineage(demo, "2026-11-30T00:00:00Z")["edges"]]
    assert max(recorded) - min(recorded) >= timedelta(days=14)


@pytest.mark.parametrize(
    ("as_of", "version", "run"),
    [
        ("2026-11-10T00:00:00Z", "1", "baseline-xgb"),
        ("2026-11-20T00:00:00Z", "3", "tuned-600-rounds"),
    ],
)
def test_as_of_tells_readmes_story_v1_in_production_then_v3(
    demo: DemoServer, as_of: str, version: str, run: str
) -> None:
    nodes = lineage(demo, as_of)["nodes"]
    assert [n["version"] for n in nodes if n["__typename"] == "ModelVersion"] == [version]
    runs = {n["name"] for n in nodes if n["__typename"] == "PipelineExecution"}
    # ... trained on the 2026-11-01 snapshot, which Airflow's feature run wrote.
    assert {run, FEATURE_RUNS[0].run_id} <= runs


# ------------------------------------------------------------------------ heartbeat


Seen = list[tuple[str, tuple[tuple[str, str], ...]]]


def watch_newest_run(demo: DemoServer, pipeline: str) -> Seen:
    """Every update of the pipeline's newest run, until it ends: (status, steps)."""
    query = """subscription ($p: ID!) { executionUpdated(pipelineId: $p) {
      name status steps { name status } } }"""
    seen: Seen = []
    with subscribe(demo.base_url, query, {"p": pipeline}) as subscription:
        for payload in subscription.results(timeout=30):
            update = payload["data"]["executionUpdated"]
            steps = tuple((s["name"], s["status"]) for s in update["steps"])
            seen.append((update["status"], steps))
    return seen


def test_a_live_run_is_watched_step_by_step_to_its_end(demo: DemoServer) -> None:
    pipeline = demo.data(f"{{ {STAGING} {{ id }} }}")["pipeline"]["id"]
    # The newest run may be half done when we subscribe: watch the next. Between two runs
    # (a second or more on a loaded machine) the newest has ended and the stream completes.
    deadline = time.monotonic() + 120
    while True:
        seen = watch_newest_run(demo, pipeline)
        status, steps = seen[0]
        if status == "RUNNING" and not any(name == "Train" for name, _ in steps):
            break
        assert time.monotonic() < deadline, "no live run began within two minutes"
        if status != "RUNNING":
            time.sleep(1)
    assert seen[-1][0] == "SUCCEEDED"
    running = {steps for status, steps in seen if status == "RUNNING"}
    assert len(running) >= 3, seen
    assert ("WaitForTraining", "RUNNING") in {s for _, steps in seen for s in steps}


def test_a_live_run_logs_its_training_curve_and_registers_nothing(demo: DemoServer) -> None:
    query = f"""{{ {STAGING} {{ executions(first: 5, status: [SUCCEEDED]) {{ edges {{ node {{
      name metricSeries(names: ["loss"]) {{ count }} }} }} }} }} }}"""
    finished = [e["node"] for e in demo.data(query)["pipeline"]["executions"]["edges"]]
    assert finished, "no live run has finished yet"
    assert finished[0]["metricSeries"][0]["count"] > 50
    versions = demo.data(VERSIONS)["model"]["versions"]["edges"]
    assert len(versions) == 4


def test_there_is_always_a_live_run(demo: DemoServer) -> None:
    # The test above returns just as a run ends: this one times the gap to the next.
    # The heartbeat sees the end within a quarter step (0.75 s) and starts the next
    # run at once; 10 s leaves room for a loaded machine.
    query = f"{{ {STAGING} {{ latestExecution {{ name status }} }} }}"
    began = time.monotonic()
    newest = demo.data(query)["pipeline"]["latestExecution"]
    while newest["status"] != "RUNNING" and time.monotonic() - began < 10:
        time.sleep(0.25)
        newest = demo.data(query)["pipeline"]["latestExecution"]
    gap = time.monotonic() - began
    assert newest["status"] == "RUNNING", f"no live run {gap:.1f} s after {newest['name']} ended"


# ------------------------------------------------------------------ token and logs


def test_the_demo_token_runs_readmes_mutation(demo: DemoServer) -> None:
    mutation = """mutation { recordRun(input: { pipeline: "airflow-churn-etl",
      runId: "2026-11-23T10:00", status: RUNNING, startedAt: "2026-11-23T10:00:00Z",
      steps: [{ name: "extract", status: SUCCEEDED }, { name: "train", status: RUNNING }] }) {
      id status } }"""
    anonymous = demo.gql(mutation)
    assert anonymous["errors"][0]["extensions"]["code"] == "NotAllowedError"
    assert demo.data(mutation, token=DEMO_TOKEN)["recordRun"]["status"] == "RUNNING"


def test_the_start_log_names_each_source_and_the_token(demo: DemoServer) -> None:
    log = demo.log
    for source in ("metadb", "catalog", "stepfunctions", "sagemaker"):
        assert f"source {source}: ok (" in log
    assert "mlmeta ready: GraphQL at /graphql, all 4 sources ready" in log
    anonymous = log.index("ANONYMOUS ACCESS IS ON")
    assert log.index(f"Authorization: Bearer {DEMO_TOKEN}") > anonymous
    print(f"demo ready in {demo.seconds_to_ready:.1f} s")  # shown with -s
    assert demo.seconds_to_ready < 60


# --------------------------------------------------------------------------- restart


def test_a_restart_gives_the_same_demo(demo: DemoServer, tmp_path: Path) -> None:
    before = (training_runs(demo), demo.data(EVOLUTION), demo.data(VERSIONS))
    first_start = datetime.now(UTC)
    demo.stop()
    again = start_demo(demo.log_path.parent, demo.data_dir, log_name="restart.log")
    try:
        after = (training_runs(again), again.data(EVOLUTION), again.data(VERSIONS))
        staging = again.data(f"{{ {STAGING} {{ {RUNS} }} }}")["pipeline"]["executions"]["edges"]
    finally:
        again.stop()
    assert after == before
    # The first start's live runs are gone with its moto and its metadb: no phantoms.
    assert all(when(e["node"]["startedAt"]) > first_start for e in staging)
    assert "removed the previous start's" in again.log
