"""Every DataLoader of a request, built fresh for it (never shared across requests).

Named ``<target>_by_<key>``; each calls exactly one batch method of a source,
so the upstream calls of a query grow with its depth, not with its width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from gateway.auth.principal import Principal
from sources.catalog.model import Entity

if TYPE_CHECKING:
    from gateway.resources import Resources


@dataclass
class Loaders:
    entities_by_ref: DataLoader[str, Entity | None]

    @classmethod
    def build(cls, resources: Resources, principal: Principal) -> Loaders:
        catalog = resources.catalog

        async def load_entities(refs: list[str]) -> list[Entity | Exception | None]:
            return await catalog.entities_by_refs(refs, principal)

        return cls(entities_by_ref=DataLoader(load_fn=load_entities))
