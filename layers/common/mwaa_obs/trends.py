"""Trends from the table (no custom metrics): each task's duration over a workflow's last runs, and each run's landing
time (its end) against the time its schedule fired it.

Built from the grid's reads (the runs in the range and their task attempts) and the workflow's stored schedule
(GetWorkflow's cron, mwaa_obs.store.workflows). A run's scheduled time is the schedule's latest fire at or before
the run was first seen (a scheduled run starts at its fire time), looked for within LOOKBACK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mwaa_obs.cron import Cron, CronError
from mwaa_obs.links import runs_show_command
from mwaa_obs.states import RunType
from mwaa_obs.stats import percentile
from mwaa_obs.times import human_duration
from mwaa_obs.view_html import LOOKS, Navigation, Viewer, _fill, _text, _when, look, page
from mwaa_obs.views import RunView, grid

LOOKBACK = timedelta(days=1)  # how far before a run its fire is looked for
MAX_FIRES = 1_500  # fires stepped through to find it (a schedule every minute: a day's)
CHART_WIDTH, CHART_HEIGHT = 240, 28  # px, a task's duration line
DOT_MARGIN = 3  # px left and right of the line: the first and last runs' dots whole


@dataclass(frozen=True, slots=True)
class Point:
    run_id: str
    seconds: float | None  # None: the task did not run to an end in that run
    state: str


@dataclass(frozen=True, slots=True)
class TaskTrend:
    task_id: str
    points: tuple[Point, ...]  # one per run, oldest first

    @property
    def durations(self) -> list[float]:
        return [point.seconds for point in self.points if point.seconds is not None]


@dataclass(frozen=True, slots=True)
class Landing:
    run: RunView
    scheduled_for: datetime | None  # None: run on demand, or no schedule known

    @property
    def late_seconds(self) -> float | None:
        if self.scheduled_for is None or self.run.ended_at is None:
            return None
        return (self.run.ended_at - self.scheduled_for).total_seconds()


@dataclass(frozen=True, slots=True)
class Trends:
    workflow_name: str
    schedule: str | None
    tasks: tuple[TaskTrend, ...]
    landings: tuple[Landing, ...]  # oldest first


def scheduled_fire(cron: Cron, created_at: datetime) -> datetime | None:
    """The schedule's latest fire at or before `created_at` (within LOOKBACK), None if none."""
    fire, found = created_at - LOOKBACK, None
    for _ in range(MAX_FIRES):
        try:
            fire = cron.next_after(fire)
        except CronError:
            return found
        if fire > created_at:
            return found
        found = fire
    return found


