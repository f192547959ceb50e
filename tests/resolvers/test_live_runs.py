"""Runs pushed in, and watched live over a real websocket, across replicas too."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings
from gateway.realtime import SECRET_HEADER
from resolvers.ids import encode_id
from sources.aws import AwsSettings, open_client
from tests.conftest import SERVICE_TOKEN, WRITER_TOKEN
from tests.support.http_server import serve_app
from tests.support.ws_client import subscribe

EVENTS_SECRET = "events-secret-0123456789abcdef"
RECORD = """mutation ($input: RecordRunInput!) { recordRun(input: $input) {
  id name status steps { name status attempts } } }"""
WATCH = """subscription ($id: ID!) { executionUpdated(executionId: $id) {
  name status steps { name status } } }"""


@dataclass
class Gateway:
    base_url: str
    app: object

    def post(self, query: str, variables: dict, token: str | None = WRITER_TOKEN) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=30,
        )
        return response.json()


def _gateway(stack: ExitStack, settings: Settings) -> Gateway:
    app = create_app(settings)
    return Gateway(stack.enter_context(serve_app(app)), app)


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    return settings.replace(poll_interval_seconds=0.2, events_secret=EVENTS_SECRET)


@pytest.fixture
def gateway(live_settings: Settings) -> Iterator[Gateway]:
    with ExitStack() as stack:
        yield _gateway(stack, live_settings)


def run_input(run_id: str, status: str, steps: list[tuple[str, str]], **extra: object) -> dict:
    started = "2026-11-23T10:00:00+00:00"
    finished = status in ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT")
    return {
        "pipeline": "airflow-churn-etl",
        "runId": run_id,
        "status": status,
        "startedAt": started,
        "stoppedAt": "2026-11-23T10:05:00+00:00" if finished else None,
        "parameters": {"dag": "churn_etl", "retries": 2},
        "steps": [{"name": n, "status": s, "type": "Task"} for n, s in steps],
        **extra,
    }


def test_a_writer_records_a_pushed_run(gateway: Gateway) -> None:
    body = gateway.post(RECORD, {"input": run_input("r1", "RUNNING", [("extract", "RUNNING")])})
    assert "errors" not in body, body
    run = body["data"]["recordRun"]
    assert (run["name"], run["status"]) == ("r1", "RUNNING")
    pipeline = gateway.post(
        '{ pipeline(ref: "airflow-churn-etl") { orchestrator latestExecution { name '
        "parameters { key value } } } }",
        {},
    )["data"]["pipeline"]
    assert pipeline["orchestrator"] == "EXTERNAL"
    assert pipeline["latestExecution"]["name"] == "r1"
    assert {"key": "retries", "value": "2"} in pipeline["latestExecution"]["parameters"]


def test_a_read_only_token_cannot_record_and_nothing_is_stored(gateway: Gateway) -> None:
    body = gateway.post(
        RECORD, {"input": run_input("r-denied", "RUNNING", [])}, token=SERVICE_TOKEN
    )
    assert body["errors"][0]["extensions"]["code"] == "NotAllowedError"
    found = gateway.post('{ pipeline(ref: "airflow-churn-etl") { name } }', {})
    assert found["data"] == {"pipeline": None}


def test_a_malformed_run_is_refused_whole(gateway: Gateway) -> None:
    bad = run_input("r-bad", "SUCCEEDED", [("extract", "SUCCEEDED")])
    bad["stoppedAt"] = "2026-11-23T09:00:00+00:00"  # before it started
    body = gateway.post(RECORD, {"input": bad})
    assert body["errors"][0]["extensions"]["code"] == "InputError"
    assert gateway.post('{ pipeline(ref: "airflow-churn-etl") { name } }', {})["data"] == {
        "pipeline": None
    }


def test_a_finished_run_cannot_be_rewritten(gateway: Gateway) -> None:
    done = run_input("r-done", "SUCCEEDED", [("extract", "SUCCEEDED")])
    assert "errors" not in gateway.post(RECORD, {"input": done})
    again = gateway.post(RECORD, {"input": {**done, "status": "FAILED"}})
    assert again["errors"][0]["extensions"]["code"] == "ConflictError"


def test_a_subscriber_watches_a_pushed_run_to_its_end(gateway: Gateway) -> None:
    first = gateway.post(RECORD, {"input": run_input("r2", "RUNNING", [("extract", "RUNNING")])})
    run_id = first["data"]["recordRun"]["id"]
    updates = [
        [("extract", "SUCCEEDED"), ("train", "RUNNING")],
        [("extract", "SUCCEEDED"), ("train", "SUCCEEDED")],
    ]
    with subscribe(gateway.base_url, WATCH, {"id": run_id}, token=SERVICE_TOKEN) as sub:
        seen = []
        results = sub.results()
        seen.append(next(results))
        for steps in updates:
            gateway.post(RECORD, {"input": run_input("r2", "RUNNING", steps)})
            seen.append(next(results))
        gateway.post(RECORD, {"input": run_input("r2", "SUCCEEDED", updates[-1])})
        seen += list(results)  # ends by itself when the run ends
    statuses = [
        (
            p["data"]["executionUpdated"]["status"],
            [(s["name"], s["status"]) for s in p["data"]["executionUpdated"]["steps"]],
        )
        for p in seen
    ]
    assert statuses == [
        ("RUNNING", [("extract", "RUNNING")]),
        ("RUNNING", [("extract", "SUCCEEDED"), ("train", "RUNNING")]),
        ("RUNNING", [("extract", "SUCCEEDED"), ("train", "SUCCEEDED")]),
        ("SUCCEEDED", [("extract", "SUCCEEDED"), ("train", "SUCCEEDED")]),
    ]


SHORT_MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "Train"},
        "Train": {"Type": "Wait", "Seconds": 2, "Next": "Evaluate"},
        "Evaluate": {"Type": "Pass", "End": True},
    },
}


async def _start_short_run(endpoint: str, name: str) -> str:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        sfn = await open_client(stack, "stepfunctions", AwsSettings("us-east-1", endpoint, 5, 1))
        machine = await sfn.create_state_machine(
            name=name,
            definition=json.dumps(SHORT_MACHINE),
            roleArn="arn:aws:iam::123456789012:role/mlmeta-demo-stepfunctions",
        )
        run = await sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], name=f"{name}-run"
        )
        return str(run["executionArn"])


def test_two_subscribers_watch_a_step_functions_run_through_one_poller(
    gateway: Gateway, moto_endpoint: str
) -> None:
    arn = asyncio.run(_start_short_run(moto_endpoint, f"live-{os.getpid()}-{time.time_ns()}"))
    variables = {"id": encode_id("PipelineExecution", arn)}
    results: dict[str, list] = {}

    def watch(label: str) -> None:
        with subscribe(gateway.base_url, WATCH, variables) as sub:
            results[label] = [p["data"]["executionUpdated"] for p in sub.results()]

    threads = [threading.Thread(target=watch, args=(label,)) for label in ("a", "b")]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    watched = list(gateway.app.state.resources.hub.watched)  # type: ignore[attr-defined]
    for thread in threads:
        thread.join(timeout=30)
    assert watched == [arn]  # one poller for both subscribers
    for updates in results.values():
        assert updates[0]["status"] == "RUNNING"
        assert updates[-1]["status"] == "SUCCEEDED"
        assert [s["name"] for s in updates[-1]["steps"]] == ["Prepare", "Train", "Evaluate"]
        running_steps = [[s["status"] for s in u["steps"] if s["name"] == "Train"] for u in updates]
        assert ["RUNNING"] in running_steps  # the step was seen live, then finished


def test_an_update_reaches_a_subscriber_on_another_replica_through_redis(
    live_settings: Settings, tmp_path: Path
) -> None:
    shared = live_settings.replace(
        redis_url=os.environ.get("MLMETA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        poll_interval_seconds=30,  # only the push (a poke through Redis) can deliver in time
    )
    with ExitStack() as stack:
        writer, reader = _gateway(stack, shared), _gateway(stack, shared)
        first = writer.post(RECORD, {"input": run_input("r3", "RUNNING", [("load", "RUNNING")])})
        run_id = first["data"]["recordRun"]["id"]
        with subscribe(reader.base_url, WATCH, {"id": run_id}) as sub:
            results = sub.results(timeout=10)
            assert next(results)["data"]["executionUpdated"]["status"] == "RUNNING"
            writer.post(RECORD, {"input": run_input("r3", "SUCCEEDED", [("load", "SUCCEEDED")])})
            final = next(results)["data"]["executionUpdated"]
    assert final["status"] == "SUCCEEDED"


def test_status_change_events_need_the_shared_secret(gateway: Gateway) -> None:
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-23T10:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:states:us-east-1:123456789012:execution:m:r"],
        "detail": {
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:r",
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
            "name": "r",
            "status": "SUCCEEDED",
        },
    }
    url = f"{gateway.base_url}/api/v1/events/stepfunctions"
    accepted = httpx.post(url, json=event, headers={SECRET_HEADER: EVENTS_SECRET})
    refused = httpx.post(url, json=event, headers={SECRET_HEADER: "wrong"})
    assert accepted.status_code == 202
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "AuthenticationError"


def test_pushed_runs_are_listed_without_a_status_filter(gateway: Gateway) -> None:
    for run_id in ("a1", "a2"):
        gateway.post(RECORD, {"input": run_input(run_id, "SUCCEEDED", [])})
    query = (
        '{ pipeline(ref: "airflow-churn-etl") '
        "{ executions(first: 10) { edges { node { name } } } } }"
    )
    body = gateway.post(query, {})
    names = {e["node"]["name"] for e in body["data"]["pipeline"]["executions"]["edges"]}
    assert names == {"a1", "a2"}
