"""OpenLineage RunEvents: strict parsing, and ingestion into runs, datasets and edges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from sources.errors import ConflictError, InputError
from sources.lineage.model import Direction
from sources.lineage.openlineage import EventType, LineageIngestor, parse_run_event
from sources.metadb import MetaDB
from sources.metadb.lineage import LineageStore
from sources.metadb.models import (
    Dataset,
    Execution,
    ExecutionStatus,
    LineageEdge,
    Orchestrator,
    Pipeline,
)
from sources.metadb.pipelines import PipelineStore

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET = "https://openlineage.io/spec/facets"
AIRFLOW = "https://github.com/apache/airflow/tree/providers-openlineage/1.14.0"
SPARK = "https://github.com/OpenLineage/OpenLineage/tree/1.27.0/integration/spark"
RUN_ID = "0195a4b2-7c1d-7e3f-9a10-3b5c2d4e6f70"
PARENT_RUN_ID = "0195a4b2-0000-7000-8000-000000000001"
MODEL_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn/4"
EXECUTION_ID = f"external:airflow-prod/churn_training.train:{RUN_ID}"
RUN_KEY = f"PipelineExecution:{EXECUTION_ID}"


def airflow_event(
    event_type: str = "COMPLETE", at: str = "2026-03-01T12:05:00.123456+00:00"
) -> dict[str, Any]:
    """An event shaped like the Airflow OpenLineage provider's, for a training task."""
    return {
        "eventType": event_type,
        "eventTime": at,
        "producer": AIRFLOW,
        "schemaURL": SCHEMA_URL,
        "run": {
            "runId": RUN_ID,
            "facets": {
                "parent": {
                    "_producer": AIRFLOW,
                    "_schemaURL": f"{FACET}/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet",
                    "run": {"runId": PARENT_RUN_ID},
                    "job": {"namespace": "airflow-prod", "name": "churn_training"},
                },
                "nominalTime": {
                    "_producer": AIRFLOW,
                    "_schemaURL": f"{FACET}/1-0-1/NominalTimeRunFacet.json",
                    "nominalStartTime": "2026-03-01T12:00:00+00:00",
                },
                "processing_engine": {
                    "_producer": AIRFLOW,
                    "_schemaURL": f"{FACET}/1-1-1/ProcessingEngineRunFacet.json",
                    "name": "Airflow",
                    "version": "2.10.4",
                    "openlineageAdapterVersion": "1.14.0",
                },
            },
        },
        "job": {
            "namespace": "airflow-prod",
            "name": "churn_training.train",
            "facets": {
                "jobType": {
                    "_producer": AIRFLOW,
                    "_schemaURL": f"{FACET}/2-0-3/JobTypeJobFacet.json",
                    "processingType": "BATCH",
                    "integration": "AIRFLOW",
                    "jobType": "TASK",
                }
            },
        },
        "inputs": [
            {
                "namespace": "s3://ml-features",
                "name": "churn/features.parquet",
                "facets": {
                    "version": {
                        "_producer": AIRFLOW,
                        "_schemaURL": f"{FACET}/1-0-0/DatasetVersionDatasetFacet.json",
                        "datasetVersion": "7",
                    }
                },
            }
        ],
        "outputs": [
            {
                "namespace": "sagemaker",
                "name": MODEL_ARN,
                "facets": {
                    "datasetType": {
                        "_producer": AIRFLOW,
                        "_schemaURL": f"{FACET}/1-0-1/DatasetTypeDatasetFacet.json",
                        "datasetType": "MODEL",
                    }
                },
            },
            {"namespace": "s3://ml-reports", "name": "churn/eval.json"},
        ],
    }


