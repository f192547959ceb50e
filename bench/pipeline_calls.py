"""AWS calls and latency of the pipeline page, cold and warm.

Starts a local moto server, seeds the demo (real, interpreted Step Functions
runs), adds N more finished runs, then sends

    pipeline(ref: ARN) { executions(first: 50) { status steps { name status } } }

once against an empty metadb (cold: every finished run is fetched once and
stored) and then repeatedly (warm: finished runs come from the metadb, the
definition from its cache, and only the list call and running runs reach AWS).
The warm queries run with ``MLMETA_LIVE_CACHE_SECONDS=0`` (``--live-cache-seconds``),
so each asks AWS for the list: what a query costs once the shared answers of
the second before have expired. Prints calls per operation and timings.

    python -m bench.pipeline_calls [--runs 40] [--reps 10] [--live-cache-seconds 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import seed_aws, start_moto, write_catalog
from sources.aws import AwsSettings, open_client
from tests.support.aws_calls import CountingClient

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:bench-pipeline"
DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "Features"},
        "Features": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
            ],
            "Next": "Train",
        },
        "Train": {"Type": "Pass", "Next": "Evaluate"},
        "Evaluate": {"Type": "Pass", "End": True},
    },
}
QUERY = """query ($ref: String!) { pipeline(ref: $ref) {
  executions(first: 50) { edges { node { status steps { name status } } } } } }"""


async def add_runs(endpoint: str, runs: int) -> None:
    async with AsyncExitStack() as stack:
        sfn = await open_client(stack, "stepfunctions", AwsSettings("us-east-1", endpoint, 10, 1))
        machines = await sfn.list_state_machines()
        if MACHINE not in [m["stateMachineArn"] for m in machines["stateMachines"]]:
            await sfn.create_state_machine(
                name="bench-pipeline",
                definition=json.dumps(DEFINITION),
                roleArn="arn:aws:iam::123456789012:role/mlmeta-demo-stepfunctions",
            )
        for i in range(runs):
            await sfn.start_execution(stateMachineArn=MACHINE, name=f"bench-{i:04d}")
        await asyncio.sleep(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--live-cache-seconds", type=float, default=0.0)
    args = parser.parse_args()
    moto = start_moto()
    try:
        asyncio.run(seed_aws(moto.endpoint_url))
        asyncio.run(add_runs(moto.endpoint_url, args.runs))
        with tempfile.TemporaryDirectory() as tmp:
            write_catalog(Path(tmp) / "catalog")
            settings = Settings(
                data_dir=Path(tmp),
                allow_anonymous=True,
                aws_endpoint_url=moto.endpoint_url,
                live_cache_seconds=args.live_cache_seconds,
            )
            app = create_app(settings)
            with TestClient(app) as client:
                source = app.state.resources.stepfunctions
                counting = CountingClient(source._client)
                source._client = counting
                for label, reps in (("cold", 1), ("warm", args.reps)):
                    counting.calls.clear()
                    timings = []
                    for _ in range(reps):
                        started = time.perf_counter()
                        body = client.post(
                            "/graphql", json={"query": QUERY, "variables": {"ref": MACHINE}}
                        ).json()
                        timings.append((time.perf_counter() - started) * 1000)
                        assert "errors" not in body, body["errors"]
                    rows = len(body["data"]["pipeline"]["executions"]["edges"])
                    per_query = {k: v / reps for k, v in sorted(counting.calls.items())}
                    print(
                        f"{label}: {rows} runs, median {statistics.median(timings):.1f} ms, "
                        f"AWS calls per query {per_query}"
                    )
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
