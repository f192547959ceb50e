"""A Backstage-shaped catalog backend for fast tests, served over real HTTP.

It speaks the endpoints and shapes of ``@backstage/plugin-catalog-backend``
that mlmeta uses, with the behaviour seen on the real one:

- ``POST /api/catalog/entities/by-refs``: body ``{entityRefs, fields?}``; only
  canonical refs (``kind:namespace/name``, lower case) are found, anything
  else is ``null``; ``?fields=`` in the URL is a 400 (send it in the body).
  Any number of refs is taken, but a body over 100 kB (express.json()'s
  default limit) is a 400 "request entity too large", as on the real one.
- ``GET /api/catalog/entities/by-query``: ``filter`` (comma = AND, repeated
  param = OR, a key repeated inside one filter = OR of its values; keys and
  values case-insensitive, ``relations.<type>`` and array fields included),
  ``fullTextFilterTerm``/``fullTextFilterFields``, ``orderField``, ``limit``
  (default 200), ``fields``, and an opaque keyset cursor that freezes filter,
  order, text and the total but not ``fields``. ``totalItems`` is on every
  page, as catalog-backend 4.0 does (``totals_on_later_pages = False`` plays a
  backend that counts on the first page only); a single page has
  ``pageInfo: {}``.
- ``GET /api/catalog/entity-facets`` and
  ``GET /api/catalog/entities/by-name/{kind}/{namespace}/{name}``.
- Errors as ``{error: {name, message}, request, response}``: 401 "Missing
  credentials" / "Illegal token" when ``tokens`` is set.

Tests read ``requests`` (method, path, query, Authorization header, body) and
``calls`` (per endpoint) to hold batching and token forwarding to numbers;
``fail()`` makes every endpoint (or the ones named) answer an error: a fault at
the transport, as a broken portal would give it. ``delay_seconds`` makes it
slow, and ``max_page_size`` caps pages as a stingy portal would. ``hidden``
plays the permission framework: bearer token -> refs that token may not see,
which by-refs answers ``null`` for, by-query and facets leave out and by-name
answers 404 for. Error messages are the real backend's where tests might
match on them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import functools
import json
import uuid
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sources.catalog.refs import EntityRef, entity_ref_of
from sources.catalog.relations import compute_relations

Entity = dict[str, Any]
DEFAULT_LIMIT = 200
MAX_BODY_BYTES = 102_400
# (missing, lower-cased value, uid): where an entity sits in an ordering.
SortKey = tuple[bool, str, str]


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    authorization: str | None
    body: Any
    traceparent: str | None = None
    """The W3C trace context the caller forwarded, if any."""

    @property
    def token(self) -> str | None:
        if self.authorization and self.authorization.startswith("Bearer "):
            return self.authorization.removeprefix("Bearer ")
        return None

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]


class _Reject(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message


@dataclass(frozen=True)
class _Query:
    """What a by-query cursor freezes."""

    filters: list[list[tuple[str, list[str] | None]]] | None
    order: tuple[str, bool] | None  # (field, descending)
    text: tuple[str, list[str]] | None  # (term, fields)


class FakeBackstage:
    """The catalog of a Backstage backend holding ``entities``.

    ``tokens``: accepted bearer tokens; None accepts any request, even one
    without a token.
    """

    def __init__(self, entities: list[Entity], tokens: set[str] | None = None) -> None:
        self.tokens = tokens
        self._initial_tokens = set(tokens) if tokens is not None else None
        prepared: dict[EntityRef, Entity] = {}
        for raw in entities:
            entity = copy.deepcopy(raw)
            entity.setdefault("metadata", {}).setdefault("namespace", "default")
            ref = entity_ref_of(entity)
            entity["metadata"].setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, str(ref))))
            entity["metadata"].setdefault("etag", entity["metadata"]["uid"][:8])
            prepared[ref] = entity
        compute_relations(prepared)
        self.entities: dict[str, Entity] = {str(ref): e for ref, e in prepared.items()}
        self._rows = {ref: _search_rows(e) for ref, e in self.entities.items()}
        self.requests: list[LoggedRequest] = []
        self.calls: Counter[str] = Counter()
        self.failure: tuple[int, str, str] | None = None
        self.failing_endpoints: set[str] | None = None
        """Endpoints that answer ``failure``; None: all of them."""
        self.delay_seconds = 0.0
        self.max_page_size: int | None = None
        self.totals_on_later_pages = True
        self.hidden: dict[str, set[str]] = {}
        """Bearer token -> entity refs the permission policy keeps from it."""

    # -- test controls

    def reset(self) -> None:
        """A healthy, quiet backend again; the server is usually shared by a module.

        Tokens added by a test are forgotten (in place: tests hold ``tokens``).
        """
        if self.tokens is not None and self._initial_tokens is not None:
            self.tokens.clear()
            self.tokens.update(self._initial_tokens)
        self.requests.clear()
        self.calls.clear()
        self.failure = None
        self.failing_endpoints = None
        self.delay_seconds = 0.0
        self.max_page_size = None
        self.totals_on_later_pages = True
        self.hidden.clear()

    def fail(
        self,
        status: int = 500,
        name: str = "Error",
        message: str = "boom",
        *,
        endpoints: Collection[str] | None = None,
    ) -> None:
        """Answer every request (or those to ``endpoints``: 'by-refs', 'by-query',
        'entity-facets', 'by-name') with this error from now on."""
        self.failure = (status, name, message)
        self.failing_endpoints = set(endpoints) if endpoints is not None else None

    def tokens_seen(self) -> list[str | None]:
        return [r.token for r in self.requests]

    def _hidden_from(self, request: Request) -> set[str]:
        """The refs the request's token may not see (canonical: lower case)."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return set()
        return {ref.lower() for ref in self.hidden.get(header.removeprefix("Bearer "), ())}

    # -- the app

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/catalog/entities/by-refs", self._by_refs, methods=["POST"]),
                Route("/api/catalog/entities/by-query", self._by_query, methods=["GET"]),
                Route("/api/catalog/entity-facets", self._facets, methods=["GET"]),
                Route(
                    "/api/catalog/entities/by-name/{kind}/{namespace}/{name}",
                    self._by_name,
                    methods=["GET"],
                ),
            ]
        )

    async def _guard(self, request: Request, endpoint: str) -> Any:
        """Log and count the request, then apply delay, auth and failure; the parsed body."""
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            self.calls[endpoint] += 1
            raise _Reject(400, "InputError", "request entity too large")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(
            LoggedRequest(
                method=request.method,
                path=request.url.path,
                query=list(request.query_params.multi_items()),
                authorization=request.headers.get("authorization"),
                body=body,
                traceparent=request.headers.get("traceparent"),
            )
        )
        self.calls[endpoint] += 1
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.tokens is not None:
            header = request.headers.get("authorization", "")
            if not header.startswith("Bearer ") or not header.removeprefix("Bearer ").strip():
                raise _Reject(401, "AuthenticationError", "Missing credentials")
            if header.removeprefix("Bearer ") not in self.tokens:
                raise _Reject(401, "AuthenticationError", "Illegal token")
        failing = self.failing_endpoints
        if self.failure is not None and (failing is None or endpoint in failing):
            raise _Reject(*self.failure)
        return body

    async def _by_refs(self, request: Request) -> JSONResponse:
        try:
            body = await self._guard(request, "by-refs")
            unknown = next(iter(request.query_params), None)  # fields go in the body
            if unknown is not None:
                raise _Reject(400, "InputError", f"Unknown query parameter '{unknown}'")
            if not isinstance(body, dict) or not _str_list(body.get("entityRefs")):
                raise _Reject(
                    400, "InputError", "request/body must have required property 'entityRefs'"
                )
            fields = body.get("fields")
            if fields is not None and not _str_list(fields):
                raise _Reject(400, "InputError", "request/body/fields must be array")
            hidden = self._hidden_from(request)
            items = [
                None if ref in hidden else self.entities.get(ref) for ref in body["entityRefs"]
            ]
            return JSONResponse({"items": [_project(e, fields) if e else None for e in items]})
        except _Reject as reject:
            return _error(request, reject)

    async def _by_query(self, request: Request) -> JSONResponse:
        try:
            await self._guard(request, "by-query")
            params = request.query_params
            limit = _int_param(params.get("limit"), DEFAULT_LIMIT)
            if self.max_page_size is not None:
                limit = min(limit, self.max_page_size)
            fields = _fields_param(params.getlist("fields"))
            cursor = params.get("cursor")
            total = 0
            if cursor:
                query, after, before, total = _decode_cursor(cursor)
            else:
                query = _Query(
                    filters=_parse_filters(params.getlist("filter")),
                    order=_parse_order(params.getlist("orderField")),
                    text=_parse_text(params),
                )
                after = before = None
            ordered = self._ordered(query, self._hidden_from(request))
            if not cursor:  # a cursor carries the count of its first page
                total = len(ordered)
            if before is not None:
                prior = [e for e in ordered if _cmp(self._key(e, query), before, query) < 0]
                items = prior[-limit:] if limit else []
                has_prev, has_next = len(prior) > len(items), True
            else:
                rest = [
                    e
                    for e in ordered
                    if after is None or _cmp(self._key(e, query), after, query) > 0
                ]
                items = rest[:limit]
                has_prev, has_next = after is not None, len(rest) > len(items)
            page_info: dict[str, str] = {}
            if has_next and items:
                key = self._key(items[-1], query)
                page_info["nextCursor"] = _encode_cursor(query, total, after=key)
            if has_prev and items:
                key = self._key(items[0], query)
                page_info["prevCursor"] = _encode_cursor(query, total, before=key)
            answer: dict[str, Any] = {
                "items": [_project(e, fields) for e in items],
                "pageInfo": page_info,
            }
            if not cursor or self.totals_on_later_pages:
                answer["totalItems"] = total
            return JSONResponse(answer)
        except _Reject as reject:
            return _error(request, reject)

    async def _facets(self, request: Request) -> JSONResponse:
        try:
            await self._guard(request, "entity-facets")
            facets = request.query_params.getlist("facet")
            if not facets:
                raise _Reject(
                    400, "InputError", "request/query must have required property 'facet'"
                )
            filters = _parse_filters(request.query_params.getlist("filter"))
            hidden = self._hidden_from(request)
            matching = [
                ref
                for ref in self.entities
                if ref not in hidden and _matches(self._rows[ref], filters)
            ]
            answer: dict[str, list[dict[str, Any]]] = {}
            for facet in facets:
                counts: Counter[str] = Counter()
                for ref in matching:
                    counts.update({v for k, v in self._rows[ref] if k == facet.lower()})
                answer[facet] = [
                    {"value": v, "count": c}
                    for v, c in sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))
                ]
            return JSONResponse({"facets": answer})
        except _Reject as reject:
            return _error(request, reject)

    async def _by_name(self, request: Request) -> JSONResponse:
        try:
            await self._guard(request, "by-name")
            kind, namespace, name = (request.path_params[p] for p in ("kind", "namespace", "name"))
            ref = f"{kind}:{namespace}/{name}".lower()
            entity = self.entities.get(ref)
            if entity is None or ref in self._hidden_from(request):
                raise _Reject(
                    404,
                    "NotFoundError",
                    f"No entity named '{name}' found, with kind '{kind}' "
                    f"in namespace '{namespace}'",
                )
            return JSONResponse(entity)
        except _Reject as reject:
            return _error(request, reject)

    # -- query evaluation

    def _ordered(self, query: _Query, hidden: Collection[str] = ()) -> list[Entity]:
        matching = [
            e
            for ref, e in self.entities.items()
            if ref not in hidden
            and _matches(self._rows[ref], query.filters)
            and _text_matches(self._rows[ref], query.text)
        ]
        keys = {id(e): self._key(e, query) for e in matching}

        def compare(a: Entity, b: Entity) -> int:
            return _cmp(keys[id(a)], keys[id(b)], query)

        return sorted(matching, key=functools.cmp_to_key(compare))

    def _key(self, entity: Entity, query: _Query) -> SortKey:
        uid = str(entity["metadata"]["uid"])
        field = query.order[0].lower() if query.order else "metadata.uid"
        rows = self._rows[str(entity_ref_of(entity))]
        value = next((v.lower() for k, v in rows if k == field), None)
        return (value is None, value or "", uid)


