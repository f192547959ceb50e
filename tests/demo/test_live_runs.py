"""The heartbeat's run: staging, step by step, passing the gate and registering nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3

from gateway.demo import DemoSummary
from gateway.demo.live import Heartbeat, run_once
from tests.demo.demo_server import free_port


def entered_states(sfn: Any, arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = [e.get("stateEnteredEventDetails") for e in events]
    return [details["name"] for details in entered if details]


def test_a_live_run_waits_at_each_step_passes_the_gate_and_registers_nothing(
    moto_endpoint: str, demo_aws: DemoSummary
) -> None:
    sagemaker = boto3.client("sagemaker", endpoint_url=moto_endpoint, region_name="us-east-1")
    before = sagemaker.list_model_packages(ModelPackageGroupName="churn-model")
    # No gateway listens there: the metric posts are dropped and the run goes on.
    beat = Heartbeat(moto_endpoint, "us-east-1", f"http://127.0.0.1:{free_port()}", "t", 1)

    arn, status = asyncio.run(run_once(beat))

    assert status == "SUCCEEDED"
    sfn = boto3.client("stepfunctions", endpoint_url=moto_endpoint, region_name="us-east-1")
    states = entered_states(sfn, arn)
    waits = ["WaitForPreprocessing", "WaitForFeatures", "WaitForTraining", "WaitForEvaluation"]
    assert [s for s in states if s.startswith("WaitFor")] == waits
    assert states[-2:] == ["QualityGate", "PassedNotRegistered"]
    after = sagemaker.list_model_packages(ModelPackageGroupName="churn-model")
    assert len(after["ModelPackageSummaryList"]) == len(before["ModelPackageSummaryList"])
