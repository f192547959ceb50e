"""Which entities a user acts as: their own ref plus the groups they belong to.

Backstage stopped putting the ``ent`` claim in user tokens (auth-backend
0.28), so the refs usually come from the portal's userinfo endpoint, asked
with the user's own token. That call is on the request path, so answers are
cached per token for a short while; failures are not cached, so a portal
hiccup costs one degraded request rather than a minute of them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable

import httpx

from sources.catalog.refs import parse_ref
from sources.errors import InputError

log = logging.getLogger(__name__)

MAX_CACHED_TOKENS = 10_000
FETCH_TIMEOUT_SECONDS = 5.0


def canonical_refs(subject: str, refs: Iterable[object]) -> tuple[str, ...]:
    """``subject`` first, then each valid ref once, canonical (lower case)."""
    result = [subject]
    for ref in refs:
        try:
            canonical = str(parse_ref(ref)) if isinstance(ref, str) else None
        except InputError:
            canonical = None
        if canonical is None:
            log.warning("ignoring ownership ref %r of %s: not an entity ref", ref, subject)
        elif canonical not in result:
            result.append(canonical)
    return tuple(result)


class OwnershipLookup:
    """Ownership refs from the userinfo endpoint, cached per token."""

    def __init__(
        self,
        userinfo_url: str,
        http: httpx.AsyncClient,
        *,
        ttl_seconds: float,
        max_entries: int = MAX_CACHED_TOKENS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = userinfo_url
        self._http = http
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        # Insertion-ordered, so the first entry is the oldest. Keyed by the
        # token's digest so the cache never holds a usable credential.
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}

    async def refs(self, token: str, subject: str) -> tuple[str, ...]:
        """The canonical refs of ``subject``; just ``(subject,)`` if userinfo fails."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(digest)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        ent = await self._fetch(token, subject)
        if ent is None:
            return (subject,)
        refs = canonical_refs(subject, ent)
        if self._ttl > 0:
            self._cache.pop(digest, None)
            while len(self._cache) >= self._max_entries:
                del self._cache[next(iter(self._cache))]
            self._cache[digest] = (now + self._ttl, refs)
        return refs

    async def _fetch(self, token: str, subject: str) -> list[object] | None:
        if not self._url:
            log.warning("no userinfo URL configured: %s owns only itself", subject)
            return None
        try:
            response = await self._http.get(
                self._url,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=FETCH_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            body = response.json()
            ent = body["claims"].get("ent", [])
            if not isinstance(ent, list):
                raise TypeError("claims.ent is not a list")
        except (httpx.HTTPError, ValueError, LookupError, TypeError, AttributeError) as exc:
            log.warning(
                "userinfo at %s failed for %s, who owns only itself for this request: %r",
                self._url,
                subject,
                exc,
            )
            return None
        return ent
