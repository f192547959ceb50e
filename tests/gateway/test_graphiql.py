"""GraphiQL is served by the gateway itself: the page and every file it loads, no CDN."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.graphiql.assets import MANIFEST_PATH, STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = STATIC_DIR.parent / "build"
MANIFEST = json.loads(MANIFEST_PATH.read_text())["files"]
HTML = {"Accept": "text/html"}
# What makes a browser fetch from elsewhere: a script, stylesheet or import by URL.
EXTERNAL_LOAD = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//|@import\s+url\(\s*["']?https?:""")


def page(client: TestClient) -> str:
    response = client.get("/graphql", headers=HTML)
    assert response.status_code == 200
    return response.text


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(graphiql/static/[^"]+)"', html)


# --- what is vendored ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_vendored_file_matches_its_manifest_hash(name: str) -> None:
    data = (STATIC_DIR / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == MANIFEST[name]["sha256"]
    assert len(data) == MANIFEST[name]["bytes"]


def test_the_static_folder_holds_only_what_the_manifest_lists() -> None:
    present = {path.name for path in STATIC_DIR.iterdir()} - {"MANIFEST.json"}
    assert present == set(MANIFEST)


def test_manifest_versions_are_the_ones_package_lock_pins() -> None:
    lock = json.loads((BUILD_DIR / "package-lock.json").read_text())["packages"]
    wanted = json.loads((BUILD_DIR / "package.json").read_text())["dependencies"]
    for entry in MANIFEST.values():
        assert entry["version"] == lock[f"node_modules/{entry['package']}"]["version"]
        assert entry["version"] == wanted[entry["package"]], "package.json pins exact versions"


@pytest.mark.slow
def test_the_vendor_script_rebuilds_exactly_the_committed_files(tmp_path: Path) -> None:
    """README's update command (npm ci of package-lock.json, then copy), into a tmp folder."""
    done = subprocess.run(
        [sys.executable, "gateway/graphiql/build/vendor.py", "--static-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in [*MANIFEST, "MANIFEST.json"]:
        assert (tmp_path / name).read_bytes() == (STATIC_DIR / name).read_bytes(), name


# --- the page ----------------------------------------------------------------------------


def test_the_page_loads_only_files_the_gateway_serves(client: TestClient) -> None:
    html = page(client)
    assert "http://" not in html
    assert "https://" not in html
    urls = asset_urls(html)
    assert len(urls) == 8  # 5 scripts, 3 stylesheets
    for url in urls:
        assert client.get(f"/{url}").status_code == 200, url


def test_no_served_script_or_stylesheet_loads_from_elsewhere(client: TestClient) -> None:
    for url in asset_urls(page(client)):
        text = client.get(f"/{url}").text
        assert not EXTERNAL_LOAD.search(text), url


def test_the_page_names_itself_for_trusted_documents(client: TestClient) -> None:
    assert '"x-mlmeta-client": "graphiql"' in page(client)


def test_the_page_forbids_scripts_from_anywhere_but_the_gateway(client: TestClient) -> None:
    response = client.get("/graphql", headers=HTML)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "<script>" not in response.text, "no inline script: it would need 'unsafe-inline'"


def test_the_header_editor_starts_with_an_empty_authorization(client: TestClient) -> None:
    assert r'"Authorization\": \"\"' in page(client)


def test_no_page_without_graphiql(settings: Settings) -> None:
    with TestClient(create_app(settings.replace(graphiql=False))) as client:
        assert client.get("/graphql", headers=HTML).status_code == 404
        assert client.get("/graphiql/static/graphiql.min.js").status_code == 404


# --- the files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("graphiql.min.js", "text/javascript; charset=utf-8"),
        ("graphiql.min.css", "text/css; charset=utf-8"),
        ("mlmeta-graphiql.js", "text/javascript; charset=utf-8"),
        ("graphiql.LICENSE.txt", "text/plain; charset=utf-8"),
    ],
)
def test_files_are_served_with_their_content_type(
    client: TestClient, name: str, content_type: str
) -> None:
    response = client.get(f"/graphiql/static/{name}")
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"


def test_files_are_cached_for_a_year_under_a_versioned_url(client: TestClient) -> None:
    (url,) = [u for u in asset_urls(page(client)) if "graphiql.min.js" in u]
    sha256 = MANIFEST["graphiql.min.js"]["sha256"]
    assert url.endswith(f"?v={sha256[:12]}")
    response = client.get(f"/{url}")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["etag"] == f'"{sha256}"'


def test_a_known_etag_gets_304(client: TestClient) -> None:
    etag = f'"{MANIFEST["graphiql.min.js"]["sha256"]}"'
    response = client.get("/graphiql/static/graphiql.min.js", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""


def test_scripts_are_sent_gzipped_to_browsers_that_take_it(client: TestClient) -> None:
    raw = client.get(
        "/graphiql/static/graphiql.min.js",
        headers={"Accept-Encoding": "gzip"},
    )
    assert raw.headers["content-encoding"] == "gzip"
    assert int(raw.headers["content-length"]) < MANIFEST["graphiql.min.js"]["bytes"] / 2
    assert raw.content == (STATIC_DIR / "graphiql.min.js").read_bytes()  # decoded by httpx


@pytest.mark.parametrize("name", ["nope.js", "..%2Fpage.py", "MANIFEST.json", "build"])
def test_only_the_listed_files_are_served(client: TestClient, name: str) -> None:
    assert client.get(f"/graphiql/static/{name}").status_code == 404


def test_static_files_need_no_token(settings: Settings) -> None:
    with TestClient(create_app(settings.replace(allow_anonymous=False))) as client:
        assert client.get("/graphiql/static/mlmeta-graphiql.js").status_code == 200
