"""Lineage through GraphQL and the OpenLineage endpoint: record, walk, asOf, digest, impact."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import DemoSummary
from gateway.demo.catalog_files import write_catalog
from resolvers.ids import encode_id
from sources.lineage.export import run_id
from tests.conftest import SERVICE_TOKEN, WRITER_TOKEN, codes, gql

WRITER = {"Authorization": f"Bearer {WRITER_TOKEN}"}
RECORD = """mutation ($edges: [LineageEdgeInput!]!) { recordLineage(edges: $edges) }"""
RETIRE = """mutation ($edges: [LineageEdgeInput!]!) { retireLineage(edges: $edges) }"""
WALK = """query ($of: ID!, $direction: LineageDirection!, $depth: Int!, $asOf: DateTime) {
  lineage(of: $of, direction: $direction, depth: $depth, asOf: $asOf) {
    asOf truncated digest nodeIds edges { from to kind origin }
    nodes { __typename id } } }"""


@pytest.fixture
def gateway(settings: Settings, tmp_path: Path, demo_aws: DemoSummary) -> Iterator[TestClient]:
    folder = tmp_path / "demo-catalog"
    write_catalog(folder)
    with TestClient(create_app(settings.replace(catalog_folder=str(folder)))) as client:
        yield client


def dataset(uri: str) -> str:
    return encode_id("Dataset", uri)


def run_event(event_type: str, run: str, **extra: Any) -> dict[str, Any]:
    """An OpenLineage RunEvent as Airflow's provider sends it."""
    return {
        "eventType": event_type,
        "eventTime": datetime.now(UTC).isoformat(),
        "producer": "https://github.com/apache/airflow/tree/providers-openlineage/1.14.0",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run, "facets": {}},
        "job": {"namespace": "airflow-prod", "name": "churn_features.build"},
        "inputs": [{"namespace": "s3://raw-events", "name": "usage/2026-11-20", "facets": {}}],
        "outputs": [{"namespace": "s3://features", "name": "churn/2026-11-20", "facets": {}}],
        **extra,
    }


def version_and_deployment(client: TestClient) -> tuple[str, str]:
    query = """query { modelVersion(model: "churn-model", version: "3") {
      id deployments { id } } }"""
    version = gql(client, query)["data"]["modelVersion"]
    return version["id"], version["deployments"][0]["id"]


def chain(client: TestClient, source: str) -> dict[str, str]:
    """source dataset -> derived dataset -> (pushed run) ; demo's churn v3 -> its endpoint."""
    version, deployment = version_and_deployment(client)
    derived = dataset(source + "-clean")
    edges = [
        {"from": dataset(source), "to": derived, "kind": "DERIVED_FROM"},
        {"from": version, "to": deployment, "kind": "DEPLOYED"},
    ]
    assert gql(client, RECORD, {"edges": edges}, WRITER)["data"]["recordLineage"] >= 1
    return {
        "source": dataset(source),
        "derived": derived,
        "version": version,
        "deployment": deployment,
    }


def test_recording_an_edge_twice_records_it_once(gateway: TestClient) -> None:
    edges = [{"from": dataset("s3://a/x"), "to": dataset("s3://a/y"), "kind": "DERIVED_FROM"}]
    assert gql(gateway, RECORD, {"edges": edges}, WRITER)["data"]["recordLineage"] == 1
    assert gql(gateway, RECORD, {"edges": edges}, WRITER)["data"]["recordLineage"] == 0


def test_an_edge_against_the_flow_is_refused_and_nothing_is_stored(gateway: TestClient) -> None:
    good = {"from": dataset("s3://b/x"), "to": dataset("s3://b/y"), "kind": "DERIVED_FROM"}
    backwards = {"from": dataset("s3://b/x"), "to": dataset("s3://b/z"), "kind": "DEPLOYED"}
    body = gql(gateway, RECORD, {"edges": [good, backwards]}, WRITER, expect_errors=True)
    assert codes(body) == ["InputError"]
    walked = gql(
        gateway, WALK, {"of": good["from"], "direction": "BOTH", "depth": 2}, expect_errors=True
    )
    assert codes(walked) == ["NotFoundError"]  # not even the good edge made the node known


