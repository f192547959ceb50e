"""The demo's lineage story, told the way a real installation would learn it.

- An Airflow task, ``airflow-prod/churn_features.build``, builds the churn
  training snapshots from a month of usage events. Its OpenLineage RunEvents
  (START and COMPLETE of two daily runs) are posted through the gateway's own
  ``POST /api/v1/lineage`` with a service token allowed to write, as Airflow's
  OpenLineage provider would post them: the 2026-11-01 run writes the
  2026-11-01 snapshot from October's events, the 2026-11-15 run the
  2026-11-15 snapshot from November's. A snapshot is named by the object the
  training runs read (``TrainingRun.dataset_key``), so these runs join the
  edges AWS implies (snapshot -CONSUMED-> training run -PRODUCED-> version).
- What nobody reports, recorded with origin ``demo`` at the instants it
  happened: the 2026-11-15 snapshot is DERIVED_FROM the 2026-11-01 one, and
  the production endpoint's history: churn-model v1 DEPLOYED from
  2026-11-02, replaced by v3 on 2026-11-16, when v1's edge is retired. So
  ``lineage(asOf: "2026-11-10T00:00:00Z")`` of the deployment shows v1, and
  now shows v3. v3's edge is recorded here from 2026-11-16 although the
  AWS-derived lineage records it too: that one starts when it is first
  derived, which would leave the endpoint serving nothing in between
  (recording a live edge again changes nothing, so the two do not clash).

Seeding twice adds nothing: run ids are UUIDv5 of the run's nominal time and
event times are fixed (the endpoint stores a repeated event as nothing new),
and a past edge is looked up before it is recorded or retired.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from gateway.config import ServiceToken, Settings
from gateway.demo.aws_seed import DemoSummary
from gateway.demo.names import CHURN_GROUP, DATASETS_BUCKET
from gateway.demo.plan import TRAINING_RUNS, datasets
from gateway.demo.sagemaker_seed import ENDPOINT
from gateway.demo.timeline import V1_DEPLOYED_AT, V3_DEPLOYED_AT
from sources.lineage.model import Direction, EdgeInput, NodeType, node_key
from sources.metadb.lineage import LineageStore
from sources.metadb.models import LineageEdgeKind

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from gateway.resources import Resources

log = logging.getLogger("mlmeta.demo")

ORIGIN = "demo"
SEED_PRINCIPAL = "demo-lineage-seed"
"""The service principal the seeding posts as (its token is made per seeding)."""
LINEAGE_PATH = "/api/v1/lineage"
JOB_NAMESPACE = "airflow-prod"
JOB_NAME = "churn_features.build"
PRODUCER = "https://github.com/apache/airflow/tree/providers-openlineage/1.14.0"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets"
S3_NAMESPACE = f"s3://{DATASETS_BUCKET}"
FEATURES_REPO = "https://github.com/example-org/churn-features"
FEATURES_SHA = "4d1e7b2"
RUN_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://mlmeta.io/demo/openlineage")

SNAPSHOT_COLUMNS = (
    ("customer_id", "string"),
    ("tenure_months", "integer"),
    ("monthly_charges", "decimal(8,2)"),
    ("contract", "string"),
    ("support_tickets", "integer"),
    ("churned", "integer"),
)
EVENT_COLUMNS = (
    ("customer_id", "string"),
    ("event_date", "date"),
    ("sessions", "integer"),
    ("minutes_used", "integer"),
    ("dropped_calls", "integer"),
)


def _at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class FeatureRun:
    """One daily run of the feature task: the month of events it reads, the snapshot it writes."""

    snapshot: str
    events_month: str
    started: datetime
    completed: datetime

    @property
    def nominal_start(self) -> datetime:
        return datetime.fromisoformat(self.snapshot).replace(hour=2, tzinfo=UTC)

    @property
    def run_id(self) -> str:
        """As stable as Airflow's own (a UUID of the task and its logical date)."""
        name = f"{JOB_NAMESPACE}/{JOB_NAME}/{self.nominal_start.isoformat()}"
        return str(uuid.uuid5(RUN_ID_NAMESPACE, name))

    @property
    def execution_id(self) -> str:
        """The id mlmeta stores the run under (``external:<namespace>/<name>:<runId>``)."""
        return f"external:{JOB_NAMESPACE}/{JOB_NAME}:{self.run_id}"

    @property
    def events_name(self) -> str:
        return f"events/usage/{self.events_month}/"

    @property
    def snapshot_name(self) -> str:
        return next(r.dataset_key for r in TRAINING_RUNS if r.snapshot == self.snapshot)


