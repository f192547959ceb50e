"""Apollo Federation's ``_entities``: objects a router asks for by one of their keys.

Every ``Node`` type has ``@key(fields: "id")``; three have a natural key too,
which another subgraph can know without ever having seen mlmeta's ids:
``CatalogEntity`` by ``ref``, ``ModelVersion`` and ``PipelineExecution`` by
``arn``. Each representation goes through the same loaders and access rules as
``node(id)`` (``resolvers.node``), all in the same tick: a router's batch of 100
representations costs one call per source, and what a caller may not read is
null, as from ``node``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from resolvers.context import Info
from resolvers.ids import decode_id
from resolvers.node import resolve_key, resolve_node
from sources.errors import InputError

NATURAL_KEYS: dict[str, str] = {
    "CatalogEntity": "ref",
    "ModelVersion": "arn",
    "PipelineExecution": "arn",
}
"""Type -> the field of its natural key; its value is the key its global id wraps."""

MAX_REPRESENTATIONS = 1000
"""A router sends one representation per object of the other subgraph's answer; the
cost limit (``Query._entities`` is weighted per representation) bounds it first."""


async def resolve_entities(info: Info, representations: list[Any]) -> list[Any]:
    """One object (or null, or an error) per representation, in order."""
    if len(representations) > MAX_REPRESENTATIONS:
        raise InputError(
            f"_entities takes at most {MAX_REPRESENTATIONS} representations, "
            f"got {len(representations)}"
        )
    # A bad representation nulls only its own slot, as a bad id does in `nodes`.
    return await asyncio.gather(
        *(resolve_representation(info, r) for r in representations), return_exceptions=True
    )


async def resolve_representation(info: Info, representation: object) -> Any:
    if not isinstance(representation, Mapping):
        raise InputError("a representation is an object with __typename and a key")
    type_name = representation.get("__typename")
    global_id = representation.get("id")
    if isinstance(global_id, str):
        if decode_id(global_id)[0] != type_name:
            raise InputError(f"{global_id!r} is not an id of a {type_name}")
        return await resolve_node(info, global_id)
    field = NATURAL_KEYS.get(str(type_name))
    value = representation.get(field) if field else None
    if field is None or not isinstance(value, str):
        keys = ", ".join(["id", *([field] if field else [])])
        raise InputError(f"a {type_name} representation needs one of its keys: {keys}")
    found = await resolve_key(info, str(type_name), value)
    # A run pushed from outside has an id but no ARN: not one this key can name.
    return found if found is not None and getattr(found, field) is not None else None
