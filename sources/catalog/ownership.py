"""Whether a principal owns a catalog entity: it is the entity, or it is (a member of) its owner."""

from __future__ import annotations

from gateway.auth.principal import Principal
from sources.catalog.model import CatalogSource, Entity
from sources.catalog.refs import owner_of


def owns(principal: Principal, ref: str, entity: Entity | None) -> bool:
    """``entity`` is what the catalog shows ``principal`` for ``ref`` (None: nothing)."""
    return owns_with_owner(principal, ref, owner_of(entity) if entity is not None else None)


def owns_with_owner(principal: Principal, ref: str, owner: str | None) -> bool:
    """Whether ``principal`` is the entity ``ref`` or (a member of) its ``owner``."""
    return principal.owns(ref) or (owner is not None and principal.owns(owner))


async def owns_entity(catalog: CatalogSource, principal: Principal, ref: str) -> bool:
    """``owns``, reading the entity from the catalog with the principal's own access."""
    found = await catalog.entities_by_refs([ref], principal)
    entity = found[0] if found and isinstance(found[0], dict) else None
    return owns(principal, ref, entity)