FEATURE_RUNS = (
    FeatureRun("2026-11-01", "2026-10", _at(1, 2, 0, 7), _at(1, 2, 14, 41)),
    FeatureRun("2026-11-15", "2026-11", _at(15, 2, 0, 5), _at(15, 2, 16, 52)),
)


def snapshot_uri(snapshot: str) -> str:
    """The dataset (``Dataset:`` natural key) a feature run writes for ``snapshot``."""
    run = next(r for r in FEATURE_RUNS if r.snapshot == snapshot)
    return f"{S3_NAMESPACE}/{run.snapshot_name}"


def _facet(schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": f"{_FACETS}/{schema}", **fields}


def _dataset(name: str, columns: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {
        "namespace": S3_NAMESPACE,
        "name": name,
        "facets": {
            "dataSource": _facet(
                "1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet",
                name=S3_NAMESPACE,
                uri=S3_NAMESPACE,
            ),
            "schema": _facet(
                "1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
                fields=[{"name": n, "type": t} for n, t in columns],
            ),
        },
    }


def run_event(run: FeatureRun, event_type: str) -> dict[str, Any]:
    """The OpenLineage RunEvent Airflow's provider sends for ``run`` (START or COMPLETE)."""
    complete = event_type == "COMPLETE"
    output = _dataset(run.snapshot_name, SNAPSHOT_COLUMNS)
    if complete:
        body = datasets()[run.snapshot_name]
        output["outputFacets"] = {
            "outputStatistics": _facet(
                "1-0-2/OutputStatisticsOutputDatasetFacet.json"
                "#/$defs/OutputStatisticsOutputDatasetFacet",
                rowCount=body.count(b"\n") - 1,
                size=len(body),
            )
        }
    return {
        "eventType": event_type,
        "eventTime": (run.completed if complete else run.started).isoformat(),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {
            "runId": run.run_id,
            "facets": {
                "nominalTime": _facet(
                    "1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
                    nominalStartTime=run.nominal_start.isoformat(),
                    nominalEndTime=(run.nominal_start + timedelta(days=1)).isoformat(),
                ),
                "processing_engine": _facet(
                    "1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet",
                    name="Airflow",
                    version="2.10.3",
                    openlineageAdapterVersion="1.14.0",
                ),
            },
        },
        "job": {
            "namespace": JOB_NAMESPACE,
            "name": JOB_NAME,
            "facets": {
                "jobType": _facet(
                    "2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
                    processingType="BATCH",
                    integration="AIRFLOW",
                    jobType="TASK",
                ),
                "sourceCodeLocation": _facet(
                    "1-0-1/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet",
                    type="git",
                    url=f"{FEATURES_REPO}/blob/{FEATURES_SHA}/dags/churn_features.py",
                    repoUrl=FEATURES_REPO,
                    path="dags/churn_features.py",
                    version=FEATURES_SHA,
                    branch="main",
                ),
            },
        },
        "inputs": [_dataset(run.events_name, EVENT_COLUMNS)],
        "outputs": [output],
    }


@dataclass(frozen=True)
class LineageSeed:
    """What one seeding added; all zero when the demo's lineage was there already."""

    events: int
    """OpenLineage events posted (new or not)."""
    posted_edges: int
    """Edges new with those events."""
    recorded: int
    """Edges recorded directly, with origin ``demo``."""
    retired: int

    @property
    def new(self) -> int:
        return self.posted_edges + self.recorded + self.retired

    def __str__(self) -> str:
        return (
            f"{self.events} OpenLineage events posted to {LINEAGE_PATH} ({self.posted_edges} "
            f"new edges), {self.recorded} edges recorded and {self.retired} retired "
            "(snapshot derivation, churn-model-prod history v1 -> v3)"
        )


def with_seed_token(settings: Settings) -> tuple[Settings, str]:
    """``settings`` plus a fresh write-scoped service token, and the token.

    For the app that seeds only: the gateway ``serve`` starts builds its own
    settings, which never hold this token.
    """
    token = secrets.token_urlsafe(32)
    entry = ServiceToken.parse(f"{SEED_PRINCIPAL}:token:{token}:write")
    return settings.replace(service_tokens=(*settings.service_tokens, entry)), token


async def seed_lineage(app: Starlette, summary: DemoSummary, token: str) -> LineageSeed:
    """Post the feature runs' events and record the demo's lineage history; idempotent.

    ``app`` is a gateway app inside its lifespan (its resources are open);
    ``token`` a service token it accepts for writing.
    """
    resources: Resources = app.state.resources
    store = resources.lineage.store
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    posted = 0
    async with httpx.AsyncClient(transport=transport, base_url="http://mlmeta-demo") as client:
        for run in FEATURE_RUNS:
            for event_type in ("START", "COMPLETE"):
                event = run_event(run, event_type)
                response = await client.post(LINEAGE_PATH, json=event, headers=headers)
                if response.status_code != 201:
                    raise RuntimeError(
                        f"{LINEAGE_PATH} refused the demo's {event_type} event of "
                        f"{run.snapshot}: {response.status_code} {response.text}"
                    )
                posted += int(response.json()["edgesRecorded"])
    derived = EdgeInput(
        node_key(NodeType.DATASET, snapshot_uri(FEATURE_RUNS[0].snapshot)),
        node_key(NodeType.DATASET, snapshot_uri(FEATURE_RUNS[1].snapshot)),
        LineageEdgeKind.DERIVED_FROM,
    )
    recorded = await store.record([derived], origin=ORIGIN, at=FEATURE_RUNS[1].completed)
    endpoint = await _endpoint_arn(resources)
    retired = 0
    if endpoint is not None:
        more, retired = await _deployment_history(store, summary, endpoint)
        recorded += more
    return LineageSeed(2 * len(FEATURE_RUNS), posted, recorded, retired)


async def _endpoint_arn(resources: Resources) -> str | None:
    for deployment in await resources.models.registry.deployments():
        if deployment.endpoint_name == ENDPOINT:
            return deployment.arn
    log.warning("no endpoint %s: its deployment history is not seeded", ENDPOINT)
    return None


async def _deployment_history(
    store: LineageStore, summary: DemoSummary, endpoint_arn: str
) -> tuple[int, int]:
    """v1 serves from V1_DEPLOYED_AT until v3 takes over at V3_DEPLOYED_AT: (recorded, retired)."""
    versions = summary.model_package_arns.get(CHURN_GROUP, [])
    if len(versions) < 3:
        log.warning("churn-model has %d versions: no deployment history seeded", len(versions))
        return 0, 0
    deployment = node_key(NodeType.DEPLOYMENT, endpoint_arn)
    first, third = (
        EdgeInput(node_key(NodeType.MODEL_VERSION, arn), deployment, LineageEdgeKind.DEPLOYED)
        for arn in (versions[0], versions[2])
    )
    recorded = retired = 0
    # A retired edge recorded again would start a second copy: look at the past first.
    if not await _holds(store, first, V1_DEPLOYED_AT):
        recorded += await store.record([first], origin=ORIGIN, at=V1_DEPLOYED_AT)
    if await _holds(store, first, None):
        retired += await store.retire([first], at=V3_DEPLOYED_AT)
    recorded += await store.record([third], origin=ORIGIN, at=V3_DEPLOYED_AT)
    return recorded, retired


async def _holds(store: LineageStore, edge: EdgeInput, at: datetime | None) -> bool:
    """Whether ``edge`` held at ``at`` (None: now)."""
    found = await store.neighbours([edge.to_key], Direction.UPSTREAM, as_of=at)
    return any((e.from_key, e.kind) == (edge.from_key, edge.kind) for e in found)
