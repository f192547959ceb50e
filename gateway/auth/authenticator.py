"""Turns the Authorization header into a Principal, once per request.

Two kinds of credential are accepted: static service tokens for automation
(compared by digest, in constant time) and the portal's own user tokens,
Backstage JWTs verified against its published keys. Every rejection raises
AuthenticationError with a message precise enough for the caller to fix
their request and safe to show them: no key material, URLs or token text.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx

from gateway.auth.jwks import KeySet, KeySetUnavailableError
from gateway.auth.ownership import OwnershipLookup, canonical_refs
from gateway.auth.principal import Principal, PrincipalKind
from gateway.config import ServiceToken, Settings
from sources.catalog.refs import parse_ref
from sources.errors import AuthenticationError, InputError

log = logging.getLogger(__name__)

USER_TOKEN_TYPES = frozenset({"vnd.backstage.user", "vnd.backstage.limited-user"})
# Clocks of the portal and the gateway drift; a token a few seconds "early"
# or "late" is not an attack.
LEEWAY_SECONDS = 30


@cache
def _claim_errors() -> dict[type[Exception], str]:
    # PyJWT (and cryptography, ~13 MB) is imported with the first user token: a
    # gateway that only ever sees service tokens never loads it.
    from jwt import exceptions as jwt_errors

    return {
        jwt_errors.ExpiredSignatureError: "Token has expired",
        jwt_errors.ImmatureSignatureError: "Token is not valid yet (iat or nbf is in the future)",
        jwt_errors.InvalidAudienceError: "Wrong token audience",
        jwt_errors.InvalidSubjectError: "Token subject (sub) is not an entity ref",
        jwt_errors.InvalidIssuerError: "Wrong token issuer",
        jwt_errors.InvalidSignatureError: "Bad token signature",
        jwt_errors.InvalidAlgorithmError: "Token algorithm does not match its signing key",
        jwt_errors.InvalidKeyError: "Token signing key is not usable",
    }


_MISSING_CLAIM_ERRORS = {
    "exp": "Token has no expiry (exp claim)",
    "sub": "Token has no subject (sub claim)",
    "aud": "Wrong token audience (no aud claim)",
    "iss": "Wrong token issuer (no iss claim)",
}


class Authenticator:
    """Verifies credentials; one per process, shared by all requests.

    It holds only caches of public data (signing keys) and of per-token
    ownership lookups keyed by the token's digest, never a principal.
    """

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._service_tokens: tuple[ServiceToken, ...] = settings.service_tokens
        # Symmetric algorithms would let anyone holding the (public) verification
        # key mint tokens, and "none" is no signature at all: never accepted,
        # whatever the settings say.
        self._algorithms = tuple(
            alg
            for alg in settings.jwt_algorithms
            if alg.upper() != "NONE" and not alg.upper().startswith("HS")
        )
        if len(self._algorithms) != len(settings.jwt_algorithms):
            log.warning("ignoring symmetric or 'none' entries in jwt_algorithms")
        self._keys = KeySet(settings.jwks_url, http, clock=clock) if settings.jwks_url else None
        self._ownership = OwnershipLookup(
            settings.userinfo_url, http, ttl_seconds=settings.ownership_cache_seconds, clock=clock
        )

    async def authenticate(self, authorization: str | None) -> Principal:
        """From the raw Authorization header value (None when absent).

        Raises AuthenticationError with a precise, safe message.
        """
        if authorization is None or not authorization.strip():
            if self._settings.allow_anonymous:
                return Principal.anonymous()
            raise AuthenticationError("Missing credentials")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise AuthenticationError("Malformed Authorization header: expected 'Bearer <token>'")
        service = self._service_token(token)
        if service is not None:
            return Principal(
                subject=service.name, kind=PrincipalKind.SERVICE, can_write=service.can_write
            )
        claims = await self._verify_user_token(token)
        subject = self._subject(claims)
        ent = claims.get("ent")
        if ent is None:
            refs = await self._ownership.refs(token, subject)
        elif isinstance(ent, list):
            refs = canonical_refs(subject, ent)
        else:
            raise AuthenticationError("Malformed token: the ent claim is not a list")
        return Principal(subject=subject, kind=PrincipalKind.USER, ownership_refs=refs, token=token)

    def _service_token(self, token: str) -> ServiceToken | None:
        """The matching service token; every entry is compared so timing reveals nothing."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        found: ServiceToken | None = None
        for candidate in self._service_tokens:
            if hmac.compare_digest(digest, candidate.sha256) and found is None:
                found = candidate
        return found

    async def _verify_user_token(self, token: str) -> dict[str, Any]:
        """The verified claims of a Backstage user token."""
        if token.count(".") != 2:
            raise AuthenticationError("Malformed token: neither a known service token nor a JWT")
        import jwt
        from jwt import exceptions as jwt_errors

        try:
            header = jwt.get_unverified_header(token)
        except jwt_errors.PyJWTError as exc:
            raise AuthenticationError("Malformed token: the header cannot be decoded") from exc
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise AuthenticationError(f"Token algorithm {str(algorithm)[:16]!r} is not accepted")
        if header.get("typ") not in USER_TOKEN_TYPES:
            raise AuthenticationError("Wrong token type: expected a Backstage user token")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("Malformed token: the header has no key id (kid)")
        if self._keys is None:
            raise AuthenticationError(
                "User tokens are not accepted: the gateway has no JWKS URL configured"
            )
        try:
            key = await self._keys.get(kid)
        except KeySetUnavailableError:
            raise AuthenticationError(
                "The portal's signing key set cannot be fetched; try again later"
            ) from None
        if key is None:
            raise AuthenticationError("Token is signed by an unknown key")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer or None,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub"], "enforce_minimum_key_length": True},
            )
        except jwt_errors.MissingRequiredClaimError as exc:
            message = _MISSING_CLAIM_ERRORS.get(exc.claim, "Malformed token: a claim is missing")
            raise AuthenticationError(message) from exc
        except jwt_errors.PyJWTError as exc:
            message = next(
                (m for kind, m in _claim_errors().items() if isinstance(exc, kind)),
                "Malformed token: the claims cannot be decoded",
            )
            raise AuthenticationError(message) from exc

    @staticmethod
    def _subject(claims: dict[str, Any]) -> str:
        """The canonical (lower-case) entity ref of the user."""
        sub = claims["sub"]
        try:
            if not isinstance(sub, str):
                raise InputError("sub is not a string")
            return str(parse_ref(sub))
        except InputError:
            raise AuthenticationError("Token subject (sub) is not an entity ref") from None
