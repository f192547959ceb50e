"""Record the plugin's jest fixtures from a running mlmeta demo.

    mlmeta serve --demo --port 8123 &
    python plugins/backstage/plugin/scripts/record_fixtures.py http://127.0.0.1:8123

`*.aws-down.json` are real partial answers: a second gateway on a copy of the demo's
data folder with AWS unreachable (metadb and catalog still up), recorded with --aws-down:

    cp -r data /tmp/aws-down && MLMETA_DATA_DIR=/tmp/aws-down MLMETA_ALLOW_ANONYMOUS=true \
      MLMETA_AWS_ENDPOINT_URL=http://127.0.0.1:9 MLMETA_AWS_MAX_ATTEMPTS=1 \
      AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x mlmeta serve --port 8124 &
    python plugins/backstage/plugin/scripts/record_fixtures.py http://127.0.0.1:8124 --aws-down

Each fixture is the gateway's whole answer ({data, errors?, extensions}) to one of
src/operations/*.graphql, sent byte for byte as the plugin sends it. Fixtures whose
name ends in `.partial` are not recorded here: they are recorded answers edited by
hand to stand for a failing source (see src/__fixtures__/README.md).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
OPS = HERE / "src" / "operations"
OUT = HERE / "src" / "__fixtures__"

PIPELINE = "component:default/churn-training-pipeline"
STAGING = "component:default/churn-training-staging"
MODEL = "resource:default/churn-model"
# The 2026-11-01 training snapshot (a Dataset's global id).
SNAPSHOT = (
    "RGF0YXNldDpzMzovL21sbWV0YS1kZW1vLWRhdGFzZXRzL2NodXJuL3RyYWluaW5nLzIwMjYtMTEtMDEvdHJhaW4uY3N2"
)


def ask(url: str, operation: str, variables: dict[str, object]) -> dict[str, object]:
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"not an http(s) URL: {url}")
    body = json.dumps({"query": (OPS / f"{operation}.graphql").read_text(), "variables": variables})
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        f"{url}/graphql", body.encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        answer: dict[str, object] = json.load(response)
    answer.pop("extensions", None)  # cost and budget: they change with every call
    return answer


def save(name: str, answer: dict[str, object]) -> dict[str, object]:
    (OUT / f"{name}.json").write_text(json.dumps(answer, indent=2) + "\n")
    print(f"{name}: {len(json.dumps(answer))} bytes, errors: {len(answer.get('errors') or [])}")
    return answer


def main(url: str) -> None:
    OUT.mkdir(exist_ok=True)
    page = save("PipelinePage", ask(url, "PipelinePage", {"ref": PIPELINE}))
    save("PipelinePage.staging", ask(url, "PipelinePage", {"ref": STAGING}))
    save("LatestExecution.staging", ask(url, "LatestExecution", {"ref": STAGING}))
    names = page["data"]["entity"]["pipeline"]["metricNames"]  # type: ignore[index]
    runs = save("PipelineRuns", ask(url, "PipelineRuns", {"ref": PIPELINE, "first": 5}))
    cursor = runs["data"]["entity"]["pipeline"]["executions"]["pageInfo"]["endCursor"]  # type: ignore[index]
    save(
        "PipelineRuns.page2",
        ask(url, "PipelineRuns", {"ref": PIPELINE, "first": 5, "after": cursor}),
    )
    save(
        "MetricEvolution",
        ask(url, "MetricEvolution", {"ref": PIPELINE, "metrics": names, "lastRuns": 50}),
    )
    ids = [e["node"]["id"] for e in runs["data"]["entity"]["pipeline"]["executions"]["edges"]]  # type: ignore[index]
    series = save("RunSeries", ask(url, "RunSeries", {"id": ids[2], "maxPoints": 200}))
    assert series["data"]["execution"]["metricSeries"], "pick a run with series"  # type: ignore[index]
    save(
        "RunSeries.zoomed",
        ask(url, "RunSeries", {"id": ids[2], "maxPoints": 200, "minStep": 100, "maxStep": 300}),
    )
    save(
        "CompareRuns",
        ask(url, "CompareRuns", {"ids": ids[:3], "series": ["loss"], "maxPoints": 200}),
    )
    model = save("ModelPage", ask(url, "ModelPage", {"ref": MODEL, "first": 10}))
    edges = model["data"]["entity"]["model"]["versions"]["edges"]  # type: ignore[index]
    v3 = next(e["node"] for e in edges if e["node"]["version"] == "3")
    save("ModelCard", ask(url, "ModelCard", {"id": v3["id"]}))
    lineage = {"of": v3["id"], "direction": "BOTH", "depth": 2, "nodeBudget": 1000}
    save("Lineage", ask(url, "Lineage", {**lineage, "asOf": "2026-11-20T00:00:00Z"}))
    save("Lineage.before", ask(url, "Lineage", {**lineage, "asOf": "2026-10-01T00:00:00Z"}))
    save(
        "DatasetSources",
        ask(
            url,
            "DatasetSources",
            {"ref": "resource:default/churn-training-set", "annotation": "mlmeta.io/dataset-uri"},
        ),
    )
    save(
        "DatasetSources.events",
        ask(
            url,
            "DatasetSources",
            {
                "ref": "resource:default/customer-usage-events",
                "annotation": "mlmeta.io/dataset-uri",
            },
        ),
    )
    save("DatasetLineage", ask(url, "DatasetLineage", {"of": SNAPSHOT}))
    save("DatasetImpact", ask(url, "DatasetImpact", {"datasetId": SNAPSHOT}))


def aws_down(url: str) -> None:
    """Step Functions and SageMaker unreachable: what their fields answer."""
    save("PipelinePage.aws-down", ask(url, "PipelinePage", {"ref": PIPELINE}))
    save("ModelPage.aws-down", ask(url, "ModelPage", {"ref": MODEL, "first": 10}))
    save("DatasetImpact.aws-down", ask(url, "DatasetImpact", {"datasetId": SNAPSHOT}))
    version = json.loads((OUT / "ModelCard.json").read_text())["data"]["node"]["id"]
    save(
        "Lineage.aws-down",
        ask(
            url,
            "Lineage",
            {
                "of": version,
                "direction": "BOTH",
                "depth": 2,
                "asOf": "2026-11-20T00:00:00Z",
                "nodeBudget": 1000,
            },
        ),
    )


if __name__ == "__main__":
    target = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8123"
    if "--aws-down" in sys.argv:
        aws_down(target)
    else:
        main(target)
