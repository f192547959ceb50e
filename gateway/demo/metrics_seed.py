"""Realistic training curves for the demo's runs, stored through the metadb.

Every training run gets loss (falling, with noise), accuracy, pr_auc and
roc_auc (rising, then a plateau) and f1, with one spike; stopped runs report
only loss and roc_auc, and the long run (100,000 steps) only loss. Values come from a
seeded generator, so every demo shows the same curves.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from gateway.demo.aws_seed import DemoSummary
from gateway.demo.timeline import RUNS, Window
from sources.metadb.metrics import MetricStore
from sources.metrics.model import MAX_BATCH_POINTS, PointIn
from sources.pipelines.service import PipelineService

LONG_RUN = "more-data"
"""The run logged at every step of a long job (100,000 steps)."""
LONG_STEPS = 100_000
STEPS = 200


def curves(
    run: str,
    steps: int,
    quality: float,
    *,
    partial: bool = False,
    loss_only: bool = False,
    window: Window | None = None,
) -> Iterator[PointIn]:
    """Loss falls, AUCs rise and plateau near ``quality``; one spike per run.

    Points are spread evenly over the run's ``window`` (its training logged
    them while it ran); without one they are untimed.
    """
    rng = random.Random(run)
    spike_at = rng.randrange(steps // 4, steps - 1)
    base_ms = int(window.start.timestamp() * 1000) if window else 0
    every_ms = window.minutes * 60_000 / steps if window else 0.0
    for step in range(steps):
        progress = 1 - math.exp(-5 * step / steps)
        noise = rng.gauss(0, 0.01)
        loss = 0.69 * (1 - 0.85 * progress) + abs(noise) + (0.4 if step == spike_at else 0.0)
        auc = 0.5 + (quality - 0.5) * progress + noise / 2
        ts = base_ms + int(step * every_ms) if window else None
        yield PointIn("loss", round(loss, 6), step, ts)
        if loss_only:
            continue
        yield PointIn("roc_auc", round(min(auc, 0.999), 6), step, ts)
        if not partial:
            yield PointIn("pr_auc", round(min(auc - 0.07, 0.999), 6), step, ts)
            yield PointIn("accuracy", round(min(0.6 + 0.3 * progress + noise, 0.999), 6), step, ts)
            if step % 10 == 0 or step == steps - 1:
                yield PointIn("f1", round(min(auc - 0.1, 0.999), 6), step, ts)


QUALITY = {
    "baseline-xgb": 0.88,
    "deeper-trees": 0.9,
    "tuned-600-rounds": 0.915,
    "more-data": 0.93,
    "high-learning-rate": 0.82,
    "nightly": 0.9,
    "manual-rerun": 0.89,
}


async def seed_metrics(
    summary: DemoSummary, pipelines: PipelineService, metrics: MetricStore
) -> int:
    """Log the curves of every demo training run; idempotent (keys per batch)."""
    logged = 0
    for execution in summary.executions:
        if execution.state_machine != "churn-training-pipeline":
            continue
        await pipelines.ensure_stored(execution.arn)  # so every run shows in the evolution
        quality = QUALITY.get(execution.name)
        if quality is None:
            continue  # e.g. a run that failed validation, before any training
        long_run = execution.name == LONG_RUN
        steps = LONG_STEPS if long_run else STEPS
        # Stopped runs report only loss and roc_auc; the long one (kept light) only loss.
        partial = execution.status in ("FAILED", "ABORTED")
        points = list(
            curves(
                execution.name,
                steps,
                quality,
                partial=partial,
                loss_only=long_run,
                window=RUNS.get(execution.name),
            )
        )
        for start in range(0, len(points), MAX_BATCH_POINTS):
            batch = points[start : start + MAX_BATCH_POINTS]
            result = await metrics.log_points(
                execution.arn, batch, idempotency_key=f"demo-{execution.name}-{start}"
            )
            logged += result.accepted
    return logged
