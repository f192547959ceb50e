"""Which document a request runs: automatic persisted queries and the enforce mode.

A request names its document in full (``query``), by hash
(``extensions.persistedQuery = {version: 1, sha256Hash}``, Apollo's APQ
protocol), or both (how an APQ client registers a document after a miss).

- ``off``: documents run as sent; a hash alone is ``PERSISTED_QUERY_NOT_SUPPORTED``,
  which makes Apollo clients stop sending hashes and resend in full.
- ``apq``: a hash alone runs the registered document or answers
  ``PERSISTED_QUERY_NOT_FOUND`` (the client then resends with the document);
  a document with its hash is checked, run, and registered once it has passed
  validation, for every replica (the store is the metadb).
- ``enforce``: only registered documents run, whichever way they are named (a
  full document runs when its exact text is registered). Nothing registers over
  HTTP: ``mlmeta documents register`` does. Service tokens and GraphiQL may be
  allowed free documents (``MLMETA_TRUSTED_DOCUMENTS_ALLOW``).
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from graphql import GraphQLError

from gateway.auth.principal import Principal, PrincipalKind
from sources.errors import UpstreamError
from sources.metadb.documents import DocumentStore, document_hash

GRAPHIQL_HEADER = "x-mlmeta-client"
"""Sent by the gateway's own GraphiQL page; not a credential, see ``allows_free``."""
CACHE_SIZE = 1024


class DocumentRefused(Exception):
    """The request may not run: carries the coded GraphQL error to answer with."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.error = GraphQLError(message, extensions={"code": code})


@dataclass(frozen=True)
class Resolved:
    """The document to run, and whether to register it once it has validated."""

    query: str | None
    register: bool = False


class TrustedDocuments:
    """The policy of ``MLMETA_TRUSTED_DOCUMENTS``, with an LRU of hashes seen in front
    of the metadb (documents never change under a hash, so the cache cannot be stale)."""

    def __init__(self, store: DocumentStore, mode: str, allow: tuple[str, ...]) -> None:
        self.store = store
        self.mode = mode
        self.allow = frozenset(allow)
        self._cache: OrderedDict[str, str] = OrderedDict()

    def allows_free(self, principal: Principal, *, graphiql: bool) -> bool:
        """May this caller send documents nobody registered (enforce mode)?

        The GraphiQL header is something any client can send, so it only counts for a
        signed-in caller: it lets people explore, it is not a protection boundary.
        """
        if "service" in self.allow and principal.kind is PrincipalKind.SERVICE:
            return True
        return (
            "graphiql" in self.allow and graphiql and principal.kind is not PrincipalKind.ANONYMOUS
        )

    async def resolve(
        self,
        query: str | None,
        extensions: Mapping[str, object] | None,
        principal: Principal,
        *,
        graphiql: bool = False,
    ) -> Resolved:
        """The document this request runs; raises ``DocumentRefused`` when it may not."""
        wanted = _persisted_hash(extensions)
        if self.mode == "off":
            if wanted is not None and query is None:
                raise DocumentRefused("PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED")
            return Resolved(query)
        if (
            wanted is not None
            and query is not None
            and not hmac.compare_digest(document_hash(query), wanted)
        ):
            raise DocumentRefused(
                "provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH"
            )
        if query is None:
            if wanted is None:
                return Resolved(None)  # answered as "no query" by the view
            found = await self._lookup(wanted)
            if found is None:
                raise DocumentRefused("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
            return Resolved(found)
        if self.mode == "apq":
            return Resolved(
                query, register=wanted is not None and await self._lookup(wanted) is None
            )
        # enforce: the exact text must be registered, unless this caller may send any.
        if self.allows_free(principal, graphiql=graphiql):
            return Resolved(query)
        if await self._lookup(wanted or document_hash(query)) is not None:
            return Resolved(query)
        raise DocumentRefused(
            "Only registered documents run here: send extensions.persistedQuery with the "
            "sha256 of a document registered with `mlmeta documents register`.",
            "PERSISTED_QUERY_NOT_ALLOWED",
        )

    async def register(self, query: str, principal: Principal) -> None:
        """Keep a document that an APQ client sent with its hash and that validated."""
        (sha256,) = await self.store.add([query], source="apq", registered_by=principal.subject)
        self._remember(sha256, query)

    async def _lookup(self, sha256: str) -> str | None:
        if (cached := self._cache.get(sha256)) is not None:
            self._cache.move_to_end(sha256)
            return cached
        try:
            found = await self.store.get(sha256)
        except UpstreamError as exc:
            raise DocumentRefused(exc.message, exc.code) from exc
        if found is not None:
            self._remember(sha256, found)
        return found

    def _remember(self, sha256: str, document: str) -> None:
        self._cache[sha256] = document
        self._cache.move_to_end(sha256)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)


def _persisted_hash(extensions: Mapping[str, object] | None) -> str | None:
    """The sha256 an APQ request names, or None; a malformed one is refused."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise DocumentRefused(
            "extensions.persistedQuery must be {version: 1, sha256Hash}", "BAD_REQUEST"
        )
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise DocumentRefused("sha256Hash must be 64 hex digits", "BAD_REQUEST")
    return sha256.lower()
