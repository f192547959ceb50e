"""The Backstage plugin's own checks run with the suite, and the host app bundles it as tested.

``plugins/backstage/plugin/test.sh`` is the plugin's one test command (``npm ci``
once per lock into ~/.cache/mlmeta, the generated-operations check, tsc, lint,
jest); it runs here so that ``./run test`` and ``.ci/run`` fail when the plugin's
tests do. The portal's bundle compiles the plugin's sources against the app's
node_modules, so the app must hold every runtime dependency of the plugin, at the
version its tests ran on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

BACKSTAGE = Path(__file__).resolve().parents[2] / "plugins" / "backstage"
PLUGIN = BACKSTAGE / "plugin"
APP = BACKSTAGE / "app"
TEST_TIMEOUT_SECONDS = 20 * 60


def _locked(folder: Path) -> dict[str, str]:
    packages = json.loads((folder / "package-lock.json").read_text())["packages"]
    return {
        path.removeprefix("node_modules/"): meta["version"]
        for path, meta in packages.items()
        if path.startswith("node_modules/") and "/node_modules/" not in path[13:]
    }


def test_the_portal_app_bundles_the_plugin_with_the_versions_it_was_tested_with() -> None:
    plugin = json.loads((PLUGIN / "package.json").read_text())
    app = json.loads((APP / "package.json").read_text())["dependencies"]
    needed = {**plugin.get("dependencies", {}), **plugin.get("peerDependencies", {})}
    assert sorted(set(needed) - set(app)) == [], "add these to plugins/backstage/app/package.json"
    plugin_locked, app_locked = _locked(PLUGIN), _locked(APP)
    differ = {
        name: (plugin_locked[name], app_locked[name])
        for name in needed
        if name in plugin_locked and plugin_locked[name] != app_locked.get(name)
    }
    assert differ == {}, "plugin lock vs app lock"


@pytest.mark.slow
def test_the_plugins_typecheck_and_jest_tests_pass() -> None:
    if shutil.which("npm") is None and not os.environ.get("CI"):
        pytest.skip("npm is needed for the plugin's tests (CI has it)")
    done = subprocess.run(
        [str(PLUGIN / "test.sh")],
        cwd=PLUGIN,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TEST_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, (
        f"plugins/backstage/plugin/test.sh failed ({done.returncode}):\n"
        f"{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
    )
