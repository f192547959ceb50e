"""SageMaker adapter over one shared aiobotocore client."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from sources.aws import translate
from sources.errors import InputError, NotFoundError
from sources.metadb.models import ExecutionStatus, Orchestrator
from sources.pipelines.model import (
    FINISHED,
    ExecutionInfo,
    ExecutionPage,
    PipelineGraph,
    PipelineInfo,
    StepState,
)
from sources.sagemaker.pipelines import (
    PageToken,
    execution_from_description,
    execution_from_summary,
    graph_from_pipeline_definition,
    parse_pipeline_arn,
    pipeline_console_url,
    steps_from_sagemaker,
)
from sources.sagemaker.training import (
    TrainingJob,
    is_training_job_arn,
    training_job_from_description,
    training_job_name,
)

log = logging.getLogger("mlmeta.sources.sagemaker")

A = TypeVar("A")
B = TypeVar("B")

MAX_PAGE_SIZE = 100
"""The largest MaxResults the SageMaker list APIs take."""
MAX_SCANNED_PAGES = 5
"""Upstream pages one filtered page of executions reads at most."""
MAX_FOLLOWED_PAGES = 50
"""Bounds paging through steps or parameters, should a token never end."""
MAX_CONCURRENT_DESCRIBES = 8
"""DescribeTrainingJob calls one ``training_jobs`` call has in flight at most."""


class SageMakerSource:
    name = "sagemaker"

    def __init__(
        self, client: Any, region: str = "us-east-1", *, studio_domain_id: str | None = None
    ) -> None:
        """``studio_domain_id`` makes console links open the pipeline in that Studio domain;
        without it they open the console's Studio page."""
        self._client = client
        self._region = region
        self._studio_domain_id = studio_domain_id

    async def check(self) -> None:
        try:
            await self._client.list_model_package_groups(MaxResults=1)
        except Exception as exc:
            raise translate(exc, self.name) from exc

    # ---- pipelines -------------------------------------------------------------------------

    async def describe_pipeline(self, name_or_arn: str) -> tuple[PipelineInfo, PipelineGraph]:
        """The pipeline and the graph of its current definition."""
        response = await self._pipeline_call("describe_pipeline", name_or_arn)
        arn = response["PipelineArn"]
        info = PipelineInfo(
            id=arn,
            orchestrator=Orchestrator.SAGEMAKER_PIPELINES,
            name=response.get("PipelineName") or name_or_arn,
            arn=arn,
            console_url=pipeline_console_url(arn, self._studio_domain_id),
        )
        return info, graph_from_pipeline_definition(_definition(response, arn))

    async def list_pipeline_executions(
        self,
        name_or_arn: str,
        *,
        status: ExecutionStatus | None = None,
        max_results: int = 20,
        next_token: str | None = None,
    ) -> ExecutionPage:
        """Execution summaries, newest first.

        ListPipelineExecutions cannot filter by status, so ``status`` is applied
        here: a filtered page reads up to ``MAX_SCANNED_PAGES`` upstream pages of
        100 and may hold fewer than ``max_results`` executions, even none, while
        ``next_token`` is set. The token is this source's own (an upstream token
        plus an offset into that page), opaque to callers.
        """
        if not 1 <= max_results <= MAX_PAGE_SIZE:
            raise InputError(f"max_results must be 1 to {MAX_PAGE_SIZE}", source=self.name)
        page_size = max_results if status is None else MAX_PAGE_SIZE
        token = PageToken.decode(next_token) if next_token else PageToken(None, 0, page_size)
        items: list[ExecutionInfo] = []
        for _ in range(MAX_SCANNED_PAGES):
            params: dict[str, Any] = {
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": token.page_size,
            }
            if token.upstream:
                params["NextToken"] = token.upstream
            page = await self._pipeline_call("list_pipeline_executions", name_or_arn, **params)
            summaries = page.get("PipelineExecutionSummaries") or []
            # Upstream pages can hold more than we need (filtered pages; moto ignores
            # MaxResults): stop mid-page and remember where.
            for index in range(token.offset, len(summaries)):
                if len(items) == max_results:
                    resume = PageToken(token.upstream, index, token.page_size)
                    return ExecutionPage(items=items, next_token=resume.encode())
                execution = execution_from_summary(summaries[index], self._studio_domain_id)
                if status is None or execution.status == status:
                    items.append(execution)
            if not page.get("NextToken"):
                return ExecutionPage(items=items, next_token=None)
            token = PageToken(page["NextToken"], 0, page_size)
            if len(items) == max_results:
                break
        return ExecutionPage(items=items, next_token=token.encode())

    # ---- executions ------------------------------------------------------------------------

    async def describe_pipeline_execution(self, arn: str) -> ExecutionInfo:
        """One execution with its parameters and failure reason (two calls, concurrently)."""
        described, parameters = await _together(
            self._call("describe_pipeline_execution", PipelineExecutionArn=arn),
            self._execution_parameters(arn),
        )
        return execution_from_description(described, parameters, self._studio_domain_id)

    async def pipeline_execution_steps(self, arn: str) -> list[StepState]:
        """The steps an execution has started, in order of start (all pages)."""
        summaries: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "PipelineExecutionArn": arn,
            "SortOrder": "Ascending",
            "MaxResults": MAX_PAGE_SIZE,
        }
        for _ in range(MAX_FOLLOWED_PAGES):
            page = await self._call("list_pipeline_execution_steps", **params)
            summaries += page.get("PipelineExecutionSteps") or []
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        return steps_from_sagemaker(summaries)

    async def execution_detail(self, arn: str) -> tuple[ExecutionInfo, list[StepState]]:
        """The execution and its steps, fetched concurrently; either failing fails both.

        An execution that ended between the two reads is described as ended while a
        step was listed as still running: a finished run is stored once and never
        read again, so then its steps are listed once more, after the description.
        """
        info, steps = await _together(
            self.describe_pipeline_execution(arn), self.pipeline_execution_steps(arn)
        )
        if info.finished and not all(step.status in FINISHED for step in steps):
            steps = await self.pipeline_execution_steps(arn)
        return info, steps

    async def _execution_parameters(self, arn: str) -> dict[str, Any]:
        """Parameter values of an execution, as strings (how SageMaker returns them)."""
        parameters: dict[str, Any] = {}
        params: dict[str, Any] = {"PipelineExecutionArn": arn, "MaxResults": MAX_PAGE_SIZE}
        for _ in range(MAX_FOLLOWED_PAGES):
            page = await self._call("list_pipeline_parameters_for_execution", **params)
            for parameter in page.get("PipelineParameters") or []:
                parameters[parameter["Name"]] = parameter.get("Value")
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        return parameters

    # ---- training jobs ---------------------------------------------------------------------

    async def training_jobs(self, names_or_arns: Sequence[str]) -> list[TrainingJob | None]:
        """DescribeTrainingJob for each name or ARN, in order; None where there is no such job.

        Up to ``MAX_CONCURRENT_DESCRIBES`` calls run at once; a name asked twice is
        described once. A malformed identifier is an InputError before any call.
        An ARN also has to match the job found by its name (account and region):
        another account's or region's job is None, not this region's namesake. Any
        other failure fails the whole call (the first error, not a group).
        """
        names: list[str] = []
        for name_or_arn in names_or_arns:
            name = training_job_name(name_or_arn)
            if name is None:
                raise InputError(
                    f"not a training job name or ARN: {name_or_arn[:100]!r}", source=self.name
                )
            names.append(name)
        limit = asyncio.Semaphore(MAX_CONCURRENT_DESCRIBES)

        async def describe(name: str) -> TrainingJob | None:
            async with limit:
                try:
                    response = await self._call("describe_training_job", TrainingJobName=name)
                except NotFoundError:
                    return None
            return training_job_from_description(response)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = {name: group.create_task(describe(name)) for name in dict.fromkeys(names)}
        except ExceptionGroup as failed:
            raise failed.exceptions[0]  # noqa: B904 - keeps the error's own cause chain
        jobs: list[TrainingJob | None] = []
        for name_or_arn, name in zip(names_or_arns, names, strict=True):
            job = tasks[name].result()
            if job is not None and is_training_job_arn(name_or_arn):
                job = job if job.arn.lower() == name_or_arn.lower() else None
            jobs.append(job)
        return jobs

    # ---- calls -----------------------------------------------------------------------------

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = await getattr(self._client, operation)(**params)
        except Exception as exc:
            raise translate(exc, self.name) from exc
        return response

    async def _pipeline_call(self, operation: str, name_or_arn: str, **params: Any) -> Any:
        """Call with ``PipelineName`` set to a pipeline name or ARN.

        AWS takes either; moto (demo and tests) knows pipelines by name only, so
        an ARN of this client's region that is not found is asked for again by
        name. Other regions' ARNs are not: their name could match a pipeline here.
        """
        try:
            return await self._call(operation, PipelineName=name_or_arn, **params)
        except NotFoundError:
            parsed = parse_pipeline_arn(name_or_arn)
            if parsed is None or parsed.execution_id or parsed.region != self._region:
                raise
            return await self._call(operation, PipelineName=parsed.pipeline, **params)


def _definition(response: dict[str, Any], arn: str) -> dict[str, Any]:
    """The parsed PipelineDefinition; an unreadable one gives an empty graph, not an error."""
    try:
        definition = json.loads(response.get("PipelineDefinition") or "{}")
    except (TypeError, ValueError):
        definition = None
    if not isinstance(definition, dict):
        log.warning("pipeline %s has a definition that is not a JSON object", arn)
        return {}
    return definition


async def _together(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Run both; if one fails the other is cancelled and its error raised (not a group)."""
    try:
        async with asyncio.TaskGroup() as group:
            first_task = group.create_task(first)
            second_task = group.create_task(second)
    except ExceptionGroup as failed:
        raise failed.exceptions[0]  # noqa: B904 - keeps the error's own cause chain
    return first_task.result(), second_task.result()
