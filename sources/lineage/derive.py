"""Lineage edges AWS already implies, derived when asked and cached.

Nobody has to report these: the registry, the training jobs and the endpoints
say them. ``AwsLineage.refresh`` reads them whole-account (a bounded number of
calls, none per node a later query returns) and records them with origin
``"aws"``:

- ``PipelineExecution:<run> -PRODUCED-> ModelVersion:<package arn>``, the run
  being what ``ModelService.trained_by`` finds in the version's facts;
- ``Dataset:<uri> -CONSUMED-> PipelineExecution:<run>`` for each S3 input of
  the run's training jobs (the version's ``mlmeta:training-job-arn`` and the
  stored steps of the run that ran a training job) and for the version's
  ``mlmeta:dataset-uri``;
- ``ModelVersion:<package arn> -DEPLOYED-> Deployment:<endpoint arn>`` for each
  variant serving a known package; when an endpoint switches versions, the
  old edge is retired, so a graph read ``as_of`` shows what served when.

Each edge holds from when AWS says its fact began, not from when mlmeta
noticed it: PRODUCED from the version's registration, CONSUMED from the
training job's creation (else the registration), DEPLOYED from the endpoint's
last change, and a replaced DEPLOYED edge is retired at that change. So
``asOf`` answers "what was deployed, and from what, at that time" even for
facts mlmeta derived later; an export's digest still covers exactly the graph
it holds.

What never changes is fetched once: version facts are stored in the metadb
(``details_by_arns``) and a training job described is remembered for the life
of the process. A refresh within ``ttl_seconds`` of the last one makes no call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sources.errors import InputError, MlmetaError, UpstreamError
from sources.lineage.model import Direction, EdgeInput, NodeType, check_edge, node_key
from sources.metadb.lineage import MAX_BATCH, LineageStore
from sources.metadb.models import LineageEdgeKind, utcnow
from sources.metadb.pipelines import PipelineStore
from sources.models.model import VersionDetail, VersionSummary
from sources.models.service import TRAINING_JOB_KEY, ModelService
from sources.sagemaker.concurrency import gather_limited
from sources.sagemaker.registry_source import SageMakerRegistry
from sources.sagemaker.source import SageMakerSource
from sources.sagemaker.training import is_training_job_arn, training_job_name

log = logging.getLogger("mlmeta.sources.lineage")

ORIGIN = "aws"
DATASET_URI_KEY = "mlmeta:dataset-uri"
MAX_GROUPS = 100
"""Model package groups read per refresh (in name order)."""
MAX_VERSIONS_PER_GROUP = 100
"""Versions read per group: the newest (one ListModelPackages page)."""
MAX_VERSIONS = 1_000
"""Versions derived per refresh; on a cold metadb, also the most DescribeModelPackage calls."""
MAX_JOBS = 100
"""Training jobs described per refresh; the rest wait for the next refresh."""
MAX_ARTIFACT_STEPS = 1_000
"""Stored training steps (newest first) whose artefacts are matched to untraced versions."""
MAX_CONCURRENT_GROUPS = 4
"""Groups whose versions are listed at once."""
PRODUCED, CONSUMED, DEPLOYED = (
    LineageEdgeKind.PRODUCED,
    LineageEdgeKind.CONSUMED,
    LineageEdgeKind.DEPLOYED,
)


@dataclass(frozen=True)
class DeriveReport:
    """What one refresh did. A refresh skipped because the last one is fresh is (0, 0, None)."""

    recorded: int
    """Edges that were new."""
    retired: int
    """DEPLOYED edges retired because their endpoint serves another version now."""
    skipped_reason: str | None = None
    """Why the refresh stopped early (an upstream failed); what it recorded before stays."""


@dataclass
class _Tally:
    recorded: int = 0
    retired: int = 0


class AwsLineage:
    """Derives and records the lineage AWS implies; one per process (it remembers jobs)."""

    def __init__(
        self,
        models: ModelService,
        registry: SageMakerRegistry | None,
        sagemaker: SageMakerSource | None,
        pipelines: PipelineStore,
        lineage: LineageStore,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._models = models
        self._registry = registry
        self._sagemaker = sagemaker
        self._pipelines = pipelines
        self._lineage = lineage
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._fresh_until: float | None = None
        self._generation = 0
        self._last = DeriveReport(0, 0)
        self._done_jobs: set[str] = set()
        """Lower-cased ARNs of the training jobs whose edges are recorded (or that are gone)."""
        self._artifacts: dict[str, str | None] = {}
        """Lower-cased training job ARN -> its model artefact (None: none, or no such job)."""
        self._failure: UpstreamError | None = None

    @property
    def incomplete(self) -> UpstreamError | None:
        """Why edges AWS implies may be missing from the metadb: the failure that stopped
        the last refresh (SageMaker's, or the metadb's that could not record them); None
        once a refresh completes, and when no registry is configured (nothing to derive)."""
        return self._failure

    async def refresh(self, *, force: bool = False) -> DeriveReport:
        """Derive and record the edges, unless the last refresh is younger than the TTL.

        One refresh runs at a time: callers arriving meanwhile wait for it and
        get its report. A failed upstream (or any other expected error) does not
        raise: it is logged and named in ``skipped_reason`` (and kept in
        ``incomplete`` until a refresh completes, for queries to report), the
        edges recorded before it stay, and the refresh counts as done for the TTL
        (an outage costs one attempt per TTL, not one per query).
        """
        if not force and self._is_fresh():
            return DeriveReport(0, 0)
        generation = self._generation
        async with self._lock:
            if self._generation != generation:
                return self._last  # one ran while this caller waited: share its report
            tally = _Tally()
            skipped: str | None = None
            failure: UpstreamError | None = None
            try:
                await self._derive(tally)
            except MlmetaError as exc:
                log.warning("AWS lineage refresh stopped early: %s", exc.message)
                skipped = exc.message
                failure = _as_upstream(exc)
            self._failure = failure if self._registry is not None else None
            self._last = DeriveReport(tally.recorded, tally.retired, skipped)
            self._fresh_until = self._clock() + self._ttl
            self._generation += 1
            return self._last

    def _is_fresh(self) -> bool:
        return self._fresh_until is not None and self._clock() < self._fresh_until

    async def _derive(self, tally: _Tally) -> None:
        if self._registry is None:
            raise UpstreamError(
                "the SageMaker model registry is not configured", source="sagemaker"
            )
        versions = await self._versions(self._registry)
        found = await self._models.details_by_arns([v.arn for v in versions])
        details = [d for d in found if d is not None]
        runs = await self._models.trained_by(details)
        trained = [(d, run) for d, run in zip(details, runs, strict=True) if run]
        untraced = [d for d, run in zip(details, runs, strict=True) if not run and d.artifact_uri]
        trained += await self._by_artifact(untraced)
        await self._record(
            tally,
            [
                (
                    EdgeInput(
                        node_key(NodeType.PIPELINE_EXECUTION, run),
                        node_key(NodeType.MODEL_VERSION, d.arn),
                        PRODUCED,
                    ),
                    d.created_at,  # the version was produced when it was registered
                )
                for d, run in trained
            ],
        )
        # Deployments before training jobs: a few calls, where the jobs may be many.
        await self._deployed(tally, self._registry, {v.arn.lower(): v.arn for v in versions})
        await self._consumed(tally, trained)

    async def _by_artifact(self, details: list[VersionDetail]) -> list[tuple[VersionDetail, str]]:
        """Versions whose metadata names no run, matched to the stored run whose training
        step wrote their model artefact (the model data URL a pipeline registers)."""
        if not details or self._sagemaker is None:
            return []
        steps = await self._pipelines.training_job_steps(MAX_ARTIFACT_STEPS)
        todo = list(dict.fromkeys(a for _, a in steps if a.lower() not in self._artifacts))
        todo = todo[:MAX_JOBS]
        for arn, job in zip(todo, await self._sagemaker.training_jobs(todo), strict=True):
            self._artifacts[arn.lower()] = job.model_artifact if job is not None else None
        run_of: dict[str, str] = {}
        for run, arn in steps:  # newest first: the newest run writing an artefact wins
            if artifact := self._artifacts.get(arn.lower()):
                run_of.setdefault(artifact, run)
        return [(d, run_of[d.artifact_uri]) for d in details if d.artifact_uri in run_of]

    async def _versions(self, registry: SageMakerRegistry) -> list[VersionSummary]:
        """The newest versions of every group (bounded), groups in name order."""
        groups: list[str] = []
        token: str | None = None
        while len(groups) < MAX_GROUPS:
            page = await registry.list_groups(
                max_results=min(100, MAX_GROUPS - len(groups)), next_token=token
            )
            groups += [model.name for model in page.items]
            token = page.next_token
            if token is None:
                break

        async def newest(group: str) -> list[VersionSummary]:
            page = await registry.list_versions(group, max_results=MAX_VERSIONS_PER_GROUP)
            return page.items

        listed = await gather_limited(groups, newest, limit=MAX_CONCURRENT_GROUPS)
        return [v for group in groups for v in listed[group]][:MAX_VERSIONS]

    async def _consumed(self, tally: _Tally, trained: list[tuple[VersionDetail, str]]) -> None:
        """The datasets the runs read: their training jobs' inputs and the versions' metadata."""
        read: dict[str, dict[str, datetime]] = {}  # run -> dataset URI -> read since
        for detail, run in trained:
            if uri := detail.customer_metadata.get(DATASET_URI_KEY):
                _earliest(read.setdefault(run, {}), uri, detail.created_at)
        done: list[str] = []
        if self._sagemaker is not None:
            todo = [
                (arn, runs)
                for key, (arn, runs) in (await self._training_jobs(trained)).items()
                if key not in self._done_jobs
            ][:MAX_JOBS]
            described = await self._sagemaker.training_jobs([arn for arn, _ in todo])
            for (arn, runs), job in zip(todo, described, strict=True):
                done.append(arn.lower())  # a job not found is done too: asking again finds none
                if job is not None:
                    for run in runs:
                        for uri in job.input_uris:
                            _earliest(read.setdefault(run, {}), uri, job.created_at or utcnow())
        edges = [
            (
                EdgeInput(
                    node_key(NodeType.DATASET, uri),
                    node_key(NodeType.PIPELINE_EXECUTION, run),
                    CONSUMED,
                ),
                since,
            )
            for run, uris in read.items()
            for uri, since in sorted(uris.items())
        ]
        datasets = sorted({e.from_key.partition(":")[2] for e, _ in _valid(edges)})
        for start in range(0, len(datasets), MAX_BATCH):
            chunk = datasets[start : start + MAX_BATCH]
            await self._lineage.upsert_datasets([(uri, None, None) for uri in chunk])
        await self._record(tally, edges)
        self._done_jobs.update(done)  # only once their edges are stored

    async def _training_jobs(
        self, trained: list[tuple[VersionDetail, str]]
    ) -> dict[str, tuple[str, set[str]]]:
        """Lower-cased job ARN -> (ARN, runs): the version's job, and the jobs the runs'
        stored steps ran (one metadb read)."""
        jobs: dict[str, tuple[str, set[str]]] = {}

        def add(arn: str, run: str) -> None:
            if training_job_name(arn) is not None:  # a name or an ARN: anything else is noise
                jobs.setdefault(arn.lower(), (arn, set()))[1].add(run)

        for detail, run in trained:
            if arn := detail.customer_metadata.get(TRAINING_JOB_KEY):
                add(arn, run)
        runs = list(dict.fromkeys(run for _, run in trained))
        for run, steps in zip(
            runs, await self._pipelines.steps_by_execution_ids(runs), strict=True
        ):
            for step in steps:
                if step.resource_arn and is_training_job_arn(step.resource_arn):
                    add(step.resource_arn, run)
        return jobs

    async def _deployed(
        self, tally: _Tally, registry: SageMakerRegistry, known: dict[str, str]
    ) -> None:
        """Record what each endpoint variant serves now; retire what it served before."""
        serving: dict[str, set[str]] = {}  # Deployment key -> ModelVersion keys
        since: dict[str, datetime] = {}  # Deployment key -> when it last changed
        now = utcnow()
        for deployment in await registry.deployments():
            target = node_key(NodeType.DEPLOYMENT, deployment.arn)
            served = serving.setdefault(target, set())
            since[target] = deployment.updated_at or deployment.created_at or now
            if arn := deployment.model_package_arn:
                served.add(node_key(NodeType.MODEL_VERSION, known.get(arn.lower(), arn)))
        live = await self._lineage.neighbours(sorted(serving), Direction.UPSTREAM, as_of=now)
        stale: dict[datetime, list[EdgeInput]] = {}
        for e in live:
            if e.kind == DEPLOYED and e.origin == ORIGIN and e.from_key not in serving[e.to_key]:
                # It stopped serving when the endpoint changed (never before it was recorded).
                at = max(since[e.to_key], e.recorded_at)
                stale.setdefault(at, []).append(EdgeInput(e.from_key, e.to_key, e.kind))
        for at, edges in sorted(stale.items()):
            for start in range(0, len(edges), MAX_BATCH):
                batch = edges[start : start + MAX_BATCH]
                tally.retired += await self._lineage.retire(batch, at=at)
        current = [
            (EdgeInput(version, target, DEPLOYED), since[target])
            for target, vs in serving.items()
            for version in sorted(vs)
        ]
        await self._record(tally, current)

    async def _record(self, tally: _Tally, edges: Sequence[tuple[EdgeInput, datetime]]) -> None:
        """Record the edges not live yet, each from when AWS says its fact began.

        One statement finds the live ones, so a refresh with nothing new writes
        nothing; new edges are written in batches per instant, each all or nothing.
        """
        now = utcnow()
        timed = _valid(edges)
        if not timed:
            return
        targets = sorted({edge.to_key for edge, _ in timed})
        live = {
            (e.from_key, e.to_key, e.kind)
            for e in await self._lineage.neighbours(targets, Direction.UPSTREAM, as_of=now)
        }
        by_time: dict[datetime, list[EdgeInput]] = {}
        for edge, since in timed:
            if (edge.from_key, edge.to_key, edge.kind) not in live:
                by_time.setdefault(min(since, now), []).append(edge)
        for at, batch_edges in sorted(by_time.items()):
            for start in range(0, len(batch_edges), MAX_BATCH):
                batch = batch_edges[start : start + MAX_BATCH]
                tally.recorded += await self._lineage.record(batch, origin=ORIGIN, at=at)


def _earliest(read: dict[str, datetime], uri: str, since: datetime) -> None:
    read[uri] = min(read.get(uri, since), since)


def _valid(edges: Sequence[tuple[EdgeInput, datetime]]) -> list[tuple[EdgeInput, datetime]]:
    """The edges the store takes; one made of a malformed upstream value is left out, logged."""
    kept: list[tuple[EdgeInput, datetime]] = []
    for edge, since in edges:
        try:
            kept.append((check_edge(edge), since))
        except InputError as exc:
            log.debug(
                "not recording %s -> %s: %s", edge.from_key[:80], edge.to_key[:80], exc.message
            )
    return kept


def _as_upstream(exc: MlmetaError) -> UpstreamError:
    """The failure as queries report it: an upstream's own, or one naming what stopped."""
    if isinstance(exc, UpstreamError):
        return exc
    return UpstreamError(
        f"lineage AWS implies could not all be derived: {exc.message}",
        source=exc.source or "sagemaker",
    )
