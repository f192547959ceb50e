"""When each thing in the demo's history happened: fixed instants in November 2026.

The demo's story (README, lineage section) names dates: the 2026-11-01 and
2026-11-15 snapshots, v1 deployed on 2026-11-02 and replaced by v3 on
2026-11-16. Everything the demo seeds is dated on this one timeline, so runs,
their steps and metric points, registrations, approvals, deployments, card
revisions and lineage edges agree with each other and with README, on every
start. The instants are fixed rather than relative to "now" because README's
``asOf`` examples quote them; they are all in the past.

Pure data, no I/O: ``backdate`` moves moto's objects here, the metadb seeds
read it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


def at(day: int, hour: int, minute: int = 0, *, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """When a run started and how long it took (for a run still going: so far)."""

    start: datetime
    minutes: float

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


RUNS: dict[str, Window] = {
    # churn-training-pipeline, on the 2026-11-01 snapshot (built 02:00-02:14)
    "baseline-xgb": Window(at(1, 9, 5), 48),
    "deeper-trees": Window(at(1, 13, 40), 61),
    "tuned-600-rounds": Window(at(2, 10, 15), 74),
    "high-learning-rate": Window(at(3, 16, 20), 22),
    "missing-snapshot": Window(at(13, 9, 0), 1),
    # on the 2026-11-15 snapshot (built 02:00-02:16)
    "more-data": Window(at(15, 8, 30), 96),
    "manual-rerun": Window(at(22, 15, 10), 14),
    "nightly": Window(at(23, 2, 0), 35),  # still waiting for its training job
    # churn-batch-scoring, each at 05:00 of its day
    "score-2026-11-21": Window(at(21, 5), 18),
    "score-2026-11-22": Window(at(22, 5), 21),
    "score-2026-11-23": Window(at(23, 5), 60),  # the pipeline's timeout ends it
    # fraud-detector-training (SageMaker Pipelines)
    "fraud-train-2026-11-03": Window(at(3, 4), 50),
    "fraud-train-2026-11-17": Window(at(17, 4), 55),
}
"""Every demo run by name: the Step Functions executions and the SageMaker pipeline runs."""

APPROVED_AT = {
    # churn-model version -> when a reviewer decided (the pipeline registers as pending)
    1: at(1, 17, 30),
    2: at(2, 9, 10),
    3: at(16, 9, 0),  # after the two-week shadow test
}
V1_DEPLOYED_AT = at(2, 9, 30)
"""churn-model v1 goes to production: the endpoint is created."""
V3_DEPLOYED_AT = at(16, 9, 30)
"""v3 replaces it after a two-week shadow test: the endpoint's last change."""
SCORING_MODEL_AT = at(16, 9, 0)
"""The SageMaker model of v3's artefact (and its endpoint config) is made."""

SAGEMAKER_CARDS: dict[str, list[datetime]] = {
    # SageMaker model card -> when each of its card versions was saved
    "churn-model-v1": [at(2, 10, 0)],
    "churn-model-v3": [at(4, 11, 0), at(16, 8, 45)],
    "fraud-detector-v1": [at(4, 15, 0)],
}
MLMETA_CARD_REVISIONS: dict[str, list[datetime]] = {
    # "<group>/<version>" -> when each revision of its mlmeta card was saved
    "churn-model/4": [at(16, 14, 0), at(18, 10, 30), at(20, 16, 0)],
    "fraud-detector/2": [at(18, 11, 0), at(19, 9, 15)],
}


def history_span() -> tuple[datetime, datetime]:
    """The first and last instant of the seeded history."""
    starts = [w.start for w in RUNS.values()]
    ends = [w.end for w in RUNS.values()]
    return min(starts), max(ends)
