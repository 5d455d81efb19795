"""A workflow's charts over a time range, from its stored runs: what its per-workflow metrics used to draw.

By default a workflow's own metric series carry only what is abnormal (mwaa_obs.metrics.Scope), so its dashboard
draws runs by outcome, success rate, duration, queue delay, landing time and task durations from the table
instead: the runs in the range (their times and outcome are on the run items) and the task attempts of the latest
few, which also give each task's duration per run and each of those runs' landing against its schedule's fire (what
issue 35's trends view drew, read and computed here once). Plain data here, no AWS and no HTML (mwaa_obs.view_charts
draws it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from mwaa_obs.cron import Cron, CronError
from mwaa_obs.states import RunState, RunType
from mwaa_obs.stats import percentile
from mwaa_obs.store.schema import RunItem
from mwaa_obs.views import RunView, grid, task_order

# The widths a bucket may have; the narrowest that keeps the range within MAX_BUCKETS is used.
BUCKET_SIZES: Final = tuple(timedelta(hours=hours) for hours in (1, 2, 3, 6, 12, 24, 48, 24 * 7, 24 * 14, 24 * 28))
MAX_BUCKETS: Final = 48
# The outcomes stacked in the runs chart, in this order, then NOT_ENDED.
OUTCOMES: Final = (RunState.SUCCESS, RunState.FAILED, RunState.TIMEOUT, RunState.STOPPED)
NOT_ENDED: Final = RunState.RUNNING  # a run not ended yet (starting, queued or running) is drawn as running
_LOOKBACKS: Final = (timedelta(hours=2), timedelta(days=2), timedelta(days=32), timedelta(days=400))


@dataclass(frozen=True, slots=True)
class TaskDurations:
    task_id: str
    attempts: int  # attempts that ran (a start and an end)
    p50: float
    p95: float
    longest: float


@dataclass(frozen=True, slots=True)
class Point:
    run_id: str
    seconds: float | None  # None: the task did not run to an end in that run
    state: str


@dataclass(frozen=True, slots=True)
class TaskTrend:
    """A task's duration (first start to last end) in each of the latest runs, oldest first."""

    task_id: str
    points: tuple[Point, ...]

    @property
    def durations(self) -> list[float]:
        return [point.seconds for point in self.points if point.seconds is not None]


@dataclass(frozen=True, slots=True)
class Landing:
    """One of the latest runs' end against the time its schedule fired it."""

    run_id: str
    state: str
    on_demand: bool
    fired_at: datetime | None  # None: run on demand, or no schedule known
    ended_at: datetime | None

    @property
    def late_seconds(self) -> float | None:
        if self.fired_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.fired_at).total_seconds()


@dataclass(frozen=True, slots=True)
class Charts:
    workflow: str
    schedule: str | None  # its cron, as stored (None: on demand or not known)
    starts: tuple[datetime, ...]  # each bucket's start
    size: timedelta  # each bucket's width
    end: datetime
    runs: int  # the runs drawn
    capped: bool  # the range held more runs than were read: only its newest are drawn
    outcomes: dict[str, tuple[int, ...]]  # state (OUTCOMES, NOT_ENDED) -> runs per bucket, by when each was first seen
    success_rate: tuple[
        float | None, ...
    ]  # % of the runs that ended SUCCESS of those that ended SUCCESS, FAILED or TIMEOUT
    duration_p50: tuple[float | None, ...]  # seconds, RUNNING to end, of the runs that ended in the bucket's runs
    duration_p95: tuple[float | None, ...]
    queue_p50: tuple[float | None, ...]  # seconds, QUEUED to RUNNING
    queue_max: tuple[float | None, ...]
    landing: tuple[tuple[datetime, float, str], ...]  # per ended run: its scheduled time, seconds to its end, state
    too_slow_seconds: float | None  # the workflow's threshold (RunTooSlow), drawn on the duration chart
    tasks: tuple[TaskDurations, ...]  # in the order the tasks ran
    task_runs: int  # the latest runs whose task attempts were read
    task_trends: tuple[TaskTrend, ...]  # each task's duration in each of those runs, tasks in the order they ran
    landings: tuple[Landing, ...]  # those runs, oldest first, each against its schedule's fire