def trends(workflow_name: str, runs: Sequence[RunView], schedule: str | None) -> Trends:
    table = grid(runs)
    tasks = tuple(
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
    try:
        cron = Cron.parse(schedule) if schedule else None
    except CronError:
        cron = None
    landings = tuple(
        Landing(
            run,
            scheduled_fire(cron, run.created_at)
            if cron is not None and run.created_at is not None and run.run_type == RunType.SCHEDULED
            else None,
        )
        for run in table.runs
    )
    return Trends(workflow_name, schedule, tasks, landings)


# --- HTML --------------------------------------------------------------------------------------------------------


def _duration_line(trend: TaskTrend) -> str:
    """The task's durations as a line over the runs (a gap where it did not run), each run a dot with its figure."""
    longest = max(trend.durations, default=0.0) or 1.0
    step = (CHART_WIDTH - 2 * DOT_MARGIN) / max(1, len(trend.points) - 1)
    dots: list[str] = []
    segments: list[list[str]] = []
    current: list[str] = []
    for index, point in enumerate(trend.points):
        if point.seconds is None:
            segments.append(current)
            current = []
            continue
        x = round(DOT_MARGIN + index * step, 1)
        y = round(CHART_HEIGHT - 2 - (CHART_HEIGHT - 4) * point.seconds / longest, 1)
        current.append(f"{x},{y}")
        dots.append(
            f'<circle class="{_fill(point.state)}" cx="{x}" cy="{y}" r="2.5" data-run="{_text(point.run_id)}" '
            f'data-seconds="{point.seconds:g}"><title>{_text(point.run_id)}: '
            f"{_text(human_duration(point.seconds))} ({_text(look(point.state).word)})</title></circle>"
        )
    segments.append(current)
    lines = "".join(f'<polyline points="{" ".join(s)}"></polyline>' for s in segments if len(s) > 1)
    return f'<svg width="{CHART_WIDTH}" height="{CHART_HEIGHT}" aria-hidden="true">{lines}{"".join(dots)}</svg>'


_TRENDS_STYLE = (
    """<style>
.mo .trends polyline{fill:none;stroke:var(--muted);stroke-width:1.2}
.mo .trends circle{stroke:none;fill:var(--muted)}
.mo .trends .late{display:inline-block;height:10px;background:var(--muted);vertical-align:middle}
"""
    + "".join(f".mo .trends circle.f-{state.lower()}{{fill:{shown.colour}}}" for state, shown in LOOKS.items())
    + ("</style>")
)


def _landing_row(landing: Landing, longest: float, nav: Navigation, viewer: Viewer) -> str:
    run = landing.run
    mark = look(run.state)
    late = landing.late_seconds
    gantt = nav.link(
        _text(run.run_id),
        {"view": "gantt", "workflow": run.workflow_name, "runId": run.run_id},
        runs_show_command(run.run_id, run.workflow_name, viewer.stack_name),
    )
    if late is None:
        after = "on demand" if run.run_type != RunType.SCHEDULED else "—"
        bar = ""
    else:
        after = ("+" if late >= 0 else "−") + human_duration(abs(late))
        bar = f'<span class="late" style="width:{round(120 * max(0.0, late) / longest)}px"></span>'
    return (
        f'<tr class="landing" data-run="{_text(run.run_id)}" data-late-seconds="{"" if late is None else f"{late:g}"}">'
        f'<td>{gantt}</td><td><span style="color:{mark.colour}">{mark.symbol}</span> {_text(mark.word)}</td>'
        f"<td>{_text(_when(landing.scheduled_for))}</td><td>{_text(_when(run.ended_at))}</td>"
        f"<td>{_text(after)} {bar}</td></tr>"
    )


def render_trends(found: Trends, nav: Navigation, viewer: Viewer) -> str:
    if not found.landings:
        return page(f"<p>No runs of {_text(found.workflow_name)} in this time range.</p>", viewer)
    lates = [late for landing in found.landings if (late := landing.late_seconds) is not None]
    longest = max([*lates, 1.0])
    landing_rows = "".join(_landing_row(landing, longest, nav, viewer) for landing in found.landings)
    schedule = f"schedule <code>{_text(found.schedule)}</code>" if found.schedule else "no schedule (on demand)"
    typical = f" · landed a median {_text(human_duration(percentile(lates, 50)))} after its fire" if lates else ""
    landings = (
        f'<h4>{_text(found.workflow_name)}: landing time vs schedule</h4><p class="muted">{schedule}{typical}</p>'
        '<table class="landings"><tr><th>run (Gantt)</th><th>outcome</th><th>scheduled for</th><th>landed (ended)</th>'
        f"<th>after its fire</th></tr>{landing_rows}</table>"
    )
    task_rows = "".join(
        f'<tr class="task-trend" data-task="{_text(trend.task_id)}"><th>{_text(trend.task_id)}</th>'
        f"<td>{_duration_line(trend)}</td>"
        f"<td>{_text(human_duration(percentile(trend.durations, 50)) if trend.durations else '—')}</td>"
        f"<td>{_text(human_duration(trend.points[-1].seconds) if trend.points[-1].seconds is not None else '—')}</td>"
        "</tr>"
        for trend in found.tasks
    )
    durations = (
        f"<h4>Task durations over the last {len(found.landings)} runs (oldest left)</h4>"
        '<table class="durations"><tr><th>task</th><th>duration per run</th><th>median</th><th>last run</th></tr>'
        f"{task_rows}</table>"
    )
    return page(_TRENDS_STYLE + f'<div class="trends">{landings}{durations}</div>', viewer)
