"""A real graphql-transport-ws client over a real websocket (the `websockets` package)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect


class Subscription:
    def __init__(self, ws: ClientConnection, operation_id: str) -> None:
        self.ws = ws
        self.id = operation_id

    def next_message(self, timeout: float = 15.0) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(self.ws.recv(timeout=timeout))
            if message.get("type") == "ping":
                self.ws.send(json.dumps({"type": "pong"}))
                continue
            return message

    def results(self, timeout: float = 15.0) -> Iterator[dict[str, Any]]:
        """Each `next` payload until `complete`; raises on `error`."""
        while True:
            message = self.next_message(timeout)
            if message["type"] == "complete":
                return
            if message["type"] == "error":
                raise AssertionError(f"subscription error: {message['payload']}")
            assert message["type"] == "next", message
            yield message["payload"]


@contextmanager
def subscribe(
    base_url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> Iterator[Subscription]:
    url = base_url.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(ws.recv(timeout=10))
        assert ack["type"] == "connection_ack", ack
        ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )
        yield Subscription(ws, "1")
