"""What the demo seeds: datasets, pipeline runs, model versions and cards.

Pure data, no I/O: ``aws_seed`` turns it into AWS calls. Names are stable so a
second seed finds what the first one made, and so the catalog files can point
at the same ARNs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.demo.names import DATASETS_BUCKET, SCORING_MODEL

POLL_QUICK = 0  # moto finishes training jobs at once: no need to wait between polls
POLL_LONG = 86_400  # keeps a run in WaitForTraining for the whole demo


@dataclass(frozen=True)
class TrainingRun:
    """One execution of the training pipeline and what it is meant to end as."""

    name: str
    expect: str  # SUCCEEDED, FAILED, RUNNING or ABORTED
    snapshot: str  # date of the training snapshot
    hyperparameters: dict[str, float]
    metrics: dict[str, float] = field(default_factory=dict)
    approval: str | None = None  # status set on the registered version
    approval_note: str | None = None
    git_sha: str = "3f9c2a1"

    @property
    def dataset_key(self) -> str:
        return f"churn/training/{self.snapshot}/train.csv"

    def input(self) -> dict[str, Any]:
        long_running = self.expect in ("RUNNING", "ABORTED")
        return {
            "dataset": {
                "uri": f"s3://{DATASETS_BUCKET}/{self.dataset_key}",
                "bucket": DATASETS_BUCKET,
                "key": self.dataset_key,
            },
            "usage_events_uri": f"s3://{DATASETS_BUCKET}/events/usage/2026-11/",
            "hyperparameters": self.hyperparameters,
            "poll_interval_seconds": POLL_LONG if long_running else POLL_QUICK,
            "step_wait_seconds": 0,
            "register_model": True,
            "git_sha": self.git_sha,
        }


def _hp(
    learning_rate: float, n_estimators: int, max_depth: int, subsample: float
) -> dict[str, float]:
    return {
        "learning_rate": learning_rate,
        "n_estimators": n_estimators,
        "max_depth": max_depth,
        "subsample": subsample,
    }


def _metrics(auc: float, f1: float, precision: float, recall: float) -> dict[str, float]:
    return {"auc": auc, "f1": f1, "precision": precision, "recall": recall}


# The SUCCEEDED runs register churn-model versions 1, 2, 3, 4 in this order.
TRAINING_RUNS: tuple[TrainingRun, ...] = (
    TrainingRun(
        name="baseline-xgb",
        expect="SUCCEEDED",
        snapshot="2026-11-01",
        hyperparameters=_hp(0.1, 200, 6, 0.8),
        metrics=_metrics(0.872, 0.61, 0.66, 0.57),
        approval="Approved",
        approval_note="First production model; signed off by ml-platform.",
    ),
    TrainingRun(
        name="deeper-trees",
        expect="SUCCEEDED",
        snapshot="2026-11-01",
        hyperparameters=_hp(0.05, 400, 8, 0.8),
        metrics=_metrics(0.889, 0.64, 0.69, 0.60),
        approval="Rejected",
        approval_note="Recall on customers with tenure < 6 months fell 9 points: overfits.",
        git_sha="8b41d07",
    ),
    TrainingRun(
        name="tuned-600-rounds",
        expect="SUCCEEDED",
        snapshot="2026-11-01",
        hyperparameters=_hp(0.05, 600, 6, 0.9),
        metrics=_metrics(0.903, 0.67, 0.71, 0.63),
        approval="Approved",
        approval_note="Promoted to production after a 2-week shadow test.",
        git_sha="c07e5f2",
    ),
    TrainingRun(
        name="more-data",
        expect="SUCCEEDED",
        snapshot="2026-11-15",
        hyperparameters=_hp(0.05, 600, 6, 0.9),
        metrics=_metrics(0.911, 0.68, 0.72, 0.64),
        approval="PendingManualApproval",
        git_sha="e2d9a44",
    ),
    # Trains, but fails the quality gate: ModelQualityGateFailed.
    TrainingRun(
        name="high-learning-rate",
        expect="FAILED",
        snapshot="2026-11-01",
        hyperparameters=_hp(0.3, 100, 10, 1.0),
        metrics=_metrics(0.792, 0.49, 0.55, 0.44),
        git_sha="5a6b7c8",
    ),
    # Points at a snapshot that was never written: DataValidationFailed.
    TrainingRun(
        name="missing-snapshot",
        expect="FAILED",
        snapshot="2026-11-13",
        hyperparameters=_hp(0.05, 600, 6, 0.9),
        git_sha="e2d9a44",
    ),
    TrainingRun(
        name="nightly",
        expect="RUNNING",
        snapshot="2026-11-22",
        hyperparameters=_hp(0.05, 600, 6, 0.9),
        git_sha="f1e2d3c",
    ),
    TrainingRun(
        name="manual-rerun",
        expect="ABORTED",
        snapshot="2026-11-15",
        hyperparameters=_hp(0.08, 500, 7, 0.85),
        git_sha="f1e2d3c",
    ),
)
TRAINING_SNAPSHOTS = ("2026-11-01", "2026-11-15", "2026-11-22")
ABORT_ERROR = "UserCancelled"
ABORT_CAUSE = "Superseded by the nightly run."


@dataclass(frozen=True)
class ScoringRun:
    name: str
    expect: str  # SUCCEEDED or TIMED_OUT
    date: str
    shards: int
    upstream_delay_seconds: int

    def input(self) -> dict[str, Any]:
        return {
            "input_prefix": f"churn/scoring/{self.date}/",
            "model_name": SCORING_MODEL,
            "upstream_delay_seconds": self.upstream_delay_seconds,
        }


SCORING_RUNS: tuple[ScoringRun, ...] = (
    # Its feature snapshot lands an hour late: the run outlives the
    # pipeline's TimeoutSeconds and ends TIMED_OUT.
    ScoringRun("score-2026-11-23", "TIMED_OUT", "2026-11-23", 3, 3600),
    ScoringRun("score-2026-11-21", "SUCCEEDED", "2026-11-21", 3, 0),
    ScoringRun("score-2026-11-22", "SUCCEEDED", "2026-11-22", 4, 0),
)


def csv_rows(header: str, count: int, row: Callable[[int], Sequence[object]]) -> bytes:
    """A small deterministic CSV: ``row(i)`` gives the values of line ``i``."""
    lines = [header] + [",".join(str(v) for v in row(i)) for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def _customer(i: int) -> tuple[object, ...]:
    contract = ("month-to-month", "one-year", "two-year")[i % 3]
    tenure = 1 + (i * 7) % 60
    charges = round(19.5 + (i * 13.7) % 90, 2)
    churned = int(contract == "month-to-month" and tenure < 12)
    return (f"C{10000 + i}", tenure, charges, contract, (i * 3) % 5, churned)


def _scoring_row(offset: int) -> Callable[[int], Sequence[object]]:
    """Customers to score: the training columns without the label."""
    return lambda i: _customer(i + offset)[:-1]


def datasets() -> dict[str, bytes]:
    """S3 keys of ``DATASETS_BUCKET`` and their bodies."""
    customers = "customer_id,tenure_months,monthly_charges,contract,support_tickets,churned"
    objects: dict[str, bytes] = {}
    for snapshot in TRAINING_SNAPSHOTS:
        objects[f"churn/training/{snapshot}/train.csv"] = csv_rows(customers, 40, _customer)
    objects["events/usage/2026-11/events.csv"] = csv_rows(
        "customer_id,event_date,sessions,minutes_used,dropped_calls",
        60,
        lambda i: (
            f"C{10000 + i % 40}",
            f"2026-11-{1 + i % 28:02d}",
            1 + i % 9,
            30 + (i * 17) % 400,
            i % 4,
        ),
    )
    unlabelled = customers.rsplit(",", 1)[0]
    for run in SCORING_RUNS:
        for shard in range(run.shards):
            objects[f"churn/scoring/{run.date}/part-{shard:05d}.csv"] = csv_rows(
                unlabelled, 25, _scoring_row(100 * shard)
            )
    objects["fraud/transactions/2026-11-01/transactions.csv"] = csv_rows(
        "transaction_id,card_id,amount,merchant_category,country,is_fraud",
        50,
        lambda i: (
            f"T{900000 + i}",
            f"K{4000 + i % 17}",
            round(5 + (i * 37.3) % 900, 2),
            ("grocery", "travel", "electronics", "fuel")[i % 4],
            ("DE", "FR", "US", "NL")[i % 4],
            int(i % 23 == 0),
        ),
    )
    return objects


def evaluation_report(run: TrainingRun) -> bytes:
    """What the evaluation job writes: SageMaker's model-quality statistics format."""
    return json.dumps(
        {
            "binary_classification_metrics": {
                name: {"value": value, "standard_deviation": round(value * 0.004, 4)}
                for name, value in run.metrics.items()
            },
            "dataset": f"s3://{DATASETS_BUCKET}/{run.dataset_key}",
        },
        indent=2,
    ).encode()


def evaluation_key(run_name: str) -> str:
    return f"churn/evaluation/{run_name}/evaluation.json"
