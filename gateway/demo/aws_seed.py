"""Seeds a moto server with the demo's AWS data, through the gateway's own client code.

``seed_aws`` is idempotent: it looks before it creates, so a second call (or a
restart of ``mlmeta serve --demo`` against the same moto server) finds the
data and adds nothing. It expects moto to interpret state machines
(``start_moto`` configures that).

What moto gives the demo, and what it does not (moto 5.2):

- Step Functions executions really run: SUCCEEDED, FAILED (error and cause of
  a Fail state), RUNNING (a long Wait), ABORTED (``stop_execution``) and
  TIMED_OUT (the definition's ``TimeoutSeconds`` is honoured, in real seconds).
- ``stop_execution``'s ``error`` and ``cause`` are dropped by moto: an ABORTED
  execution describes without them. A TIMED_OUT execution has no ``stopDate``.
- Executions start "now": no API can backdate them, so every run seeded here
  happened within the last few seconds (``backdate`` then moves them, and
  everything else the seed made, to the demo's timeline), and moto's SageMaker
  jobs (processing, training, transform) are "Completed" the moment they are
  created.
- The RUNNING run waits in moto for a day (a thread of the moto server); the
  TIMED_OUT one costs the seed ``SCORING_TIMEOUT_SECONDS`` of wall time.
- SageMaker Pipelines executions succeed at once and have no steps
  (``list_pipeline_execution_steps`` is not implemented); the fraud pipeline
  is there for its definition and run list.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from gateway.demo import sagemaker_seed
from gateway.demo.asl import training_pipeline
from gateway.demo.asl_scoring import scoring_pipeline
from gateway.demo.names import (
    ACCOUNT_ID,
    ARTIFACTS_BUCKET,
    DATASETS_BUCKET,
    EVALUATIONS_TABLE,
    SAGEMAKER_ROLE,
    SCORING_PIPELINE,
    STAGING_PIPELINE,
    STATES_ROLE,
    TRAINING_PIPELINE,
    role_arn,
)
from gateway.demo.plan import (
    ABORT_CAUSE,
    ABORT_ERROR,
    SCORING_RUNS,
    TRAINING_RUNS,
    datasets,
    evaluation_key,
    evaluation_report,
)
from sources.aws import AwsSettings, open_client

log = logging.getLogger("mlmeta.demo")

WAIT_TIMEOUT_SECONDS = 30.0
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
TRUST = {
    "states.amazonaws.com": STATES_ROLE,
    "sagemaker.amazonaws.com": SAGEMAKER_ROLE,
}


@dataclass(frozen=True)
class SeededExecution:
    """A Step Functions execution of the demo, with its status when seeding ended."""

    state_machine: str  # the state machine's name
    name: str
    arn: str
    status: str


@dataclass
class DemoSummary:
    """What the demo's AWS side holds after seeding."""

    region: str
    account_id: str = ACCOUNT_ID
    # state machine name -> ARN
    state_machine_arns: dict[str, str] = field(default_factory=dict)
    executions: list[SeededExecution] = field(default_factory=list)
    # model package group -> version ARNs, version 1 first
    model_package_arns: dict[str, list[str]] = field(default_factory=dict)
    # ModelApprovalStatus -> number of versions, over all groups
    approval_counts: dict[str, int] = field(default_factory=dict)
    # model card name -> number of card versions
    model_card_versions: dict[str, int] = field(default_factory=dict)
    # SageMaker endpoint names (churn-model version 3 in production)
    endpoints: list[str] = field(default_factory=list)
    # SageMaker pipeline execution display name -> ARN
    sagemaker_pipeline_executions: dict[str, str] = field(default_factory=dict)
    buckets: list[str] = field(default_factory=list)
    # what this call created ("stateMachine/<name>", "execution/<name>", ...);
    # empty when everything was already there
    created: list[str] = field(default_factory=list)

    @property
    def status_counts(self) -> dict[str, int]:
        return dict(Counter(e.status for e in self.executions))

    def __str__(self) -> str:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.status_counts.items()))
        versions = sum(len(arns) for arns in self.model_package_arns.values())
        return (
            f"{len(self.state_machine_arns)} state machines, {len(self.executions)} executions "
            f"({statuses}), {versions} model versions, {len(self.model_card_versions)} model "
            f"cards; {len(self.created)} created by this seed"
        )

    def execution(self, state_machine: str, name: str) -> SeededExecution:
        return next(
            e for e in self.executions if e.state_machine == state_machine and e.name == name
        )


