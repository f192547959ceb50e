"""mlmeta as an Apollo Federation v2 subgraph (``MLMETA_FEDERATION``, on by default).

With it the schema links the federation spec (``@link``), every ``Node`` type
carries ``@key(fields: "id")`` (and its natural key, ``resolvers.entities``), and
the query type gains ``_service { sdl }`` and ``_entities``, so a router
(Apollo Router, ``@apollo/gateway``, Hive Gateway, Cosmo) can compose mlmeta
with other subgraphs. Nothing else changes: a router's query is an ordinary
operation through ``/graphql``, with the caller's token, the same limits and
the same loaders. It costs nothing per request: two root fields more.

The subgraph SDL, with the directives, is what ``_service { sdl }`` answers
(and ``mlmeta export-schema --subgraph`` prints). The schema's own SDL
(``str(schema)``: ``/schema.graphql``, the committed ``schema.graphql``) is the
clients' contract and leaves the federation directives out: Backstage's API
viewer and code generators build a schema from it, and would refuse directives
nobody defines there.

Without federation the schema is the plain one: no ``_service``, no ``_entities``.
"""

from __future__ import annotations

import re
from typing import Any, Final

import strawberry
from strawberry.federation.schema import FederationAny
from strawberry.printer import print_schema
from strawberry.types import ExecutionContext

from gateway.error_log import GatewaySchema, log_errors
from resolvers.entities import resolve_entities

FEDERATION_VERSION: Final = "2.11"
_DIRECTIVES = re.compile(r' @key\(fields: "[^"]*"\)| @link\(url: "[^"]*", import: \[[^\]]*\]\)')
_DEFAULT_ROOTS = re.compile(r"\Aschema \{\n(  (query|mutation|subscription): \w+\n)+\}\n\n")


def client_sdl(sdl: str) -> str:
    """The SDL without federation's directives (and the schema block they needed)."""
    return _DEFAULT_ROOTS.sub("", _DIRECTIVES.sub("", sdl))


class FederatedSchema(strawberry.federation.Schema):
    """The gateway's schema as a Federation v2 subgraph."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(federation_version=FEDERATION_VERSION, **kwargs)
        entities = self._schema.query_type.fields.get("_entities")  # type: ignore[union-attr]
        if entities is None:  # a query type without entity types (tests build such)
            return
        entities.description = (
            "Federation: objects a router asks for by key (`id`; `ref` of a CatalogEntity, "
            "`arn` of a ModelVersion or PipelineExecution), with the access rules of `node`."
        )

    def process_errors(
        self, errors: list[Any], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors, execution_context)

    def subgraph_sdl(self) -> str:
        """The SDL a router composes: with ``@link`` and the ``@key`` directives."""
        return print_schema(self)

    def as_str(self) -> str:
        return client_sdl(print_schema(self))

    __str__ = as_str

    async def entities_resolver(  # type: ignore[override]
        self, info: strawberry.Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        found: list[FederationAny] = await resolve_entities(info, representations)
        return found


class PlainSchema(GatewaySchema):
    """The schema without federation: the types' ``@key`` directives are not printed."""

    def _warn_for_federation_directives(self) -> None:
        pass  # the keys are there on purpose, for the federated schema

    def as_str(self) -> str:
        return client_sdl(super().as_str())

    __str__ = as_str
