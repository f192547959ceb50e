"""A real proxy in front of an upstream that misbehaves on command: faults at the transport.

``FaultProxy`` listens on a local port (in a thread with its own event loop) and
forwards to an upstream (moto, a Backstage-shaped app, PostgreSQL). A test
points the gateway at the proxy and then breaks it, for every request or only
for the requests of one *route* (an AWS service told apart by its request):

- ``REFUSED``: the port stops listening (the kernel refuses connections); it
  listens on the same port again when healed. Per route it cannot be, so a
  route asked to refuse drops the connection unanswered (``RESET``).
- ``RESET``: the connection is closed without an answer.
- ``HANG``: the request is read and never answered (a paused or wedged
  upstream); for a TCP proxy, bytes stop flowing both ways on every
  connection, old ones included.
- ``HTTP_500``, ``THROTTLED``, ``MALFORMED``: an answer in the shape the route's
  protocol uses (``Route``): an AWS JSON or CBOR error, a Backstage error, or
  a 200 whose body is not what the protocol promises.

HTTP mode forwards one request per connection (``Connection: close`` both
ways), which is all the gateway's clients need and keeps the proxy small.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal


class Fault(enum.Enum):
    REFUSED = "refused"
    RESET = "reset"
    HANG = "hang"
    HTTP_500 = "500"
    THROTTLED = "throttled"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Route:
    """A kind of request and how its protocol says 500, throttled and malformed."""

    name: str
    matches: Callable[[Request], bool]
    answers: Callable[[Fault, Request], Answer]
    """The fault's answer to a request, in the protocol the request speaks."""


# -- the protocols' error shapes ---------------------------------------------------


def _cbor_text(text: str) -> bytes:
    raw = text.encode()
    assert len(raw) < 24, "short strings only"
    return bytes([0x60 + len(raw)]) + raw


def _cbor_error(code: str) -> bytes:
    """``{"__type": code}`` in CBOR: a one-entry map of two short text strings."""
    return b"\xa1" + _cbor_text("__type") + _cbor_text(code)


def aws_json_answers(fault: Fault, request: Request | None = None) -> Answer:
    """AWS JSON 1.0/1.1 (Step Functions, SageMaker): the error code in ``__type``."""
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if fault is Fault.HTTP_500:
        return 500, headers, b'{"__type": "InternalFailure", "message": "injected"}'
    if fault is Fault.THROTTLED:
        return 400, headers, b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
    return 200, headers, b"<html>this is not JSON</html>"


def aws_cbor_answers(fault: Fault, request: Request | None = None) -> Answer:
    """Smithy RPC v2 CBOR (CloudWatch in botocore >= 1.40): ``__type`` in a CBOR body."""
    headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
    if fault is Fault.HTTP_500:
        return 500, headers, _cbor_error("InternalFailure")
    if fault is Fault.THROTTLED:
        # CloudWatch is query-compatible: botocore also reads the query code from here.
        return (
            400,
            {**headers, "x-amzn-query-error": "Throttling;Sender"},
            _cbor_error("ThrottlingException"),
        )
    return 200, headers, b"\xff\xfe not cbor"


def backstage_answers(fault: Fault, request: Request | None = None) -> Answer:
    """Backstage's error body, ``{error: {name, message}}``; 429 when rate-limited."""
    headers = {"Content-Type": "application/json"}
    if fault is Fault.HTTP_500:
        return 500, headers, b'{"error": {"name": "Error", "message": "injected"}}'
    if fault is Fault.THROTTLED:
        return 429, headers, b'{"error": {"name": "TooManyRequests", "message": "slow down"}}'
    return 200, headers, b"<!doctype html><p>a login page, not the catalog"


def _aws_target(prefix: str) -> Callable[[Request], bool]:
    return lambda r: r.headers.get("x-amz-target", "").startswith(prefix + ".")


STEPFUNCTIONS = Route("stepfunctions", _aws_target("AWSStepFunctions"), aws_json_answers)
SAGEMAKER = Route("sagemaker", _aws_target("SageMaker"), aws_json_answers)


def cloudwatch_answers(fault: Fault, request: Request | None = None) -> Answer:
    """CloudWatch speaks CBOR or JSON (botocore picks by version): answered in the request's."""
    if request is not None and request.headers.get("x-amz-target"):
        return aws_json_answers(fault)
    return aws_cbor_answers(fault)


CLOUDWATCH = Route(
    "cloudwatch",
    lambda r: (
        r.path.startswith("/service/GraniteServiceVersion20100801/")
        or r.headers.get("x-amz-target", "").startswith("GraniteServiceVersion20100801.")
    ),
    cloudwatch_answers,
)
AWS_ROUTES = (STEPFUNCTIONS, SAGEMAKER, CLOUDWATCH)
BACKSTAGE = Route("catalog", lambda r: True, backstage_answers)


# -- the proxy ---------------------------------------------------------------------


