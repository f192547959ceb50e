"""A Backstage-shaped catalog that answers slowly, and notices callers who hang up.

Served over real HTTP (``serve_app``) so that the gateway's own httpx client,
its cancellation and the DataLoader batching are what a test exercises. Every
request waits ``delay`` seconds before an empty answer; a caller that closes the
connection first is counted in ``abandoned``: the proof that cancelled work
really stopped upstream rather than running on unread.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class SlowCatalog:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.started: Counter[str] = Counter()
        self.abandoned: Counter[str] = Counter()
        self.first_request = threading.Event()

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/api/catalog/{rest:path}", self._answer, methods=["GET", "POST"])]
        )

    async def _answer(self, request: Request) -> Response:
        path = request.url.path.removeprefix("/api/catalog")
        self.started[path] += 1
        self.first_request.set()
        loop = asyncio.get_running_loop()
        until = loop.time() + self.delay
        while loop.time() < until:
            if await request.is_disconnected():
                self.abandoned[path] += 1
                return Response(status_code=499)
            await asyncio.sleep(0.02)
        if path.startswith("/entities/by-refs"):
            refs = (await request.json()).get("entityRefs", [])
            return JSONResponse({"items": [None] * len(refs)})
        return JSONResponse({"items": [], "totalItems": 0, "pageInfo": {}})