async def seed_aws(endpoint_url: str, region: str = "us-east-1") -> DemoSummary:
    """Create (or find) the demo's buckets, state machines, runs, models and cards.

    Meant for a moto server: against real AWS it would create IAM roles and
    fixed-name buckets and start real SageMaker jobs from the pipelines.
    """
    settings = AwsSettings(region=region, endpoint_url=endpoint_url, max_attempts=1)
    summary = DemoSummary(region=region)
    created = summary.created
    async with AsyncExitStack() as stack:
        s3, ddb, iam, sfn, sm = [
            await open_client(stack, service, settings)
            for service in ("s3", "dynamodb", "iam", "stepfunctions", "sagemaker")
        ]
        await _ensure_roles(iam, created)
        machines = await _ensure_state_machines(sfn, region, created)
        summary.state_machine_arns = machines
        # The TIMED_OUT run needs nothing else and takes longest: start it first.
        timed_out = await _start_timed_out(sfn, machines[SCORING_PIPELINE], created)
        await _ensure_storage(s3, ddb, region, created)
        summary.buckets = [DATASETS_BUCKET, ARTIFACTS_BUCKET]
        await sagemaker_seed.ensure_groups(sm, created)
        await _run_executions(sfn, sm, region, machines, created)
        await _wait(sfn, timed_out)
        await sagemaker_seed.set_churn_approvals(sm)
        pipeline_runs = await sagemaker_seed.ensure_fraud_pipeline(sm, region, created)
        summary.sagemaker_pipeline_executions = pipeline_runs
        await sagemaker_seed.ensure_fraud_versions(sm, region, pipeline_runs, created)
        await sagemaker_seed.ensure_model_cards(sm, region, created)

        for name, arn in machines.items():
            summary.executions += [
                SeededExecution(name, e["name"], e["executionArn"], e["status"])
                for e in await _list_executions(sfn, arn)
            ]
        approvals: Counter[str] = Counter()
        for group in sagemaker_seed.GROUPS:
            versions = await sagemaker_seed.list_versions(sm, group)
            summary.model_package_arns[group] = [v["ModelPackageArn"] for v in versions]
            approvals.update(v.get("ModelApprovalStatus", "") for v in versions)
        summary.approval_counts = dict(approvals)
        summary.model_card_versions = await sagemaker_seed.card_version_counts(sm)
        summary.endpoints = await sagemaker_seed.endpoint_names(sm)
    log.info("demo AWS data: %d created, executions %s", len(created), summary.status_counts)
    return summary


async def _ensure_roles(iam: Any, created: list[str]) -> None:
    """The roles the definitions name (moto does not check them; AWS would)."""
    for service, name in TRUST.items():
        try:
            await iam.get_role(RoleName=name)
        except ClientError:
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            await iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(policy),
                Description=f"mlmeta demo: assumed by {service}",
            )
            created.append(f"role/{name}")


