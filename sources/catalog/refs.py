"""Entity refs as Backstage writes them: ``[kind:][namespace/]name``, case-insensitive.

One parser, with Backstage's own rule (``parseEntityRef`` in
``@backstage/catalog-model``): a part the ref leaves out comes from the
context. Inside an entity that context is the entity itself: its relative
``spec.owner: ml-team`` means ``group:<the entity's namespace>/ml-team``, which
is how the catalog's processors compute ``relations``. In a GraphQL argument
the field says which kind it implies; the namespace is ``default``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sources.errors import InputError

DEFAULT_NAMESPACE = "default"
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True, order=True)
class EntityRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"


def parse_ref(
    ref: str,
    *,
    default_kind: str | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
    field: str | None = None,
) -> EntityRef:
    """Parse and canonicalise (lower case) a ref, filling left-out parts from the context.

    Without ``default_kind`` a ref must name its kind. ``field`` names the
    GraphQL argument in the error, so the caller learns what to write.
    """
    text = ref.strip()
    colon, slash = text.find(":"), text.find("/")
    if not names_kind(text):  # 'ns/na:me': Backstage reads no kind here
        colon = -1
    kind = text[:colon] if colon != -1 else default_kind
    namespace = text[colon + 1 : slash] if slash != -1 else default_namespace
    name = text[max(colon + 1, slash + 1) :]
    if not kind:
        where = f"{field} implies no kind" if field else "it has no kind"
        raise InputError(
            f"entity ref {ref!r} names no kind and {where}: write 'kind:[namespace/]name', "
            f"e.g. 'component:{text}'"
        )
    for part, label in ((kind, "kind"), (namespace, "namespace"), (name, "name")):
        if not _PART.match(part):
            raise InputError(f"entity ref {ref!r} has an invalid {label} {part!r}")
    return EntityRef(kind.lower(), namespace.lower(), name.lower())


def names_kind(ref: str) -> bool:
    """Whether ``ref`` spells out its kind (``kind:[namespace/]name``), as Backstage reads it."""
    colon, slash = ref.find(":"), ref.find("/")
    return colon != -1 and (slash == -1 or colon < slash)


def ref_or_other_name(ref: str, *, default_kind: str, field: str) -> EntityRef | None:
    """For arguments that take a catalog ref or a name from elsewhere (a pushed pipeline,
    a registry model): the catalog ref, or None when ``ref`` cannot be one. A ref that
    names its kind is a catalog ref, so a malformed one is still an InputError."""
    try:
        return parse_ref(ref, default_kind=default_kind, field=field)
    except InputError:
        if names_kind(ref.strip()):
            raise
        return None


def entity_ref_of(entity: dict[str, object]) -> EntityRef:
    """The canonical ref of an entity envelope."""
    metadata = entity.get("metadata")
    meta = metadata if isinstance(metadata, dict) else {}
    return EntityRef(
        str(entity.get("kind", "")).lower(),
        str(meta.get("namespace") or DEFAULT_NAMESPACE).lower(),
        str(meta.get("name", "")).lower(),
    )


def ref_in_entity(entity: dict[str, object], ref: object, default_kind: str | None) -> str | None:
    """The canonical ref a value inside ``entity`` (``spec.owner``, ``spec.system``) points at.

    Relative refs resolve in the entity's own namespace, as Backstage resolves
    them; None for a missing or malformed value (the catalog's problem, not
    the caller's).
    """
    if not isinstance(ref, str) or not ref.strip():
        return None
    try:
        return str(
            parse_ref(
                ref,
                default_kind=default_kind,
                default_namespace=entity_ref_of(entity).namespace,
            )
        )
    except InputError:
        return None


def owner_of(entity: dict[str, object]) -> str | None:
    """The canonical ref of an entity's ``spec.owner``: a group in the entity's namespace
    unless the ref says otherwise."""
    spec = entity.get("spec")
    return ref_in_entity(entity, spec.get("owner") if isinstance(spec, dict) else None, "group")
