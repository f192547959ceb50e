"""GraphiQL works with no internet: a real chromium, every non-loopback request blocked.

A real uvicorn serves the gateway with anonymous access; Debian's chromium,
driven by playwright-core (``harness.py``), opens ``/graphql``, waits for the
editor and the schema, runs a query from a new tab with Ctrl-Enter and reads
the result pane. The screenshot it takes is README's ``docs/graphiql-offline.png``
when ``MLMETA_UPDATE_SCREENSHOTS=1`` is set.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.config import Settings
from tests.conftest import SMALL_CATALOG
from tests.graphiql_browser.harness import browse_graphiql, chromium_path
from tests.support.http_server import serve_app

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "graphiql-offline.png"


@pytest.fixture(scope="module")
def browser() -> str:
    path = chromium_path()
    if not Path(path).exists() and not os.environ.get("CI"):
        pytest.skip(f"no chromium at {path}: `apt-get install chromium` (CI installs it)")
    return path


@pytest.fixture(scope="module")
def gateway_settings(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, migrated_sqlite: Path
) -> Settings:
    """The suite's small test data, anonymous access on (a browser sends no token)."""
    data_dir = tmp_path_factory.mktemp("graphiql-data")
    shutil.copy(migrated_sqlite, data_dir / "mlmeta.db")
    catalog = data_dir / "catalog"
    catalog.mkdir()
    (catalog / "catalog-info.yaml").write_text(SMALL_CATALOG)
    return Settings(
        data_dir=data_dir,
        catalog_folder=str(catalog),
        aws_endpoint_url=moto_endpoint,
        aws_max_attempts=1,
        allow_anonymous=True,
    )


@pytest.fixture(scope="module")
def report(
    browser: str, gateway_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One browser session, shared by the tests below (each reads a part of it)."""
    shot = tmp_path_factory.mktemp("graphiql-shot") / "graphiql.png"
    with serve_app(create_app(gateway_settings)) as base_url:
        result = browse_graphiql(f"{base_url}/graphql", shot)
    if os.environ.get("MLMETA_UPDATE_SCREENSHOTS"):  # kept out of the tree otherwise
        shutil.copyfile(shot, SCREENSHOT)
    return {**result, "screenshot": shot.read_bytes()}


@pytest.mark.slow
def test_graphiql_runs_a_query_with_every_outside_request_blocked(
    report: dict[str, Any],
) -> None:
    assert report["status"] == 200
    assert report["blocked"] == [], "the page reached beyond the gateway"
    assert all(url.startswith("http://127.0.0.1:") for url in report["requests"])
    assert report["failed"] == []
    assert report["pageErrors"] == []
    assert report["consoleErrors"] == []
    # The query typed into the new tab ran, and its cost is in the result pane too.
    assert '"kind": "ANONYMOUS"' in report["resultText"]
    assert '"cost"' in report["resultText"]
    assert '"requested"' in report["resultText"]


@pytest.mark.slow
def test_graphiql_opens_with_readmes_examples_and_the_header_editor(
    report: dict[str, Any],
) -> None:
    assert [tab.strip() for tab in report["tabs"]] == [
        "Overview",
        "EntityPage",
        "Metrics",
        "ModelCard",
        "Lineage",
        "WatchRuns",
    ]
    assert '"Authorization": ""' in report["headersEditor"]
    assert "Bearer <token>" in report["footer"]


@pytest.mark.slow
def test_graphiql_works_under_its_content_security_policy(report: dict[str, Any]) -> None:
    # Chromium enforced it: a violation would have been a console error above.
    assert "script-src 'self'" in report["csp"]
    assert report["consoleErrors"] == []


@pytest.mark.slow
def test_the_screenshot_shows_a_drawn_page_not_a_blank_one(report: dict[str, Any]) -> None:
    png = report["screenshot"]
    assert png.startswith(b"\x89PNG")
    # A blank 1440x900 page compresses to a few kB; GraphiQL with a result to ~100 kB.
    assert len(png) > 40_000
