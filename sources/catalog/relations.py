"""Relations computed from entity specs as Backstage's built-in processors do.

A folder catalog has no processing loop, so this emits what Backstage's
``BuiltinKindsEntityProcessor`` would: each spec field gives a relation and its
reverse on the target (ownedBy/ownerOf, partOf/hasPart, dependsOn/dependencyOf,
providesApi/apiProvidedBy, consumesApi/apiConsumedBy, memberOf/hasMember,
childOf/parentOf). Targets are canonical, lower-case refs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sources.catalog.model import Entity
from sources.catalog.refs import EntityRef, entity_ref_of, parse_ref
from sources.errors import InputError

# (kinds the rule applies to or None for any, spec field, default target kind,
#  relation on the source entity, reverse relation on the target)
_RULES: tuple[tuple[frozenset[str] | None, str, str | None, str, str], ...] = (
    (None, "owner", "group", "ownedBy", "ownerOf"),
    (frozenset({"component", "api", "resource"}), "system", "system", "partOf", "hasPart"),
    (frozenset({"system"}), "domain", "domain", "partOf", "hasPart"),
    (frozenset({"domain"}), "subdomainOf", "domain", "partOf", "hasPart"),
    (frozenset({"component"}), "subcomponentOf", "component", "partOf", "hasPart"),
    (frozenset({"component"}), "providesApis", "api", "providesApi", "apiProvidedBy"),
    (frozenset({"component"}), "consumesApis", "api", "consumesApi", "apiConsumedBy"),
    (frozenset({"component", "resource"}), "dependsOn", None, "dependsOn", "dependencyOf"),
    (frozenset({"component", "resource"}), "dependencyOf", None, "dependencyOf", "dependsOn"),
    (frozenset({"user"}), "memberOf", "group", "memberOf", "hasMember"),
    (frozenset({"group"}), "parent", "group", "childOf", "parentOf"),
    (frozenset({"group"}), "children", "group", "parentOf", "childOf"),
    (frozenset({"group"}), "members", "user", "hasMember", "memberOf"),
)


def _targets(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def compute_relations(entities: dict[EntityRef, Entity]) -> None:
    """Set ``relations`` on every entity (in place), both directions, de-duplicated."""
    found: dict[EntityRef, set[tuple[str, str]]] = defaultdict(set)
    for ref, entity in entities.items():
        spec = entity.get("spec")
        if not isinstance(spec, dict):
            continue
        for kinds, key, default_kind, relation, reverse in _RULES:
            if kinds is not None and ref.kind not in kinds:
                continue
            for raw in _targets(spec.get(key)):
                try:  # relative refs stay in the entity's namespace, as in Backstage
                    target = parse_ref(
                        raw, default_kind=default_kind, default_namespace=ref.namespace
                    )
                except InputError:
                    continue  # Backstage would report a processing error; we skip it
                found[ref].add((relation, str(target)))
                found[target].add((reverse, str(ref)))
    for ref, entity in entities.items():
        entity["relations"] = [
            {"type": rel_type, "targetRef": target} for rel_type, target in sorted(found[ref])
        ]


__all__ = ["compute_relations", "entity_ref_of"]
