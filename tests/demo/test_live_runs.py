"""The demo keeps a run going, so there is always something to watch live."""

from __future__ import annotations

import asyncio
import time

from gateway.demo import DemoSummary
from gateway.demo.live import start_live_run
from sources.aws import AwsSettings, open_client


async def _status(endpoint: str, arn: str) -> str:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        sfn = await open_client(stack, "stepfunctions", AwsSettings("us-east-1", endpoint, 5, 1))
        return str((await sfn.describe_execution(executionArn=arn))["status"])


def test_a_live_run_waits_in_training_then_succeeds(
    moto_endpoint: str, demo_aws: DemoSummary
) -> None:
    arn = asyncio.run(start_live_run(moto_endpoint, "us-east-1", wait_seconds=2))
    assert asyncio.run(_status(moto_endpoint, arn)) == "RUNNING"
    deadline = time.monotonic() + 40
    while (status := asyncio.run(_status(moto_endpoint, arn))) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert status == "SUCCEEDED"
