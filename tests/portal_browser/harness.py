"""Drive Debian's chromium through the mlmeta portal with playwright-core.

``runner/portal.mjs`` does the browsing; playwright-core is the copy
``tests/graphiql_browser`` installs (one locked package, one cache folder), and the
browser is the machine's (``/usr/bin/chromium`` or ``MLMETA_CHROMIUM``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.graphiql_browser.harness import _env, _tool, chromium_path, ensure_installed

RUNNER = Path(__file__).resolve().parent / "runner" / "portal.mjs"
BROWSE_TIMEOUT_SECONDS = 600


def browse_portal(plan: dict[str, Any], plan_path: Path) -> dict[str, Any]:
    """Run ``portal.mjs`` on ``plan`` (see the script); its report as a dict."""
    playwright = ensure_installed() / "node_modules" / "playwright-core" / "index.mjs"
    plan_path.write_text(json.dumps(plan, indent=2))
    done = subprocess.run(
        [_tool("node"), str(RUNNER), str(plan_path)],
        capture_output=True,
        text=True,
        timeout=BROWSE_TIMEOUT_SECONDS,
        env={**_env(), "MLMETA_CHROMIUM": chromium_path(), "PLAYWRIGHT_CORE": str(playwright)},
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"portal.mjs failed (screenshots so far in {plan['outDir']}):\n{done.stderr[-4000:]}"
        )
    report: dict[str, Any] = json.loads(done.stdout)
    return report
