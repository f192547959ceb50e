"""The part of kustomize that deploy/kubernetes uses, in Python: tests run without kubectl.

``render`` reads ``kustomization.yaml``, loads every file of its ``resources`` list
(in order; a file may hold several documents) and applies ``namespace`` and
``images`` the way kustomize does. A key it does not implement is an error, so the
manifests cannot grow a feature this renderer would silently ignore; where kubectl
is installed, a test compares this rendering with ``kubectl kustomize``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]
SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images"}
# Kinds that live outside any namespace (of those this renderer may meet).
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}


class UnsupportedKustomization(ValueError):
    """kustomization.yaml uses something this renderer does not implement."""


def render(directory: Path) -> list[Manifest]:
    """The objects ``kubectl kustomize <directory>`` would print, in resource order."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise UnsupportedKustomization(f"kustomization.yaml: {sorted(unknown)} not rendered")
    objects: list[Manifest] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if not path.is_file():
            raise UnsupportedKustomization(f"resource {entry!r}: only files are rendered")
        objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    namespace = kustomization.get("namespace")
    if namespace:
        for obj in objects:
            if obj["kind"] == "Namespace":
                obj["metadata"]["name"] = namespace
            elif obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = namespace
    for image in kustomization.get("images", []):
        for container in _containers(objects):
            if _image_name(container["image"]) == image["name"]:
                container["image"] = _new_image(container["image"], image)
    return objects


def matches(labels: dict[str, str], selector: str) -> bool:
    """Whether ``labels`` satisfy a kubectl ``-l`` selector of ``k=v`` and ``k!=v`` terms."""
    for term in selector.split(","):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        else:
            key, value = term.split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def pod_spec(obj: Manifest) -> Manifest:
    """The pod spec of a Deployment or Job."""
    spec: Manifest = obj["spec"]["template"]["spec"]
    return spec


def _containers(objects: list[Manifest]) -> list[Manifest]:
    found: list[Manifest] = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            spec = pod_spec(obj)
            found += spec.get("initContainers", []) + spec["containers"]
    return found


def _image_name(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if ":" in last else name


def _new_image(old: str, rule: dict[str, str]) -> str:
    name = rule.get("newName", _image_name(old))
    if "digest" in rule:
        return f"{name}@{rule['digest']}"
    tag = rule.get("newTag")
    if tag is None and ":" in old.rsplit("/", 1)[-1]:
        tag = old.rsplit(":", 1)[1]
    return f"{name}:{tag}" if tag else name
