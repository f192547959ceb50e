"""Moves the seeded AWS objects of the demo to their dates on the demo's timeline.

moto dates everything "now" and no AWS API can backdate, so a fresh demo would
have a history that happened in the few seconds of seeding. moto's server runs
in this process (``start_moto``), so its objects are reachable: this module
sets their times to ``timeline``, once, right after seeding and before the
gateway reads anything. The gateway then reads ordinary AWS answers (list
order, ``startDate``, history event timestamps, ``CreationTime``,
``LastModifiedTime``) and caches them as it would real ones, so every fact
derived from AWS (run windows, registration dates, trainedBy, derived lineage
edges, deployments) agrees with the timeline.

Each Step Functions run's events, and the SageMaker jobs it started, are
mapped linearly from the seconds they took onto the run's planned window, so
steps keep their order and proportions. Written against moto 5.2's models;
``tests/demo`` checks the result through the gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from gateway.demo.names import ACCOUNT_ID, CHURN_GROUP, FRAUD_GROUP
from gateway.demo.registry import FRAUD_VERSIONS
from gateway.demo.timeline import (
    APPROVED_AT,
    RUNS,
    SAGEMAKER_CARDS,
    SCORING_MODEL_AT,
    V1_DEPLOYED_AT,
    V3_DEPLOYED_AT,
    Window,
)

log = logging.getLogger("mlmeta.demo")
Remap = Callable[[datetime], datetime]


def backdate(region: str) -> int:
    """Date the demo's runs, jobs, versions, endpoint and cards; the number of objects moved.

    Idempotent: an object already on the timeline is mapped onto the same window again.
    """
    from moto.sagemaker.models import sagemaker_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    sfn = stepfunctions_parser_backends[ACCOUNT_ID][region]
    sm = sagemaker_backends[ACCOUNT_ID][region]
    moved = 0
    for machine in sfn.state_machines:
        for execution in machine.executions:
            window = RUNS.get(execution.name)
            if window is None:
                continue  # a live run: it happens now
            remap = _remap(execution.start_date, execution.stop_date, window)
            _backdate_execution(execution, remap)
            moved += 1 + _backdate_jobs(sm, execution.name, remap)
    moved += _backdate_registry(sm)
    moved += _backdate_fraud_runs(sm)
    return moved


def _remap(start: datetime, stop: datetime | None, window: Window) -> Remap:
    """Maps [start, stop] onto the window (a running run: [start, now])."""
    end = stop or datetime.now(UTC)
    took = max((end - start).total_seconds(), 0.001)
    scale = (window.end - window.start).total_seconds() / took

    def remap(moment: datetime) -> datetime:
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return window.start + (aware - start) * scale

    return remap


def _backdate_execution(execution: Any, remap: Remap) -> None:
    start = execution.start_date
    for event in execution.exec_worker.env.event_manager._history_event_list:
        # moto keeps history timestamps as ISO strings with milliseconds and a Z.
        moment = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
        event["timestamp"] = _iso(remap(moment))
    if execution.stop_date is not None:
        execution.stop_date = remap(execution.stop_date)
    execution.start_date = remap(start)


def _iso(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _naive(moment: datetime) -> datetime:
    """moto's SageMaker models keep naive UTC datetimes."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _backdate_jobs(sm: Any, run: str, remap: Remap) -> int:
    """The SageMaker jobs a run's steps started are named after it (see ``asl``)."""
    moved = 0
    jobs: Iterable[Any] = [
        *sm.processing_jobs.values(),
        *sm.training_jobs.values(),
        *sm.transform_jobs.values(),
    ]
    for job in jobs:
        name = str(getattr(job, "training_job_name", None) or _job_name(job))
        if not (name.endswith(f"-{run}") or name.startswith(f"{run}-")):
            continue
        for attribute, value in list(vars(job).items()):
            if attribute.endswith("_time") and isinstance(value, datetime):
                setattr(job, attribute, _naive(remap(value)))
        moved += 1
    return moved


def _job_name(job: Any) -> str:
    for attribute in ("processing_job_name", "transform_job_name", "job_name", "name"):
        if value := getattr(job, attribute, None):
            return str(value)
    return ""


def _backdate_registry(sm: Any) -> int:
    """Versions registered as their runs ended, approvals, the endpoint, the cards."""
    moved = 0
    churn_runs = ("baseline-xgb", "deeper-trees", "tuned-600-rounds", "more-data")
    fraud_runs = [v.pipeline_run for v in FRAUD_VERSIONS]
    for package in sm.model_packages.values():
        group, number = package.model_package_group_name, int(package.model_package_version)
        runs = {CHURN_GROUP: churn_runs, FRAUD_GROUP: fraud_runs}.get(group, ())
        if not 1 <= number <= len(runs):
            continue
        registered = RUNS[runs[number - 1]].end
        decided = APPROVED_AT.get(number, registered) if group == CHURN_GROUP else registered
        package.creation_time = _naive(registered)
        package.last_modified_time = _naive(decided)
        moved += 1
    for name, endpoint in sm.endpoints.items():
        if name == "churn-model-prod":
            endpoint.creation_time = _naive(V1_DEPLOYED_AT)
            endpoint.last_modified_time = _naive(V3_DEPLOYED_AT)
            moved += 1
    for config in sm.endpoint_configs.values():
        config.creation_time = _naive(SCORING_MODEL_AT)
    for model in sm._models.values():
        model.creation_time = _naive(SCORING_MODEL_AT)
    for name, versions in sm.model_cards.items():
        for card, saved in zip(versions, SAGEMAKER_CARDS.get(name, []), strict=False):
            card.creation_time = _naive(SAGEMAKER_CARDS[name][0])
            card.last_modified_time = _naive(saved)
            moved += 1
    return moved


def _backdate_fraud_runs(sm: Any) -> int:
    moved = 0
    for pipeline in sm.pipelines.values():
        for execution in pipeline.pipeline_executions.values():
            window = RUNS.get(str(execution.pipeline_execution_display_name))
            if window is not None:
                execution.creation_time = execution.start_time = _naive(window.start)
                execution.last_modified_time = _naive(window.end)
                moved += 1
    return moved
