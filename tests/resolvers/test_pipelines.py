"""Pipelines and runs through GraphQL, on the demo's real (moto-executed) Step Functions runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import event
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary, write_catalog
from resolvers.ids import encode_id
from tests.conftest import WRITER_TOKEN, codes, gql
from tests.support.aws_calls import CountingClient
from tests.support.fault_proxy import AWS_ROUTES, Fault, FaultProxy

PIPELINE = "component:default/churn-training-pipeline"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:churn-training-pipeline"


@dataclass
class DemoGateway:
    client: TestClient
    sfn: CountingClient


@pytest.fixture
def demo(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Iterator[DemoGateway]:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    app = create_app(settings.replace(catalog_folder=str(folder)))
    with TestClient(app) as client:
        source = app.state.resources.stepfunctions
        counting = CountingClient(source._client)
        source._client = counting
        yield DemoGateway(client, counting)


def execution_id(name: str) -> str:
    arn = MACHINE.replace(":stateMachine:", ":execution:") + f":{name}"
    return encode_id("PipelineExecution", arn)


LIST = """query ($ref: String!, $first: Int!, $after: String, $status: [ExecutionStatus!]) {
  pipeline(ref: $ref) { name orchestrator
    executions(first: $first, after: $after, status: $status) {
      edges { cursor node { name status startedAt stoppedAt durationSeconds } }
      pageInfo { hasNextPage endCursor } } } }"""


def test_an_entity_links_to_its_pipeline_and_its_graph(demo: DemoGateway) -> None:
    query = """query ($ref: String!) { entity(ref: $ref) { pipeline {
        name orchestrator arn consoleUrl entity { ref }
        graph { nodes { name type parent } edges { from to } } } } }"""
    pipeline = gql(demo.client, query, {"ref": PIPELINE})["data"]["entity"]["pipeline"]
    assert (pipeline["name"], pipeline["orchestrator"], pipeline["arn"]) == (
        "churn-training-pipeline",
        "STEP_FUNCTIONS",
        MACHINE,
    )
    assert pipeline["entity"] == {"ref": PIPELINE}
    assert pipeline["consoleUrl"].startswith("https://us-east-1.console.aws.amazon.com/states/")
    nodes = {n["name"]: n for n in pipeline["graph"]["nodes"]}
    assert nodes["CustomerFeatures"] == {
        "name": "CustomerFeatures",
        "type": "Task",
        "parent": "BuildFeatures",
    }
    assert {"from": "QualityGate", "to": "RegisterModel"} in pipeline["graph"]["edges"]


def test_the_list_view_costs_one_list_call_and_no_describe(demo: DemoGateway) -> None:
    page = gql(demo.client, LIST, {"ref": MACHINE, "first": 50})["data"]["pipeline"]
    statuses = {e["node"]["status"] for e in page["executions"]["edges"]}
    assert {"SUCCEEDED", "FAILED", "RUNNING", "ABORTED"} <= statuses
    assert dict(demo.sfn.calls) == {"describe_state_machine": 1, "list_executions": 1}


def test_pages_list_every_run_once_newest_first(demo: DemoGateway) -> None:
    everything = gql(demo.client, LIST, {"ref": MACHINE, "first": 50})["data"]["pipeline"]
    expected = [e["node"]["name"] for e in everything["executions"]["edges"]]
    names: list[str] = []
    after = None
    while True:
        data = gql(demo.client, LIST, {"ref": MACHINE, "first": 3, "after": after})
        connection = data["data"]["pipeline"]["executions"]
        names += [e["node"]["name"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert names == expected
    assert len(names) >= 8
    started = [e["node"]["startedAt"] for e in everything["executions"]["edges"]]
    assert started == sorted(started, reverse=True)


def test_an_edge_cursor_resumes_after_its_run(demo: DemoGateway) -> None:
    first = gql(demo.client, LIST, {"ref": MACHINE, "first": 4})["data"]["pipeline"]
    edges = first["executions"]["edges"]
    resumed = gql(demo.client, LIST, {"ref": MACHINE, "first": 2, "after": edges[1]["cursor"]})
    names = [e["node"]["name"] for e in resumed["data"]["pipeline"]["executions"]["edges"]]
    assert names == [e["node"]["name"] for e in edges[2:4]]


def test_status_filter(demo: DemoGateway) -> None:
    data = gql(demo.client, LIST, {"ref": MACHINE, "first": 50, "status": ["FAILED", "ABORTED"]})
    edges = data["data"]["pipeline"]["executions"]["edges"]
    assert {e["node"]["name"] for e in edges} == {
        "high-learning-rate",
        "missing-snapshot",
        "manual-rerun",
    }


STEPS = """query ($id: ID!) { node(id: $id) { ... on PipelineExecution {
  name status error { error cause } parameters { key value }
  steps { name type status attempts resourceArn error { error cause } } } } }"""


def test_a_failed_run_has_its_error_and_failed_step(demo: DemoGateway) -> None:
    run = gql(demo.client, STEPS, {"id": execution_id("missing-snapshot")})["data"]["node"]
    assert run["status"] == "FAILED"
    assert run["error"]["error"] == "DataValidationFailed"
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["ValidateData"]["status"] == "FAILED"
    assert steps["DataValidationFailed"]["type"] == "Fail"


def test_steps_of_a_succeeded_run_name_the_jobs_they_ran(demo: DemoGateway) -> None:
    run = gql(demo.client, STEPS, {"id": execution_id("baseline-xgb")})["data"]["node"]
    steps = {s["name"]: s for s in run["steps"]}
    assert all(s["status"] == "SUCCEEDED" for s in run["steps"])
    assert ":processing-job/" in steps["Preprocess"]["resourceArn"]
    assert steps["CustomerFeatures"]["type"] == "Task"
    assert {"key": "git_sha", "value": "3f9c2a1"} in run["parameters"]


def test_a_finished_run_is_asked_of_aws_once_then_served_from_the_metadb(
    demo: DemoGateway,
) -> None:
    variables = {"id": execution_id("deeper-trees")}
    first = gql(demo.client, STEPS, variables)["data"]["node"]
    assert demo.sfn.total() > 0
    demo.sfn.calls.clear()
    second = gql(demo.client, STEPS, variables)["data"]["node"]
    assert second == first
    assert demo.sfn.total() == 0


def test_a_running_run_is_shared_for_live_cache_seconds_then_asked_again(
    demo: DemoGateway,
) -> None:
    # MLMETA_LIVE_CACHE_SECONDS (1 s): a portal page polled by many users costs AWS
    # one describe and one history per second for a live run, not one per request.
    variables = {"id": execution_id("nightly")}
    for _ in range(5):
        assert gql(demo.client, STEPS, variables)["data"]["node"]["status"] == "RUNNING"
    assert demo.sfn.calls["get_execution_history"] == 1
    time.sleep(1.1)
    gql(demo.client, STEPS, variables)
    assert demo.sfn.calls["get_execution_history"] == 2


def test_with_live_cache_seconds_zero_a_running_run_is_asked_each_time(
    settings: Settings, tmp_path: Path, demo_aws: DemoSummary
) -> None:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    app = create_app(settings.replace(catalog_folder=str(folder), live_cache_seconds=0))
    with TestClient(app) as client:
        sfn = CountingClient(app.state.resources.stepfunctions._client)
        app.state.resources.stepfunctions._client = sfn
        for _ in range(3):
            gql(client, STEPS, {"id": execution_id("nightly")})
    assert sfn.calls["get_execution_history"] == 3


def test_a_pipelines_definition_is_read_once_per_registry_cache_seconds(
    demo: DemoGateway,
) -> None:
    query = "query ($ref: String!) { pipeline(ref: $ref) { graph { nodes { name } } } }"
    for _ in range(3):
        gql(demo.client, query, {"ref": MACHINE})
    assert demo.sfn.calls["describe_state_machine"] == 1


def test_steps_are_fetched_only_when_selected(demo: DemoGateway) -> None:
    query = """query ($ref: String!) { pipeline(ref: $ref) {
        executions(first: 50) { edges { node { name status } } } } }"""
    gql(demo.client, query, {"ref": MACHINE})
    assert demo.sfn.calls["get_execution_history"] == 0
    assert demo.sfn.calls["describe_execution"] == 0


def test_throttling_gives_a_partial_result_with_a_code(demo: DemoGateway) -> None:
    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
        "GetExecutionHistory",
    )
    demo.sfn.fail["get_execution_history"] = lambda: throttled
    demo.sfn.fail["describe_execution"] = lambda: throttled
    query = """query ($ref: String!) { pipeline(ref: $ref) { name
        latestExecution { name status steps { name } } } }"""
    body = gql(demo.client, query, {"ref": MACHINE}, expect_errors=True)
    # steps is nullable: only the throttled step list is null; the run and pipeline stand
    pipeline = body["data"]["pipeline"]
    assert pipeline["name"] == "churn-training-pipeline"
    assert pipeline["latestExecution"]["status"] == "SUCCEEDED"
    assert pipeline["latestExecution"]["steps"] is None
    assert "UPSTREAM_THROTTLED" in codes(body)
    assert {e["extensions"].get("source") for e in body["errors"]} == {"stepfunctions"}


def test_unknown_execution_arn_is_null(demo: DemoGateway) -> None:
    query = "query ($ref: String!) { execution(ref: $ref) { name } }"
    arn = MACHINE.replace(":stateMachine:", ":execution:") + ":no-such-run"
    assert gql(demo.client, query, {"ref": arn})["data"] == {"execution": None}


def test_a_ref_that_is_neither_arn_nor_id_is_an_input_error(demo: DemoGateway) -> None:
    body = gql(demo.client, '{ execution(ref: "nope") { name } }', expect_errors=True)
    assert codes(body) == ["InputError"]


def test_pipelines_lists_every_linked_pipeline(demo: DemoGateway) -> None:
    query = """{ pipelines(first: 10) { edges { node { name orchestrator
        latestExecution { status } } } pageInfo { hasNextPage } } }"""
    connection = gql(demo.client, query)["data"]["pipelines"]
    by_name = {e["node"]["name"]: e["node"] for e in connection["edges"]}
    assert by_name["churn-training-pipeline"]["orchestrator"] == "STEP_FUNCTIONS"
    assert by_name["churn-batch-scoring"]["orchestrator"] == "STEP_FUNCTIONS"
    assert by_name["fraud-detector-training"]["orchestrator"] == "SAGEMAKER_PIPELINES"
    assert by_name["fraud-detector-training"]["latestExecution"]["status"] == "SUCCEEDED"


def test_pipelines_filter_by_orchestrator(demo: DemoGateway) -> None:
    query = """{ pipelines(filter: {orchestrator: [SAGEMAKER_PIPELINES]}) {
        edges { node { name graph { nodes { name type } } } } } }"""
    edges = gql(demo.client, query)["data"]["pipelines"]["edges"]
    assert [e["node"]["name"] for e in edges] == ["fraud-detector-training"]
    assert edges[0]["node"]["graph"]["nodes"]


def test_an_unknown_state_machine_is_null(demo: DemoGateway) -> None:
    arn = MACHINE.replace("churn-training-pipeline", "no-such-machine")
    query = "query ($ref: String!) { pipeline(ref: $ref) { name } }"
    assert gql(demo.client, query, {"ref": arn})["data"] == {"pipeline": None}


# --- from a pipeline back to the catalog entity that claims it --------------------------

ENTITY_OF = "query ($ref: String!) { pipeline(ref: $ref) { name entity { ref } } }"
FRAUD_ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/fraud-detector-training"


def test_a_pipeline_reached_by_its_arn_links_back_to_its_entity(demo: DemoGateway) -> None:
    pipeline = gql(demo.client, ENTITY_OF, {"ref": MACHINE})["data"]["pipeline"]
    assert pipeline["entity"] == {"ref": PIPELINE}


def test_a_sagemaker_pipeline_reached_by_its_arn_links_back_to_its_entity(
    demo: DemoGateway,
) -> None:
    pipeline = gql(demo.client, ENTITY_OF, {"ref": FRAUD_ARN})["data"]["pipeline"]
    assert pipeline["entity"] == {"ref": "component:default/fraud-detector-training"}


def test_a_pipeline_reached_by_node_id_or_from_a_run_links_back_to_its_entity(
    demo: DemoGateway,
) -> None:
    query = """query ($id: ID!, $run: String!) {
      node(id: $id) { ... on Pipeline { entity { ref } } }
      execution(ref: $run) { pipeline { entity { ref } } } }"""
    run = MACHINE.replace(":stateMachine:", ":execution:") + ":baseline-xgb"
    data = gql(demo.client, query, {"id": encode_id("Pipeline", MACHINE), "run": run})["data"]
    assert data["node"] == {"entity": {"ref": PIPELINE}}
    assert data["execution"] == {"pipeline": {"entity": {"ref": PIPELINE}}}


RECORD = """mutation ($input: RecordRunInput!) { recordRun(input: $input) { id } }"""


def push_run(demo: DemoGateway, pipeline: str) -> None:
    run = {"pipeline": pipeline, "runId": "r-1", "status": "RUNNING"}
    run["startedAt"] = "2026-11-23T10:00:00Z"
    gql(demo.client, RECORD, {"input": run}, {"Authorization": f"Bearer {WRITER_TOKEN}"})


def test_a_bare_name_is_first_the_catalog_component_that_links_a_pipeline(
    demo: DemoGateway,
) -> None:
    push_run(demo, "churn-training-pipeline")  # a pushed pipeline of the same name loses
    query = '{ pipeline(ref: "churn-training-pipeline") { orchestrator arn } }'
    pipeline = gql(demo.client, query)["data"]["pipeline"]
    assert pipeline == {"orchestrator": "STEP_FUNCTIONS", "arn": MACHINE}


def test_a_bare_name_no_catalog_component_links_is_a_pushed_pipeline(demo: DemoGateway) -> None:
    push_run(demo, "airflow-churn-etl")
    query = '{ pipeline(ref: "airflow-churn-etl") { name orchestrator } }'
    pipeline = gql(demo.client, query)["data"]["pipeline"]
    assert pipeline == {"name": "airflow-churn-etl", "orchestrator": "EXTERNAL"}


def test_a_ref_naming_its_kind_is_looked_up_in_the_catalog_only(demo: DemoGateway) -> None:
    push_run(demo, "airflow-churn-etl")
    query = '{ pipeline(ref: "component:airflow-churn-etl") { name } }'
    assert gql(demo.client, query)["data"] == {"pipeline": None}


def test_an_arn_of_another_service_is_an_input_error(demo: DemoGateway) -> None:
    query = '{ pipeline(ref: "arn:aws:lambda:us-east-1:123456789012:function:f") { name } }'
    body = gql(demo.client, query, expect_errors=True)
    assert codes(body) == ["InputError"]


def test_a_custom_annotation_key_links_an_entity_to_its_state_machine(
    settings: Settings, tmp_path: Path, demo_aws: DemoSummary
) -> None:
    folder = tmp_path / "portal-catalog"
    folder.mkdir()
    (folder / "catalog-info.yaml").write_text(CUSTOM_ANNOTATED)
    custom = settings.replace(
        catalog_folder=str(folder), annotations_step_functions=("portal.example.com/sfn",)
    )
    with TestClient(create_app(custom)) as client:
        query = """query ($arn: String!) {
          entity(ref: "component:churn-pipeline") { pipeline { arn } }
          pipeline(ref: $arn) { entity { ref } } }"""
        data = gql(client, query, {"arn": MACHINE})["data"]
    assert data["entity"] == {"pipeline": {"arn": MACHINE}}
    assert data["pipeline"] == {"entity": {"ref": "component:default/churn-pipeline"}}


CUSTOM_ANNOTATED = f"""\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: churn-pipeline
  annotations:
    portal.example.com/sfn: {MACHINE}
