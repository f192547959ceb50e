"""The GraphQL endpoint: authenticates, then hands over to Strawberry.

Authentication happens once per HTTP request (and once per websocket
connection) before any resolver runs; a bad token is a 401 with code
``AuthenticationError`` and nothing is executed. Then the trusted-document
policy picks the document to run (``gateway/trusted_documents.py``), and the
response follows GraphQL over HTTP (``gateway/graphql_http.py``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from gateway.auth.principal import Principal
from gateway.context import Context
from gateway.extensions.budget import standing_refusal
from gateway.graphiql.page import GraphiQLPage
from gateway.graphql_http import (
    GRAPHQL_RESPONSE_JSON,
    error_body_response,
    is_request_error,
    preferred_media_type,
    request_ids,
)
from gateway.resources import Resources
from gateway.trusted_documents import GRAPHIQL_HEADER, DocumentRefused, TrustedDocuments
from gateway.ws_handlers import LegacyWSHandler, TransportWSHandler
from sources.errors import AuthenticationError
from sources.metadb.documents import DocumentStore


class GatewayGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self, resources: Resources, graphiql_page: GraphiQLPage | None = None, **kwargs: Any
    ) -> None:
        # Browsers get our own GraphiQL page (gateway/graphiql), or none without it.
        super().__init__(graphql_ide="graphiql" if graphiql_page else None, **kwargs)
        self.graphiql_page = graphiql_page
        self.resources = resources
        settings = resources.settings
        self.documents = TrustedDocuments(
            DocumentStore(resources.metadb),
            settings.trusted_documents,
            settings.trusted_documents_allow,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._wants_ide(Request(scope)):
            request = Request(scope, receive)
            media_type = preferred_media_type(request.headers.get("accept"))
            authorization = request.headers.get("authorization")
            try:
                principal = await self.resources.authenticator.authenticate(authorization)
            except AuthenticationError as exc:
                bearer = {"WWW-Authenticate": "Bearer"}
                await error_body_response(401, exc.code, exc.message, media_type, bearer)(
                    scope, receive, send
                )
                return
            scope.setdefault("state", {})["principal"] = principal
            try:
                response = await self.run(request)
            except HTTPException as exc:
                response = self._refusal(exc, request.method, media_type)
            else:
                if (
                    media_type == GRAPHQL_RESPONSE_JSON
                    and response.media_type == "application/json"
                ):
                    response.headers["content-type"] = f"{media_type}; charset=utf-8"
                    # A status chosen on purpose (e.g. 429 for a spent budget) stands.
                    if (
                        getattr(request.state, "request_error", False)
                        and response.status_code == 200
                    ):
                        response.status_code = 400
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    @staticmethod
    def _refusal(exc: HTTPException, method: str, media_type: str) -> Response:
        """Strawberry answers these in plain text; ours carry a code like any error."""
        if method == "GET" and isinstance(exc.__cause__, InvalidOperationTypeError):
            # GraphQL over HTTP: a mutation over GET is 405, and POST is the way.
            return error_body_response(
                405, "BAD_REQUEST", exc.reason, media_type, {"Allow": "POST"}
            )
        return error_body_response(exc.status_code, "BAD_REQUEST", exc.reason, media_type)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if (refused := standing_refusal(self.resources.budgets, context)) is not None:
            return ExecutionResult(data=None, errors=[refused])
        graphiql = request.headers.get(GRAPHIQL_HEADER) == "graphiql"
        try:
            resolved = await self.documents.resolve(
                request_data.query, request_data.extensions, context.principal, graphiql=graphiql
            )
        except DocumentRefused as exc:
            return ExecutionResult(data=None, errors=[exc.error])
        request_data.query = resolved.query
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        # Registered only once it has parsed and validated: an APQ client cannot fill
        # the metadb with documents that would never run.
        if (
            resolved.register
            and resolved.query
            and not is_request_error(result.data, result.errors)
        ):
            await self.documents.register(resolved.query, context.principal)
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        body = await super().process_result(request, result)
        if body.get("errors"):
            body["extensions"] = {**(body.get("extensions") or {}), **request_ids()}
        if is_request_error(result.data, result.errors):
            # Read back in __call__: under graphql-response+json this is a 400, no data.
            request.state.request_error = True
            if preferred_media_type(request.headers.get("accept")) == GRAPHQL_RESPONSE_JSON:
                body.pop("data", None)
        return body

    def decode_json(self, data: str | bytes) -> object:
        # orjson stops at 1,024 levels of nesting with a JSONDecodeError (a coded 400);
        # the standard decoder recurses until RecursionError, a plain-text 500.
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            # Python's json writes NaN and Infinity (a diverged loss, say): read them, so
            # the resolver can name the bad value. Anything else is still malformed.
            try:
                return json.loads(data)
            except RecursionError as exc:
                raise json.JSONDecodeError("JSON nested too deeply", "", 0) from exc

    @property
    def graphql_ide_html(self) -> str:
        # Strawberry's own page loads React and GraphiQL from a CDN: a blank page offline.
        if self.graphiql_page is None:
            raise RuntimeError("GraphiQL is off (MLMETA_GRAPHIQL=false)")
        return self.graphiql_page.html

    async def render_graphql_ide(self, request: Request) -> Response:
        if self.graphiql_page is None:
            raise RuntimeError("GraphiQL is off (MLMETA_GRAPHIQL=false)")
        return self.graphiql_page.response()  # with its Content-Security-Policy

    def encode_json(self, data: object) -> str:
        # orjson: the standard encoder costs ~45 ms per 100k metric points. Text, not
        # bytes: websockets (graphql-transport-ws) must send text frames.
        return orjson.dumps(data).decode()

    def _wants_ide(self, request: Request) -> bool:
        return self.graphql_ide is not None and self.should_render_graphql_ide(request)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # Browsers only: Strawberry also serves the page for Accept */*, which is what
        # Apollo sends with a persisted query over GET (no `query`, only `extensions`).
        return (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
            and "extensions" not in request.query_params
        )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        # Websockets authenticate in on_ws_connect; until then they are nobody.
        principal = getattr(request.state, "principal", None) or Principal.anonymous()
        return Context.build(self.resources, principal, request, response)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a websocket from its headers or its connection_init payload."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        header = params.get("Authorization") or params.get("authorization")
        if header is None and context.request is not None:
            header = context.request.headers.get("authorization")
        try:
            principal = await self.resources.authenticator.authenticate(
                str(header) if header is not None else None
            )
        except AuthenticationError as exc:
            raise ConnectionRejectionError({"code": exc.code, "message": exc.message}) from exc
        rebuilt = Context.build(self.resources, principal, context.request, context.response)
        context.principal, context.loaders = rebuilt.principal, rebuilt.loaders
        return None