class FaultProxy:
    """Forwards to ``upstream`` (host, port); ``fail`` and ``heal`` switch faults.

    ``mode="http"`` understands requests (routes, HTTP answers); ``mode="tcp"``
    only pipes bytes (``REFUSED``, ``RESET`` and ``HANG`` only).
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        routes: tuple[Route, ...] = (),
        mode: Literal["http", "tcp"] = "http",
    ) -> None:
        self.upstream = upstream
        self.routes = routes
        self.mode = mode
        self.faults: dict[str, Fault] = {}
        """Route name (or ``"*"``: every request) -> its fault."""
        self.faulted: Counter[str] = Counter()
        """Requests (or connections) a fault was applied to, by route name."""
        self.forwarded: Counter[str] = Counter()
        """Requests forwarded to the upstream, by route name (``""``: no route)."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()  # set on the loop: TCP bytes may flow
        self._open: set[asyncio.StreamWriter] = set()
        self.port = 0

    # -- lifecycle

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen)
        self._loop.call_soon_threadsafe(self._flowing.set)
        return self

    def stop(self) -> None:
        self._call(self._close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- test controls

    def fail(self, fault: Fault, route: str = "*") -> None:
        """From now on, apply ``fault`` to ``route``'s requests (``"*"``: all of them)."""
        if fault is Fault.REFUSED and route == "*":
            self._call(self._unlisten)
        if fault is Fault.HANG and self.mode == "tcp":
            self._loop.call_soon_threadsafe(self._flowing.clear)
        self.faults[route] = fault

    def heal(self) -> None:
        """Every fault gone: listening again (on the same port), bytes flowing."""
        self.faults.clear()
        if self._server is None:
            self._call(self._listen)
        self._loop.call_soon_threadsafe(self._flowing.set)

    def reset_connections(self) -> None:
        """Drop every open connection (what a restarted upstream does to its clients)."""
        self._call(self._drop_all)

    # -- internals (on the proxy's loop)

    def _call(self, coroutine: Callable[[], object]) -> None:
        async def run() -> None:
            result = coroutine()
            if asyncio.iscoroutine(result):
                await result

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    async def _listen(self) -> None:
        handler = self._pipe if self.mode == "tcp" else self._http
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(handler, sock=sock)

    async def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _drop_all(self) -> None:
        for writer in list(self._open):
            _abort(writer)

    async def _close(self) -> None:
        await self._unlisten()
        await self._drop_all()
        # Connections still piping (a hung one waits for bytes forever) end with the proxy.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _fault_for(self, request: Request | None) -> tuple[str, Fault] | None:
        if "*" in self.faults:
            return "*", self.faults["*"]
        for route in self.routes:
            if route.name in self.faults and request is not None and route.matches(request):
                return route.name, self.faults[route.name]
        return None

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            request = await _read_request(reader)
            if request is None:
                return
            found = self._fault_for(request)
            if found is None:
                route = next((r.name for r in self.routes if r.matches(request)), "")
                self.forwarded[route] += 1
                await self._forward(request, writer)
                return
            name, fault = found
            self.faulted[name] += 1
            if fault in (Fault.REFUSED, Fault.RESET):
                _abort(writer)
            elif fault is Fault.HANG:
                await reader.read()  # until the client gives up and closes
            else:
                owner = next((r for r in self.routes if r.name == name), None)
                answers = owner.answers if owner else self._answers_for(request)
                await _write_response(writer, *answers(fault, request))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._open.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def _answers_for(self, request: Request) -> Callable[[Fault, Request], Answer]:
        route = next((r for r in self.routes if r.matches(request)), None)
        return route.answers if route else backstage_answers

    async def _forward(self, request: Request, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        try:
            head = f"{request.method} {request.path} HTTP/1.1\r\n"
            headers = {k: v for k, v in request.headers.items() if k != "connection"}
            headers["connection"] = "close"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            up_writer.write(head.encode("latin-1") + request.body)
            await up_writer.drain()
            raw = await up_reader.read()  # the upstream closes after its answer
        finally:
            up_writer.close()
        status_line, _, rest = raw.partition(b"\r\n")
        header_block, _, body = rest.partition(b"\r\n\r\n")
        kept = [
            line
            for line in header_block.split(b"\r\n")
            if line and not line.lower().startswith(b"connection:")
        ]
        writer.write(b"\r\n".join([status_line, *kept, b"Connection: close"]) + b"\r\n\r\n")
        writer.write(body)
        await writer.drain()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        found = self._fault_for(None)
        if found is not None and found[1] in (Fault.REFUSED, Fault.RESET):
            self.faulted[found[0]] += 1
            _abort(writer)
            return
        self._open.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _abort(writer)
            return
        self._open.add(up_writer)
        try:
            await asyncio.gather(self._copy(reader, up_writer), self._copy(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._open.discard(w)
                with contextlib.suppress(Exception):
                    w.close()

    async def _copy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                if not self._flowing.is_set():
                    self.faulted["*"] += 1
                    await self._flowing.wait()
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


def _abort(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # RST rather than FIN: a dead peer, not a polite one
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        headers.pop("transfer-encoding")
        headers["content-length"] = str(len(body))
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method, path, headers, body)


async def _write_response(
    writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: bytes
) -> None:
    lines = [f"HTTP/1.1 {status} Injected"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


@contextlib.contextmanager
def fault_proxy(
    upstream: tuple[str, int],
    *,
    routes: tuple[Route, ...] = (),
    mode: Literal["http", "tcp"] = "http",
) -> Iterator[FaultProxy]:
    with FaultProxy(upstream, routes=routes, mode=mode) as proxy:
        yield proxy
