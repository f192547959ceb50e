"""AWS calls per models query as the registry grows: models x versions, cold and warm.

For each size (models x versions) resets one local moto server, registers
the versions with customer metadata like the demo's (every other version names
the training job that produced it in ``mlmeta:training-job-arn``), serves one
version from an endpoint (through a SageMaker model tagged
``model-package-arn``), runs the gateway in-process over an empty SQLite
metadb and an empty catalog folder, and sends

    models(first: 100) { versions(first: 20) {
      version status artifactUri metrics deployments card { source completeness } } }

once cold (empty metadb: each version's registration facts are described once
and stored) and once warm (facts from the metadb; the endpoint and card
indexes still cached), counting the calls the registry's SageMaker client
makes per operation, then times ``--reps`` more warm requests.

The cold column's DescribeModelPackage per version is the same on AWS, once
per version ever: ``metrics`` and the card read the customer metadata and
ModelMetrics, which BatchDescribeModelPackage (used for artefact lookups by
ARN; moto lacks it) does not return. No such call is made here.

    python -m bench.model_calls [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
import urllib.request
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.demo import start_moto
from sources.aws import AwsSettings, open_client
from tests.support.aws_calls import CountingClient

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "model_calls.json"
SIZES = ((5, 4), (20, 5), (40, 5))
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlmeta-bench-sagemaker"
IMAGE = f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1"
BUCKET = "s3://mlmeta-bench-artifacts"
QUERY = """{ models(first: 100) { edges { node { name
  versions(first: 20) { edges { node {
    version status artifactUri metrics { name } deployments { name }
    card { source completeness } } } } } } } }"""


# ---------------------------------------------------------------------------------- seed
async def create_training_job(sm: Any, name: str, dataset: str) -> str:
    created = await sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": dataset}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"{BUCKET}/models/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    return str(created["TrainingJobArn"])


async def register_version(sm: Any, group: str, number: int) -> tuple[str, str]:
    """One version of ``group``; (package ARN, artefact URI)."""
    prefix = f"{BUCKET}/{group}/v{number}"
    dataset = f"s3://mlmeta-bench-datasets/{group}/snapshot-{number}/"
    metadata = {
        "mlmeta:dataset-uri": dataset,
        "auc": f"{0.8 + number / 100:.3f}",
        "f1": f"{0.7 + number / 100:.3f}",
    }
    if number % 2:
        job = await create_training_job(sm, f"{group}-train-{number}", dataset)
        metadata["mlmeta:training-job-arn"] = job
    artifact = f"{prefix}/model.tar.gz"
    created = await sm.create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription=f"{group} version {number}",
        ModelApprovalStatus="Approved" if number == 1 else "PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": artifact}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"{prefix}/evaluation.json",
                }
            }
        },
        CustomerMetadataProperties=metadata,
    )
    return str(created["ModelPackageArn"]), artifact


async def seed(endpoint: str, models: int, versions: int) -> None:
    """``models`` groups of ``versions`` versions; version 1 of the first is deployed."""
    async with AsyncExitStack() as stack:
        sm = await open_client(stack, "sagemaker", AwsSettings(REGION, endpoint, 10, 1))
        deployed: tuple[str, str] | None = None
        for m in range(models):
            group = f"bench-model-{m:02d}"
            await sm.create_model_package_group(
                ModelPackageGroupName=group,
                ModelPackageGroupDescription=f"Benchmark model {m}",
                Tags=[{"Key": "team", "Value": "ml-platform"}],
            )
            for number in range(1, versions + 1):
                registered = await register_version(sm, group, number)
                deployed = deployed or registered
        assert deployed is not None
        package, artifact = deployed
        await sm.create_model(
            ModelName="bench-scoring",
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact},
            ExecutionRoleArn=ROLE,
            Tags=[{"Key": "model-package-arn", "Value": package}],
        )
        await sm.create_endpoint_config(
            EndpointConfigName="bench-prod-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "bench-scoring",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 1.0,
                }
            ],
        )
        await sm.create_endpoint(
            EndpointName="bench-prod",
            EndpointConfigName="bench-prod-config",
            Tags=[{"Key": "environment", "Value": "production"}],
        )


# ----------------------------------------------------------------------------- measure
def checked(body: dict[str, Any], models: int, versions: int) -> None:
    """The answer is complete: every version, its artefact and the one deployment."""
    assert "errors" not in body, body["errors"]
    edges = body["data"]["models"]["edges"]
    nodes = [v["node"] for m in edges for v in m["node"]["versions"]["edges"]]
    assert len(edges) == models, len(edges)
    assert len(nodes) == models * versions, len(nodes)
    assert all(n["artifactUri"] for n in nodes)
    assert sum(len(n["deployments"]) for n in nodes) == 1


def reset(endpoint: str) -> None:
    """Forget every resource: moto's backends are process-wide and outlive a server."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local http
        response.read()


