"""Model version facts kept in the metadb, and the runs whose steps ran a given job."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from sources.metadb.db import MetaDB
from sources.metadb.models import ExecutionStep, ModelVersionFacts
from sources.models.model import VersionDetail


class ModelVersionStore:
    """Batch reads and writes of ``model_versions``: one statement per call."""

    name = "metadb"

    def __init__(self, metadb: MetaDB) -> None:
        self._metadb = metadb

    async def details(self, arns: Sequence[str]) -> list[VersionDetail | None]:
        """Stored facts in key order; None for a version never fetched."""
        if not arns:
            return []
        statement = select(ModelVersionFacts).where(col(ModelVersionFacts.arn).in_(set(arns)))
        async with self._metadb.session() as session:
            found = {row.arn: _detail(row) for row in await session.exec(statement)}
        return [found.get(arn) for arn in arns]

    async def save(self, details: Sequence[VersionDetail]) -> None:
        """Keep the facts; a version stored already keeps its first record."""
        if not details:
            return
        rows = [
            {
                "arn": d.arn,
                "group_name": d.group,
                "version": d.version,
                "created_at": d.created_at,
                "artifact_uri": d.artifact_uri,
                "generated_by": d.generated_by,
                "customer_metadata": dict(d.customer_metadata),
                "model_metrics": dict(d.model_metrics),
            }
            for d in {d.arn: d for d in details}.values()
        ]
        dialect = postgresql if self._metadb.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(ModelVersionFacts).values(rows)
        async with self._metadb.session() as session, session.begin():
            await session.exec(insert.on_conflict_do_nothing(index_elements=["arn"]))

    async def executions_by_job_arns(self, job_arns: Sequence[str]) -> list[str | None]:
        """For each job ARN, the stored run whose step ran it (the earliest, if several)."""
        if not job_arns:
            return []
        wanted = {arn.lower(): arn for arn in job_arns}
        statement = (
            select(ExecutionStep.resource_arn, ExecutionStep.execution_id)
            .where(col(ExecutionStep.resource_arn).in_(set(job_arns) | set(wanted)))
            .order_by(col(ExecutionStep.started_at))
        )
        found: dict[str, str] = {}
        async with self._metadb.session() as session:
            for resource_arn, execution_id in await session.exec(statement):
                if resource_arn is not None:
                    found.setdefault(resource_arn.lower(), execution_id)
        return [found.get(arn.lower()) for arn in job_arns]


def _detail(row: ModelVersionFacts) -> VersionDetail:
    return VersionDetail(
        arn=row.arn,
        group=row.group_name,
        version=row.version,
        created_at=row.created_at,
        artifact_uri=row.artifact_uri,
        customer_metadata={str(k): str(v) for k, v in row.customer_metadata.items()},
        generated_by=row.generated_by,
        model_metrics={str(k): str(v) for k, v in row.model_metrics.items()},
    )
