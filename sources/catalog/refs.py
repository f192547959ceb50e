"""Entity refs as Backstage writes them: ``[kind:][namespace/]name``, case-insensitive."""

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


def parse_ref(ref: str, default_kind: str | None = None) -> EntityRef:
    """Parse and canonicalise (lower-case, namespace ``default``) a ref.

    ``default_kind`` applies where Backstage defaults one from context (an
    owner is a group); without it a ref must name its kind.
    """
    text = ref.strip()
    kind: str | None = default_kind
    if ":" in text:
        kind, text = text.split(":", 1)
    namespace = DEFAULT_NAMESPACE
    if "/" in text:
        namespace, text = text.split("/", 1)
    if not kind:
        raise InputError(f"entity ref {ref!r} has no kind (expected 'kind:namespace/name')")
    for part, label in ((kind, "kind"), (namespace, "namespace"), (text, "name")):
        if not _PART.match(part):
            raise InputError(f"entity ref {ref!r} has an invalid {label} {part!r}")
    return EntityRef(kind.lower(), namespace.lower(), text.lower())


def entity_ref_of(entity: dict[str, object]) -> EntityRef:
    """The canonical ref of an entity envelope."""
    metadata = entity.get("metadata")
    meta = metadata if isinstance(metadata, dict) else {}
    return EntityRef(
        str(entity.get("kind", "")).lower(),
        str(meta.get("namespace") or DEFAULT_NAMESPACE).lower(),
        str(meta.get("name", "")).lower(),
    )


def owner_of(entity: dict[str, object]) -> str | None:
    """The canonical ref of an entity's ``spec.owner`` (a group unless it names a kind)."""
    spec = entity.get("spec")
    owner = spec.get("owner") if isinstance(spec, dict) else None
    if not isinstance(owner, str) or not owner:
        return None
    try:
        return str(parse_ref(owner, default_kind="group"))
    except InputError:
        return None