@pytest.mark.parametrize("headers", [{}, {"Authorization": f"Bearer {SERVICE_TOKEN}"}])
def test_only_writing_service_tokens_record_lineage(
    gateway: TestClient, headers: dict[str, str]
) -> None:
    edges = [{"from": dataset("s3://c/x"), "to": dataset("s3://c/y"), "kind": "DERIVED_FROM"}]
    body = gql(gateway, RECORD, {"edges": edges}, headers, expect_errors=True)
    assert codes(body) == ["NotAllowedError"]


def test_upstream_of_a_deployment_reaches_the_data_and_the_card_in_force(
    gateway: TestClient,
) -> None:
    ids = chain(gateway, "s3://mlmeta-test/upstream")
    graph = gql(gateway, WALK, {"of": ids["deployment"], "direction": "UPSTREAM", "depth": 10})[
        "data"
    ]["lineage"]
    assert {ids["deployment"], ids["version"]} <= set(graph["nodeIds"])
    assert {
        "from": ids["version"],
        "to": ids["deployment"],
        "kind": "DEPLOYED",
        "origin": "api",
    } in graph["edges"]
    kinds = {n["__typename"] for n in graph["nodes"]}
    assert {"Deployment", "ModelVersion"} <= kinds
    assert len(graph["digest"]) == 64


def test_as_of_shows_the_graph_before_and_after_an_edge_was_retired(gateway: TestClient) -> None:
    source = dataset("s3://mlmeta-test/retire")
    edge = {"from": source, "to": dataset("s3://mlmeta-test/retire-v2"), "kind": "DERIVED_FROM"}
    gql(gateway, RECORD, {"edges": [edge]}, WRITER)
    time.sleep(0.01)
    while_live = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    assert gql(gateway, RETIRE, {"edges": [edge]}, WRITER)["data"]["retireLineage"] == 1
    now = gql(gateway, WALK, {"of": source, "direction": "DOWNSTREAM", "depth": 3})
    then = gql(
        gateway, WALK, {"of": source, "direction": "DOWNSTREAM", "depth": 3, "asOf": while_live}
    )
    assert now["data"]["lineage"]["edges"] == []
    assert [e["to"] for e in then["data"]["lineage"]["edges"]] == [edge["to"]]
    again = gql(
        gateway, WALK, {"of": source, "direction": "DOWNSTREAM", "depth": 3, "asOf": while_live}
    )
    assert again["data"]["lineage"]["digest"] == then["data"]["lineage"]["digest"]


def test_the_digest_is_the_same_on_another_replica(
    gateway: TestClient, settings: Settings, tmp_path: Path
) -> None:
    source = dataset("s3://mlmeta-test/replicas")
    edge = {"from": source, "to": dataset("s3://mlmeta-test/replicas-v2"), "kind": "DERIVED_FROM"}
    gql(gateway, RECORD, {"edges": [edge]}, WRITER)
    at = datetime.now(UTC).isoformat()
    variables = {"of": source, "direction": "BOTH", "depth": 3, "asOf": at}
    here = gql(gateway, WALK, variables)["data"]["lineage"]
    folder = tmp_path / "replica-catalog"
    write_catalog(folder)
    with TestClient(create_app(settings.replace(catalog_folder=str(folder)))) as replica:
        there = gql(replica, WALK, variables)["data"]["lineage"]
    assert there["digest"] == here["digest"]
    assert there["nodeIds"] == here["nodeIds"]


