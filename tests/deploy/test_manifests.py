"""deploy/kubernetes: valid for the Kubernetes API, and true to the gateway it deploys.

No cluster runs here, so every rendered object is validated against the Kubernetes
JSON schemas that ``kubernetes-validate`` ships (strict: a misspelt field fails),
for the oldest and the newest Kubernetes version we claim. The rest checks what a
schema cannot: that the probes, port, user, command and settings are the ones the
Dockerfile and the code really have.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.cli import _parser
from gateway.config import ENV_PREFIX, ConfigError, Settings, load_settings
from tests.deploy.kustomize import Manifest, UnsupportedKustomization, pod_spec, render

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# The Kubernetes versions the manifests are written for: autoscaling/v2, policy/v1,
# matchLabelKeys in topology spread constraints (1.27+), and the newest schemas shipped.
VERSIONS = ("1.30", kubernetes_validate.latest_version())
PLACEHOLDER = "CHANGE-ME"


def objects() -> list[Manifest]:
    return render(DEPLOY)


def one(kind: str) -> Manifest:
    [found] = [obj for obj in objects() if obj["kind"] == kind]
    return found


def container(kind: str) -> Manifest:
    containers: list[Manifest] = pod_spec(one(kind))["containers"]
    assert len(containers) == 1, f"{kind}: one container"
    return containers[0]


def settings_keys() -> set[str]:
    return {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}


def dockerfile_runtime_stage() -> str:
    return DOCKERFILE.rsplit("\nFROM ", 1)[1]


def dockerfile_env(name: str) -> str:
    match = re.search(rf"\b{name}=(\S+)", dockerfile_runtime_stage())
    assert match, f"the Dockerfile sets no {name}"
    return match.group(1)


def container_port(spec: Manifest, port: int | str) -> int:
    """A probe's or Service's port, by name or number, as the container's port number."""
    [found] = [p["containerPort"] for p in spec["ports"] if port in (p["containerPort"], p["name"])]
    assert isinstance(found, int)
    return found


