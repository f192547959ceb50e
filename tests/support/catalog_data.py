"""One catalog, served by every catalog source in the behaviour tests.

Groups, users, a system, ML components and resources, enough datasets for
several pages, mixed-case refs in specs, a kind nobody special-cases, and a
namespace of its own (``models``) whose entities write relative refs: they
mean the ``models`` namespace, although ``default`` has a group of the same name.
"""

from __future__ import annotations

from typing import Any

import yaml

DATASET_COUNT = 120
NAMESPACED_MODEL = "resource:models/model-000"
PIPELINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:churn-training-pipeline"


def _entity(
    kind: str, name: str, spec: dict[str, Any], namespace: str = "default", **metadata: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": spec,
    }


def namespaced_entities() -> list[dict[str, Any]]:
    """A team's namespace: its entities say ``owner: ml-team-3``, meaning ``group:models/...``."""
    team = {"type": "team", "children": []}
    return [
        _entity("Group", "ml-team-3", team, namespace="models", title="ML team 3"),
        _entity("Group", "ml-team-3", team, title="Another ML team 3, in default"),
        _entity("System", "scoring", {"owner": "ml-team-3"}, namespace="models"),
        _entity(
            "Resource",
            "model-000",
            {
                "type": "ml-model",
                "owner": "ml-team-3",
                "system": "scoring",
                "dependsOn": ["resource:default/dataset-000"],
            },
            namespace="models",
        ),
    ]


def catalog_entities() -> list[dict[str, Any]]:
    entities = [
        _entity(
            "Group",
            "ml-platform",
            {"type": "team", "children": ["fraud-team"]},
            title="ML Platform",
        ),
        _entity("Group", "fraud-team", {"type": "team", "parent": "ml-platform", "children": []}),
        _entity(
            "User", "alice", {"profile": {"displayName": "Alice"}, "memberOf": ["ML-Platform"]}
        ),
        _entity("User", "bob", {"profile": {"displayName": "Bob"}, "memberOf": ["fraud-team"]}),
        _entity(
            "System",
            "customer-intelligence",
            {"owner": "group:default/ml-platform"},
            description="Churn and fraud models",
        ),
        _entity(
            "Component",
            "churn-training-pipeline",
            {
                "type": "ml-pipeline",
                "lifecycle": "production",
                "owner": "Group:Default/ML-Platform",
                "system": "customer-intelligence",
                "dependsOn": ["resource:default/dataset-000"],
            },
            title="Churn training pipeline",
            description="Trains the churn model every night",
            tags=["ml", "churn"],
            labels={"tier": "gold"},
            annotations={"mlmeta.io/step-functions-arn": PIPELINE_ARN},
            links=[{"url": "https://runbooks.example.com/churn", "title": "Runbook"}],
        ),
        _entity(
            "Resource",
            "churn-model",
            {"type": "ml-model", "owner": "fraud-team", "system": "customer-intelligence"},
            annotations={"mlmeta.io/model-package-group": "churn-model"},
            tags=["ml"],
        ),
    ]
    entities += [
        _entity(
            "Resource",
            f"dataset-{i:03d}",
            {"type": "dataset", "owner": "ml-platform" if i % 2 == 0 else "fraud-team"},
            description=f"Customer events shard {i}",
        )
        for i in range(DATASET_COUNT)
    ]
    return entities + namespaced_entities()


def unknown_kind_entity(kind: str = "MLExperiment") -> dict[str, Any]:
    return _entity(kind, "churn-experiments", {"owner": "ml-platform"})


def as_yaml(entities: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(entities, sort_keys=False)