def spark_event() -> dict[str, Any]:
    """An event shaped like the Spark integration's, for a write into a Hive table."""
    return {
        "eventTime": "2026-03-01T12:10:00.321Z",
        "producer": SPARK,
        "schemaURL": SCHEMA_URL,
        "eventType": "START",
        "run": {
            "runId": "7c2b5e1a-3f4d-4a6b-8c9d-0e1f2a3b4c5d",
            "facets": {
                "spark_properties": {
                    "_producer": SPARK,
                    "_schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet",
                    "properties": {"spark.master": "yarn", "spark.app.name": "features"},
                }
            },
        },
        "job": {
            "namespace": "spark-prod",
            "name": "features.execute_insert_into_hadoop_fs_relation_command.ml_features",
            "facets": {},
        },
        "inputs": [
            {
                "namespace": "hdfs://namenode:8020",
                "name": "/warehouse/raw/events",
                "facets": {
                    "dataSource": {
                        "_producer": SPARK,
                        "_schemaURL": f"{FACET}/1-0-1/DatasourceDatasetFacet.json",
                        "name": "hdfs://namenode:8020",
                        "uri": "hdfs://namenode:8020",
                    },
                    "schema": {
                        "_producer": SPARK,
                        "_schemaURL": f"{FACET}/1-1-1/SchemaDatasetFacet.json",
                        "fields": [{"name": "user_id", "type": "long"}],
                    },
                },
                "inputFacets": {},
            }
        ],
        "outputs": [
            {
                "namespace": "hdfs://namenode:8020",
                "name": "/warehouse/ml/features",
                "facets": {},
                "outputFacets": {
                    "outputStatistics": {
                        "_producer": SPARK,
                        "_schemaURL": f"{FACET}/1-0-2/OutputStatisticsOutputDatasetFacet.json",
                        "rowCount": 1200,
                        "size": 48213,
                    }
                },
            }
        ],
    }


# ----------------------------------------------------------------- parse ---


def test_an_airflow_style_event_parses_with_its_facets() -> None:
    event = parse_run_event(airflow_event())

    assert event.event_type is EventType.COMPLETE
    assert event.event_time == datetime(2026, 3, 1, 12, 5, 0, 123456, tzinfo=UTC)
    assert (event.job_namespace, event.job_name) == ("airflow-prod", "churn_training.train")
    assert event.run_facets["parent"]["run"]["runId"] == PARENT_RUN_ID
    assert [o.name for o in event.outputs] == [MODEL_ARN, "churn/eval.json"]


def test_a_spark_style_event_parses_with_its_dataset_facets() -> None:
    event = parse_run_event(spark_event())

    assert event.event_type is EventType.START
    assert event.inputs[0].facets["schema"]["fields"][0]["name"] == "user_id"
    assert event.outputs[0].io_facets["outputStatistics"]["rowCount"] == 1200


def test_an_event_without_event_type_is_other() -> None:
    payload = airflow_event()
    del payload["eventType"]

    assert parse_run_event(payload).event_type is EventType.OTHER


