"""The demo's heartbeat: a run of the staging pipeline is always going, step by step.

One run at a time, back to back: each starts as the previous one ends. A run
waits ``step_seconds`` after each processing job and ``TRAINING_STEPS_WAITED``
times that in ``WaitForTraining``, so a subscription (``executionUpdated``)
sees a new step every few seconds. While it trains, the heartbeat logs its
loss and roc_auc the way training code would, through the gateway's own
ingestion endpoint with the demo's write token, so the run's ``metricSeries``
grows as you watch. Staging runs pass the quality gate but register no model
version (``register_model: false``), so the registry keeps the seeded history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from gateway.demo.metrics_seed import curves
from gateway.demo.names import EVALUATIONS_TABLE, STAGING_PIPELINE, state_machine_arn
from gateway.demo.plan import TRAINING_RUNS
from sources.aws import AwsSettings, open_client

log = logging.getLogger("mlmeta.demo")
TRAINING_STEPS_WAITED = 4
"""How many ``step_seconds`` a live run spends in WaitForTraining."""
CURVE_STEPS = 200
TRAINING_STATE = "WaitForTraining"


@dataclass(frozen=True)
class Heartbeat:
    """Where the live runs run (moto) and where their metrics go (the gateway)."""

    aws_endpoint_url: str
    region: str
    gateway_url: str
    token: str
    step_seconds: int = 3

    def run_input(self, name: str) -> dict[str, Any]:
        template = next(r for r in TRAINING_RUNS if r.name == "more-data")
        return {
            **replace(template, name=name).input(),
            "step_wait_seconds": self.step_seconds,
            "poll_interval_seconds": self.step_seconds * TRAINING_STEPS_WAITED,
            "register_model": False,
        }


def live_run_name() -> str:
    return f"live-{datetime.now(UTC):%Y%m%d-%H%M%S}"


async def run_once(beat: Heartbeat, name: str | None = None) -> tuple[str, str]:
    """Start one live run, log its training curve while it trains; (ARN, final status)."""
    name = name or live_run_name()
    settings = AwsSettings(beat.region, beat.aws_endpoint_url, timeout_seconds=10, max_attempts=1)
    async with AsyncExitStack() as stack:
        ddb = await open_client(stack, "dynamodb", settings)
        sfn = await open_client(stack, "stepfunctions", settings)
        # What its evaluation job would write: LoadEvaluationMetrics reads it.
        quality = {"auc": 0.914, "f1": 0.68, "precision": 0.72, "recall": 0.65}
        item = {metric: {"N": str(value)} for metric, value in quality.items()}
        await ddb.put_item(TableName=EVALUATIONS_TABLE, Item={"run_id": {"S": name}, **item})
        started = await sfn.start_execution(
            stateMachineArn=state_machine_arn(STAGING_PIPELINE, beat.region),
            name=name,
            input=json.dumps(beat.run_input(name)),
        )
        arn = str(started["executionArn"])
        points = list(curves(name, CURVE_STEPS, 0.93, loss_only=False, partial=True))
        # Four ticks per step: the curve is logged in the first half of training.
        per_tick = max(1, len(points) // (TRAINING_STEPS_WAITED * 2))
        logged = 0
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                described = await sfn.describe_execution(executionArn=arn)
                if described["status"] != "RUNNING":
                    return arn, str(described["status"])
                state = await _state(sfn, arn) if logged < len(points) else None
                if state == TRAINING_STATE or (state is not None and logged > 0):
                    # While it trains a batch per tick; once past training, the rest.
                    size = per_tick if state == TRAINING_STATE else len(points)
                    batch = points[logged : logged + size]
                    if await _post(client, beat, arn, batch):
                        logged += len(batch)
                await asyncio.sleep(beat.step_seconds / 4)


async def _state(sfn: Any, arn: str) -> str | None:
    """The state the run is in: the newest entered one."""
    # moto ignores reverseOrder; a live run's history is short (< 100 events).
    history = await sfn.get_execution_history(executionArn=arn, maxResults=1000)
    for event in reversed(history["events"]):
        if details := event.get("stateEnteredEventDetails"):
            return str(details["name"])
    return None


async def _post(client: httpx.AsyncClient, beat: Heartbeat, arn: str, batch: list[Any]) -> bool:
    """Log points as training code would (README's MlmetaLogger); False when not taken."""
    now_ms = int(time.time() * 1000)
    body = "\n".join(
        json.dumps({"name": p.name, "value": p.value, "step": p.step, "timestamp": now_ms})
        for p in batch
    )
    try:
        response = await client.post(
            f"{beat.gateway_url}/api/v1/executions/{arn}/metrics",
            content=body,
            headers={"Authorization": f"Bearer {beat.token}"},
        )
    except httpx.TransportError:
        return False  # the gateway is still starting: log these points at the next tick
    if response.status_code >= 300:
        log.warning("demo: live run metrics refused: %s %s", response.status_code, response.text)
        return False
    return True


def keep_one_run_live(beat: Heartbeat) -> threading.Thread:
    """A daemon thread running live runs back to back for as long as the process lives."""

    def loop() -> None:
        while True:
            try:
                arn, status = asyncio.run(run_once(beat))
                log.debug("demo: live run %s ended %s", arn, status)
            except Exception:  # the demo goes on; try again shortly
                log.warning("demo: live run failed to start or finish", exc_info=True)
                time.sleep(beat.step_seconds)

    thread = threading.Thread(target=loop, name="mlmeta-demo-heartbeat", daemon=True)
    thread.start()
    return thread
