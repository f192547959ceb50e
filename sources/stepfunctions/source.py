"""Step Functions adapter over one shared aiobotocore client.

Cost model (Step Functions throttles per account and region with token
buckets): ListExecutions refills at 5/s, DescribeExecution at 15/s,
GetExecutionHistory at 20/s. So list views use ListExecutions summaries
only, never a describe per row, and a run's steps cost one history call per
1,000 events. Every failure leaves as our error tree via ``translate``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sources.aws import translate
from sources.errors import MlmetaError, UpstreamError
from sources.metadb.models import ExecutionStatus
from sources.pipelines.model import (
    ExecutionInfo,
    ExecutionPage,
    PipelineGraph,
    PipelineInfo,
    StepState,
)
from sources.stepfunctions.convert import (
    STATUS_FILTERS,
    execution_from_description,
    execution_from_summary,
    pipeline_info,
)
from sources.stepfunctions.graph import graph_from_definition
from sources.stepfunctions.history import fold_history

HISTORY_PAGE_SIZE = 1000  # the API's maximum
MAX_HISTORY_EVENTS = 100_000  # 4x Step Functions' own limit of 25,000 per execution
LIST_PAGE_LIMIT = 1000  # the API's maximum maxResults
END_EVENTS = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
)  # history events that end an execution
# Event data the history fold never reads; dropped as pages arrive to keep
# long histories (up to 256 KB of payload per event) out of memory.
BULKY_FIELDS = {
    "executionStartedEventDetails": "input",
    "executionSucceededEventDetails": "output",
    "stateEnteredEventDetails": "input",
    "stateExitedEventDetails": "output",
}


class StepFunctionsSource:
    name = "stepfunctions"

    def __init__(
        self, client: Any, region: str = "us-east-1", *, history_page_size: int = HISTORY_PAGE_SIZE
    ) -> None:
        self._client = client
        self._region = region
        self._history_page_size = max(1, min(history_page_size, HISTORY_PAGE_SIZE))

    async def check(self) -> None:
        with self._translated():
            await self._client.list_state_machines(maxResults=1)

    # ------------------------------------------------------------ pipelines

    async def describe_pipeline(self, arn: str) -> tuple[PipelineInfo, PipelineGraph]:
        """The state machine and the graph of its definition (one DescribeStateMachine)."""
        with self._translated():
            found = await self._client.describe_state_machine(stateMachineArn=arn)
            info = pipeline_info(str(found["stateMachineArn"]), str(found["name"]), self._region)
        return info, graph_from_definition(_definition(found.get("definition")))

    async def list_state_machines(self) -> list[PipelineInfo]:
        """Every state machine of the account and region (one call per 1,000)."""
        machines: list[PipelineInfo] = []
        kwargs: dict[str, Any] = {"maxResults": LIST_PAGE_LIMIT}
        with self._translated():
            while True:
                page = await self._client.list_state_machines(**kwargs)
                machines += [
                    pipeline_info(str(m["stateMachineArn"]), str(m["name"]), self._region)
                    for m in page.get("stateMachines", [])
                ]
                if not page.get("nextToken"):
                    return machines
                kwargs["nextToken"] = page["nextToken"]

    # ----------------------------------------------------------- executions

    async def list_executions(
        self,
        arn: str,
        *,
        status: ExecutionStatus | None = None,
        max_results: int = 100,
        next_token: str | None = None,
    ) -> ExecutionPage:
        """One ListExecutions page, newest first, as summaries (``detailed=False``).

        ``status=RUNNING`` does not return PENDING_REDRIVE executions (Step
        Functions filters on its own status); unfiltered pages show them as
        RUNNING. Step Functions has no PENDING executions: that filter is an
        empty page without a call.
        """
        if status is not None and status not in STATUS_FILTERS:
            return ExecutionPage(items=[], next_token=None)
        kwargs: dict[str, Any] = {
            "stateMachineArn": arn,
            "maxResults": max(1, min(max_results, LIST_PAGE_LIMIT)),
        }
        if status is not None:
            kwargs["statusFilter"] = STATUS_FILTERS[status]
        if next_token:
            kwargs["nextToken"] = next_token
        with self._translated():
            page = await self._client.list_executions(**kwargs)
            items = [execution_from_summary(e, self._region) for e in page.get("executions", [])]
        return ExecutionPage(items=items, next_token=page.get("nextToken") or None)

    async def describe_execution(self, arn: str) -> ExecutionInfo:
        """One DescribeExecution: status, input as parameters, error and cause."""
        with self._translated():
            found = await self._client.describe_execution(executionArn=arn)
            return execution_from_description(found, self._region)

    async def execution_steps(self, arn: str) -> list[StepState]:
        """The run's states from its whole history (GetExecutionHistory, every page)."""
        return fold_history(await self._history(arn))

    async def _history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": self._history_page_size}
        with self._translated():
            while True:
                page = await self._client.get_execution_history(**kwargs)
                events += [_slim(e) for e in page.get("events", [])]
                token = page.get("nextToken")
                if not token:
                    break
                if len(events) >= MAX_HISTORY_EVENTS:
                    raise UpstreamError(
                        f"{self.name}: execution history exceeds {MAX_HISTORY_EVENTS} events",
                        source=self.name,
                    )
                kwargs["nextToken"] = token
        return events

    async def execution_detail(self, arn: str) -> tuple[ExecutionInfo, list[StepState]]:
        """Describe and history concurrently; if one fails the other is cancelled.

        A run that ended between the two reads is described as ended while its
        history was read before its last steps: a finished run is stored once and
        never read again, so then the history is read once more, after the
        description.
        """
        try:
            async with asyncio.TaskGroup() as group:
                described = group.create_task(self.describe_execution(arn))
                history = group.create_task(self._history(arn))
        except ExceptionGroup as failed:
            first = failed.exceptions[0]
            raise first from first.__cause__
        info, events = described.result(), history.result()
        if info.finished and not any(e.get("type") in END_EVENTS for e in events):
            events = await self._history(arn)
        return info, fold_history(events)

    # -------------------------------------------------------------- helpers

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """botocore errors (and answers of an unexpected shape) -> our error tree."""
        try:
            yield
        except MlmetaError:
            raise
        except Exception as exc:
            raise translate(exc, self.name) from exc


def _definition(text: Any) -> dict[str, Any]:
    """The parsed ASL definition; an unreadable one gives an empty graph, not an error."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _slim(event: dict[str, Any]) -> dict[str, Any]:
    for key, field in BULKY_FIELDS.items():
        details = event.get(key)
        if isinstance(details, dict) and field in details:
            event[key] = {k: v for k, v in details.items() if k != field}
    return event
