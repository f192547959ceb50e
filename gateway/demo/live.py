"""Runs that start while the demo is up, so there is always something to watch live.

Every few minutes a new run of the training pipeline starts (``live-<time>``);
it waits in ``WaitForTraining`` for a while, then finishes, so a subscription
(``executionUpdated``) shows it move step by step to SUCCEEDED.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from contextlib import AsyncExitStack
from dataclasses import replace

from gateway.demo.names import EVALUATIONS_TABLE, TRAINING_PIPELINE, state_machine_arn
from gateway.demo.plan import TRAINING_RUNS
from sources.aws import AwsSettings, open_client

log = logging.getLogger("mlmeta.demo")
TRAINING_WAIT_SECONDS = 30
EVERY_SECONDS = 300


async def start_live_run(
    endpoint_url: str, region: str, wait_seconds: int = TRAINING_WAIT_SECONDS
) -> str:
    """Start one live run of the training pipeline; return its ARN."""
    template = next(r for r in TRAINING_RUNS if r.expect == "SUCCEEDED" and r.metrics)
    run = replace(template, name=f"live-{time.strftime('%H%M%S')}-{time.monotonic_ns() % 1000}")
    payload = {**run.input(), "poll_interval_seconds": wait_seconds}
    settings = AwsSettings(region, endpoint_url, timeout_seconds=10, max_attempts=1)
    async with AsyncExitStack() as stack:
        ddb = await open_client(stack, "dynamodb", settings)
        sfn = await open_client(stack, "stepfunctions", settings)
        item = {name: {"N": str(value)} for name, value in run.metrics.items()}
        await ddb.put_item(TableName=EVALUATIONS_TABLE, Item={"run_id": {"S": run.name}, **item})
        started = await sfn.start_execution(
            stateMachineArn=state_machine_arn(TRAINING_PIPELINE, region),
            name=run.name,
            input=json.dumps(payload),
        )
    return str(started["executionArn"])


def keep_starting_live_runs(endpoint_url: str, region: str) -> threading.Thread:
    """A daemon thread starting a live run now and every EVERY_SECONDS after."""

    def loop() -> None:
        while True:
            try:
                arn = asyncio.run(start_live_run(endpoint_url, region))
                log.info("demo: started a live run to watch: %s", arn)
            except Exception:  # the demo goes on without its live run
                log.warning("demo: could not start a live run", exc_info=True)
            time.sleep(EVERY_SECONDS)

    thread = threading.Thread(target=loop, name="mlmeta-demo-live-runs", daemon=True)
    thread.start()
    return thread
