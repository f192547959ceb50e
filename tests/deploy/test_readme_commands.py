"""README's "Deploying to Kubernetes": its commands name things that exist, in the right order.

No cluster runs here, so the kubectl commands cannot run. What can go wrong in them
without one is checked instead: a folder that does not render, a selector that
applies the gateway before the migration (or leaves the migration's config behind),
a namespace or Job name that is not the manifests' one, and sizes that differ from
deployment.yaml's.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.deploy.kustomize import matches, pod_spec, render

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
MIGRATION_NEEDS = {"Namespace", "ServiceAccount", "ConfigMap", "Secret", "Job"}
GATEWAY = {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"}


def section() -> str:
    found = re.search(r"^## Deploying to Kubernetes\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert found, "README has no 'Deploying to Kubernetes' section"
    return found.group(1)


def commands() -> list[list[str]]:
    [block] = re.findall(r"```sh\n(.*?)```", section(), re.S)
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def test_every_command_is_kubectl_on_the_manifests() -> None:
    assert commands()
    for command in commands():
        assert command[0] == "kubectl", command
        assert option(command, "-n") in (None, "mlmeta"), command


def test_each_applied_folder_renders_and_the_selector_applies_the_migration_first() -> None:
    applied: list[set[str]] = []
    for command in commands():
        if command[1] != "apply":
            continue
        folder = option(command, "-k")
        assert folder, command
        objects = render(ROOT / folder)
        selector = option(command, "-l")
        picked = [o for o in objects if selector is None or matches(_labels(o), selector)]
        applied.append({o["kind"] for o in picked})
    first, everything = applied
    assert first == MIGRATION_NEEDS
    assert everything >= MIGRATION_NEEDS | GATEWAY


def test_the_job_waited_for_and_deleted_is_the_manifests_migration_job() -> None:
    objects = render(ROOT / "deploy" / "kubernetes")
    [job] = [o for o in objects if o["kind"] == "Job"]
    assert pod_spec(job)["containers"][0]["command"] == ["mlmeta", "migrate"]
    verbs = [command[3] if command[1] == "-n" else command[1] for command in commands()]
    assert verbs == ["delete", "apply", "wait", "apply"]
    for command in commands():
        if "wait" in command:
            assert f"job/{job['metadata']['name']}" in command
            assert "--for=condition=complete" in command
            assert option(command, "-n") == job["metadata"]["namespace"]
        if "delete" in command:
            assert command[-2:] == [job["metadata"]["name"], "--ignore-not-found"]
            assert option(command, "-n") == job["metadata"]["namespace"]


def test_the_sizes_in_readme_are_deployment_yamls() -> None:
    deployment = (ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text()
    [server] = [o for o in render(ROOT / "deploy" / "kubernetes") if o["kind"] == "Deployment"]
    resources = pod_spec(server)["containers"][0]["resources"]
    text = section()
    for value in (resources["requests"]["cpu"], resources["requests"]["memory"]):
        assert f"`{value}`" in text, value
    assert f"`{resources['limits']['memory']}`" in text
    figures = (
        "1475 requests",
        "VmHWM 190 MiB",
        "24.5 requests/s",
        "150-163 MiB",
        "161-184 MiB",
        "79 requests/s per core",
    )
    for figure in figures:
        assert figure in " ".join(text.split()), figure
        assert figure in " ".join(deployment.replace("#", " ").split()), figure


def _labels(obj: dict[str, object]) -> dict[str, str]:
    metadata = obj["metadata"]
    assert isinstance(metadata, dict)
    labels = metadata.get("labels", {})
    assert isinstance(labels, dict)
    return labels
