"""Which catalog entity claims each ML object, read once for everyone and cached.

An entity claims a model (``ml-model`` with a model package group annotation),
a dataset (``dataset`` with a URI prefix) or a pipeline (``ml-pipeline`` with a
state machine or SageMaker pipeline annotation). Reaching the object any other
way (by ARN, by ``node(id)``, from a run) must still lead back to that entity,
whose visibility then decides who may read the object. The index is read with
no user's token (principal-free) and shared by all requests for ``ttl``
seconds: it holds refs and owners only, never anything a user could not
already learn from the entity they are allowed to see.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.auth.principal import Principal, PrincipalKind
from sources.catalog.annotations import (
    SPEC_TYPE_DATASET,
    SPEC_TYPE_MODEL,
    SPEC_TYPE_PIPELINE,
    AnnotationKeys,
)
from sources.catalog.model import CatalogSource, Entity, EntityFilter, EntityQuery
from sources.catalog.refs import entity_ref_of, owner_of
from sources.errors import InputError, UpstreamError
from sources.models.model import group_name
from sources.pipelines.ids import Origin, claim_key, origin_of
from sources.resilience.stale import serve_stale
from sources.telemetry import cache_lookup

CATALOG_PRINCIPAL = Principal(subject="mlmeta", kind=PrincipalKind.SERVICE)
MAX_INDEXED_ENTITIES = 1000
INDEX_PAGE = 100


@dataclass(frozen=True)
class EntityClaim:
    """The catalog entity that claims an object, and its owner."""

    ref: str
    owner: str | None
    depends_on: tuple[str, ...] = ()
    """Refs the entity depends on (its ``dependsOn`` relations): the pipeline training it."""


@dataclass
class CatalogClaims:
    """Claims by model group name, dataset URI prefix and pipeline (``claim_key``)."""

    models: dict[str, EntityClaim] = field(default_factory=dict)
    datasets: dict[str, EntityClaim] = field(default_factory=dict)
    pipelines: dict[str, EntityClaim] = field(default_factory=dict)

    def add(self, entity: Entity, keys: AnnotationKeys) -> None:
        """Index what ``entity`` claims; the first entity to claim an object keeps it."""
        claim = EntityClaim(str(entity_ref_of(entity)), owner_of(entity), _depends_on(entity))
        spec = entity.get("spec")
        spec_type = str(spec.get("type", "")).lower() if isinstance(spec, dict) else ""
        if spec_type == SPEC_TYPE_PIPELINE:
            if (pipeline := keys.pipeline_of(entity)) is not None:
                self.pipelines.setdefault(claim_key(pipeline), claim)
        elif (uri := keys.dataset_uri_of(entity)) is not None:
            self.datasets.setdefault(uri, claim)
        elif (claimed := keys.model_group_of(entity)) is not None:
            with contextlib.suppress(InputError):  # an annotation naming no group claims nothing
                self.models.setdefault(group_name(claimed), claim)


class ClaimsIndex:
    """The ``CatalogClaims`` of the whole catalog, re-read at most every ``ttl`` seconds."""

    def __init__(
        self,
        catalog: CatalogSource,
        annotations: AnnotationKeys | None = None,
        *,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_stale_seconds: float = 0.0,
    ) -> None:
        """``max_stale_seconds``: how old the index may be when it is served because
        re-reading the catalog failed (0: never served stale)."""
        self.annotations = annotations or AnnotationKeys()
        self._catalog = catalog
        self._ttl = ttl
        self._clock = clock
        self._max_stale = max_stale_seconds
        self._index: tuple[float, CatalogClaims] | None = None
        self._lock = asyncio.Lock()

    async def claims(self) -> CatalogClaims:
        now = self._clock()
        fresh = self._index is not None and self._index[0] > now
        cache_lookup("catalog_claims", fresh)
        if fresh:
            return self._index[1]  # type: ignore[index]
        async with self._lock:  # one reader refreshes; the others wait for its answer
            if self._index is not None and self._index[0] > self._clock():
                return self._index[1]
            try:
                index = await self._read()
            except UpstreamError as error:
                if self._index is None:
                    raise
                age = self._clock() - (self._index[0] - self._ttl)
                return serve_stale(error, "catalog", self._index[1], age, self._max_stale)
            self._index = (self._clock() + self._ttl, index)
            return index

    async def pipeline_entities(self, pipeline_ids: Sequence[str]) -> list[EntityClaim | None]:
        """For each pipeline id (ARN, ``sagemaker-name:``, ``external:``), its claiming entity.

        Annotations link only AWS pipelines, so a batch of pushed ones reads nothing.
        """
        if all(origin_of(p) in (None, Origin.EXTERNAL) for p in pipeline_ids):
            return [None] * len(pipeline_ids)
        pipelines = (await self.claims()).pipelines
        return [pipelines.get(claim_key(p)) for p in pipeline_ids]

    async def _read(self) -> CatalogClaims:
        index = CatalogClaims()
        cursor: str | None = None
        wanted = EntityFilter(spec_types=(SPEC_TYPE_MODEL, SPEC_TYPE_DATASET, SPEC_TYPE_PIPELINE))
        for _ in range(MAX_INDEXED_ENTITIES // INDEX_PAGE):
            page = await self._catalog.query_entities(
                EntityQuery(filter=wanted, limit=INDEX_PAGE, cursor=cursor), CATALOG_PRINCIPAL
            )
            if page.incomplete is not None:
                # An index missing claims would unlink models and pipelines silently:
                # the last complete one is served (stale) instead, or the failure.
                raise page.incomplete
            for entity in page.items:
                index.add(entity, self.annotations)
            cursor = page.next_cursor
            if cursor is None:
                break
        return index


def _depends_on(entity: Entity) -> tuple[str, ...]:
    refs = []
    for relation in entity.get("relations") or []:
        if isinstance(relation, dict) and relation.get("type") == "dependsOn":
            target = relation.get("targetRef")
            if isinstance(target, str):
                refs.append(target.lower())
    return tuple(refs)