async def _ensure_storage(s3: Any, ddb: Any, region: str, created: list[str]) -> None:
    for bucket in (DATASETS_BUCKET, ARTIFACTS_BUCKET):
        try:
            await s3.head_bucket(Bucket=bucket)
        except ClientError:
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            await s3.create_bucket(**kwargs)
            created.append(f"bucket/{bucket}")
    # Rewriting identical objects is harmless, so they are not looked up first.
    for key, body in datasets().items():
        await s3.put_object(Bucket=DATASETS_BUCKET, Key=key, Body=body, ContentType="text/csv")
    try:
        await ddb.describe_table(TableName=EVALUATIONS_TABLE)
    except ClientError:
        await ddb.create_table(
            TableName=EVALUATIONS_TABLE,
            KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        created.append(f"table/{EVALUATIONS_TABLE}")
    # What the evaluation job of each run writes: a report in S3 and the metrics
    # row that the pipeline's quality gate reads.
    for run in TRAINING_RUNS:
        if not run.metrics:
            continue
        await s3.put_object(
            Bucket=ARTIFACTS_BUCKET,
            Key=evaluation_key(run.name),
            Body=evaluation_report(run),
            ContentType="application/json",
        )
        item = {name: {"N": str(value)} for name, value in run.metrics.items()}
        await ddb.put_item(TableName=EVALUATIONS_TABLE, Item={"run_id": {"S": run.name}, **item})


async def _ensure_state_machines(sfn: Any, region: str, created: list[str]) -> dict[str, str]:
    wanted = {
        TRAINING_PIPELINE: training_pipeline(region),
        SCORING_PIPELINE: scoring_pipeline(region),
        STAGING_PIPELINE: training_pipeline(region),
    }
    existing: dict[str, str] = {}
    kwargs: dict[str, Any] = {"maxResults": 100}
    while True:
        page = await sfn.list_state_machines(**kwargs)
        existing |= {m["name"]: m["stateMachineArn"] for m in page["stateMachines"]}
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    arns: dict[str, str] = {}
    for name, definition in wanted.items():
        text = json.dumps(definition, indent=2)
        if name in existing:
            arns[name] = existing[name]
            current = await sfn.describe_state_machine(stateMachineArn=existing[name])
            if json.loads(current["definition"]) != definition:
                await sfn.update_state_machine(stateMachineArn=existing[name], definition=text)
            continue
        made = await sfn.create_state_machine(
            name=name,
            definition=text,
            roleArn=role_arn(STATES_ROLE),
            type="STANDARD",
            tags=[{"key": "app", "value": "mlmeta-demo"}, {"key": "team", "value": "ml-platform"}],
        )
        arns[name] = made["stateMachineArn"]
        created.append(f"stateMachine/{name}")
    return arns


async def _list_executions(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": 1000}
    while True:
        page = await sfn.list_executions(**kwargs)
        items += page["executions"]
        if not page.get("nextToken"):
            return items
        kwargs["nextToken"] = page["nextToken"]


async def _start(
    sfn: Any, machine_arn: str, name: str, payload: dict[str, Any], created: list[str]
) -> str:
    started = await sfn.start_execution(
        stateMachineArn=machine_arn, name=name, input=json.dumps(payload)
    )
    created.append(f"execution/{name}")
    return str(started["executionArn"])


async def _wait(sfn: Any, arns: list[str]) -> set[str]:
    """Poll until every execution has finished, for at most WAIT_TIMEOUT_SECONDS.

    Returns the ARNs still running at the deadline.
    """
    pending = set(arns)
    try:
        async with asyncio.timeout(WAIT_TIMEOUT_SECONDS):
            while pending:
                for arn in sorted(pending):
                    described = await sfn.describe_execution(executionArn=arn)
                    if described["status"] in TERMINAL:
                        pending.discard(arn)
                if pending:
                    await asyncio.sleep(0.2)
    except TimeoutError:
        log.warning("demo executions still running after %.0f s: %s", WAIT_TIMEOUT_SECONDS, pending)
    return pending


async def _wait_for_event(sfn: Any, arn: str, event_type: str) -> None:
    """Poll the history until it has an ``event_type`` event (10 s at most)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            while True:
                history = await sfn.get_execution_history(executionArn=arn, maxResults=1000)
                if any(e["type"] == event_type for e in history["events"]):
                    return
                await asyncio.sleep(0.1)


async def _start_timed_out(sfn: Any, scoring: str, created: list[str]) -> list[str]:
    """Start the run that ends only when the pipeline's TimeoutSeconds expires."""
    have = {e["name"] for e in await _list_executions(sfn, scoring)}
    return [
        await _start(sfn, scoring, run.name, run.input(), created)
        for run in SCORING_RUNS
        if run.expect == "TIMED_OUT" and run.name not in have
    ]


async def _run_executions(
    sfn: Any, sm: Any, region: str, machines: dict[str, str], created: list[str]
) -> None:
    """Start the runs that do not exist yet and wait for the quick ones."""
    training, scoring = machines[TRAINING_PIPELINE], machines[SCORING_PIPELINE]
    have = {
        machine: {e["name"]: e for e in await _list_executions(sfn, machine)}
        for machine in (training, scoring)
    }
    quick: list[str] = []
    # Runs that register no model can go in any order.
    for run in TRAINING_RUNS:
        if run.expect == "SUCCEEDED":
            continue
        if run.name not in have[training]:
            arn = await _start(sfn, training, run.name, run.input(), created)
        elif run.expect == "ABORTED" and have[training][run.name]["status"] == "RUNNING":
            arn = have[training][run.name]["executionArn"]  # an earlier seed was cut short
        else:
            continue
        if run.expect == "FAILED":
            quick.append(arn)
        elif run.expect == "ABORTED":
            await _wait_for_event(sfn, arn, "WaitStateEntered")
            await sfn.stop_execution(executionArn=arn, error=ABORT_ERROR, cause=ABORT_CAUSE)
            quick.append(arn)
    # One at a time, so the registry numbers versions in the order of the plan.
    for run in TRAINING_RUNS:
        if run.expect != "SUCCEEDED" or run.name in have[training]:
            continue
        arn = await _start(sfn, training, run.name, run.input(), created)
        if await _wait(sfn, [arn]):
            raise RuntimeError(
                f"demo training run {run.name!r} did not finish: does moto interpret "
                "state machines? (start_moto turns its execute_state_machine config on)"
            )
    await sagemaker_seed.ensure_scoring_model(sm, region, created)
    await sagemaker_seed.ensure_endpoint(sm, region, created)
    for scoring_run in SCORING_RUNS:
        if scoring_run.expect == "SUCCEEDED" and scoring_run.name not in have[scoring]:
            payload = scoring_run.input()
            quick.append(await _start(sfn, scoring, scoring_run.name, payload, created))
    await _wait(sfn, quick)