spec: {{type: ml-pipeline, lifecycle: production, owner: ml-platform}}
"""


def test_final_metrics_of_the_training_job_a_run_ran_are_imported_once(
    demo: DemoGateway,
) -> None:
    app_resources = demo.client.app.state.resources  # type: ignore[attr-defined]
    sagemaker = CountingClient(app_resources.sagemaker._client)
    app_resources.sagemaker._client = sagemaker
    query = """query ($id: ID!) { node(id: $id) { ... on PipelineExecution {
        metrics { name value } } } }"""
    variables = {"id": execution_id("tuned-600-rounds")}
    gql(demo.client, STEPS, variables)  # the finished run and its steps are stored
    first = gql(demo.client, query, variables)["data"]["node"]["metrics"]
    # moto completes training jobs at once, with one canned final metric
    assert {"name": "train:progress", "value": 100.0} in first
    assert sagemaker.calls["describe_training_job"] >= 1
    sagemaker.calls.clear()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = app_resources.metadb.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        again = gql(demo.client, query, variables)["data"]["node"]["metrics"]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert again == first
    assert sagemaker.total() == 0
    # The run is settled (finished, every job's import recorded): the metadb is not asked
    # about the import again, nor for the steps that name the run's training jobs.
    assert statements, "the metrics themselves come from the metadb"
    assert not [s for s in statements if "idempotency_keys" in s]
    assert not [s for s in statements if "execution_steps" in s]


def test_metrics_whose_import_fails_answer_what_is_stored_and_say_what_is_missing(
    settings: Settings, tmp_path: Path, demo_aws: DemoSummary
) -> None:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    moto = urlsplit(settings.aws_endpoint_url)
    assert moto.hostname is not None
    assert moto.port is not None
    query = """query ($id: ID!) { node(id: $id) { ... on PipelineExecution {
        metrics { name value } } } }"""
    variables = {"id": execution_id("tuned-600-rounds")}
    with (
        FaultProxy((moto.hostname, moto.port), routes=AWS_ROUTES) as aws,
        TestClient(
            create_app(settings.replace(catalog_folder=str(folder), aws_endpoint_url=aws.url))
        ) as client,
    ):
        gql(client, STEPS, variables)  # the finished run and its steps are stored
        aws.fail(Fault.HTTP_500, "cloudwatch")

        failed = gql(client, query, variables, expect_errors=True)
        aws.heal()
        again = gql(client, query, variables)

    assert failed["data"]["node"]["metrics"] == []  # nothing stored yet, and not null
    [error] = failed["errors"]
    assert error["path"] == ["node", "metrics"]
    assert error["extensions"]["source"] == "cloudwatch"
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    # Nothing was recorded as imported: the next read imports.
    assert {"name": "train:progress", "value": 100.0} in again["data"]["node"]["metrics"]
