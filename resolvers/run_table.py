"""Runs as columns: one scalar per page, for data grids and run-comparison tables.

Serving 200 runs as objects means graphql-core completes ~9,000 fields; as a
table it completes one. The values are the same the object fields give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NewType

import strawberry

from resolvers.context import Info
from sources.pipelines.model import ExecutionInfo

RunTableValue = NewType("RunTableValue", object)
RunTable = strawberry.scalar(
    name="RunTable",
    description='Runs as aligned columns: {"id": [ID], "name": [String], "status": '
    '[ExecutionStatus], "startedAt": [epoch ms], "stoppedAt": [epoch ms or null], '
    '"parameters": {name: [String or null]}, "metrics": {name: [Float or null]}, '
    '"metricSteps": {name: [Int or null]}}. Row i of every column is the same run; '
    "null where a run lacks that parameter or metric.",
    serialize=lambda value: value,
    parse_value=lambda value: value,
)


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
    summaries = await loaders.metrics_by_execution.load_many([e.id for e in executions])
    wanted = set(metrics) if metrics is not None else None
    rows = len(executions)
    parameters: dict[str, list[Any]] = {}
    values: dict[str, list[float | None]] = {}
    steps: dict[str, list[int | None]] = {}
    for row, (execution, reported) in enumerate(zip(executions, summaries, strict=True)):
        full = detailed.get(execution.id, execution) if not execution.detailed else execution
        for key, value in (full.parameters if full else {}).items():
            column = parameters.setdefault(str(key), [None] * rows)
            column[row] = value if isinstance(value, str) or value is None else str(value)
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
