"""The portal's signing keys, fetched from its JWKS with the shared async client.

Not PyJWKClient: it fetches with blocking urllib, which would stall the event
loop on every refresh. Keys are cached by ``kid``. Backstage rotates its keys,
so an unknown ``kid`` triggers a refetch, but at most once per
``refetch_interval``: otherwise anyone could make the gateway hammer the portal
by sending tokens with made-up ``kid`` values.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:  # PyJWT (and cryptography, ~13 MB) loads with the first user token
    from jwt import PyJWK

log = logging.getLogger(__name__)

REFETCH_INTERVAL_SECONDS = 10.0
# Refresh known keys now and then so a key the portal has withdrawn stops
# being trusted without a restart.
MAX_AGE_SECONDS = 3600.0
# Authentication is on every request's path: fail fast rather than use the
# shared client's longer default.
FETCH_TIMEOUT_SECONDS = 5.0


class KeySetUnavailableError(Exception):
    """The key set could not be fetched, so no verdict on the key is possible."""


class KeySet:
    """Verification keys by ``kid``, refreshed on demand and rate-limited."""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        refetch_interval: float = REFETCH_INTERVAL_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._http = http
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, failed or not
        self._last_failed = False
        # One fetch at a time: a burst of tokens with a new kid costs one request.
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> PyJWK | None:
        """The key for ``kid``, or None if the portal does not publish it.

        Raises KeySetUnavailableError when the key is not known and the latest
        attempt to fetch the set failed: "unknown key" would be a false verdict.
        """
        key = self._keys.get(kid)
        if key is not None and not self._stale():
            return key
        async with self._lock:
            key = self._keys.get(kid)
            if (key is None or self._stale()) and self._may_fetch():
                await self._fetch()
            key = self._keys.get(kid)
            if key is None and self._last_failed:
                raise KeySetUnavailableError
            return key

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self._max_age

    def _may_fetch(self) -> bool:
        return (
            self._attempted_at is None
            or self._clock() - self._attempted_at >= self._refetch_interval
        )

    async def _fetch(self) -> None:
        """Replace the cached keys with the published ones; keep them on failure."""
        from jwt import PyJWKSet, PyJWTError

        self._attempted_at = self._clock()
        try:
            response = await self._http.get(
                self._url,
                headers={"Accept": "application/json"},
                timeout=FETCH_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            document = response.json()
            if not isinstance(document, dict):
                raise ValueError("the JWKS is not a JSON object")
            keys = {
                key.key_id: key
                for key in PyJWKSet.from_dict(document)
                if key.key_id and key.public_key_use in (None, "sig")
            }
        except (httpx.HTTPError, ValueError, PyJWTError) as exc:
            self._last_failed = True
            log.warning("cannot fetch the JWKS from %s: %s", self._url, exc)
            return
        self._keys = keys
        self._fetched_at = self._attempted_at
        self._last_failed = False
        log.info("fetched %d signing keys from %s", len(keys), self._url)
