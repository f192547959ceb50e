"""An oversize body gets its 413, even from a client that writes it all before reading.

Real uvicorn and a raw socket: the failure this guards against (the server
closing with unread data, so the kernel sends RST and the client sees
ECONNRESET instead of the response) only exists on a real TCP connection.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from gateway.app import create_app
from gateway.config import Settings
from tests.support.http_server import serve_app

LIMIT = 64 * 1024


def send_then_read(base_url: str, head: bytes, body_chunks: list[bytes]) -> bytes:
    """Write the whole request first, then read the whole response, like curl does."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            sock.sendall(chunk)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and received.endswith(b"}"):
                break
    return received


def status_and_body(response: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


@pytest.fixture
def base_url(settings: Settings):  # type: ignore[no-untyped-def]
    with serve_app(create_app(settings.replace(max_body_bytes=LIMIT))) as url:
        yield url


def test_declared_oversize_body_is_read_then_answered_413(base_url: str) -> None:
    body = b'{"query": "' + b" " * (4 * LIMIT) + b'{ __typename }"}'
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    status, answer = status_and_body(send_then_read(base_url, head, [body]))
    assert status == 413
    assert answer["errors"][0]["extensions"] == {"code": "REQUEST_TOO_LARGE"}  # type: ignore[index]


def test_streamed_oversize_body_is_read_then_answered_413(base_url: str) -> None:
    # Chunked: no Content-Length, so the limit is only passed while reading.
    chunk = b" " * 16384
    chunks = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4 * LIMIT // len(chunk))]
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    status, answer = status_and_body(send_then_read(base_url, head, [*chunks, b"0\r\n\r\n"]))
    assert status == 413
    assert answer["errors"][0]["extensions"] == {"code": "REQUEST_TOO_LARGE"}  # type: ignore[index]