def test_impact_lists_deployments_downstream_of_a_dataset_with_their_path(
    gateway: TestClient,
) -> None:
    ids = chain(gateway, "s3://mlmeta-test/impact")
    run = encode_id("PipelineExecution", "external:airflow-prod/impact:" + "1" * 8)
    gql(
        gateway,
        """mutation { recordRun(input: {pipeline: "airflow-prod/impact", runId: "11111111",
          status: SUCCEEDED, startedAt: "2026-11-20T10:00:00Z", stoppedAt: "2026-11-20T11:00:00Z"})
          { id } }""",
        headers=WRITER,
    )
    edges = [
        {"from": ids["derived"], "to": run, "kind": "CONSUMED"},
        {"from": run, "to": ids["version"], "kind": "PRODUCED"},
    ]
    gql(gateway, RECORD, {"edges": edges}, WRITER)
    query = """query ($id: ID!) { impact(datasetId: $id) {
      deployment { id name } pathIds path { __typename } } }"""
    paths = gql(gateway, query, {"id": ids["source"]})["data"]["impact"]
    assert [p["deployment"]["id"] for p in paths] == [ids["deployment"]]
    assert paths[0]["deployment"]["name"]  # a Deployment: its fields need no fragment
    assert paths[0]["pathIds"] == [
        ids["source"],
        ids["derived"],
        run,
        ids["version"],
        ids["deployment"],
    ]
    assert [n["__typename"] for n in paths[0]["path"]] == [
        "Dataset",
        "Dataset",
        "PipelineExecution",
        "ModelVersion",
        "Deployment",
    ]


