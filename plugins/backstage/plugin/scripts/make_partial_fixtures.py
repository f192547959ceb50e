"""Derive the `*.partial.json` fixtures from recorded answers, by hand-written rules.

A partial answer is a recorded answer in which one source's fields are null and
an error names that source, exactly as mlmeta shapes it (README "When a source
fails": code, source, and for errors repeated across list items one error with
`count` and the first five `paths`). The demo cannot be made to fail one source
on demand from here, so these are edits of real answers, not recordings; the
rules below say which fields each failure nulls (gateway/upstreams.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "src" / "__fixtures__"


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def save(name: str, answer: dict) -> None:
    (FIXTURES / f"{name}.partial.json").write_text(json.dumps(answer, indent=2) + "\n")


def error(source: str, path: list, message: str, paths: list | None = None) -> dict:
    extensions: dict = {"code": "UPSTREAM_UNAVAILABLE", "source": source}
    if paths and len(paths) > 1:
        extensions.update(count=len(paths), paths=paths[:5])
    return {
        "message": message,
        "locations": [{"line": 1, "column": 1}],
        "path": path,
        "extensions": extensions,
    }


def main() -> None:
    page = copy.deepcopy(load("PipelinePage"))
    page["data"]["entity"]["pipeline"]["latestExecution"] = None
    page["errors"] = [
        error(
            "stepfunctions",
            ["entity", "pipeline", "latestExecution"],
            "stepfunctions failed: circuit open until 2026-11-23T10:00:30Z",
        )
    ]
    save("PipelinePage", page)

    runs = copy.deepcopy(load("PipelineRuns"))
    connection = runs["data"]["entity"]["pipeline"]["executions"]
    connection["table"] = None
    paths = []
    for i, edge in enumerate(connection["edges"]):
        edge["node"]["steps"] = None
        paths.append(["entity", "pipeline", "executions", "edges", i, "node", "steps"])
    runs["errors"] = [
        error(
            "metadb",
            ["entity", "pipeline", "executions", "table"],
            "metadb failed: connection refused",
        ),
        error("stepfunctions", paths[0], "stepfunctions failed with HTTP 503", paths),
    ]
    save("PipelineRuns", runs)

    evolution = copy.deepcopy(load("MetricEvolution"))
    evolution["data"]["entity"]["pipeline"]["metricEvolution"] = None
    evolution["errors"] = [
        error("metadb", ["entity", "pipeline", "metricEvolution"], "metadb failed: timeout")
    ]
    save("MetricEvolution", evolution)

    model = copy.deepcopy(load("ModelPage"))
    paths = []
    for i, edge in enumerate(model["data"]["entity"]["model"]["versions"]["edges"]):
        edge["node"]["approval"] = None
        paths.append(["entity", "model", "versions", "edges", i, "node", "approval"])
    model["errors"] = [error("sagemaker", paths[0], "sagemaker failed: ThrottlingException", paths)]
    save("ModelPage", model)

    lineage = copy.deepcopy(load("Lineage"))
    nodes = lineage["data"]["lineage"]["nodes"]
    index = next(i for i, n in enumerate(nodes) if n and n["__typename"] == "Deployment")
    nodes[index] = None
    lineage["errors"] = [
        error("sagemaker", ["lineage", "nodes", index], "sagemaker failed with HTTP 500")
    ]
    save("Lineage", lineage)

    impact = copy.deepcopy(load("DatasetImpact"))
    for item in impact["data"]["impact"]:
        item["deployment"] = None
    impact["errors"] = [
        error("sagemaker", ["impact", 0, "deployment"], "sagemaker failed: circuit open")
    ]
    save("DatasetImpact", impact)


if __name__ == "__main__":
    main()
