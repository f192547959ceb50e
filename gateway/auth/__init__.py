"""Identity: who is calling, verified once per request."""

from gateway.auth.principal import Principal, PrincipalKind

__all__ = ["Principal", "PrincipalKind"]