def broken(path: str, value: Any) -> dict[str, Any]:
    """The Airflow event with the field at dotted ``path`` set to ``value`` (or removed)."""
    payload = airflow_event()
    *parents, last = path.split(".")
    target: Any = payload
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "event: must be an object"),
        (broken("eventType", "DONE"), "eventType: must be one of START, RUNNING"),
        (broken("eventTime", KeyError), "eventTime: is required"),
        (broken("eventTime", "yesterday"), "eventTime: not an ISO-8601 date-time"),
        (broken("eventTime", "2026-03-01T12:00:00"), "eventTime: has no UTC offset"),
        (broken("eventType", ["START"]), "eventType: must be one of"),
        (broken("producer", "airflow please"), "producer: not a URI"),
        (broken("producer", "http://[::1"), "producer: not a URI"),
        (broken("schemaURL", KeyError), "schemaURL: is required"),
        (
            broken(
                "schemaURL", "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"
            ),
            "schemaURL: names another event type",
        ),
        (broken("run", KeyError), "run: is required"),
        (broken("run.runId", "42"), "run.runId: not a UUID"),
        (broken("job.name", ""), "job.name: must be a non-empty string"),
        (broken("job.namespace", 7), "job.namespace: must be a non-empty string"),
        (broken("run.facets.nominalTime", "noon"), "run.facets.nominalTime: must be an object"),
        (broken("inputs", {}), "inputs: must be a list"),
        (broken("inputs.0.namespace", KeyError), r"inputs\[0\].namespace: must be a non-empty"),
        (broken("outputs.1.facets", []), r"outputs\[1\].facets: must be an object"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_malformed_event_is_rejected_naming_the_field_and_why(payload: Any, message: str) -> None:
    with pytest.raises(InputError, match=f"^{message}"):
        parse_run_event(payload)


# ---------------------------------------------------------------- ingest ---


@pytest.fixture
def ingestor(metadb: MetaDB) -> LineageIngestor:
    return LineageIngestor(metadb)


async def ingest(ingestor: LineageIngestor, payload: dict[str, Any]) -> Any:
    return await ingestor.ingest(parse_run_event(payload))


async def row_counts(db: MetaDB) -> dict[str, int]:
    counts = {}
    async with db.engine.connect() as conn:
        for model in (Pipeline, Execution, Dataset, LineageEdge):
            statement = sa.select(sa.func.count()).select_from(model)
            counts[model.__tablename__] = (await conn.execute(statement)).scalar_one()
    return counts


async def stored_run(db: MetaDB) -> Any:
    [found] = await PipelineStore(db).executions_by_ids([EXECUTION_ID])
    return found


async def test_start_then_complete_stores_a_succeeded_run_with_its_times(
    ingestor: LineageIngestor, metadb: MetaDB
) -> None:
    await ingest(ingestor, airflow_event("START", "2026-03-01T12:00:00Z"))
    running = await stored_run(metadb)
    await ingest(ingestor, airflow_event("COMPLETE", "2026-03-01T12:05:00Z"))
    done = await stored_run(metadb)

    assert (running.status, running.stopped_at) == (ExecutionStatus.RUNNING, None)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert (done.started_at, done.stopped_at) == (
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 5, tzinfo=UTC),
    )
    [pipeline] = await PipelineStore(metadb).pipelines_by_ids(
        ["external:airflow-prod/churn_training.train"]
    )
    assert pipeline is not None
    assert pipeline.orchestrator is Orchestrator.EXTERNAL


async def test_inputs_and_outputs_become_consumed_and_produced_edges(
    ingestor: LineageIngestor, metadb: MetaDB
) -> None:
    result = await ingest(ingestor, airflow_event())

    graph = await LineageStore(metadb).walk(RUN_KEY, direction=Direction.BOTH, depth=1)

    assert [(e.from_key, e.to_key, e.kind, e.origin) for e in graph.edges] == [
        ("Dataset:s3://ml-features/churn/features.parquet@7", RUN_KEY, "CONSUMED", "openlineage"),
        (RUN_KEY, "Dataset:s3://ml-reports/churn/eval.json", "PRODUCED", "openlineage"),
        (RUN_KEY, f"ModelVersion:{MODEL_ARN}", "PRODUCED", "openlineage"),
    ]
    assert result.edges_recorded == 3


async def test_datasets_are_stored_with_the_version_from_their_facet(
    ingestor: LineageIngestor, metadb: MetaDB
) -> None:
    await ingest(ingestor, airflow_event())

    found = await LineageStore(metadb).dataset_by_uri(
        "s3://ml-features/churn/features.parquet", "7"
    )

    assert found is not None
    assert found.name == "churn/features.parquet"
    assert (await row_counts(metadb))["datasets"] == 2  # the model version is no dataset


async def test_a_spark_path_joins_its_namespace_with_one_slash(
    ingestor: LineageIngestor, metadb: MetaDB
) -> None:
    result = await ingest(ingestor, spark_event())

    assert result.inputs == ["Dataset:hdfs://namenode:8020/warehouse/raw/events"]
    assert result.status is ExecutionStatus.RUNNING


