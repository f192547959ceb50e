"""Import training metrics from AWS for runs whose steps ran SageMaker training jobs.

For each finished, stored Step Functions / SageMaker run: the training jobs its
steps ran (their ARNs), each job's final metrics (DescribeTrainingJob) and time
series (CloudWatch GetMetricData, batched up to 500 series a call). A finished
job is imported once and never fetched again: the import is recorded under the
idempotency key ``import:<job ARN>``, checked before any AWS call. A key once
recorded stays recorded, so the process remembers the keys it has seen recorded
and asks the metadb only about the others; and as a finished Step Functions or
SageMaker run's stored steps never change, a run whose every training job is
recorded is settled: later reads of it cost the import nothing, not even its steps.

The import never fails the metrics it feeds: what the metadb holds still
answers. But what it could not import is missing from them, so ``import_for``
says which runs lack their training metrics, and why (the failing source's
error), for the fields to report (README, "When a source fails").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from sources.cloudwatch import CloudWatchSource
from sources.errors import MlmetaError, UpstreamError
from sources.metadb.db import MetaDB
from sources.metadb.metrics import MetricStore, stored_key
from sources.metadb.models import IdempotencyKey
from sources.metadb.pipelines import PipelineStore
from sources.metrics.model import MAX_BATCH_POINTS, PointIn
from sources.pipelines.ids import Origin, origin_of
from sources.sagemaker import SageMakerSource
from sources.sagemaker.training import TrainingJob, with_final_steps

log = logging.getLogger("mlmeta.metrics.import")
TRAINING_JOB_MARK = ":training-job/"
MAX_REMEMBERED_IMPORTS = 100_000
"""Recorded import keys and settled runs kept in memory (~100 bytes each); past it, that
set starts over."""
SETTLING = (Origin.STEP_FUNCTIONS, Origin.SAGEMAKER)  # stored once finished, never changed


def import_key(job_arn: str) -> str:
    return f"import:{job_arn}"


class TrainingMetricsImporter:
    def __init__(
        self,
        metadb: MetaDB,
        store: PipelineStore,
        metrics: MetricStore,
        sagemaker: SageMakerSource | None,
        cloudwatch: CloudWatchSource | None,
    ) -> None:
        self.metadb = metadb
        self.store = store
        self.metrics = metrics
        self.sagemaker = sagemaker
        self.cloudwatch = cloudwatch
        self._imported: set[str] = set()  # keys the metadb holds (they are never removed)
        self._settled: set[str] = set()  # finished AWS runs with every job's key recorded

    async def import_for(self, execution_ids: Sequence[str]) -> dict[str, UpstreamError]:
        """Import what is missing for these runs; never raises (the import is a bonus).

        Returns the runs whose training metrics could not be imported, each with
        the upstream failure that kept them out (SageMaker, CloudWatch, or the
        metadb that could not record them); a run missing from it lacks nothing.
        """
        if self.sagemaker is None:
            return {}
        failed: dict[str, UpstreamError] = {}
        try:
            await self._import(execution_ids, failed)
        except UpstreamError as exc:
            log.warning("training metrics not imported: %s", exc.message)
            failed.update(dict.fromkeys(execution_ids, exc))
        except MlmetaError as exc:  # a stored step naming no valid job: nothing to import
            log.warning("training metrics not imported: %s", exc.message)
        return failed

    async def _import(self, execution_ids: Sequence[str], failed: dict[str, UpstreamError]) -> None:
        pending = [e for e in execution_ids if e not in self._settled]
        if not pending:
            return
        steps = await self.store.finished_steps_by_execution_ids(pending)
        wanted: dict[str, str] = {}  # job ARN -> execution id
        jobs_of: dict[str, list[str]] = {}  # finished AWS run -> its jobs' ARNs
        for execution_id, run_steps in zip(pending, steps, strict=True):
            arns = [
                step.resource_arn
                for step in run_steps or ()
                if step.resource_arn and TRAINING_JOB_MARK in step.resource_arn
            ]
            for arn in arns:
                wanted.setdefault(arn, execution_id)
            if run_steps is not None and origin_of(execution_id) in SETTLING:
                jobs_of[execution_id] = arns
        stored_keys = {arn: stored_key(wanted[arn], import_key(arn)) for arn in wanted}
        unknown = [key for key in stored_keys.values() if key not in self._imported]
        if unknown:
            _remember(self._imported, await self._recorded(unknown))
        todo = [arn for arn in wanted if stored_keys[arn] not in self._imported]
        if todo:
            await self._fetch(todo, wanted, stored_keys, failed)
        settled = {
            execution_id
            for execution_id, arns in jobs_of.items()
            if all(stored_keys[arn] in self._imported for arn in arns)
        }
        _remember(self._settled, settled)

    async def _fetch(
        self,
        todo: list[str],
        wanted: dict[str, str],
        stored_keys: dict[str, str],
        failed: dict[str, UpstreamError],
    ) -> None:
        """Describe the ``todo`` jobs, read their series, and store each finished one's."""
        assert self.sagemaker is not None
        try:
            described = await self.sagemaker.training_jobs(todo)
            jobs = [j for j in described if j is not None and j.finished]
            series = await self._series(jobs)
        except UpstreamError as exc:
            log.warning("training metrics not imported: %s", exc.message)
            failed.update({wanted[arn]: exc for arn in todo})
            return
        for index, (job, job_series) in enumerate(zip(jobs, series, strict=True)):
            job = with_final_steps(job, job_series)
            points = [p for s in job_series.values() for p in s]
            names = set(job_series)
            points += [
                p for p in job.final_metrics if p.name not in names or not job_series[p.name]
            ]
            try:
                await self.metrics.log_points(
                    wanted[job.arn], points[:MAX_BATCH_POINTS], idempotency_key=import_key(job.arn)
                )
            except UpstreamError as exc:
                # The metadb cannot take writes now: the jobs after this one would only
                # wait for the same failure (SQLite's busy timeout, each). Fetched again
                # on a later read.
                log.warning("training metrics not stored: %s", exc.message)
                failed.update({wanted[j.arn]: exc for j in jobs[index:]})
                return
            _remember(self._imported, {stored_keys[job.arn]})

    async def _series(self, jobs: list[TrainingJob]) -> list[dict[str, list[PointIn]]]:
        if self.cloudwatch is None or not jobs:
            return [{} for _ in jobs]
        queries = [(j.name, j.metric_definitions) for j in jobs]
        now = datetime.now(UTC)
        start = min((j.started_at or j.created_at or now) for j in jobs)
        end = max(max((j.ended_at or now) for j in jobs), start + timedelta(minutes=1))
        return await self.cloudwatch.training_series(queries, start, end)

    async def _recorded(self, keys: list[str]) -> set[str]:
        """Which idempotency keys the metadb holds: one query."""
        async with self.metadb.session() as session:
            rows = await session.exec(
                select(IdempotencyKey.key).where(col(IdempotencyKey.key).in_(keys))
            )
            return set(rows.all())


def _remember(kept: set[str], new: set[str]) -> None:
    """Add ``new`` to ``kept``, which starts over past ``MAX_REMEMBERED_IMPORTS``."""
    if len(kept) + len(new) > MAX_REMEMBERED_IMPORTS:
        kept.clear()
    kept |= new