def test_openlineage_events_feed_runs_datasets_and_edges(gateway: TestClient) -> None:
    run = "0196f3c2-7c1e-7a4e-9f5a-3c2b1a0f9e8d"
    for event_type in ("START", "COMPLETE"):
        response = gateway.post("/api/v1/lineage", json=run_event(event_type, run), headers=WRITER)
        assert response.status_code == 201, response.text
    execution = encode_id("PipelineExecution", f"external:airflow-prod/churn_features.build:{run}")
    query = """query ($id: ID!) { node(id: $id) { ... on PipelineExecution {
      status inputs { uri } } } }"""
    found = gql(gateway, query, {"id": execution})["data"]["node"]
    assert found == {"status": "SUCCEEDED", "inputs": [{"uri": "s3://raw-events/usage/2026-11-20"}]}
    graph = gql(gateway, WALK + "", {"of": execution, "direction": "BOTH", "depth": 1})
    export_query = """query ($id: ID!) { lineage(of: $id, depth: 1) { openLineage } }"""
    events = gql(gateway, export_query, {"id": execution})["data"]["lineage"]["openLineage"]
    assert [e["run"]["runId"] for e in events] == [
        run_id(f"external:airflow-prod/churn_features.build:{run}")
    ]
    assert events[0]["eventType"] == "COMPLETE"
    assert [i["namespace"] + "/" + i["name"] for i in events[0]["inputs"]] == [
        "s3://raw-events/usage/2026-11-20"
    ]
    assert len(graph["data"]["lineage"]["edges"]) == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"eventType": "START"}', "is required"),
    ],
)
def test_a_malformed_openlineage_event_is_a_400_and_stores_nothing(
    gateway: TestClient, body: bytes, reason: str
) -> None:
    response = gateway.post(
        "/api/v1/lineage", content=body, headers={**WRITER, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert reason in response.json()["errors"][0]["message"]


def test_a_bad_run_id_stores_no_part_of_the_event(gateway: TestClient) -> None:
    event = run_event("START", "not-a-uuid")
    response = gateway.post("/api/v1/lineage", json=event, headers=WRITER)
    assert response.status_code == 400
    assert "runId" in response.json()["errors"][0]["message"]
    found = gql(
        gateway,
        'query { dataset(uri: "s3://raw-events/usage/2026-11-20") { uri } }',
    )["data"]["dataset"]
    assert found is None


def test_walk_bounds_are_checked(gateway: TestClient) -> None:
    body = gql(
        gateway,
        WALK,
        {"of": dataset("s3://x/y"), "direction": "BOTH", "depth": 500},
        expect_errors=True,
    )
    assert codes(body) == ["InputError"]


def test_edges_aws_implies_are_derived_when_asked(gateway: TestClient) -> None:
    version, deployment = version_and_deployment(gateway)
    graph = gql(gateway, WALK, {"of": version, "direction": "BOTH", "depth": 2})["data"]["lineage"]
    aws = [(e["kind"], e["from"], e["to"]) for e in graph["edges"] if e["origin"] == "aws"]
    assert ("DEPLOYED", version, deployment) in aws
    producing = [f for kind, f, to in aws if kind == "PRODUCED" and to == version]
    assert len(producing) == 1
    query = """query ($id: ID!) { node(id: $id) { ... on PipelineExecution {
      name producedModels { version } inputs { uri } } } }"""
    run = gql(gateway, query, {"id": producing[0]})["data"]["node"]
    assert run["name"] == "tuned-600-rounds"
    assert run["producedModels"] == [{"version": "3"}]
    assert "s3://mlmeta-demo-datasets/churn/training/2026-11-01/train.csv" in {
        i["uri"] for i in run["inputs"]
    }


def test_a_produced_edge_tells_which_run_trained_a_version_its_registry_entry_does_not(
    gateway: TestClient, moto_endpoint: str
) -> None:
    sagemaker = boto3.client("sagemaker", endpoint_url=moto_endpoint, region_name="us-east-1")
    group = f"tlineage-{uuid.uuid4().hex[:10]}"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "example/trainer:1", "ModelDataUrl": f"s3://b/{group}.tgz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    run = gql(
        gateway,
        """mutation { recordRun(input: {pipeline: "airflow-prod/train", runId: "r-42",
          status: SUCCEEDED, startedAt: "2026-11-20T10:00:00Z"}) { id } }""",
        headers=WRITER,
    )["data"]["recordRun"]["id"]
    query = """query ($model: String!) { modelVersion(model: $model, version: "1") {
      id trainedBy { name } } }"""
    version = gql(gateway, query, {"model": group})["data"]["modelVersion"]
    assert version["trainedBy"] is None
    gql(
        gateway, RECORD, {"edges": [{"from": run, "to": version["id"], "kind": "PRODUCED"}]}, WRITER
    )
    version = gql(gateway, query, {"model": group})["data"]["modelVersion"]
    assert version["trainedBy"] == {"name": "r-42"}


def test_a_derived_edge_holds_from_when_aws_says_the_fact_began(gateway: TestClient) -> None:
    query = """query { modelVersion(model: "churn-model", version: "3") { id createdAt } }"""
    version = gql(gateway, query)["data"]["modelVersion"]
    created = datetime.fromisoformat(version["createdAt"].replace("Z", "+00:00"))
    just_after = (created + timedelta(milliseconds=1)).isoformat()
    just_before = (created - timedelta(milliseconds=1)).isoformat()
    walk = {"of": version["id"], "direction": "UPSTREAM", "depth": 1}
    after = gql(gateway, WALK, {**walk, "asOf": just_after})["data"]["lineage"]
    before = gql(gateway, WALK, {**walk, "asOf": just_before})["data"]["lineage"]
    assert [e["kind"] for e in after["edges"] if e["origin"] == "aws"] == ["PRODUCED"]
    assert [e for e in before["edges"] if e["origin"] == "aws"] == []


def test_the_card_in_force_joins_the_graph_upstream_of_its_version(gateway: TestClient) -> None:
    version, _ = version_and_deployment(gateway)
    query = """query ($of: ID!) { lineage(of: $of, direction: UPSTREAM, depth: 1) {
      edges { from to kind } nodes { id ... on ModelCard { source revision status } } } }"""
    graph = gql(gateway, query, {"of": version})["data"]["lineage"]
    cards = [n for n in graph["nodes"] if "source" in n]
    assert [(c["source"], c["revision"], c["status"]) for c in cards] == [
        ("sagemaker", 2, "APPROVED")
    ]
    assert {"from": cards[0]["id"], "to": version, "kind": "DESCRIBES"} in graph["edges"]
    writer_edit = {"modelVersionId": version, "baseRevision": 0, "caveats": ["Shadow-tested."]}
    gql(
        gateway,
        """mutation ($input: ModelCardInput!) { upsertModelCard(input: $input) { revision } }""",
        {"input": writer_edit},
        WRITER,
    )
    graph = gql(gateway, query, {"of": version})["data"]["lineage"]
    cards = [n for n in graph["nodes"] if "source" in n]
    # A newer mlmeta draft does not replace the approved card (ModelVersion.card's rule).
    assert [(c["source"], c["revision"]) for c in cards] == [("sagemaker", 2)]


# ------------------------------------------------------------- not found ---

ENDPOINT_ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/nope"


@pytest.mark.parametrize(
    "of",
    [
        dataset("s3://mlmeta-test/never-recorded"),
        encode_id("Deployment", ENDPOINT_ARN),
        ENDPOINT_ARN,
        "Dataset:s3://mlmeta-test/never-recorded",
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/nope/1",
        encode_id("PipelineExecution", "external:airflow-prod/nope:1"),
    ],
    ids=["dataset-id", "deployment-id", "endpoint-arn", "lineage-key", "package-arn", "run-id"],
)
def test_the_lineage_of_a_node_mlmeta_has_never_seen_is_not_found(
    gateway: TestClient, of: str
) -> None:
    body = gql(gateway, WALK, {"of": of, "direction": "BOTH", "depth": 2}, expect_errors=True)
    assert codes(body) == ["NotFoundError"]
    assert "never seen" in body["errors"][0]["message"]
    assert body["data"]["lineage"] is None


def test_a_node_only_its_source_knows_has_a_one_node_graph(
    gateway: TestClient, moto_endpoint: str
) -> None:
    sagemaker = boto3.client("sagemaker", endpoint_url=moto_endpoint, region_name="us-east-1")
    group = f"tunlinked-{uuid.uuid4().hex[:10]}"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "example/scorer:1", "ModelDataUrl": f"s3://b/{group}.tgz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    graph = gql(gateway, WALK, {"of": arn, "direction": "BOTH", "depth": 2})["data"]["lineage"]
    assert graph["nodeIds"] == [encode_id("ModelVersion", arn)]
    assert graph["edges"] == []


def test_a_node_whose_edges_were_all_retired_is_still_known(gateway: TestClient) -> None:
    source = dataset("s3://mlmeta-test/retired-only")
    edge = {
        "from": source,
        "to": dataset("s3://mlmeta-test/retired-only-2"),
        "kind": "DERIVED_FROM",
    }
    gql(gateway, RECORD, {"edges": [edge]}, WRITER)
    gql(gateway, RETIRE, {"edges": [edge]}, WRITER)
    graph = gql(gateway, WALK, {"of": source, "direction": "BOTH", "depth": 1})["data"]["lineage"]
    assert graph["edges"] == []


def test_lineage_takes_the_forms_the_cli_takes(gateway: TestClient) -> None:
    version, _ = version_and_deployment(gateway)
    arn = gql(gateway, 'query { modelVersion(model: "churn-model", version: "3") { arn } }')[
        "data"
    ]["modelVersion"]["arn"]
    query = """query ($of: ID!) { lineage(of: $of, depth: 1, asOf: "2030-01-01T00:00:00Z") {
      digest nodeIds } }"""
    by_id = gql(gateway, query, {"of": version})["data"]["lineage"]
    for form in (arn, f"ModelVersion:{arn}"):
        assert gql(gateway, query, {"of": form})["data"]["lineage"] == by_id
    source = chain(gateway, "s3://mlmeta-test/forms")["source"]
    by_uri = gql(gateway, query, {"of": "s3://mlmeta-test/forms"})["data"]["lineage"]
    assert by_uri["nodeIds"][0] == source


@pytest.mark.parametrize(
    "of", ["arn:aws:s3:::bucket/key", "not an id", encode_id("Pipeline", "churn-training")]
)
def test_a_node_named_in_no_form_lineage_takes_is_an_input_error(
    gateway: TestClient, of: str
) -> None:
    body = gql(gateway, WALK, {"of": of, "direction": "BOTH", "depth": 2}, expect_errors=True)
    assert codes(body) == ["InputError"]


def test_the_impact_of_a_dataset_mlmeta_has_never_seen_is_not_found(gateway: TestClient) -> None:
    query = """query ($id: ID!) { impact(datasetId: $id) { deploymentId } }"""
    unknown = gql(gateway, query, {"id": dataset("s3://mlmeta-test/nope")}, expect_errors=True)
    assert codes(unknown) == ["NotFoundError"]
    chain(gateway, "s3://mlmeta-test/no-deployment")
    known = gql(gateway, query, {"id": dataset("s3://mlmeta-test/no-deployment-clean")})
    assert known["data"]["impact"] == []
