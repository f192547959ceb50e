"""Logging metric points: the one write path behind logMetrics and the bulk endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.auth.principal import Principal
from resolvers.ids import decode_id
from sources.catalog.ownership import owns_entity
from sources.errors import InputError, NotAllowedError
from sources.metrics.model import LogResult, PointIn
from sources.pipelines.ids import origin_of

if TYPE_CHECKING:
    from gateway.resources import Resources


def execution_key(ref: str) -> str:
    """An execution's natural key from its global id or its ARN / external id."""
    if origin_of(ref) is not None:
        return ref
    type_name, key = decode_id(ref)
    if type_name != "PipelineExecution":
        raise InputError(f"{ref!r} is not the id of a PipelineExecution")
    return key


async def log_metrics(
    resources: Resources,
    principal: Principal,
    execution_ref: str,
    points: Sequence[PointIn],
    idempotency_key: str | None,
) -> LogResult:
    """Store points for a run. Needs a writing service token, or a user owning the
    pipeline's catalog entity. All or nothing: a bad point stores nothing."""
    execution_id = execution_key(execution_ref)
    if not principal.can_write and not principal.ownership_refs:
        raise NotAllowedError("logging metrics needs a service token allowed to write")
    pipeline = await resources.pipelines.ensure_stored(execution_id)
    if not principal.can_write and not (
        pipeline.entity_ref and await owns_entity(resources.catalog, principal, pipeline.entity_ref)
    ):
        raise NotAllowedError(
            "logging metrics needs a service token allowed to write, or a user who owns "
            "the pipeline's catalog entity"
        )
    return await resources.metrics.log_points(execution_id, points, idempotency_key)
