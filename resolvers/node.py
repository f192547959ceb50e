"""Relay object identification: ``node(id)`` and ``nodes(ids)`` for every type.

Each type with a global id registers how to load it by its natural key; the
loaders batch, so ``nodes`` of 100 ids costs one call per source.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.types.unset import UNSET

from resolvers.context import Info
from resolvers.ids import decode_id
from sources.errors import InputError

NodeLoader = Callable[[Info, str], Awaitable[Any]]
_LOADERS: dict[str, NodeLoader] = {}
MAX_NODE_IDS = 100


@strawberry.interface(description="Anything with a stable, opaque global id.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global id, stable across replicas.")


def register_node(type_name: str, loader: NodeLoader) -> None:
    _LOADERS[type_name] = loader


def keys(*natural: str) -> list[object]:
    """Federation keys of a Node type: its ``id``, then any natural key a supergraph
    may join on (``ref``, ``arn``). ``_entities`` resolves each like ``node`` does."""
    return [Key(fields=field, resolvable=UNSET) for field in ("id", *natural)]  # type: ignore[arg-type]


async def resolve_node(info: Info, global_id: str) -> Any:
    type_name, key = decode_id(global_id)
    if type_name not in _LOADERS:
        raise InputError(f"{global_id!r} is not an id of this API")
    return await resolve_key(info, type_name, key)


async def resolve_key(info: Info, type_name: str, key: str) -> Any:
    """An object of ``type_name`` by the natural key its global id wraps, with the same
    access rules as ``node``; null when it does not exist or the caller may not see it."""
    loader = _LOADERS.get(type_name)
    if loader is None:
        raise InputError(f"{type_name!r} is not a type with ids in this API")
    return await loader(info, key)


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null when it no longer exists.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        result: Node | None = await resolve_node(info, id)
        return result

    @strawberry.field(
        description=f"Objects by global id, in order (at most {MAX_NODE_IDS}); "
        "null for each that does not exist."
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODE_IDS:
            raise InputError(f"nodes takes at most {MAX_NODE_IDS} ids, got {len(ids)}")
        # A bad id nulls only its own slot: graphql-core raises an Exception
        # item as that item's error, at path ["nodes", i].
        results = await asyncio.gather(
            *(resolve_node(info, i) for i in ids), return_exceptions=True
        )
        return list(results)  # type: ignore[arg-type]
