"""The calling principal, as every resolver and source sees it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PrincipalKind(enum.Enum):
    USER = "USER"
    SERVICE = "SERVICE"
    ANONYMOUS = "ANONYMOUS"


@dataclass(frozen=True)
class Principal:
    """Who is asking.

    ``token`` is the user's own bearer token, kept only to forward it to the
    catalog so the portal's permission policies keep applying; it is never
    logged and never set for service or anonymous principals.
    """

    subject: str
    kind: PrincipalKind
    ownership_refs: tuple[str, ...] = ()
    token: str | None = None
    can_write: bool = False

    def __repr__(self) -> str:  # keep the token out of logs and tracebacks
        return f"Principal(subject={self.subject!r}, kind={self.kind.value})"

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(subject="anonymous", kind=PrincipalKind.ANONYMOUS)

    def owns(self, entity_ref: str) -> bool:
        return entity_ref.lower() in {r.lower() for r in self.ownership_refs}