def bucket_starts(start: datetime, end: datetime) -> tuple[tuple[datetime, ...], timedelta]:
    """Buckets covering [start, end): aligned to UTC multiples of the narrowest size that needs at most
    MAX_BUCKETS of them."""
    span = max(end - start, timedelta(seconds=1))
    size = next((size for size in BUCKET_SIZES if span / size <= MAX_BUCKETS - 1), BUCKET_SIZES[-1])
    epoch = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday: weekly buckets start on Mondays
    first = epoch + ((start - epoch) // size) * size
    starts = []
    at = first
    while at < end:
        starts.append(at)
        at += size
    return tuple(starts), size


def first_seen(run: RunItem) -> datetime | None:
    """When a run was first seen: the time the workflow-runs index orders it by."""
    return min(run.seen().values(), default=run.started_at)


def scheduled_at(run: RunItem, cron: Cron | None) -> datetime | None:
    """When a run was due: its schedule's fire (schedule_fire), else (on demand, no schedule known) when it was first
    seen."""
    return schedule_fire(run, cron) or first_seen(run)


def schedule_fire(run: RunItem, cron: Cron | None) -> datetime | None:
    """The schedule's last fire at or before a scheduled run was first seen; None for a run started on demand, a
    workflow whose schedule is not known, or no fire found."""
    seen = first_seen(run)
    if seen is None or cron is None or run.run_type == RunType.ON_DEMAND:
        return None
    for lookback in _LOOKBACKS:
        try:
            fire = cron.next_after(seen - lookback)
        except CronError:
            return None
        if fire > seen:
            continue
        while (following := cron.next_after(fire)) <= seen:
            fire = following
        return fire
    return None


def _seconds(first: datetime | None, last: datetime | None) -> float | None:
    return max(0.0, (last - first).total_seconds()) if first is not None and last is not None else None


def _stat(values: list[float], q: float | None) -> float | None:
    if not values:
        return None
    return max(values) if q is None else percentile(values, q)


def workflow_charts(
    workflow: str,
    runs: Sequence[RunItem],
    latest: Sequence[RunView],
    *,
    start: datetime,
    end: datetime,
    schedule: str | None,
    too_slow_seconds: float | None,
    capped: bool = False,
) -> Charts:
    """The charts of the runs first seen in [start, end); task durations and landings from `latest` (the newest of
    them, with their attempts)."""
    starts, size = bucket_starts(start, end)
    count = len(starts)
    outcomes: dict[str, list[int]] = {state: [0] * count for state in (*OUTCOMES, NOT_ENDED)}
    durations: list[list[float]] = [[] for _ in starts]
    queues: list[list[float]] = [[] for _ in starts]
    try:
        cron = Cron.parse(schedule) if schedule else None
    except CronError:
        cron = None
    landing = []
    fires: dict[str, Landing] = {}
    drawn = 0
    for run in runs:
        seen = first_seen(run)
        if seen is None or not start <= seen < end:
            continue
        fire = schedule_fire(run, cron)
        on_demand = run.run_type == RunType.ON_DEMAND
        fires[run.run_id] = Landing(run.run_id, run.status or "", on_demand, fire, run.ended_at)
        index = min(count - 1, int((seen - starts[0]) / size))
        drawn += 1
        outcomes[run.status if run.status in OUTCOMES else NOT_ENDED][index] += 1
        if (duration := _seconds(run.started_at, run.ended_at)) is not None:
            durations[index].append(duration)
        if (queued := _seconds(run.queued_at, run.started_at)) is not None:
            queues[index].append(queued)
        due = fire or seen
        if run.ended_at is not None:
            landing.append((due, max(0.0, (run.ended_at - due).total_seconds()), run.status or ""))
    rates = []
    for index in range(count):
        ended = sum(outcomes[state][index] for state in (RunState.SUCCESS, RunState.FAILED, RunState.TIMEOUT))
        rates.append(100 * outcomes[RunState.SUCCESS][index] / ended if ended else None)
    return Charts(
        workflow=workflow,
        schedule=schedule,
        starts=starts,
        size=size,
        end=end,
        runs=drawn,
        capped=capped,
        outcomes={state: tuple(values) for state, values in outcomes.items()},
        success_rate=tuple(rates),
        duration_p50=tuple(_stat(values, 50) for values in durations),
        duration_p95=tuple(_stat(values, 95) for values in durations),
        queue_p50=tuple(_stat(values, 50) for values in queues),
        queue_max=tuple(_stat(values, None) for values in queues),
        landing=tuple(sorted(landing)),
        too_slow_seconds=too_slow_seconds,
        tasks=task_durations(latest),
        task_runs=len(latest),
        task_trends=task_trends(latest),
        landings=tuple(fires[run.run_id] for run in grid(latest).runs if run.run_id in fires),
    )


def task_durations(runs: Iterable[RunView]) -> tuple[TaskDurations, ...]:
    """Each task's attempt durations over the runs: p50, p95 and the longest, tasks in the order they became ready
    (mwaa_obs.views.task_order)."""
    chosen = list(runs)
    by_task: dict[str, list[float]] = defaultdict(list)
    for run in chosen:
        for attempt in run.attempts:
            if (seconds := _seconds(attempt.started_at, attempt.ended_at)) is not None:
                by_task[attempt.task_id].append(seconds)
    order = [task for task in task_order(chosen) if task in by_task]
    return tuple(
        TaskDurations(task, len(by_task[task]), percentile(by_task[task], 50), percentile(by_task[task], 95),
                      max(by_task[task]))
        for task in order
    )  # fmt: skip


def task_trends(runs: Sequence[RunView]) -> tuple[TaskTrend, ...]:
    """Each task's duration in each run as the grid shows it (mwaa_obs.views.grid: first start to last end), runs
    oldest first."""
    table = grid(runs)
    return tuple(
        TaskTrend(
            task,
            tuple(
                Point(run.run_id, cell.seconds if cell else None, cell.state if cell else "")
                for run in table.runs
                for cell in (table.cells.get((task, run.run_id)),)
            ),
        )
        for task in table.tasks
    )
