"""Three replicas behave as one gateway: shared polling, fan-out, writes, budgets, shutdown.

Every replica is a real ``mlmeta serve`` process (``tests.support.cluster``);
what each one does is read from its own ``/metrics``: its open subscriptions,
the executions it polls, its calls to Step Functions, the metric points it
stored. The poll interval is 30 s, so within a test a change can only arrive
through the shared machinery: a newcomer's sync, an event, a lease takeover.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any
from uuid import uuid4

import httpx
import pytest
from redis import Redis
from websockets.exceptions import ConnectionClosed

from gateway.realtime import SECRET_HEADER
from resolvers.ids import encode_id
from tests.conftest import WRITER_TOKEN
from tests.replicas.conftest import BUDGET_BURST, BUDGETED_TOKEN, EVENTS_SECRET, LEASE_SECONDS
from tests.support.cluster import Cluster, Replica
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.ws_client import Subscription, subscribe

pytestmark = pytest.mark.postgres

WRITER = {"Authorization": f"Bearer {WRITER_TOKEN}"}
WATCH = """subscription ($id: ID!) { executionUpdated(executionId: $id) {
  status steps { name status } } }"""
ROLE = "arn:aws:iam::123456789012:role/mlmeta-demo-stepfunctions"


# ------------------------------------------------------------------ helpers


def start_run(sfn: Any, wait_seconds: int) -> str:
    """A new Step Functions run in moto: Prepare, a Wait of ``wait_seconds``, Evaluate."""
    name = f"cluster-{uuid4().hex[:12]}"
    definition = {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Next": "Train"},
            "Train": {"Type": "Wait", "Seconds": wait_seconds, "Next": "Evaluate"},
            "Evaluate": {"Type": "Pass", "End": True},
        },
    }
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
    run = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=f"{name}-run")
    return str(run["executionArn"])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``condition`` held; fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


def status_change_event(arn: str, status: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": uuid4().hex,
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-12-06T10:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {"executionArn": arn, "status": status},
    }


def post_event(replica: Replica, arn: str, status: str) -> None:
    response = httpx.post(
        f"{replica.url}/api/v1/events/stepfunctions",
        json=status_change_event(arn, status),
        headers={SECRET_HEADER: EVENTS_SECRET},
        timeout=10,
    )
    assert response.status_code == 202, response.text


def aws_calls(replica: Replica) -> float:
    return replica.metric("mlmeta_upstream_calls_total", source="stepfunctions")


def pollers(replica: Replica) -> float:
    return replica.metric("mlmeta_active_pollers")


def stored_points(replica: Replica) -> float:
    return replica.metric("mlmeta_metric_points_ingested_total", result="stored")


def status(payload: dict[str, Any]) -> str:
    return str(payload["data"]["executionUpdated"]["status"])


@contextmanager
def watching(replica: Replica, arn: str) -> Iterator[Subscription]:
    """A subscription on ``replica``, its first snapshot already read."""
    variables = {"id": encode_id("PipelineExecution", arn)}
    with subscribe(replica.url, WATCH, variables, token=WRITER_TOKEN) as sub:
        yield sub


def statuses_until_complete(sub: Subscription, timeout: float = 10.0) -> list[str]:
    return [status(p) for p in sub.results(timeout=timeout)]


def graphql(url: str, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
    headers = kw.pop("headers", WRITER)
    return httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=30,
        **kw,
    )


def finished_in_aws(sfn: Any, arn: str) -> Callable[[], bool]:
    return lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"


# ------------------------------------------------------------------ live updates


def test_a_run_polled_by_one_replica_reaches_a_subscriber_on_another(
    cluster: Cluster, sfn: Any
) -> None:
    owner, other = cluster.live()[:2]
    arn = start_run(sfn, wait_seconds=1)
    with watching(owner, arn) as first:
        assert status(next(first.results())) == "RUNNING"
        wait_for(finished_in_aws(sfn, arn), 15, "the run finishes in moto")
        before = aws_calls(other)
        with watching(other, arn) as second:
            # The newcomer asks for the current state; the owner polls and publishes it.
            seen_by_other = statuses_until_complete(second)
        seen_by_owner = statuses_until_complete(first)
    assert seen_by_other[-1] == seen_by_owner[-1] == "SUCCEEDED"
    assert aws_calls(other) == before  # it never asked AWS: it was told through Redis


def test_a_status_change_event_posted_to_any_replica_reaches_every_subscriber(
    cluster: Cluster, sfn: Any
) -> None:
    a, b, c = cluster.live()[:3]
    arn = start_run(sfn, wait_seconds=1)
    with watching(a, arn) as on_a, watching(b, arn) as on_b:
        assert status(next(on_a.results())) == status(next(on_b.results())) == "RUNNING"
        wait_for(finished_in_aws(sfn, arn), 15, "the run finishes in moto")
        posted = time.monotonic()
        post_event(c, arn, "SUCCEEDED")  # c watches nothing; the poke goes through Redis
        assert statuses_until_complete(on_a)[-1] == "SUCCEEDED"
        assert statuses_until_complete(on_b)[-1] == "SUCCEEDED"
        # Without the event the next poll would be 30 s away.
        assert time.monotonic() - posted < 5


def test_one_poller_for_a_run_watched_on_every_replica_and_a_takeover_after_sigkill(
    cluster: Cluster, sfn: Any
) -> None:
    replicas = cluster.live()[:3]
    arn = start_run(sfn, wait_seconds=300)
    with ExitStack() as stack:
        subs = [stack.enter_context(watching(r, arn)) for r in replicas]
        for sub in subs:
            assert status(next(sub.results())) == "RUNNING"
        for _ in range(3):
            assert sum(pollers(r) for r in replicas) == 1
            time.sleep(0.3)
        owner = next(r for r in replicas if pollers(r) == 1)
        survivors = [r for r in replicas if r is not owner]

        owner.signal(signal.SIGKILL)
        owner.wait(timeout=10)
        took = wait_for(
            lambda: sum(pollers(r) for r in survivors) == 1,
            LEASE_SECONDS * 1.25 + 2,
            "a surviving replica polls the run",
        )
        # The dead owner never freed its lease: the new one waited for it to expire.
        assert took <= LEASE_SECONDS * 1.25 + 1

        sfn.stop_execution(executionArn=arn, error="Stopped", cause="the test is over")
        post_event(survivors[0], arn, "ABORTED")
        for replica, sub in zip(replicas, subs, strict=True):
            if replica is not owner:
                assert statuses_until_complete(sub)[-1] == "ABORTED"
    cluster.start(1)  # three again for the next tests


def test_sigterm_finishes_requests_closes_subscriptions_reconnectably_and_frees_leases(
    cluster: Cluster, sfn: Any, moto_endpoint: str
) -> None:
    aws = moto_endpoint.removeprefix("http://").split(":")
    with FaultProxy((aws[0], int(aws[1])), mode="tcp") as to_aws:
        # Live cache off: the in-flight read below must ask AWS, not reuse the poll's answer.
        leaving_env = {"MLMETA_AWS_ENDPOINT_URL": to_aws.url, "MLMETA_LIVE_CACHE_SECONDS": "0"}
        (leaving,) = cluster.start(1, env=leaving_env)
        staying = cluster.live()[0]
        arn = start_run(sfn, wait_seconds=300)
        redis = Redis.from_url(cluster.env["MLMETA_REDIS_URL"])
        with ExitStack() as stack:
            on_leaving = stack.enter_context(watching(leaving, arn))
            assert status(next(on_leaving.results())) == "RUNNING"  # it polls: first to watch
            on_staying = stack.enter_context(watching(staying, arn))
            assert status(next(on_staying.results())) == "RUNNING"
            assert (pollers(leaving), pollers(staying)) == (1, 0)
            (lease_key,) = redis.keys("*:poller")
            old_lease = redis.get(lease_key)

            # A request in flight: AWS stops answering the leaving replica mid-request.
            to_aws.fail(Fault.HANG)
            node = f'{{ node(id: "{encode_id("PipelineExecution", arn)}") {{ id }} }}'
            in_flight = ThreadPoolExecutor(1).submit(graphql, leaving.url, node)
            time.sleep(0.5)
            leaving.signal(signal.SIGTERM)

            with pytest.raises(ConnectionClosed) as closed:
                on_leaving.next_message(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1012  # Service Restart: clients reconnect
            wait_for(lambda: refuses(leaving.port), 5, "the leaving replica stops listening")
            assert not in_flight.done()

            to_aws.heal()
            answer = in_flight.result(timeout=15)
            assert answer.status_code == 200
            assert "errors" not in answer.json(), answer.text
            assert answer.json()["data"]["node"]["id"]
            # uvicorn re-raises SIGTERM once shut down: the exit status says what stopped it.
            assert leaving.wait(timeout=15) == -signal.SIGTERM
            assert "Application shutdown complete." in leaving.log()

            # The lease was freed and taken at once, not left to expire.
            assert redis.get(lease_key) != old_lease
            wait_for(lambda: pollers(staying) == 1, LEASE_SECONDS / 2, "the staying replica polls")
            sfn.stop_execution(executionArn=arn)
            post_event(staying, arn, "ABORTED")
            assert statuses_until_complete(on_staying)[-1] == "ABORTED"
        redis.close()


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


# ------------------------------------------------------------------ shared state


VERSION_CARD = """query { modelVersion(model: "churn-model", version: "2") {
  id cards { source revision overview } } }"""
EDIT_CARD = """mutation ($input: ModelCardInput!) { upsertModelCard(input: $input) {
  revision overview } }"""


def mlmeta_card(url: str) -> tuple[str, dict[str, Any] | None]:
    body = graphql(url, VERSION_CARD).json()
    assert "errors" not in body, body
    version = body["data"]["modelVersion"]
    cards = [c for c in version["cards"] if c["source"] == "mlmeta"]
    return version["id"], max(cards, key=lambda c: c["revision"]) if cards else None


def test_a_card_edited_on_one_replica_is_read_on_the_others_at_once(cluster: Cluster) -> None:
    a, b, c = cluster.live()[:3]
    version_id, before = mlmeta_card(b.url)  # b has read (and may have cached) the old card
    base = before["revision"] if before else 0
    edit = {"modelVersionId": version_id, "overview": f"edited on a {uuid4().hex}"}
    saved = graphql(a.url, EDIT_CARD, {"input": {**edit, "baseRevision": base}}).json()
    assert "errors" not in saved, saved
    assert mlmeta_card(b.url)[1] == {
        "source": "mlmeta",
        "revision": base + 1,
        "overview": edit["overview"],
    }
    # An edit from the same stale base on a third replica conflicts; nothing is written.
    stale = graphql(c.url, EDIT_CARD, {"input": {**edit, "baseRevision": base}}).json()
    assert stale["errors"][0]["extensions"]["code"] == "ConflictError"
    assert mlmeta_card(c.url)[1]["revision"] == base + 1  # type: ignore[index]


RECORD_RUN = """mutation ($input: RecordRunInput!) { recordRun(input: $input) { id } }"""
LOG = """mutation ($input: LogMetricsInput!) { logMetrics(input: $input) {
  accepted duplicates } }"""
SERIES = """query ($id: ID!) { node(id: $id) { ... on PipelineExecution {
  metricSeries(maxPoints: 5000) { name count steps } } } }"""


def test_metric_ingestion_racing_on_two_replicas_loses_and_duplicates_nothing(
    cluster: Cluster,
) -> None:
    a, b = cluster.live()[:2]
    run = {
        "pipeline": "cluster-race",
        "runId": uuid4().hex,
        "status": "RUNNING",
        "startedAt": "2026-12-06T09:00:00Z",
    }
    recorded = graphql(a.url, RECORD_RUN, {"input": run}).json()
    run_id = recorded["data"]["recordRun"]["id"]
    batches = [
        [{"name": name, "value": step / 10, "step": step} for step in range(k * 50, k * 50 + 50)]
        for k in range(8)
        for name in ("loss", "accuracy")
    ]
    stored_before = sum(stored_points(r) for r in (a, b))

    def send(replica: Replica, index: int, keyed: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {"executionId": run_id, "points": batches[index]}
        if keyed:
            payload["idempotencyKey"] = f"batch-{index}"
        body: dict[str, Any] = graphql(replica.url, LOG, {"input": payload}).json()
        assert "errors" not in body, body
        return body["data"]["logMetrics"]

    # Every batch sent twice at once, to both replicas: half by key, half by (run, name, step).
    with ThreadPoolExecutor(8) as pool:
        jobs = [
            pool.submit(send, replica, index, keyed=index % 2 == 0)
            for index in range(len(batches))
            for replica in (a, b)
        ]
        answers = [job.result() for job in jobs]

    series = graphql(b.url, SERIES, {"id": run_id}).json()["data"]["node"]["metricSeries"]
    assert {s["name"]: s["count"] for s in series} == {"loss": 400, "accuracy": 400}
    for s in series:
        assert s["steps"] == list(range(400))  # one point per step: none lost, none twice
    stored = sum(stored_points(r) for r in (a, b))
    assert stored - stored_before == 800
    assert sum(x["accepted"] for x in answers) >= 800


BUDGET_QUERY = """{ pipelines(first: 100) { edges { node { name } } } }"""


def test_a_rate_limit_budget_is_shared_by_every_replica(cluster: Cluster) -> None:
    budgeted = {"Authorization": f"Bearer {BUDGETED_TOKEN}"}
    first = graphql(cluster.url, BUDGET_QUERY, headers=budgeted)
    assert first.status_code == 200, first.text
    cost = first.json()["extensions"]["cost"]["requested"]
    spread_before = dict(cluster.proxy.connections)  # type: ignore[union-attr]
    admitted, refused = 1, None
    for _ in range(3 * BUDGET_BURST // cost):
        # A new connection each time: the proxy sends each to the next replica.
        answer = graphql(cluster.url, BUDGET_QUERY, headers=budgeted)
        if answer.status_code == 429:
            refused = answer
            break
        admitted += 1
    assert refused is not None, "the budget never ran out"
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # One budget for the token across the cluster, not one per replica.
    assert admitted == BUDGET_BURST // cost
    used = {
        port
        for port, count in cluster.proxy.connections.items()  # type: ignore[union-attr]
        if count > spread_before.get(port, 0)
    }
    assert len(used) >= 3  # the requests really went to every replica