async def test_fail_stores_the_error_message_and_stack_trace(
    ingestor: LineageIngestor, metadb: MetaDB
) -> None:
    payload = airflow_event("FAIL")
    payload["run"]["facets"]["errorMessage"] = {
        "_producer": AIRFLOW,
        "_schemaURL": f"{FACET}/1-0-1/ErrorMessageRunFacet.json",
        "message": "OOM in train step",
        "programmingLanguage": "python",
        "stackTrace": "Traceback (most recent call last): ...",
    }

    await ingest(ingestor, payload)

    run = await stored_run(metadb)
    assert run.status is ExecutionStatus.FAILED
    assert (run.error, run.cause) == ("OOM in train step", "Traceback (most recent call last): ...")


async def test_the_parent_run_is_kept_in_the_run_parameters(
    ingestor: LineageIngestor, metadb: MetaDB
) -> None:
    await ingest(ingestor, airflow_event())

    run = await stored_run(metadb)
    assert run.parameters["openlineage.parent.runId"] == PARENT_RUN_ID
    assert run.parameters["openlineage.parent.job"] == "airflow-prod/churn_training"


async def test_a_parent_run_id_that_is_no_uuid_is_refused_and_stores_nothing(
    ingestor: LineageIngestor, metadb: MetaDB
) -> None:
    payload = airflow_event()
    payload["run"]["facets"]["parent"]["run"]["runId"] = "manual__2026-03-01"

    with pytest.raises(InputError, match=r"^run.facets.parent.run.runId: not a UUID"):
        await ingest(ingestor, payload)

    assert set((await row_counts(metadb)).values()) == {0}


async def test_the_same_event_posted_twice_stores_nothing_new(
    ingestor: LineageIngestor, metadb: MetaDB
) -> None:
    await ingest(ingestor, airflow_event())
    counts = await row_counts(metadb)
    async with metadb.engine.connect() as conn:
        updated = (await conn.execute(sa.select(col(Execution.updated_at)))).scalar_one()

    again = await ingest(ingestor, airflow_event())

    async with metadb.engine.connect() as conn:
        assert (await conn.execute(sa.select(col(Execution.updated_at)))).scalar_one() == updated
    assert await row_counts(metadb) == counts
    assert (again.edges_recorded, again.run_changed) == (0, False)


async def test_a_late_start_never_moves_a_finished_run_back_to_running(
    ingestor: LineageIngestor, metadb: MetaDB
) -> None:
    await ingest(ingestor, airflow_event("COMPLETE", "2026-03-01T12:05:00Z"))
    await ingest(ingestor, airflow_event("START", "2026-03-01T12:00:00Z"))

    run = await stored_run(metadb)
    assert run.status is ExecutionStatus.SUCCEEDED
    assert (run.started_at, run.stopped_at) == (
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 5, tzinfo=UTC),
    )


async def test_a_malformed_facet_stores_nothing(ingestor: LineageIngestor, metadb: MetaDB) -> None:
    payload = airflow_event("FAIL")
    payload["run"]["facets"]["errorMessage"] = {"message": 42, "programmingLanguage": "python"}

    with pytest.raises(InputError, match=r"^run.facets.errorMessage.message: "):
        await ingest(ingestor, payload)

    assert set((await row_counts(metadb)).values()) == {0}


async def test_an_event_failing_mid_way_stores_nothing(
    ingestor: LineageIngestor, metadb: MetaDB
) -> None:
    # This unversioned URI takes the id the event's versioned input would get.
    await LineageStore(metadb).upsert_datasets(
        [("s3://ml-features/churn/features.parquet@7", None, None)]
    )

    with pytest.raises(ConflictError):
        await ingest(ingestor, airflow_event())

    counts = await row_counts(metadb)
    assert counts == {"pipelines": 0, "executions": 0, "datasets": 1, "lineage_edges": 0}
