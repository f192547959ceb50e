"""Catalog entities of the developer portal (the Backstage envelope, flattened)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from gateway.partial_results import report
from resolvers.context import Info
from resolvers.ids import encode_id
from resolvers.node import Node, keys, register_node
from resolvers.pagination import PageInfo, check_first, check_list
from sources.catalog.model import EntityFilter as SourceFilter
from sources.catalog.model import EntityQuery
from sources.catalog.refs import entity_ref_of, parse_ref, ref_in_entity
from sources.errors import InputError

if TYPE_CHECKING:
    from resolvers.models import Model
    from resolvers.pipelines import Pipeline

_FACET = re.compile(r"^[A-Za-z0-9_.\-/]{1,100}$")


@strawberry.type(description="A key and its value (labels, annotations, parameters).")
class KeyValue:
    key: str
    value: str


@strawberry.type(description="A link of an entity (metadata.links).")
class EntityLink:
    url: str
    title: str | None
    icon: str | None


@strawberry.type(description="A relation from an entity to another, as the catalog computed it.")
class EntityRelation:
    type: str = strawberry.field(description="'ownedBy', 'partOf', 'dependsOn', ...")
    target_ref: str = strawberry.field(description="Canonical ref of the other entity.")

    @strawberry.field(description="The other entity; resolved in one batch for the whole response.")
    async def target(self, info: Info) -> CatalogEntity | None:
        return await load_entity(info, self.target_ref)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _pairs(mapping: object) -> list[KeyValue]:
    return [KeyValue(key=str(k), value=str(v)) for k, v in sorted(_dict(mapping).items())]


@strawberry.type(
    description="An entity of the developer portal's software catalog (Backstage envelope).",
    directives=keys("ref"),
)
class CatalogEntity(Node):
    ref: str = strawberry.field(
        description="Canonical entity ref, lower-case: 'component:default/churn-model'."
    )
    kind: str = strawberry.field(description="Kind as written in the catalog, e.g. 'Component'.")
    namespace: str = strawberry.field(description="metadata.namespace ('default' unless set).")
    name: str = strawberry.field(description="metadata.name")
    title: str | None = strawberry.field(description="metadata.title, a display name.")
    description: str | None = strawberry.field(description="metadata.description")
    spec_type: str | None = strawberry.field(
        description="spec.type, e.g. 'ml-pipeline', 'ml-model', 'dataset'."
    )
    lifecycle: str | None = strawberry.field(description="spec.lifecycle, e.g. 'production'.")
    tags: list[str] = strawberry.field(description="metadata.tags")
    labels: list[KeyValue] = strawberry.field(description="metadata.labels")
    annotations: list[KeyValue] = strawberry.field(description="metadata.annotations")
    links: list[EntityLink] = strawberry.field(description="metadata.links")
    spec: JSON | None = strawberry.field(description="The entity's spec, as in the catalog.")
    raw: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_entity(cls, raw: dict[str, Any]) -> CatalogEntity:
        meta = _dict(raw.get("metadata"))
        spec = _dict(raw.get("spec"))
        ref = str(entity_ref_of(raw))
        links = [_dict(link) for link in meta.get("links") or []]
        return cls(
            id=strawberry.ID(encode_id("CatalogEntity", ref)),
            ref=ref,
            kind=str(raw.get("kind", "")),
            namespace=str(meta.get("namespace") or "default"),
            name=str(meta.get("name", "")),
            title=_text(meta.get("title")),
            description=_text(meta.get("description")),
            spec_type=_text(spec.get("type")),
            lifecycle=_text(spec.get("lifecycle")),
            tags=[str(t) for t in meta.get("tags") or []],
            labels=_pairs(meta.get("labels")),
            annotations=_pairs(meta.get("annotations")),
            links=[
                EntityLink(
                    url=str(k["url"]), title=_text(k.get("title")), icon=_text(k.get("icon"))
                )
                for k in links
                if "url" in k
            ],
            spec=JSON(spec) if spec else None,
            raw=raw,
        )

    @strawberry.field(description="One annotation's value, or null when the entity lacks it.")
    def annotation(self, key: str) -> str | None:
        return next((a.value for a in self.annotations if a.key == key), None)

    @strawberry.field(description="Relations to other entities, optionally of one type only.")
    def relations(self, type: str | None = None) -> list[EntityRelation]:
        wanted = type.lower() if type else None
        out = []
        for relation in self.raw.get("relations") or []:
            rel_type = str(relation.get("type", ""))
            target = ref_in_entity(self.raw, relation.get("targetRef"), None)
            if target is not None and (wanted is None or rel_type.lower() == wanted):
                out.append(EntityRelation(type=rel_type, target_ref=target))
        return out

    @strawberry.field(
        description="The owning group or user (spec.owner; a ref without kind is a group, "
        "one without namespace is in this entity's namespace, as in Backstage)."
    )
    async def owner(self, info: Info) -> CatalogEntity | None:
        ref = ref_in_entity(self.raw, _dict(self.raw.get("spec")).get("owner"), "group")
        return await load_entity(info, ref) if ref else None

    @strawberry.field(
        description="Set when the entity is linked to an ML pipeline by its annotations."
    )
    async def pipeline(
        self, info: Info
    ) -> Annotated[Pipeline, strawberry.lazy("resolvers.pipelines")] | None:
        from resolvers.pipelines_query import pipeline_for_entity

        return await pipeline_for_entity(info, self.raw)

    @strawberry.field(
        description="Set when the entity claims a registered model by its annotations."
    )
    async def model(
        self, info: Info
    ) -> Annotated[Model, strawberry.lazy("resolvers.models")] | None:
        from resolvers.models_query import model_for_entity

        return await model_for_entity(info, self.raw)

    @strawberry.field(
        description="The system the entity is part of (spec.system; resolved in this "
        "entity's namespace unless the ref names one)."
    )
    async def system(self, info: Info) -> CatalogEntity | None:
        ref = ref_in_entity(self.raw, _dict(self.raw.get("spec")).get("system"), "system")
        return await load_entity(info, ref) if ref else None


async def load_entity(info: Info, ref: str) -> CatalogEntity | None:
    entity = await info.context.loaders.entities_by_ref.load(ref)
    return CatalogEntity.from_entity(entity) if entity is not None else None


async def _entity_node(info: Info, key: str) -> CatalogEntity | None:
    return await load_entity(info, key)


register_node("CatalogEntity", _entity_node)


@strawberry.input(description="Conditions on entities: AND across fields, OR within a list.")
class EntityFilter:
    kind: list[str] | None = strawberry.field(
        default=None, description="Kinds, e.g. ['Component']."
    )
    spec_type: list[str] | None = strawberry.field(
        default=None, description="spec.type values, e.g. ['ml-pipeline']."
    )
    owner: str | None = strawberry.field(
        default=None,
        description="Ref of the owning group or user; the kind defaults to group and the "
        "namespace to default: 'ml-platform' is 'group:default/ml-platform'.",
    )
    tag: str | None = None
    text: str | None = strawberry.field(
        default=None, description="Full text over name, title and description."
    )

    def to_source(self) -> SourceFilter:
        owner = (
            str(parse_ref(self.owner, default_kind="group", field="filter.owner"))
            if self.owner
            else None
        )
        return SourceFilter(
            kinds=check_list("kind", self.kind),
            spec_types=check_list("specType", self.spec_type),
            owners=(owner,) if owner else (),
            tag=self.tag,
            text=self.text,
        )


@strawberry.type
class CatalogEntityEdge:
    cursor: str
    node: CatalogEntity


@strawberry.type(description="A page of catalog entities.")
class CatalogEntityConnection:
    edges: list[CatalogEntityEdge]
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        description="Matching entities in all pages, where the catalog knows it."
    )


async def entity_connection(
    info: Info, source_filter: SourceFilter, first: int, after: str | None
) -> CatalogEntityConnection:
    catalog = info.context.resources.catalog
    query = EntityQuery(filter=source_filter, limit=check_first(first), cursor=after)
    page = await catalog.query_entities(query, info.context.principal)
    if page.incomplete is not None:  # part of the catalog failed: the rest still answers
        report(info, page.incomplete)
    loader = info.context.loaders.entities_by_ref
    edges = []
    for entity, cursor in zip(page.items, page.item_cursors, strict=True):
        node = CatalogEntity.from_entity(entity)
        loader.prime(node.ref, entity)  # later lookups of the same ref cost nothing
        edges.append(CatalogEntityEdge(cursor=cursor, node=node))
    return CatalogEntityConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.next_cursor is not None,
            has_previous_page=after is not None,
            start_cursor=after,
            end_cursor=page.item_cursors[-1] if page.item_cursors else after,
        ),
        total_count=page.total,
    )


@strawberry.type(description="How many entities have one value of a facet.")
class FacetCount:
    value: str
    count: int


@strawberry.type
class CatalogQuery:
    @strawberry.field(
        description="An entity by ref, '[kind:][namespace/]name', case-insensitive "
        "('component:churn-model' is 'component:default/churn-model'). No kind is implied: a "
        "ref without one is an InputError. Null when the catalog has no such entity or the "
        "caller may not see it."
    )
    async def entity(self, info: Info, ref: str) -> CatalogEntity | None:
        return await load_entity(info, str(parse_ref(ref, field="entity(ref:)")))

    @strawberry.field(description="Entities matching a filter, ordered by name.")
    async def entities(
        self,
        info: Info,
        filter: EntityFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> CatalogEntityConnection | None:
        source_filter = filter.to_source() if filter else SourceFilter()
        return await entity_connection(info, source_filter, first, after)

    @strawberry.field(description="Counts per value of a field, e.g. facet: 'spec.type'.")
    async def entity_facets(
        self, info: Info, facet: str, filter: EntityFilter | None = None
    ) -> list[FacetCount] | None:
        if not _FACET.match(facet):
            raise InputError(f"{facet!r} is not a field path like 'spec.type'")
        source_filter = filter.to_source() if filter else SourceFilter()
        counts = await info.context.resources.catalog.facets(
            facet, source_filter, info.context.principal
        )
        return [FacetCount(value=v, count=c) for v, c in counts]
