"""Entry points to models: by catalog ref, registry name or ARN, and a version by number."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry

from resolvers.context import Info
from resolvers.models import Model, ModelVersion, load_model, load_version, package_arn
from resolvers.pagination import PageInfo, check_first
from sources.catalog.refs import names_kind, ref_or_other_name


async def model_for_entity(info: Info, entity: dict[str, Any]) -> Model | None:
    """The model an entity claims by its annotation (README documents it)."""
    group = info.context.resources.claims.annotations.model_group_of(entity)
    return await load_model(info, group) if group else None


async def resolve_model(info: Info, ref: str) -> Model | None:
    """``model(ref:)``: a group ARN; else a catalog ref (kind ``resource`` implied); a bare
    name that is no claiming catalog resource is the registry's name of the group."""
    text = ref.strip()
    if text.startswith("arn:"):
        return await load_model(info, text)
    entity_ref = ref_or_other_name(text, default_kind="resource", field="model(ref:)")
    if entity_ref is not None:
        entity = await info.context.loaders.entities_by_ref.load(str(entity_ref))
        model = await model_for_entity(info, entity) if entity else None
        if model is not None or names_kind(text) or "/" in text:  # group names have no '/'
            return model
    return await load_model(info, text)


@strawberry.type
class ModelEdge:
    cursor: str
    node: Model


@strawberry.type(description="A page of models, as the registry lists them.")
class ModelConnection:
    edges: list[ModelEdge]
    page_info: PageInfo


@strawberry.type
class ModelQuery:
    @strawberry.field(
        description="A model, looked up in this order: a model package group ARN; a catalog "
        "ref '[kind:][namespace/]name' with kind resource implied (the ml-model entity's "
        "annotation names the group; a ref naming its kind looks only in the catalog); else "
        "the registry's name of the group. Null when unknown or not visible to you."
    )
    async def model(self, info: Info, ref: str) -> Model | None:
        return await resolve_model(info, ref)

    @strawberry.field(description="Registered models, in the registry's order.")
    async def models(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> ModelConnection | None:
        page = await info.context.loaders.models_page.load((check_first(first), after))
        next_token = page.next_token
        for model in page.items:
            info.context.loaders.models_by_key.prime(model.name, model)
        visible = await asyncio.gather(*(load_model(info, m.name) for m in page.items))
        edges = [
            ModelEdge(cursor=cursor, node=model)
            for model, cursor in zip(visible, page.item_cursors, strict=True)
            if model is not None
        ]
        return ModelConnection(
            edges=edges,
            page_info=PageInfo.forward(after, next_token),
        )

    @strawberry.field(
        description="A version by its model (as for model(ref:): ARN, catalog ref with kind "
        "resource implied, or registry name) and number."
    )
    async def model_version(self, info: Info, model: str, version: str) -> ModelVersion | None:
        found = await resolve_model(info, model)
        if found is None:
            return None
        return await load_version(info, package_arn(found.arn, version))
