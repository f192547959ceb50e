"""Per-state progress of one execution, folded from its Step Functions event history.

A *run* is one entry into a state (``*StateEntered`` up to ``*StateExited``
or the end of the execution). Task, Lambda, activity and Map/Parallel events
carry no state name, so each event is placed in a *scope*, the run it
happened in, by following ``previousEventId``: an entry opens a run, an
exit returns to the exited run's enclosing state, every other event stays
in the scope of the event it follows. This keeps concurrent Parallel
branches and Map iterations apart (their events interleave in the history).

Rules for one run:

- RUNNING from entry until exit; on exit SUCCEEDED, or FAILED when its last
  task attempt (or its Parallel/Map) failed, i.e. an error caught by
  ``Catch``: the work failed even though the execution went on. A Fail state
  is FAILED.
- When the execution fails, runs still open on the failing path (the state
  the failure came from and the Parallel/Map states around it), Fail states
  and runs whose last attempt failed become FAILED; other open runs (a
  sibling branch, other Map iterations) were cancelled: ABORTED. When the
  execution is aborted or times out, open runs get that status.
- ``attempts`` counts task attempts (TaskScheduled, LambdaFunctionScheduled,
  ActivityScheduled and their schedule failures), retries included; a run
  that never scheduled a task (Pass, Choice, Wait, a Task failing before its
  call) counts 1.
- error/cause come from the failed attempt, else from the execution's own
  failure, timeout or abort; a later successful retry clears them.
- ``resource_arn`` is the job the task ran, else what it was scheduled
  against (see ``resources``).

Runs of the same state (Map iterations, loops) fold into one StepState per
name: RUNNING if any run is, else FAILED if any failed, else TIMED_OUT,
ABORTED, SUCCEEDED in that order; started at the first entry; stopped at the
last end, or None while any run is open; attempts summed; error and cause
from the latest run in the folded status that has them, resource from the
latest run that has one. ``position`` is the order of first entry, from 0.

After an ``ExecutionRedriven`` event, a state that runs again is judged by
its runs since the latest redrive (attempts and start still count every
run); states not run again keep their status. Events logged after the
execution ended (moto does, for Map iterations still running) may add an
error but never reopen a state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sources.metadb.models import ExecutionStatus
from sources.pipelines.model import StepState
from sources.stepfunctions.resources import output_job_arn, scheduled_resource

Status = ExecutionStatus

SCHEDULED = frozenset(
    {
        "TaskScheduled",
        "LambdaFunctionScheduled",
        "LambdaFunctionScheduleFailed",
        "ActivityScheduled",
        "ActivityScheduleFailed",
    }
)
SUCCEEDED = frozenset(
    {
        "TaskSucceeded",
        "LambdaFunctionSucceeded",
        "ActivitySucceeded",
        "ParallelStateSucceeded",
        "MapStateSucceeded",
        "MapRunSucceeded",
    }
)
FAILED = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "ActivityFailed",
        "ActivityTimedOut",
        "ActivityScheduleFailed",
        "ParallelStateFailed",
        "MapStateFailed",
        "MapRunFailed",
    }
)
EXECUTION_END = {
    "ExecutionSucceeded": Status.SUCCEEDED,
    "ExecutionFailed": Status.FAILED,
    "ExecutionAborted": Status.ABORTED,
    "ExecutionTimedOut": Status.TIMED_OUT,
}
# Which status wins when runs of one state differ (first wins).
PRECEDENCE = (Status.RUNNING, Status.FAILED, Status.TIMED_OUT, Status.ABORTED, Status.SUCCEEDED)


@dataclass(eq=False)
class _Run:
    name: str
    type: str
    parent: _Run | None
    started_at: datetime | None
    stopped_at: datetime | None = None
    status: Status = Status.RUNNING
    attempts: int = 0
    failed: bool = False
    error: str | None = None
    cause: str | None = None
    resource_arn: str | None = None
    redrive: int = 0
    open: bool = field(default=True)

    def end(self, status: Status, at: datetime | None) -> None:
        self.status, self.stopped_at, self.open = status, at, False

    def lineage(self) -> list[_Run]:
        runs: list[_Run] = []
        run: _Run | None = self
        while run is not None:
            runs.append(run)
            run = run.parent
        return runs


def fold_history(events: list[dict[str, Any]]) -> list[StepState]:
    """One StepState per state name, in order of first entry (rules in the module doc)."""
    folder = _Folder()
    for event in sorted(events, key=lambda e: int(e.get("id", 0))):
        folder.add(event)
    return folder.steps()


class _Folder:
    def __init__(self) -> None:
        self.runs: list[_Run] = []
        self.scope: dict[int, _Run | None] = {}
        self.redrives = 0

    def add(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        event_id = int(event.get("id", 0))
        at = event.get("timestamp")
        at = at if isinstance(at, datetime) else None
        details = _details(event)
        context = self.scope.get(int(event.get("previousEventId") or 0))
        if kind.endswith("StateEntered"):
            name, state_type = str(details.get("name", "")), kind[: -len("StateEntered")]
            run = _Run(name, state_type, context, at, redrive=self.redrives)
            self.runs.append(run)
            self.scope[event_id] = run
            return
        if kind.endswith("StateExited"):
            exited = self._exited(str(details.get("name", "")), context)
            if exited is not None:
                failed = exited.failed or exited.type == "Fail"
                exited.end(Status.FAILED if failed else Status.SUCCEEDED, at)
                context = exited.parent
            self.scope[event_id] = context
            return
        if context is None:
            context = self._latest_open()
        if kind.startswith(("Parallel", "Map")):
            context = _enclosing_container(context)
        self.scope[event_id] = context
        if kind in EXECUTION_END:
            self._end_execution(EXECUTION_END[kind], context, details, at)
        elif kind == "ExecutionRedriven":
            self.redrives += 1
        elif context is not None:
            _record_attempt(context, kind, details)

    def _exited(self, name: str, context: _Run | None) -> _Run | None:
        """The open run an exit event closes: up the scope chain, else the latest of that name."""
        run = context
        while run is not None and run.name != name:
            run = run.parent
        if run is not None and run.open:
            return run
        return next((r for r in reversed(self.runs) if r.open and r.name == name), None)

    def _latest_open(self) -> _Run | None:
        return next((r for r in reversed(self.runs) if r.open), None)

    def _end_execution(
        self, status: Status, context: _Run | None, details: dict[str, Any], at: datetime | None
    ) -> None:
        failing_path = context.lineage() if context is not None else None
        error, cause = _text(details.get("error")), _text(details.get("cause"))
        for run in self.runs:
            if not run.open:
                continue
            own = status
            if status is Status.FAILED:
                failed = failing_path is None or run in failing_path
                failed = failed or run.failed or run.type == "Fail"
                own = Status.FAILED if failed else Status.ABORTED
            if own is not Status.SUCCEEDED and run.error is None:
                run.error, run.cause = error, cause
            run.end(own, at)

    def steps(self) -> list[StepState]:
        by_name: dict[str, list[_Run]] = {}
        for run in self.runs:
            by_name.setdefault(run.name, []).append(run)
        return [_fold_runs(position, runs) for position, runs in enumerate(by_name.values())]


def _record_attempt(run: _Run, kind: str, details: dict[str, Any]) -> None:
    if kind in SCHEDULED:
        run.attempts += 1
        run.resource_arn = scheduled_resource(kind, details) or run.resource_arn
    if kind in FAILED:
        run.failed = True
        run.error, run.cause = _text(details.get("error")), _text(details.get("cause"))
    elif kind in SUCCEEDED:
        run.failed, run.error, run.cause = False, None, None
        run.resource_arn = output_job_arn(details.get("output")) or run.resource_arn


def _fold_runs(position: int, every_run: list[_Run]) -> StepState:
    # After a redrive only the state's latest runs say how it stands now.
    runs = [r for r in every_run if r.redrive == every_run[-1].redrive]
    statuses = {run.status for run in runs}
    status = next(s for s in PRECEDENCE if s in statuses)
    starts = [r.started_at for r in every_run if r.started_at is not None]
    stops = [r.stopped_at for r in runs if r.stopped_at is not None]
    latest_error = next((r for r in reversed(runs) if r.status is status and r.error), None)
    return StepState(
        name=runs[0].name,
        type=runs[0].type,
        status=status,
        position=position,
        started_at=min(starts, default=None),
        stopped_at=None if status is Status.RUNNING else max(stops, default=None),
        attempts=sum(max(1, r.attempts) for r in every_run),
        error=latest_error.error if latest_error else None,
        cause=latest_error.cause if latest_error else None,
        resource_arn=next((r.resource_arn for r in reversed(every_run) if r.resource_arn), None),
    )


def _enclosing_container(run: _Run | None) -> _Run | None:
    """Parallel/Map events belong to the nearest Parallel or Map run around their scope."""
    while run is not None and run.type not in ("Parallel", "Map"):
        run = run.parent
    return run


def _details(event: dict[str, Any]) -> dict[str, Any]:
    """The event's ``<type>EventDetails`` object (each event has at most one)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _text(value: Any) -> str | None:
    """A non-empty string, else None (moto reports an abort's missing error as "")."""
    return value if isinstance(value, str) and value else None
