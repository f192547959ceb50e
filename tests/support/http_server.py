"""Run an ASGI app on a real local port for the duration of a test.

Fakes of upstreams (a Backstage-shaped app, a JWKS endpoint) are served over
real HTTP rather than patched in, so the gateway's own httpx client, timeouts
and error handling are what the tests exercise.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT_SECONDS = 10.0


@contextmanager
def serve_app(
    app: ASGIApp,
    *,
    lifespan: Literal["auto", "on", "off"] = "auto",
    ws: Literal["none", "websockets-sansio"] = "websockets-sansio",
) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a background thread; yield its base URL.

    The socket is bound before the server starts, so the port is known and
    cannot be taken by someone else in between. On exit the server is asked
    to stop and the thread joined, so no requests outlive the block.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        log_level="warning",
        access_log=False,
        ws=ws,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"test-http-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"test HTTP server on port {port} did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        sock.close()
