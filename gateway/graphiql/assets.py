"""GraphiQL's scripts and stylesheets, served by the gateway at ``/graphiql/static/<name>``.

The vendored files (``static/``, listed with their sha256 in ``static/MANIFEST.json``;
``build/vendor.py`` writes both) and mlmeta's own page script and stylesheet are
read once, when the app is built, and kept in memory (about 1.6 MB, 0.65 MB
gzipped). The page links each file with ``?v=<its hash>``, so browsers may keep
it for a year: a new version is a new URL.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
MANIFEST_PATH = STATIC_DIR / "MANIFEST.json"
OWN_FILES = ("mlmeta-graphiql.js", "mlmeta-graphiql.css")
STATIC_PREFIX = "graphiql/static"
"""Relative to the page at ``/graphql``, so the page also works behind a path prefix
(Backstage's proxy serves it as ``/api/proxy/mlmeta/graphql``)."""

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
CACHE_FOREVER = "public, max-age=31536000, immutable"
_GZIP_MIN_BYTES = 1024


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    gzipped: bytes | None
    content_type: str
    sha256: str

    @property
    def url(self) -> str:
        return f"{STATIC_PREFIX}/{self.name}?v={self.sha256[:12]}"

    def response(self, request: Request) -> Response:
        headers = {
            "Cache-Control": CACHE_FOREVER,
            "ETag": f'"{self.sha256}"',
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        body = self.body
        if self.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            body = self.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, headers=headers, media_type=self.content_type)


def _asset(name: str, path: Path) -> Asset:
    body = path.read_bytes()
    content_type = CONTENT_TYPES[path.suffix]
    compressible = len(body) >= _GZIP_MIN_BYTES and path.suffix != ".txt"
    return Asset(
        name=name,
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0) if compressible else None,
        content_type=content_type,
        sha256=hashlib.sha256(body).hexdigest(),
    )


def vendored_names() -> list[str]:
    """The files ``static/MANIFEST.json`` lists, in its order."""
    manifest = json.loads(MANIFEST_PATH.read_text())
    return list(manifest["files"])


def load_assets() -> dict[str, Asset]:
    """Every file the page may load, by the name in its URL."""
    assets = {name: _asset(name, STATIC_DIR / name) for name in vendored_names()}
    assets.update({name: _asset(name, HERE / name) for name in OWN_FILES})
    return assets


def asset_endpoint(assets: dict[str, Asset]) -> Callable[[Request], Awaitable[Response]]:
    """``GET /graphiql/static/{name}``: a file of ``assets`` or 404; no folder lookups."""

    async def serve_asset(request: Request) -> Response:
        asset = assets.get(request.path_params["name"])
        if asset is None:
            return PlainTextResponse("not found", status_code=404)
        return asset.response(request)

    return serve_asset
