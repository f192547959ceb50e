"""Runs as columns: one scalar per page, for data grids and run-comparison tables.

Serving 200 runs as objects means graphql-core completes ~9,000 fields; as a
table it completes one. The values are the same the object fields give, except
that parameters stay JSON values (``0.1``, not ``"0.1"``) and nested ones are
flattened to dotted names (``optimizer.lr``), as MLflow and W&B show them, so
that a grid can give each its own, sortable column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NewType

import strawberry

from gateway.partial_results import report
from resolvers.context import Info
from sources.pipelines.model import ExecutionInfo

RunTableValue = NewType("RunTableValue", object)
RunTable = strawberry.scalar(
    name="RunTable",
    description='Runs as aligned columns: {"id": [ID], "name": [String], "status": '
    '[ExecutionStatus], "startedAt": [epoch ms], "stoppedAt": [epoch ms or null], '
    '"parameters": {name: [JSON value or null]}, "metrics": {name: [Float or null]}, '
    '"metricSteps": {name: [Int or null]}}. Row i of every column is the same run; '
    "null where a run lacks that parameter or metric. Parameters keep their JSON type "
    '(0.1, "adam", true, [64, 32]); nested objects are flattened to dotted names, '
    '{"optimizer": {"lr": 0.01}} becoming the column "optimizer.lr" (a name written '
    "with a dot wins over a flattened one).",
    serialize=lambda value: value,
    parse_value=lambda value: value,
)


def flat_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters with nested objects flattened to dotted names: ``{"optimizer": {"lr":
    0.01}}`` -> ``{"optimizer.lr": 0.01}``. Values stay JSON values (arrays too); an empty
    object stays ``{}`` under its own name rather than vanish. Where a flattened name
    is also a key written with a dot, the key written wins (it is what the user typed).
    """
    written: dict[str, Any] = {}
    flattened: dict[str, Any] = {}
    for key, value in parameters.items():
        if isinstance(value, Mapping) and value:
            for inner, leaf in flat_parameters(value).items():
                flattened.setdefault(f"{key}.{inner}", leaf)
        else:
            written[str(key)] = value
    return flattened | written


def _ms(value: Any) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


async def run_table(
    info: Info,
    ids: Sequence[str],
    executions: Sequence[ExecutionInfo],
    metrics: Sequence[str] | None,
) -> RunTableValue:
    """The columns of ``executions`` (global ids in ``ids``), metrics limited to ``metrics``."""
    loaders = info.context.loaders
    missing = [e.id for e in executions if not e.detailed]
    detailed = dict(zip(missing, await loaders.executions_by_id.load_many(missing), strict=True))
    found = await loaders.metrics_by_execution.load_many([e.id for e in executions])
    for failure in {id(f.missing): f.missing for f in found if f.missing}.values():
        report(info, failure)  # once per failure, not once per run it struck
    summaries = [f.value for f in found]
    wanted = set(metrics) if metrics is not None else None
    rows = len(executions)
    parameters: dict[str, list[Any]] = {}
    values: dict[str, list[float | None]] = {}
    steps: dict[str, list[int | None]] = {}
    for row, (execution, reported) in enumerate(zip(executions, summaries, strict=True)):
        full = detailed.get(execution.id, execution) if not execution.detailed else execution
        for name, value in flat_parameters(full.parameters if full else {}).items():
            parameters.setdefault(name, [None] * rows)[row] = value
        for summary in reported:
            if wanted is not None and summary.name not in wanted:
                continue
            values.setdefault(summary.name, [None] * rows)[row] = summary.value
            steps.setdefault(summary.name, [None] * rows)[row] = summary.step
    return RunTableValue(
        {
            "id": list(ids),
            "name": [e.name for e in executions],
            "status": [str(e.status) for e in executions],
            "startedAt": [_ms(e.started_at) for e in executions],
            "stoppedAt": [_ms(e.stopped_at) for e in executions],
            "parameters": dict(sorted(parameters.items())),
            "metrics": dict(sorted(values.items())),
            "metricSteps": dict(sorted(steps.items())),
        }
    )
