"""The Airflow views MWAA Serverless lacks, as plain data: a workflow's runs grid and one run's Gantt chart.

Built from the stored items alone (no AWS call here): the widget function and `mwaa-obs ui` read the items and
render these models (mwaa_obs.view_html).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from mwaa_obs.events import Place, place_of, workflow_name_of
from mwaa_obs.failures import one_per_attempt
from mwaa_obs.links import stream_name, task_log_group, task_log_stream
from mwaa_obs.states import TASK_NEVER_RAN_STATES, TaskState
from mwaa_obs.store.schema import RunItem, TaskAttemptItem
from mwaa_obs.task_logs import LogRef


@dataclass(frozen=True, slots=True)
class AttemptView:
    task_id: str
    attempt: int
    state: str
    ready_at: datetime | None  # when it was scheduled: its upstream tasks were done
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    log_stream: str | None


@dataclass(frozen=True, slots=True)
class RunView:
    workflow_id: str
    run_id: str
    state: str
    run_type: str | None
    created_at: datetime | None  # first word of the run: the grid's column order
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    attempts: tuple[AttemptView, ...]  # by task, then attempt
    log_group: str  # of its task logs
    region: str | None = None  # where its task logs are (its workflow's region)
    workflow_version: str | None = None  # the version it ran (its graph)
    place: Place | None = None  # its workflow's account and region
    triggered_by: str | None = None  # from CloudTrail: who started it on demand, who stopped it
    stopped_by: str | None = None

    def attempt(self, task_id: str, number: int) -> AttemptView | None:
        return next((a for a in self.attempts if a.task_id == task_id and a.attempt == number), None)

    @property
    def workflow_name(self) -> str:
        return workflow_name_of(self.workflow_id)


def run_view(run: RunItem, attempts: Iterable[TaskAttemptItem], log_group: str | None = None) -> RunView:
    seen = run.seen()
    views = sorted(
        (
            AttemptView(
                task_id=item.task_id or item.task_key,
                attempt=item.attempt,
                state=item.status or "",
                ready_at=_first(item.seen().get(TaskState.SCHEDULED), item.queued_at, item.started_at),
                started_at=_first(item.started_at, item.seen().get(TaskState.RUNNING)),
                ended_at=item.ended_at,
                error=item.error_message,
                log_stream=item.log_stream,
            )
            for item in one_per_attempt(attempts)
        ),
        key=lambda view: (view.task_id, view.attempt),
    )
    return RunView(
        workflow_id=run.workflow_id,
        run_id=run.run_id,
        state=run.status or "",
        run_type=run.run_type,
        created_at=min(seen.values(), default=run.started_at),
        started_at=run.started_at,
        ended_at=run.ended_at,
        error=run.error_message,
        attempts=tuple(views),
        log_group=log_group or task_log_group(run.workflow_id),
        region=place.region if (place := place_of(run.workflow_arn or "")) else None,
        workflow_version=run.workflow_version,
        place=place,
        triggered_by=run.triggered_by,
        stopped_by=run.stopped_by,
    )


def log_ref(run: RunView, attempt: AttemptView) -> LogRef:
    """Where the attempt's log is: the stream its events named (else the service's naming) in the run's log group."""
    stream = (
        stream_name(attempt.log_stream)
        if attempt.log_stream
        else task_log_stream(run.workflow_id, run.run_id, attempt.task_id, attempt.attempt)
    )
    return LogRef(run.log_group, stream, run.place)


def _first(*times: datetime | None) -> datetime | None:
    return next((at for at in times if at is not None), None)


# --- Grid --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """A task in one run: its latest attempt's state, how many attempts, the first start and the last end."""

    state: str
    attempts: int
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    log_stream: str | None
    attempt: int = 1  # the latest attempt's number

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class Grid:
    runs: tuple[RunView, ...]  # columns, oldest first as in Airflow's grid
    tasks: tuple[str, ...]  # rows, in the order the tasks ran
    cells: dict[tuple[str, str], Cell]  # (task id, run id) -> cell; absent: the task has no attempt in that run


def grid(runs: Sequence[RunView]) -> Grid:
    columns = tuple(sorted(runs, key=lambda run: (run.created_at is None, run.created_at, run.run_id)))
    cells: dict[tuple[str, str], Cell] = {}
    for run in columns:
        by_task: dict[str, list[AttemptView]] = {}
        for attempt in run.attempts:
            by_task.setdefault(attempt.task_id, []).append(attempt)
        for task_id, attempts in by_task.items():
            last = attempts[-1]
            cells[(task_id, run.run_id)] = Cell(
                state=last.state,
                attempts=sum(1 for a in attempts if a.state not in TASK_NEVER_RAN_STATES),
                started_at=_first(*(a.started_at for a in attempts)),
                ended_at=last.ended_at,
                error=next((a.error for a in reversed(attempts) if a.error), None),
                log_stream=last.log_stream,
                attempt=last.attempt,
            )
    return Grid(runs=columns, tasks=task_order(columns), cells=cells)


