"""The software catalog of a Backstage portal, read over its REST API.

Every call carries the *caller's* own bearer token, so the portal's permission
policies decide what each user sees, exactly as in the portal itself. The
gateway's service token is its own identity: it is used only for calls made
on behalf of no user (service and anonymous principals, the readiness check)
and never stands in for a user, so a user can never see more through mlmeta
than through the portal.

Backstage speaks in refs and keyset cursors; this adapter keeps the shapes of
``sources.catalog.model`` (the same ones ``FolderCatalog`` serves) on top:

- ``entities_by_refs`` canonicalises refs first, because the real ``by-refs``
  endpoint answers ``null`` for anything but ``kind:namespace/name`` in lower
  case, and sends each distinct ref once, in chunks the server accepts.
- ``query_entities`` hands out a cursor per item (Relay edge cursors) although
  Backstage only has one per page: see ``_Position``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry.propagate import inject

from gateway.auth.principal import Principal, PrincipalKind
from sources.catalog.model import Entity, EntityFilter, EntityPage, EntityQuery
from sources.catalog.refs import parse_ref
from sources.cursors import decode_cursor, encode_cursor
from sources.errors import (
    AuthenticationError,
    InputError,
    MlmetaError,
    NotAllowedError,
    UpstreamError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
)
from sources.resilience.breaker import CircuitBreaker

log = logging.getLogger("mlmeta.catalog")

SOURCE = "catalog"
BY_REFS_BATCH = 500
"""Default refs per by-refs call. Backstage takes any number of refs in one call, but its
router parses bodies with express.json()'s default limit of 100 kB (a bigger body is refused,
400 "request entity too large"): 500 refs of the longest valid form (3 x 63 characters)
stay under it."""
MAX_BODY_BYTES = 100_000
"""A by-refs body is also cut at this size, below Backstage's 102,400 bytes, so a larger
configured batch size cannot make a call the portal refuses."""
MAX_CONCURRENT_CHUNKS = 4
"""by-refs calls in flight at once for one batch, so one big batch cannot flood the portal."""
MAX_FETCH = 500
"""Most entities asked for in one by-query call."""
MAX_REQUESTS_PER_PAGE = 10
"""by-query calls one page may take (skipping into a page, short upstream pages)."""
MAX_SKIP = 2000
"""Largest skip a cursor may carry; cursors we hand out stay far below it."""
TEXT_FIELDS = "metadata.name,metadata.title,metadata.description"
ORDER_FIELD = "metadata.name,asc"
_ERROR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class _Position:
    """A place in a filtered list: Backstage's page cursor plus items to skip.

    Backstage's cursors are keyset cursors for whole pages, but every edge of
    a Relay connection needs its own cursor. An item's cursor is therefore the
    cursor that fetched its page (None: the list's start) and how many items
    of that page come up to and including it. The last item of a page that
    has a successor gets the successor's own cursor and skip 0 instead, so
    plain forward paging re-reads nothing. Keyset cursors start at the same
    place whatever the page size, which is what makes the skip valid.
    """

    cursor: str | None
    skip: int


class BackstageCatalog:
    """``CatalogSource`` over Backstage's catalog REST API (``/api/catalog``)."""

    name = SOURCE

    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient,
        service_token: str | None = None,
        timeout: float = 10.0,
        batch_size: int = BY_REFS_BATCH,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """``service_token`` is the gateway's own identity in the portal.

        It is sent only for principal-free reads (service and anonymous
        principals, the readiness check); user principals always travel with
        their own token. Every request passes ``breaker`` (the catalog's
        circuit; none: never open).
        """
        self._api = base_url.rstrip("/") + "/api/catalog"
        self._http = http
        self._service_token = service_token or None
        self._timeout = timeout
        self._batch_size = max(1, batch_size)
        self._breaker = breaker or CircuitBreaker(SOURCE, failure_threshold=0)

    # -- CatalogSource

    async def check(self) -> None:
        """Ready when the catalog answers a one-item query with the service token."""
        try:
            await self._call(
                "GET", "/entities/by-query", self._service_token, params=[("limit", "1")]
            )
        except (AuthenticationError, NotAllowedError) as exc:
            hint = "" if self._service_token else " (none is configured: MLMETA_BACKSTAGE_TOKEN)"
            raise UpstreamError(
                f"catalog rejected the gateway's service token{hint}", source=SOURCE
            ) from exc

    async def entities_by_refs(
        self, refs: Sequence[str], principal: Principal
    ) -> list[Entity | Exception | None]:
        """Entities in key order; None for an unknown (or hidden) ref; InputError if malformed."""
        canonical: list[str | InputError] = []
        for ref in refs:
            try:
                canonical.append(str(parse_ref(ref)))
            except InputError as exc:
                canonical.append(InputError(exc.message, source=SOURCE))
        unique = list(dict.fromkeys(c for c in canonical if isinstance(c, str)))
        found: dict[str, Entity | None] = {}
        if unique:
            token = self._token_for(principal)
            chunks = _chunks(unique, self._batch_size, MAX_BODY_BYTES)
            limiter = asyncio.Semaphore(MAX_CONCURRENT_CHUNKS)
            results = await asyncio.gather(
                *(self._by_refs(chunk, token, limiter) for chunk in chunks),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
                found.update(result)
        return [c if isinstance(c, InputError) else found.get(c) for c in canonical]

    async def query_entities(self, query: EntityQuery, principal: Principal) -> EntityPage:
        """Up to ``query.limit`` entities ordered by name, from where the cursor points.

        A page may take more than one by-query call: when a cursor points into
        the middle of a Backstage page, or when the portal returns shorter
        pages than asked for. The calls per page are bounded; a page cut short
        by that bound still ends with a cursor that carries on.
        """
        if query.limit < 1:
            raise InputError("limit must be at least 1", source=SOURCE)
        filter_params = _filter_params(query.filter)
        fingerprint = _fingerprint(filter_params)
        position = _decode_cursor(query.cursor, fingerprint) if query.cursor else _Position(None, 0)
        token = self._token_for(principal)
        items: list[Entity] = []
        positions: list[_Position] = []
        total: int | None = None
        more = True
        for _ in range(MAX_REQUESTS_PER_PAGE):
            wanted = query.limit - len(items)
            params = [("limit", str(min(position.skip + wanted, MAX_FETCH)))]
            if position.cursor is None:
                params += [("orderField", ORDER_FIELD), *filter_params]
            else:
                params.append(("cursor", position.cursor))
            body = await self._call("GET", "/entities/by-query", token, params=params)
            page, next_cursor, page_total = _parse_page(body)
            if total is None:
                total = page_total
            end = min(len(page), position.skip + wanted)
            for index in range(position.skip, end):
                items.append(page[index])
                last_of_page = index == len(page) - 1
                positions.append(
                    _Position(next_cursor, 0)
                    if last_of_page and next_cursor
                    else _Position(position.cursor, index + 1)
                )
            if end < len(page):  # the portal sent more than asked: the rest comes next time
                break
            if next_cursor is None:
                more = False
                break
            if len(items) == query.limit:
                break
            position = _Position(next_cursor, max(0, position.skip - len(page)))
        if more and not items:
            raise UpstreamError("catalog kept returning pages without entities", source=SOURCE)
        cursors = [_encode_cursor(p, fingerprint) for p in positions]
        return EntityPage(
            items=items,
            next_cursor=cursors[-1] if more else None,
            item_cursors=cursors,
            total=total,
        )

    async def facets(
        self, facet: str, entity_filter: EntityFilter, principal: Principal
    ) -> list[tuple[str, int]]:
        """Counts per value of ``facet``, sorted by value.

        Backstage's entity-facets endpoint takes no full-text term, so a text
        filter is refused rather than silently ignored.
        """
        if entity_filter.text:
            raise InputError(
                "the portal's catalog cannot count facets of a text search: drop 'text'",
                source=SOURCE,
            )
        params = [("facet", facet), *_filter_params(entity_filter)]
        body = await self._call("GET", "/entity-facets", self._token_for(principal), params=params)
        facets = body.get("facets") if isinstance(body, dict) else None
        if not isinstance(facets, dict):
            raise _shape_error("entity-facets")
        values = facets.get(facet)
        if values is None:  # be lenient about the case of the key it echoes
            values = next((v for k, v in facets.items() if k.lower() == facet.lower()), [])
        counts: list[tuple[str, int]] = []
        for entry in values if isinstance(values, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("count"), int):
                counts.append((str(entry.get("value")), entry["count"]))
        return sorted(counts)

    # -- internals

    def _token_for(self, principal: Principal) -> str | None:
        """The caller's own token for users; the gateway's token only for principal-free reads."""
        if principal.kind is PrincipalKind.USER:
            return principal.token  # no token: the portal answers 401, as it should
        return self._service_token

    async def _by_refs(
        self, refs: list[str], token: str | None, limiter: asyncio.Semaphore
    ) -> dict[str, Entity | None]:
        async with limiter:
            body = await self._call("POST", "/entities/by-refs", token, body={"entityRefs": refs})
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) != len(refs):
            raise _shape_error("by-refs")
        return {
            ref: item if isinstance(item, dict) else None
            for ref, item in zip(refs, items, strict=True)
        }

    async def _call(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        params: list[tuple[str, str]] | None = None,
        body: object = None,
    ) -> Any:
        """One request, through the circuit breaker: the catalog's single chokepoint."""
        # Named by its route, never by the refs or names a path may carry.
        operation = f"{method} /" + "/".join(path.strip("/").split("/")[:2])
        async with self._breaker.guard(operation=operation):
            return await self._request(method, path, token, params=params, body=body)

    async def _request(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        params: list[tuple[str, str]] | None = None,
        body: object = None,
    ) -> Any:
        """One request; every failure becomes an ``MlmetaError`` whose message holds no secret."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        inject(headers)  # W3C traceparent: the portal's traces continue into the catalog
        try:
            response = await self._http.request(
                method,
                self._api + path,
                params=tuple(params or ()),
                json=body,
                headers=headers,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise UpstreamTimeoutError(
                f"catalog did not answer within {self._timeout:g} s", source=SOURCE
            ) from exc
        except httpx.HTTPError as exc:
            # The exception's text names the URL at most; the headers (and the
            # token) never reach the message.
            log.warning("catalog %s %s failed: %s", method, path, type(exc).__name__)
            raise UpstreamError(
                f"catalog unreachable ({type(exc).__name__})", source=SOURCE
            ) from exc
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:
                raise _shape_error(path.rsplit("/", 1)[-1]) from exc
        raise _error_for(response, token, method, path)


def _error_for(response: httpx.Response, token: str | None, method: str, path: str) -> MlmetaError:
    """Our error for a failed answer; Backstage's own message only where it is meant for users."""
    status = response.status_code
    name, message = _error_fields(response, token)
    if status == 400:
        return InputError(message or "the catalog rejected the request", source=SOURCE)
    if status == 401:
        return AuthenticationError(message or "the catalog rejected the credentials", source=SOURCE)
    if status == 403:
        return NotAllowedError(
            message or "the catalog's permission policy does not allow this", source=SOURCE
        )
    if status == 404:
        # The endpoints asked (by-refs, by-query, entity-facets) answer for any entity,
        # known or not: a 404 is the catalog API missing (a backend still starting, a
        # wrong base URL), an outage rather than an answer about an entity.
        log.warning("catalog %s %s answered HTTP 404: no catalog API there", method, path)
        return UpstreamError(
            "no catalog API under the configured Backstage URL (HTTP 404)", source=SOURCE
        )
    if status == 429:
        return UpstreamThrottledError("the catalog is rate-limiting; retry later", source=SOURCE)
    if status == 504:  # a proxy in front of the portal gave up waiting
        return UpstreamTimeoutError("catalog timed out behind a proxy (HTTP 504)", source=SOURCE)
    log.warning("catalog %s %s answered HTTP %d (%s)", method, path, status, name or "no name")
    detail = f": {name}" if name else ""
    return UpstreamError(f"catalog failed with HTTP {status}{detail}", source=SOURCE)


def _error_fields(response: httpx.Response, token: str | None) -> tuple[str | None, str | None]:
    """``error.name`` (if it looks like a name) and ``error.message`` (trimmed, token removed)."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None
    raw_name, raw_message = error.get("name"), error.get("message")
    name = raw_name if isinstance(raw_name, str) and _ERROR_NAME.match(raw_name) else None
    message = raw_message.strip()[:_MAX_MESSAGE] if isinstance(raw_message, str) else None
    if message and token and token in message:
        message = message.replace(token, "[redacted]")
    return name, message or None


def _shape_error(endpoint: str) -> UpstreamError:
    return UpstreamError(f"catalog {endpoint} answered in an unexpected shape", source=SOURCE)


def _parse_page(body: object) -> tuple[list[Entity], str | None, int | None]:
    """(items, nextCursor, totalItems) of a by-query answer."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise _shape_error("by-query")
    items = [item for item in body["items"] if isinstance(item, dict)]
    page_info = body.get("pageInfo")
    next_cursor = page_info.get("nextCursor") if isinstance(page_info, dict) else None
    total = body.get("totalItems")
    return (
        items,
        next_cursor if isinstance(next_cursor, str) and next_cursor else None,
        total if isinstance(total, int) and not isinstance(total, bool) else None,
    )


def _chunks(refs: list[str], size: int, max_bytes: int) -> list[list[str]]:
    """``refs`` in order, at most ``size`` per chunk and at most ``max_bytes`` of JSON body."""
    chunks: list[list[str]] = []
    current: list[str] = []
    body = len('{"entityRefs": []}')
    for ref in refs:
        cost = len(json.dumps(ref)) + 2  # quotes, escapes and the ", " separator
        if current and (len(current) == size or body + cost > max_bytes):
            chunks.append(current)
            current, body = [], len('{"entityRefs": []}')
        current.append(ref)
        body += cost
    if current:
        chunks.append(current)
    return chunks


def _filter_params(f: EntityFilter) -> list[tuple[str, str]]:
    """Backstage ``filter`` params for an ``EntityFilter``.

    Within one ``filter`` param, conditions on different keys are ANDed and
    repeated keys are ORed (Backstage's ``parseEntityFilterString`` collects
    the values of a key). So one param says it all, and the URL grows with
    the number of values rather than with the product of the lists.
    Backstage has no escaping, so a comma inside a value would split it into
    a condition of its own: such values are refused.
    """
    conditions = [
        *(("kind", k) for k in f.kinds),
        *(("spec.type", t) for t in f.spec_types),
        *(("relations.ownedBy", o) for o in f.owners),
        *([("metadata.tags", f.tag)] if f.tag else []),
    ]
    for key, value in conditions:
        if "," in value or not value.strip():
            raise InputError(
                f"{key} filter value {value!r} is empty or contains a comma", source=SOURCE
            )
    params = [("filter", ",".join(f"{k}={v.strip()}" for k, v in conditions))] if conditions else []
    if f.text and f.text.strip():
        params += [("fullTextFilterTerm", f.text.strip()), ("fullTextFilterFields", TEXT_FIELDS)]
    return params


def _fingerprint(filter_params: list[tuple[str, str]]) -> str:
    """Short digest of the query, so a cursor is refused with a different filter."""
    return hashlib.sha256(json.dumps(filter_params).encode()).hexdigest()[:10]


def _encode_cursor(position: _Position, fingerprint: str) -> str:
    return encode_cursor({"c": position.cursor, "o": position.skip, "f": fingerprint})


def _decode_cursor(cursor: str, fingerprint: str) -> _Position:
    """The position in a cursor we handed out; ``f`` is checked when present."""
    try:
        data = decode_cursor(cursor)
        upstream, skip = data["c"], data["o"]
        if (
            not (upstream is None or (isinstance(upstream, str) and upstream))
            or not isinstance(skip, int)
            or isinstance(skip, bool)
            or not 0 <= skip <= MAX_SKIP
            or data.get("f", fingerprint) != fingerprint
        ):
            raise ValueError(cursor)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            "'after' is not a cursor of this list (cursors only work with the same filter)",
            source=SOURCE,
        ) from exc
    return _Position(upstream, skip)