def quantity(value: str | int) -> float:
    """A Kubernetes quantity (``500m``, ``1``, ``256Mi``, ``1G``) as a number."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


# -- the Kubernetes API's view ----------------------------------------------------------


def test_the_kustomization_lists_every_manifest_in_the_folder() -> None:
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    on_disk = sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_for_the_kubernetes_api(version: str) -> None:
    rendered = objects()
    assert {obj["kind"] for obj in rendered} >= {
        "Deployment",
        "Job",
        "Service",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }
    for obj in rendered:
        kubernetes_validate.validate(obj, version, strict=True)


def test_validation_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError(f"the validator opened a connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for obj in objects():
        kubernetes_validate.validate(obj, VERSIONS[-1], strict=True)


@pytest.mark.parametrize(
    "mistake",
    ["misspelt field", "port as text", "unknown probe field"],
)
def test_the_validator_rejects_a_broken_deployment(mistake: str) -> None:
    broken = copy.deepcopy(one("Deployment"))
    spec = pod_spec(broken)["containers"][0]
    if mistake == "misspelt field":
        spec["readinesProbe"] = spec.pop("readinessProbe")
    elif mistake == "port as text":
        spec["ports"][0]["containerPort"] = "eight thousand"
    else:
        spec["livenessProbe"]["httpGet"]["url"] = "/healthz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\npatches: []\n")
    with pytest.raises(UnsupportedKustomization):
        render(tmp_path)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_rendering_is_what_kubectl_kustomize_prints() -> None:
    printed = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    theirs = [doc for doc in yaml.safe_load_all(printed) if doc]

    def key(obj: Manifest) -> str:
        return f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"

    assert sorted(theirs, key=key) == sorted(objects(), key=key)


# -- the gateway's view ----------------------------------------------------------------


def test_the_deployment_runs_three_replicas_of_mlmeta_serve_on_every_address() -> None:
    deployment = one("Deployment")
    assert deployment["spec"]["replicas"] == 3
    command = container("Deployment")["command"]
    assert command[0] == "mlmeta"
    args = _parser().parse_args(command[1:])
    assert (args.command, args.host, args.demo) == ("serve", "0.0.0.0", False)  # noqa: S104 - compared


def test_the_probes_ask_the_gateways_health_endpoints_on_its_port() -> None:
    spec = container("Deployment")
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz?require=metadb"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert spec["startupProbe"]["httpGet"]["path"] == "/healthz"
    paths = {getattr(route, "path", None) for route in create_app(Settings()).routes}
    assert {"/readyz", "/healthz"} <= paths
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container_port(spec, spec[probe]["httpGet"]["port"]) == 8000


def test_the_container_port_is_the_images_port_and_the_configured_one() -> None:
    exposed = re.search(r"^EXPOSE (\d+)$", DOCKERFILE, re.MULTILINE)
    assert exposed
    port = int(exposed.group(1))
    [declared] = container("Deployment")["ports"]
    assert declared["containerPort"] == port
    assert int(dockerfile_env("MLMETA_PORT")) == port
    assert load_settings(environ=one("ConfigMap")["data"]).port == port
    service = one("Service")
    [service_port] = service["spec"]["ports"]
    assert service_port["port"] == 80
    assert container_port(container("Deployment"), service_port["targetPort"]) == port


def test_readiness_follows_the_metadb_and_not_a_failing_upstream(tmp_path: Path) -> None:
    """The probes' paths on a real app whose AWS and catalog are unreachable: alive,
    and ready (the metadb answers), though /readyz alone is 503."""
    spec = container("Deployment")
    broken = Settings(
        data_dir=tmp_path,
        catalog_folder=str(tmp_path / "missing"),
        aws_endpoint_url="http://127.0.0.1:9",
        aws_max_attempts=1,
        readiness_timeout_seconds=2,
    )
    with TestClient(create_app(broken)) as client:
        alive = client.get(spec["livenessProbe"]["httpGet"]["path"])
        ready = client.get(spec["readinessProbe"]["httpGet"]["path"])
        everything = client.get("/readyz")
    assert alive.status_code == 200
    assert ready.status_code == 200, ready.text
    assert ready.json()["sources"]["metadb"]["healthy"] is True
    assert everything.status_code == 503


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_the_pods_run_as_the_images_user_without_privileges(kind: str) -> None:
    user = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE, re.MULTILINE)
    assert user
    pod = pod_spec(one(kind))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == int(user.group(1))
    assert pod["securityContext"]["runAsGroup"] == int(user.group(2))
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for spec in pod["containers"]:
        security = spec["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_no_service_link_variables_enter_the_settings(kind: str) -> None:
    """Kubernetes would set ``<SERVICE>_PORT=tcp://<ip>:<port>`` for each Service in the
    namespace: for the Service ``mlmeta``, MLMETA_PORT, which is a setting."""
    assert pod_spec(one(kind))["enableServiceLinks"] is False


def test_what_the_gateway_writes_is_on_writable_volumes() -> None:
    pod = pod_spec(one("Deployment"))
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    mounted = {
        m["mountPath"]
        for m in container("Deployment")["volumeMounts"]
        if m["name"] in empty_dirs and not m.get("readOnly")
    }
    data_dir = dockerfile_env("MLMETA_DATA_DIR")
    assert "MLMETA_DATA_DIR" not in one("ConfigMap")["data"]
    assert {data_dir, "/tmp"} <= mounted


def test_the_migration_job_runs_mlmeta_migrate_with_the_gateways_image_and_config() -> None:
    job = container("Job")
    assert job["command"][0] == "mlmeta"
    assert _parser().parse_args(job["command"][1:]).command == "migrate"
    assert pod_spec(one("Job"))["restartPolicy"] in ("Never", "OnFailure")
    server = container("Deployment")
    assert job["image"] == server["image"]
    assert job["envFrom"] == server["envFrom"]
    assert server["envFrom"] == [
        {"configMapRef": {"name": one("ConfigMap")["metadata"]["name"]}},
        {"secretRef": {"name": one("Secret")["metadata"]["name"]}},
    ]


def test_both_run_the_image_the_kustomization_names() -> None:
    [image] = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["images"]
    expected = f"{image['newName']}:{image['newTag']}"
    assert container("Deployment")["image"] == container("Job")["image"] == expected


def test_every_configmap_and_secret_key_is_a_real_setting() -> None:
    configured = set(one("ConfigMap")["data"])
    secret = set(one("Secret")["stringData"])
    assert configured <= settings_keys(), configured - settings_keys()
    assert secret <= settings_keys(), secret - settings_keys()
    assert not configured & secret, "a key in both: which one wins is envFrom's order"


def test_the_configmap_loads_as_a_replica_on_postgresql_without_auto_migration() -> None:
    environ = {**one("ConfigMap")["data"], "MLMETA_DATABASE_URL": "postgresql+asyncpg://db/x"}
    settings = load_settings(environ=environ)
    assert settings.auto_migrate is False
    assert settings.log_format == "json"
    assert settings.redis_url.startswith("redis://")
    assert settings.workers == 1
    assert settings.allow_anonymous is False
    assert not settings.is_sqlite


def test_the_secret_holds_placeholders_only() -> None:
    secret = one("Secret")
    assert "data" not in secret, "base64 data would hide what is committed"
    values = secret["stringData"]
    assert values["MLMETA_DATABASE_URL"].startswith("postgresql+asyncpg://")
    for key, value in values.items():
        assert PLACEHOLDER in value, f"{key} is not marked {PLACEHOLDER}"
        # Nothing that could be a real token or hash next to the marker.
        assert not re.search(r"[A-Za-z0-9+/_=-]{24,}", value.replace(PLACEHOLDER, "")), key
    assert {"MLMETA_SERVICE_TOKENS", "MLMETA_METRICS_TOKEN", "MLMETA_EVENTS_SECRET"} <= set(values)


def test_the_placeholder_service_tokens_stop_the_gateway_from_starting() -> None:
    environ = {**one("ConfigMap")["data"], **one("Secret")["stringData"]}
    with pytest.raises(ConfigError, match=r"MLMETA_SERVICE_TOKENS: cannot use"):
        load_settings(environ=environ)


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_requests_are_within_limits(kind: str) -> None:
    for spec in pod_spec(one(kind))["containers"]:
        requests, limits = spec["resources"]["requests"], spec["resources"]["limits"]
        assert set(requests) == set(limits) == {"cpu", "memory"}
        for resource in requests:
            assert quantity(requests[resource]) <= quantity(limits[resource]), resource


def test_the_memory_request_holds_every_replica_the_load_benchmark_measured() -> None:
    """bench/load.py records each replica's VmRSS at the start and end of each run, in MiB
    (its ``rss_mb``: /proc's kB divided by 1024)."""
    results = json.loads((ROOT / "bench" / "results" / "load.json").read_text())
    seen = list(_values_of(results, ("rss_mb_start", "rss_mb_end")))
    assert seen, "bench/results/load.json records no replica RSS"
    request = quantity(container("Deployment")["resources"]["requests"]["memory"])
    assert max(seen) * 2**20 < request, f"a replica reached {max(seen)} MiB"


def _values_of(tree: object, keys: tuple[str, ...]) -> Iterator[float]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in keys and isinstance(value, int | float):
                yield float(value)
            else:
                yield from _values_of(value, keys)
    elif isinstance(tree, list):
        for item in tree:
            yield from _values_of(item, keys)


def test_shutdown_finishes_within_the_termination_grace_period() -> None:
    pod = pod_spec(one("Deployment"))
    sleep = container("Deployment")["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    grace = load_settings(environ=one("ConfigMap")["data"]).shutdown_grace_seconds
    assert int(sleep[1]) + grace < pod["terminationGracePeriodSeconds"] == 30


def test_the_budget_and_the_service_select_the_gateways_pods_and_not_the_jobs() -> None:
    deployment = one("Deployment")
    pods = deployment["spec"]["template"]["metadata"]["labels"]
    job_pods = one("Job")["spec"]["template"]["metadata"]["labels"]
    selectors = {
        "Deployment": deployment["spec"]["selector"]["matchLabels"],
        "PodDisruptionBudget": one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        "Service": one("Service")["spec"]["selector"],
    }
    for kind, selector in selectors.items():
        assert selector.items() <= pods.items(), kind
        assert not selector.items() <= job_pods.items(), kind
    budget = one("PodDisruptionBudget")["spec"]
    assert budget.get("maxUnavailable") == 1 or budget.get("minAvailable") == 2


def test_the_autoscaler_scales_the_deployment_on_cpu_from_its_replica_count() -> None:
    hpa = one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    deployment = one("Deployment")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": deployment["apiVersion"],
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    # Utilization is of the request: without one the autoscaler cannot work.
    assert "cpu" in container("Deployment")["resources"]["requests"]


def test_replicas_spread_across_nodes() -> None:
    pod = pod_spec(one("Deployment"))
    pods = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    by_node = [
        c for c in pod["topologySpreadConstraints"] if c["topologyKey"] == "kubernetes.io/hostname"
    ]
    assert by_node
    assert by_node[0]["maxSkew"] == 1
    assert by_node[0]["labelSelector"]["matchLabels"].items() <= pods.items()
