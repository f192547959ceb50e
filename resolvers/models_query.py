"""Entry points to models: by catalog ref, registry name or ARN, and a version by number."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry

from resolvers.context import Info
from resolvers.models import Model, ModelVersion, load_model, load_version, package_arn
from resolvers.pagination import PageInfo, check_first
from sources.catalog.annotations import MODEL_PACKAGE_GROUP, first_annotation
from sources.catalog.refs import parse_ref


async def model_for_entity(info: Info, entity: dict[str, Any]) -> Model | None:
    """The model an entity claims by its annotation (README documents it)."""
    group = first_annotation(entity, MODEL_PACKAGE_GROUP)
    return await load_model(info, group) if group else None


async def resolve_model(info: Info, ref: str) -> Model | None:
    if ":" in ref and not ref.startswith("arn:"):
        entity = await info.context.loaders.entities_by_ref.load(str(parse_ref(ref)))
        return await model_for_entity(info, entity) if entity else None
    return await load_model(info, ref)


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
        description="A model by catalog ref (an ml-model entity), registry name "
        "(model package group) or group ARN; null when unknown or not visible to you."
    )
    async def model(self, info: Info, ref: str) -> Model | None:
        return await resolve_model(info, ref)

    @strawberry.field(description="Registered models, in the registry's order.")
    async def models(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> ModelConnection:
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
        description="A version by its model (catalog ref, registry name or ARN) and number."
    )
    async def model_version(self, info: Info, model: str, version: str) -> ModelVersion | None:
        found = await resolve_model(info, model)
        if found is None:
            return None
        return await load_version(info, package_arn(found.arn, version))