def measure(endpoint: str, models: int, versions: int, reps: int) -> dict[str, Any]:
    reset(endpoint)
    started = time.perf_counter()
    asyncio.run(seed(endpoint, models, versions))
    seed_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "catalog"
        catalog.mkdir()
        settings = Settings(
            data_dir=Path(tmp),
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'mlmeta.db'}",
            catalog_folder=str(catalog),
            aws_endpoint_url=endpoint,
            allow_anonymous=True,
        )
        app = create_app(settings)
        with TestClient(app) as client:
            registry = app.state.resources.models.registry
            counting = CountingClient(registry._client)
            registry._client = counting
            calls: dict[str, Counter[str]] = {}
            cold_ms = 0.0
            for label in ("cold", "warm"):
                counting.calls.clear()
                begun = time.perf_counter()
                body = client.post("/graphql", json={"query": QUERY}).json()
                cold_ms = cold_ms or (time.perf_counter() - begun) * 1000
                checked(body, models, versions)
                calls[label] = Counter(counting.calls)
            timings = []
            for _ in range(reps):
                begun = time.perf_counter()
                body = client.post("/graphql", json={"query": QUERY}).json()
                timings.append((time.perf_counter() - begun) * 1000)
                checked(body, models, versions)
    return {
        "models": models,
        "versions_per_model": versions,
        "versions": models * versions,
        "seed_seconds": round(seed_s, 1),
        "cold_calls": dict(sorted(calls["cold"].items())),
        "warm_calls": dict(sorted(calls["warm"].items())),
        "cold_ms": round(cold_ms, 1),
        "warm_median_ms": round(statistics.median(timings), 1),
        "warm_samples_ms": [round(t, 1) for t in timings],
    }


# ------------------------------------------------------------------------------ report
def operation_name(snake: str) -> str:
    return "".join(part.title() for part in snake.split("_"))


def table(results: list[dict[str, Any]]) -> str:
    operations = sorted({op for r in results for k in ("cold_calls", "warm_calls") for op in r[k]})
    head = ["operation"] + [
        f"{r['models']}x{r['versions_per_model']} {label}"
        for r in results
        for label in ("cold", "warm")
    ]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]

    def row(name: str, cells: list[str]) -> None:
        lines.append("| " + " | ".join([name, *cells]) + " |")

    for op in operations:
        row(
            operation_name(op),
            [str(r[k].get(op, 0)) for r in results for k in ("cold_calls", "warm_calls")],
        )
    row(
        "**total**",
        [f"**{sum(r[k].values())}**" for r in results for k in ("cold_calls", "warm_calls")],
    )
    row(
        "ms (cold; warm median)",
        [f"{r[k]:.0f}" for r in results for k in ("cold_ms", "warm_median_ms")],
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    results = []
    moto = start_moto()
    try:
        for models, versions in SIZES:
            result = measure(moto.endpoint_url, models, versions, args.reps)
            print(
                f"{models} models x {versions} versions: seeded in {result['seed_seconds']} s, "
                f"cold {sum(result['cold_calls'].values())} calls, "
                f"warm {sum(result['warm_calls'].values())} calls, "
                f"warm median {result['warm_median_ms']} ms",
                flush=True,
            )
            results.append(result)
    finally:
        moto.stop()
    print()
    print(table(results))
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "query": QUERY,
        "reps": args.reps,
        "note": "cold: one DescribeModelPackage per version, once (facts stored in the "
        "metadb); BatchDescribeModelPackage would not do: it returns no customer metadata "
        "or ModelMetrics",
        "sizes": results,
    }
    RESULTS_PATH.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwritten {RESULTS_PATH}")


if __name__ == "__main__":
    main()