def task_order(runs: Sequence[RunView]) -> tuple[str, ...]:
    """The tasks in the order they became ready, newest run first: the table keeps no dependencies, and in a run
    a task is scheduled only once its upstream tasks are done, so this order follows them."""
    offsets: dict[str, float] = {}
    for run in reversed(runs):
        origin = min((a.ready_at for a in run.attempts if a.ready_at), default=None)
        for attempt in run.attempts:
            if offsets.get(attempt.task_id, float("inf")) != float("inf"):
                continue
            if origin is not None and attempt.ready_at is not None:
                offsets[attempt.task_id] = (attempt.ready_at - origin).total_seconds()
            else:  # never ran (upstream failed): after the ones that did, unless a run where it ran says better
                offsets.setdefault(attempt.task_id, float("inf"))
    return tuple(sorted(offsets, key=lambda task: (offsets[task], task)))


# --- Gantt -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    task_id: str
    attempt: int
    state: str
    ready_at: datetime | None
    started_at: datetime
    ended_at: datetime
    error: str | None
    log_stream: str | None
    critical: bool


@dataclass(frozen=True, slots=True)
class Gantt:
    run: RunView
    tasks: tuple[str, ...]  # rows
    bars: tuple[Bar, ...]  # every attempt that ran, by row then attempt
    begin: datetime | None
    end: datetime | None


def gantt(run: RunView, now: datetime, layers: Mapping[str, int] | None = None) -> Gantt:
    """Every attempt that ran as a bar (a running one ends now); the chain of tasks that set the run's length is
    marked critical. `layers`: each task's column in its version's graph (mwaa_obs.graph.layout), which places the
    rows of tasks that never ran (upstream failed) where the grid has them, after their upstream tasks."""
    critical = critical_path(run.attempts, now)
    order = _with_unran_placed(run, task_order([run]), layers or {})
    bars = tuple(
        sorted(
            (
                Bar(
                    task_id=a.task_id,
                    attempt=a.attempt,
                    state=a.state,
                    ready_at=a.ready_at,
                    started_at=a.started_at,
                    ended_at=a.ended_at or now,
                    error=a.error,
                    log_stream=a.log_stream,
                    critical=a.task_id in critical,
                )
                for a in run.attempts
                if a.started_at is not None
            ),
            key=lambda bar: (order.index(bar.task_id), bar.attempt),
        )
    )
    begin = _first(run.started_at, min((bar.ready_at or bar.started_at for bar in bars), default=None))
    end = max((bar.ended_at for bar in bars), default=run.ended_at)
    return Gantt(run=run, tasks=order, bars=bars, begin=begin, end=run.ended_at or end)


def _with_unran_placed(run: RunView, order: tuple[str, ...], layers: Mapping[str, int]) -> tuple[str, ...]:
    """The rows with each task that never ran moved to just after the last task that ran at or before its column
    of the graph (it stays last when its column is not known)."""
    ran = {attempt.task_id for attempt in run.attempts if attempt.started_at is not None}
    placed = [task for task in order if task in ran or task not in layers]
    unran = sorted((task for task in order if task not in ran and task in layers), key=lambda t: (layers[t], t))
    for task in unran:
        before = [index for index, other in enumerate(placed) if other in layers and layers[other] <= layers[task]]
        placed.insert(before[-1] + 1 if before else 0, task)
    return tuple(placed)


def critical_path(attempts: Sequence[AttemptView], now: datetime | None = None) -> frozenset[str]:
    """The tasks on the chain that ended last (a running attempt ends now): from the task that ended last, step to
    the task that ended last before it became ready, and so on. With no dependencies stored, readiness stands in
    for them: a task is scheduled when its last upstream task is done, so that upstream task held it up."""
    span: dict[str, tuple[datetime, datetime]] = {}
    for a in attempts:
        ended = a.ended_at or (now if a.started_at is not None else None)
        if a.ready_at is None or ended is None:
            continue
        first_ready, last_end = span.get(a.task_id, (a.ready_at, ended))
        span[a.task_id] = (min(first_ready, a.ready_at), max(last_end, ended))
    if not span:
        return frozenset()
    task = max(span, key=lambda t: (span[t][1], t))
    path = {task}
    while True:
        ready = span[task][0]
        before = [t for t in span if t not in path and span[t][1] <= ready]
        if not before:
            return frozenset(path)
        task = max(before, key=lambda t: (span[t][1], t))
        path.add(task)