# -- Backstage's search semantics ------------------------------------------------


def _search_rows(entity: Entity) -> list[tuple[str, str]]:
    """(lower-case key, original value) pairs, as Backstage's search table holds them."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, list):
            for value in node:
                walk(prefix, value)
        elif isinstance(node, bool):
            rows.append((prefix.lower(), "true" if node else "false"))
        elif node is not None:
            rows.append((prefix.lower(), str(node)))

    walk("", {k: v for k, v in entity.items() if k != "relations"})
    for relation in entity.get("relations", []):
        rows.append((f"relations.{relation['type']}".lower(), relation["targetRef"]))
    return rows


def _parse_filters(raw: list[str]) -> list[list[tuple[str, list[str] | None]]] | None:
    """Repeated params: any of them; in one: all keys; a repeated key: any of its values."""
    parsed = []
    for text in raw:
        by_key: dict[str, list[str] | None] = {}
        for statement in (s.strip() for s in text.split(",")):
            if not statement:
                continue
            key, eq, value = statement.partition("=")
            key = key.strip()
            if not key:
                raise _Reject(
                    400,
                    "InputError",
                    f"Invalid filter, '{statement}' is not a valid statement "
                    "(expected a string on the form a=b or a= or a)",
                )
            if not eq:
                by_key[key] = None  # the key must exist, whatever its value
            elif by_key.get(key, []) is not None:
                by_key[key] = [*(by_key.get(key) or []), value.strip()]
        if by_key:
            parsed.append(list(by_key.items()))
    return parsed or None


def _matches(
    rows: list[tuple[str, str]], filters: list[list[tuple[str, list[str] | None]]] | None
) -> bool:
    if filters is None:
        return True
    return any(
        all(
            any(
                k == key.lower() and (values is None or v.lower() in {x.lower() for x in values})
                for k, v in rows
            )
            for key, values in conditions
        )
        for conditions in filters
    )


def _parse_order(raw: list[str]) -> tuple[str, bool] | None:
    if not raw:
        return None
    field, _, direction = raw[0].partition(",")  # only the first order field is honoured
    if direction.strip().lower() not in ("", "asc", "desc") or not field.strip():
        raise _Reject(400, "InputError", "Invalid order field order, must be asc or desc")
    return field.strip(), direction.strip().lower() == "desc"


def _parse_text(params: Any) -> tuple[str, list[str]] | None:
    term = (params.get("fullTextFilterTerm") or "").strip()
    if not term:
        return None
    fields = [
        f.strip().lower()
        for raw in params.getlist("fullTextFilterFields")
        for f in raw.split(",")
        if f.strip()
    ]
    if not fields:  # Backstage searches the sort field, or the uid
        order = _parse_order(params.getlist("orderField"))
        fields = [order[0].lower() if order else "metadata.uid"]
    return term.lower(), fields


def _text_matches(rows: list[tuple[str, str]], text: tuple[str, list[str]] | None) -> bool:
    if text is None:
        return True
    term, fields = text
    return any(k in fields and term in v.lower() for k, v in rows)


def _cmp(a: SortKey, b: SortKey, query: _Query) -> int:
    """Missing values last; then value and uid, reversed for a descending order."""
    if a[0] != b[0]:
        return 1 if a[0] else -1
    sign = -1 if query.order and query.order[1] else 1
    if a[1:] == b[1:]:
        return 0
    return sign if a[1:] > b[1:] else -sign


# -- cursors, params and answers -------------------------------------------------


def _encode_cursor(
    query: _Query, total: int, *, after: SortKey | None = None, before: SortKey | None = None
) -> str:
    data = {
        "totalItems": total,
        "filters": query.filters,
        "order": query.order,
        "text": query.text,
        "after": after,
        "before": before,
    }
    return base64.b64encode(json.dumps(data).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[_Query, SortKey | None, SortKey | None, int]:
    try:
        data = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4)))
        filters = data["filters"]
        query = _Query(
            filters=[[(k, v) for k, v in conditions] for conditions in filters]
            if filters
            else None,
            order=(data["order"][0], bool(data["order"][1])) if data["order"] else None,
            text=(data["text"][0], list(data["text"][1])) if data["text"] else None,
        )
        after = tuple(data["after"]) if data["after"] else None
        before = tuple(data["before"]) if data["before"] else None
        total = int(data["totalItems"])
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise _Reject(400, "InputError", f"Malformed cursor: {reason}") from exc
    return query, after, before, total


def _int_param(raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Reject(400, "InputError", "request/query/limit must be integer") from None
    if value < 0:
        raise _Reject(400, "InputError", "request/query/limit must be >= 0")
    return value


def _fields_param(raw: list[str]) -> list[str] | None:
    fields = [f.strip() for item in raw for f in item.split(",") if f.strip()]
    return fields or None


def _str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _project(entity: Entity, fields: list[str] | None) -> Entity:
    """Only the dotted ``fields`` of the entity (all of it without fields)."""
    if not fields:
        return entity
    out: Entity = {}
    for path in fields:
        parts = path.split(".")
        node: Any = entity
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            continue
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = copy.deepcopy(node)
    return out


def _error(request: Request, reject: _Reject) -> JSONResponse:
    return JSONResponse(
        {
            "error": {"name": reject.name, "message": reject.message},
            "request": {"method": request.method, "url": _router_url(request)},
            "response": {"statusCode": reject.status},
        },
        status_code=reject.status,
    )


def _router_url(request: Request) -> str:
    """The URL as the catalog's router sees it: without ``/api/catalog``."""
    path = request.url.path.removeprefix("/api/catalog")
    return f"{path}?{request.url.query}" if request.url.query else path
