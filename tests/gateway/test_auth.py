"""The Authenticator against real tokens, real keys and a real (local) portal.

Tokens are minted with freshly generated EC and RSA keys; the fake portal
publishes the public halves as a JWKS and answers userinfo, counting both so
the tests can hold the caching and rate-limiting promises to numbers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.auth.authenticator import Authenticator
from gateway.auth.principal import Principal, PrincipalKind
from gateway.config import ServiceToken, Settings
from sources.errors import AuthenticationError
from tests.support.http_server import serve_app

ISSUER = "http://portal.test/api/auth"
USER = "user:default/Alice"
CI_TOKEN = "ci-token-0123456789abcdef"
DEPLOYER_TOKEN = "deployer-token-0123456789abcdef"
NOT_A_JWT = "Malformed token: neither a known service token nor a JWT"


@dataclass
class SigningKey:
    kid: str
    private: Any
    algorithm: str

    def public_jwk(self) -> dict[str, Any]:
        to_jwk = ECAlgorithm.to_jwk if self.algorithm == "ES256" else RSAAlgorithm.to_jwk
        jwk = to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")


def mint(
    key: SigningKey,
    *,
    kid: str | None = None,
    typ: str = "vnd.backstage.user",
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A Backstage-shaped user token; ``claims`` override, ``drop`` removes."""
    now = int(time.time())
    payload = {"iss": ISSUER, "sub": USER, "aud": "backstage", "iat": now, "exp": now + 3600}
    payload.update(claims)
    for name in drop:
        payload.pop(name)
    headers = {"kid": kid or key.kid, "typ": typ}
    return jwt.encode(payload, key.private, algorithm=key.algorithm, headers=headers)


