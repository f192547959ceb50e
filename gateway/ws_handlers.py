"""Websocket protocol handlers that apply the trusted-document policy.

Queries and mutations can run over a websocket as well as subscriptions, so the
enforce mode must hold there too, or it would be bypassed by switching transport.
Both protocols Strawberry speaks are covered: graphql-transport-ws (``subscribe``)
and the legacy graphql-ws (``start``). Documents are resolved (by hash too) but
never registered over a websocket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage

from gateway.context import Context
from gateway.trusted_documents import DocumentRefused, TrustedDocuments

if TYPE_CHECKING:
    from gateway.view import GatewayGraphQL


async def _resolved_payload(
    view: GatewayGraphQL, context: Context, payload: dict[str, Any]
) -> dict[str, Any] | GraphQLError:
    documents: TrustedDocuments = view.documents
    query = payload.get("query")
    extensions = payload.get("extensions")
    if not isinstance(query, str | None) or not isinstance(extensions, dict | None):
        return GraphQLError("query must be a string", extensions={"code": "BAD_REQUEST"})
    try:
        resolved = await documents.resolve(query, extensions, context.principal)
    except DocumentRefused as exc:
        return exc.error
    if resolved.query is None:
        return GraphQLError("No GraphQL query found", extensions={"code": "BAD_REQUEST"})
    return {**payload, "query": resolved.query}


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # closes the socket, as the protocol says
            return
        view = cast("GatewayGraphQL", self.view)
        payload = await _resolved_payload(view, self.context, dict(message["payload"]))
        if isinstance(payload, GraphQLError):
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [payload.formatted]}
            )
            return
        await super().handle_subscribe(cast("SubscribeMessage", {**message, "payload": payload}))


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    async def handle_start(self, message: StartMessage) -> None:
        if not self.connection_acknowledged:
            await super().handle_start(message)
            return
        view = cast("GatewayGraphQL", self.view)
        payload = await _resolved_payload(view, self.context, dict(message["payload"]))
        if isinstance(payload, GraphQLError):
            await self.send_message(
                {"type": "error", "id": message["id"], "payload": payload.formatted}
            )
            return
        await super().handle_start(cast("StartMessage", {**message, "payload": payload}))
