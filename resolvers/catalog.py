"""Catalog entities of the developer portal (the Backstage envelope, flattened)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from resolvers.context import Info
from resolvers.ids import encode_id
from sources.catalog.refs import entity_ref_of, parse_ref
from sources.errors import InputError


@strawberry.type(description="A key and its value (labels, annotations, parameters).")
class KeyValue:
    key: str
    value: str


def _pairs(mapping: object) -> list[KeyValue]:
    items = mapping.items() if isinstance(mapping, dict) else ()
    return [KeyValue(key=str(k), value=str(v)) for k, v in sorted(items)]


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@strawberry.type(
    description="An entity of the developer portal's software catalog (Backstage envelope)."
)
class CatalogEntity:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")
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
    spec: JSON | None = strawberry.field(description="The entity's spec, as in the catalog.")
    raw: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_entity(cls, raw: dict[str, Any]) -> CatalogEntity:
        meta = _dict(raw.get("metadata"))
        spec = _dict(raw.get("spec"))
        ref = str(entity_ref_of(raw))
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
            spec=JSON(spec) if spec else None,
            raw=raw,
        )

    @strawberry.field(description="One annotation's value, or null when the entity lacks it.")
    def annotation(self, key: str) -> str | None:
        return next((a.value for a in self.annotations if a.key == key), None)

    @strawberry.field(description="The owning group or user (spec.owner).")
    async def owner(self, info: Info) -> CatalogEntity | None:
        owner = _dict(self.raw.get("spec")).get("owner")
        if not isinstance(owner, str):
            return None
        try:
            ref = str(parse_ref(owner, default_kind="group"))
        except InputError:
            return None  # a malformed owner in the catalog is the catalog's problem
        return await load_entity(info, ref)


async def load_entity(info: Info, ref: str) -> CatalogEntity | None:
    entity = await info.context.loaders.entities_by_ref.load(ref)
    return CatalogEntity.from_entity(entity) if entity is not None else None
