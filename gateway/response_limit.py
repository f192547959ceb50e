"""A cap on the size of a GraphQL response (``MLMETA_MAX_RESPONSE_BYTES``).

A response over the cap is replaced, whole, by a ``RESPONSE_TOO_LARGE`` error
giving its size and the limit: never a half-written body that a client would
fail to parse. The check is on the encoded body, which the GraphQL view builds
completely before it sends anything, so it costs a length comparison.

HTTP: the start message is held back until the body is seen. Bodies sent in
several parts (multipart subscriptions, incremental delivery) have started when
their size is known, so they pass unchecked. Websockets: an oversized ``next``
message has its payload replaced, keeping the operation id, so the client's
protocol state stays right.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mlmeta.errors")
CODE = "RESPONSE_TOO_LARGE"


def too_large_body(size: int, limit: int) -> dict[str, object]:
    message = (
        f"The response would be {size} bytes, over the limit of {limit} bytes; "
        "ask for fewer fields, a smaller page or fewer points."
    )
    extensions = {"code": CODE, "size": size, "limit": limit}
    return {"data": None, "errors": [{"message": message, "extensions": extensions}]}


class ResponseSizeLimit:
    """ASGI wrapper of the GraphQL endpoint; ``limit`` 0 turns it off."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limit <= 0 or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, self._websocket_send(send))
            return
        await self.app(scope, receive, self._http_send(send))

    def _http_send(self, send: Send) -> Send:
        held: Message | None = None

        async def bounded_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                held = message
                return
            if held is not None:
                start, held = held, None
                body = message.get("body", b"")
                whole = message["type"] == "http.response.body" and not message.get("more_body")
                if whole and len(body) > self.limit:
                    start, message = self._replace(start, len(body))
                await send(start)
            await send(message)

        return bounded_send

    def _replace(self, start: Message, size: int) -> tuple[Message, Message]:
        log.info("response of %d bytes refused (limit %d): %s", size, self.limit, CODE)
        body = json.dumps(too_large_body(size, self.limit)).encode()
        headers = [
            (name, value)
            for name, value in start.get("headers", [])
            if name.lower() != b"content-length"
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        return {**start, "headers": headers}, {"type": "http.response.body", "body": body}

    def _websocket_send(self, send: Send) -> Send:
        async def bounded_send(message: Message) -> None:
            text = message.get("text")
            # len(text) <= bytes <= 4 * len(text): only big frames are encoded to measure.
            if message["type"] == "websocket.send" and text and 4 * len(text) > self.limit:
                size = len(text.encode())
                if size > self.limit:
                    message = {"type": "websocket.send", "text": self._replace_frame(text, size)}
            await send(message)

        return bounded_send

    def _replace_frame(self, text: str, size: int) -> str:
        log.info("websocket message of %d bytes refused (limit %d): %s", size, self.limit, CODE)
        frame = json.loads(text)
        replaced = too_large_body(size, self.limit)
        if frame.get("type") in ("next", "data"):  # graphql-transport-ws, legacy graphql-ws
            return json.dumps({**frame, "payload": replaced})
        return json.dumps({"type": "error", "id": frame.get("id"), "payload": replaced["errors"]})