def b64url(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class FakePortal:
    """The auth endpoints of a Backstage backend, with request counters."""

    keys: list[SigningKey] = field(default_factory=list)
    ent: list[str] = field(default_factory=lambda: ["group:default/ML-Team"])
    jwks_status: int = 200
    userinfo_status: int = 200
    jwks_hits: int = 0
    userinfo_tokens: list[str] = field(default_factory=list)

    def reset(self, keys: list[SigningKey]) -> None:
        """Back to a healthy portal publishing ``keys``; the server is shared per module."""
        self.keys = list(keys)
        self.ent = ["group:default/ML-Team"]
        self.jwks_status = self.userinfo_status = 200
        self.jwks_hits = 0
        self.userinfo_tokens = []

    def app(self) -> Starlette:
        async def jwks(_: Request) -> JSONResponse:
            self.jwks_hits += 1
            body = {"keys": [k.public_jwk() for k in self.keys]}
            return JSONResponse(body, status_code=self.jwks_status)

        async def userinfo(request: Request) -> JSONResponse:
            self.userinfo_tokens.append(request.headers["authorization"].removeprefix("Bearer "))
            if self.userinfo_status != 200:
                return JSONResponse({"error": {"name": "Error"}}, self.userinfo_status)
            return JSONResponse({"claims": {"sub": USER, "ent": self.ent}})

        return Starlette(
            routes=[
                Route("/api/auth/.well-known/jwks.json", jwks),
                Route("/api/auth/v1/userinfo", userinfo),
            ]
        )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def es_key() -> SigningKey:
    return ec_key("es-1")


@pytest.fixture(scope="module")
def rs_key() -> SigningKey:
    return SigningKey(
        "rs-1", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"
    )


@pytest.fixture(scope="module")
def served_portal() -> Iterator[tuple[FakePortal, str]]:
    portal = FakePortal()
    with serve_app(portal.app()) as base_url:
        yield portal, base_url


@pytest.fixture
def portal(
    served_portal: tuple[FakePortal, str], es_key: SigningKey, rs_key: SigningKey
) -> FakePortal:
    served_portal[0].reset([es_key, rs_key])
    return served_portal[0]


@pytest.fixture
def settings(served_portal: tuple[FakePortal, str]) -> Settings:
    base_url = served_portal[1]
    return Settings(
        jwks_url=f"{base_url}/api/auth/.well-known/jwks.json",
        userinfo_url=f"{base_url}/api/auth/v1/userinfo",
        jwt_issuer=ISSUER,
        ownership_cache_seconds=60.0,
        service_tokens=(
            ServiceToken.parse(f"ci:token:{CI_TOKEN}"),
            ServiceToken.parse(f"deployer:token:{DEPLOYER_TOKEN}:write"),
        ),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def auth(
    settings: Settings, http: httpx.AsyncClient, clock: FakeClock, portal: FakePortal
) -> Authenticator:
    return Authenticator(settings, http, clock=clock)


async def rejected(auth: Authenticator, header: str | None) -> str:
    """The message of the AuthenticationError that ``header`` must cause."""
    with pytest.raises(AuthenticationError) as caught:
        await auth.authenticate(header)
    return caught.value.message


# --- accepted credentials ---------------------------------------------------


async def test_user_token_with_ent_gives_user_with_canonical_refs(
    auth: Authenticator, portal: FakePortal, es_key: SigningKey
) -> None:
    token = mint(es_key, ent=["user:default/Alice", "Group:Default/ML-Team"])
    principal = await auth.authenticate(f"Bearer {token}")
    assert principal == Principal(
        subject="user:default/alice",
        kind=PrincipalKind.USER,
        ownership_refs=("user:default/alice", "group:default/ml-team"),
        token=token,
        can_write=False,
    )
    assert portal.userinfo_tokens == []


async def test_user_token_without_ent_asks_userinfo_with_the_same_token(
    auth: Authenticator, portal: FakePortal, es_key: SigningKey
) -> None:
    token = mint(es_key)
    principal = await auth.authenticate(f"Bearer {token}")
    assert principal.ownership_refs == ("user:default/alice", "group:default/ml-team")
    assert portal.userinfo_tokens == [token]


async def test_userinfo_answer_is_cached_per_token(
    auth: Authenticator, portal: FakePortal, es_key: SigningKey
) -> None:
    token = mint(es_key)
    first = await auth.authenticate(f"Bearer {token}")
    second = await auth.authenticate(f"Bearer {token}")
    assert second.ownership_refs == first.ownership_refs
    assert len(portal.userinfo_tokens) == 1


async def test_userinfo_cache_expires_after_ownership_cache_seconds(
    auth: Authenticator, portal: FakePortal, es_key: SigningKey, clock: FakeClock
) -> None:
    token = mint(es_key)
    await auth.authenticate(f"Bearer {token}")
    clock.advance(61)
    await auth.authenticate(f"Bearer {token}")
    assert len(portal.userinfo_tokens) == 2


async def test_userinfo_failure_falls_back_to_subject_and_is_not_cached(
    auth: Authenticator, portal: FakePortal, es_key: SigningKey
) -> None:
    token = mint(es_key)
    portal.userinfo_status = 503
    degraded = await auth.authenticate(f"Bearer {token}")
    portal.userinfo_status = 200
    recovered = await auth.authenticate(f"Bearer {token}")
    assert degraded.ownership_refs == ("user:default/alice",)
    assert recovered.ownership_refs == ("user:default/alice", "group:default/ml-team")


async def test_limited_user_token_is_accepted(auth: Authenticator, es_key: SigningKey) -> None:
    token = mint(es_key, typ="vnd.backstage.limited-user", ent=[])
    principal = await auth.authenticate(f"Bearer {token}")
    assert principal.kind is PrincipalKind.USER


async def test_rs256_user_token_is_accepted(auth: Authenticator, rs_key: SigningKey) -> None:
    principal = await auth.authenticate(f"Bearer {mint(rs_key, ent=[])}")
    assert principal.subject == "user:default/alice"


async def test_token_expired_within_the_leeway_is_accepted(
    auth: Authenticator, es_key: SigningKey
) -> None:
    token = mint(es_key, exp=int(time.time()) - 5, ent=[])
    principal = await auth.authenticate(f"Bearer {token}")
    assert principal.kind is PrincipalKind.USER


async def test_service_token_gives_read_only_service_principal(auth: Authenticator) -> None:
    principal = await auth.authenticate(f"Bearer {CI_TOKEN}")
    assert principal == Principal(subject="ci", kind=PrincipalKind.SERVICE, can_write=False)
    assert principal.token is None


async def test_service_token_with_write_scope_can_write(auth: Authenticator) -> None:
    principal = await auth.authenticate(f"Bearer {DEPLOYER_TOKEN}")
    assert principal == Principal(subject="deployer", kind=PrincipalKind.SERVICE, can_write=True)


async def test_missing_header_is_anonymous_when_allowed(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    auth = Authenticator(settings.replace(allow_anonymous=True), http)
    assert await auth.authenticate(None) == Principal.anonymous()


# --- rejected credentials ---------------------------------------------------


async def test_missing_header_is_rejected_when_anonymous_is_not_allowed(
    auth: Authenticator,
) -> None:
    assert await rejected(auth, None) == "Missing credentials"


async def test_non_bearer_scheme_is_rejected(auth: Authenticator) -> None:
    assert "expected 'Bearer <token>'" in await rejected(auth, f"Basic {CI_TOKEN}")


async def test_unknown_opaque_token_is_rejected_as_malformed(auth: Authenticator) -> None:
    assert await rejected(auth, "Bearer not-a-jwt") == NOT_A_JWT


@pytest.mark.parametrize("segments", [2, 4])
async def test_token_with_wrong_number_of_segments_is_rejected_as_malformed(
    auth: Authenticator, es_key: SigningKey, segments: int
) -> None:
    parts = mint(es_key).split(".")
    token = ".".join((parts * 2)[:segments])
    assert await rejected(auth, f"Bearer {token}") == NOT_A_JWT


async def test_token_with_undecodable_header_is_rejected_as_malformed(
    auth: Authenticator,
) -> None:
    message = await rejected(auth, "Bearer %%%.e30.c2ln")
    assert message == "Malformed token: the header cannot be decoded"


async def test_expired_token_is_rejected(auth: Authenticator, es_key: SigningKey) -> None:
    token = mint(es_key, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    assert await rejected(auth, f"Bearer {token}") == "Token has expired"


async def test_token_not_valid_yet_is_rejected(auth: Authenticator, es_key: SigningKey) -> None:
    token = mint(es_key, nbf=int(time.time()) + 600)
    assert "not valid yet" in await rejected(auth, f"Bearer {token}")


async def test_token_signed_by_another_key_is_rejected(
    auth: Authenticator, es_key: SigningKey
) -> None:
    impostor = ec_key(es_key.kid)  # same kid, different private key
    assert await rejected(auth, f"Bearer {mint(impostor)}") == "Bad token signature"


async def test_token_of_another_type_is_rejected(auth: Authenticator, es_key: SigningKey) -> None:
    token = mint(es_key, typ="vnd.backstage.plugin")
    message = await rejected(auth, f"Bearer {token}")
    assert message == "Wrong token type: expected a Backstage user token"


async def test_token_for_another_audience_is_rejected(
    auth: Authenticator, es_key: SigningKey
) -> None:
    token = mint(es_key, aud="another-app")
    assert await rejected(auth, f"Bearer {token}") == "Wrong token audience"


async def test_token_from_another_issuer_is_rejected(
    auth: Authenticator, es_key: SigningKey
) -> None:
    token = mint(es_key, iss="http://evil.test/api/auth")
    assert await rejected(auth, f"Bearer {token}") == "Wrong token issuer"


async def test_token_without_sub_is_rejected(auth: Authenticator, es_key: SigningKey) -> None:
    token = mint(es_key, drop=("sub",))
    assert await rejected(auth, f"Bearer {token}") == "Token has no subject (sub claim)"


async def test_token_without_exp_is_rejected(auth: Authenticator, es_key: SigningKey) -> None:
    token = mint(es_key, drop=("exp",))
    assert await rejected(auth, f"Bearer {token}") == "Token has no expiry (exp claim)"


async def test_token_whose_sub_is_not_an_entity_ref_is_rejected(
    auth: Authenticator, es_key: SigningKey
) -> None:
    token = mint(es_key, sub="alice")
    assert await rejected(auth, f"Bearer {token}") == "Token subject (sub) is not an entity ref"


async def test_unsigned_alg_none_token_is_rejected(auth: Authenticator, es_key: SigningKey) -> None:
    payload = {"sub": USER, "aud": "backstage", "iss": ISSUER, "exp": int(time.time()) + 600}
    header = {"alg": "none", "typ": "vnd.backstage.user", "kid": es_key.kid}
    token = f"{b64url(header)}.{b64url(payload)}."
    assert await rejected(auth, f"Bearer {token}") == "Token algorithm 'none' is not accepted"


def hs256_signed_with_public_key(key: SigningKey) -> str:
    """The classic algorithm-confusion forgery: HMAC keyed with the public PEM."""
    public_pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "vnd.backstage.user", "kid": key.kid}
    payload = {"sub": USER, "aud": "backstage", "iss": ISSUER, "exp": int(time.time()) + 600}
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


async def test_hs256_token_signed_with_the_public_key_is_rejected(
    auth: Authenticator, es_key: SigningKey
) -> None:
    token = hs256_signed_with_public_key(es_key)
    assert await rejected(auth, f"Bearer {token}") == "Token algorithm 'HS256' is not accepted"


async def test_symmetric_and_none_algorithms_are_refused_even_when_configured(
    settings: Settings, http: httpx.AsyncClient, es_key: SigningKey, portal: FakePortal
) -> None:
    auth = Authenticator(settings.replace(jwt_algorithms=("ES256", "HS256", "none")), http)
    token = hs256_signed_with_public_key(es_key)
    assert await rejected(auth, f"Bearer {token}") == "Token algorithm 'HS256' is not accepted"


async def test_user_token_is_rejected_when_no_jwks_url_is_configured(
    settings: Settings, http: httpx.AsyncClient, es_key: SigningKey
) -> None:
    auth = Authenticator(settings.replace(jwks_url=""), http)
    message = await rejected(auth, f"Bearer {mint(es_key)}")
    assert message == "User tokens are not accepted: the gateway has no JWKS URL configured"


async def test_unreachable_key_set_is_reported_without_its_url(
    auth: Authenticator, portal: FakePortal, es_key: SigningKey, settings: Settings
) -> None:
    portal.jwks_status = 503
    message = await rejected(auth, f"Bearer {mint(es_key)}")
    assert "signing key set cannot be fetched" in message
    assert settings.jwks_url not in message


# --- the key set: caching, rotation, rate limit ----------------------------


async def test_known_key_is_fetched_once_for_many_requests(
    auth: Authenticator, portal: FakePortal, es_key: SigningKey
) -> None:
    for _ in range(5):
        await auth.authenticate(f"Bearer {mint(es_key, ent=[])}")
    assert portal.jwks_hits == 1


async def test_unknown_kid_refetches_the_key_set_so_rotated_keys_work(
    auth: Authenticator, portal: FakePortal, es_key: SigningKey, clock: FakeClock
) -> None:
    await auth.authenticate(f"Bearer {mint(es_key, ent=[])}")
    rotated = ec_key("es-2")
    portal.keys = [rotated]
    clock.advance(11)
    principal = await auth.authenticate(f"Bearer {mint(rotated, ent=[])}")
    assert principal.kind is PrincipalKind.USER
    assert portal.jwks_hits == 2


async def test_token_with_an_unpublished_kid_is_rejected(
    auth: Authenticator, es_key: SigningKey
) -> None:
    token = mint(es_key, kid="never-published")
    assert await rejected(auth, f"Bearer {token}") == "Token is signed by an unknown key"


async def test_flood_of_unknown_kids_refetches_at_most_once_per_ten_seconds(
    auth: Authenticator, portal: FakePortal, es_key: SigningKey, clock: FakeClock
) -> None:
    await auth.authenticate(f"Bearer {mint(es_key, ent=[])}")  # initial fetch
    clock.advance(11)

    async def attempt(n: int) -> None:
        with pytest.raises(AuthenticationError, match="unknown key"):
            await auth.authenticate(f"Bearer {mint(es_key, kid=f'bogus-{n}')}")

    await asyncio.gather(*(attempt(n) for n in range(20)))
    assert portal.jwks_hits == 2
    clock.advance(9)
    await attempt(20)
    assert portal.jwks_hits == 2
    clock.advance(1)
    await attempt(21)
    assert portal.jwks_hits == 3
