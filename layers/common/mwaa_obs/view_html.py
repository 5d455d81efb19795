"""The grid, the Gantt chart and the failures table as HTML: for the CloudWatch custom widget and `mwaa-obs ui`.

No JavaScript (CloudWatch custom widgets run none): CSS only, every state shown by a symbol and a word as well as
a colour, light and dark. Every text that comes from a workflow (task ids, run ids, errors) is escaped here, in
`_text`, and nowhere is HTML built from it otherwise. Navigation between views is the caller's (`Navigation`):
a `<cwdb-action>` in CloudWatch, a plain link offline.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from mwaa_obs.api_calls import short_caller
from mwaa_obs.events import PLACE_SEPARATOR
from mwaa_obs.failures import error_line, failed_at, task_name
from mwaa_obs.links import log_stream_url, logs_command, runs_show_command, workflows_console_url
from mwaa_obs.states import TASK_ERROR_STATES, TERMINAL_RUN_STATES, RunState, TaskState
from mwaa_obs.store.schema import RunItem, TaskAttemptItem
from mwaa_obs.task_logs import LogTail
from mwaa_obs.times import human_duration, readable_time
from mwaa_obs.views import AttemptView, Bar, Cell, Gantt, Grid, RunView, log_ref

ERROR_CHARACTERS = 200  # the first line of an error, in a tooltip or a table cell


@dataclass(frozen=True, slots=True)
class Look:
    symbol: str
    word: str
    colour: str  # fill; the symbol on it is white, at a contrast of at least 4.5:1


# Airflow's grid colours where they are readable under white text, darkened where they are not.
LOOKS: Mapping[str, Look] = {
    TaskState.SUCCESS: Look("✓", "success", "#1b7a1b"),
    TaskState.FAILED: Look("✗", "failed", "#c62828"),
    TaskState.UPSTREAM_FAILED: Look("↑", "upstream failed", "#a84300"),
    TaskState.UP_FOR_RETRY: Look("↻", "up for retry", "#8a6d00"),
    TaskState.TIMEOUT: Look("◔", "timed out", "#6a1b9a"),
    TaskState.RUNNING: Look("▶", "running", "#00695c"),
    TaskState.QUEUED: Look("…", "queued", "#5d5d5d"),
    TaskState.SCHEDULED: Look("…", "scheduled", "#5d5d5d"),
    TaskState.NONE: Look("·", "not scheduled", "#5d5d5d"),
    TaskState.UP_FOR_RESCHEDULE: Look("↺", "up for reschedule", "#1a6f8a"),
    TaskState.DEFERRED: Look("‖", "deferred", "#6746b8"),
    TaskState.RESTARTING: Look("⟳", "restarting", "#8e2f8e"),
    TaskState.CANCELLED: Look("⊘", "cancelled", "#795548"),
    TaskState.REMOVED: Look("−", "removed", "#757575"),
    RunState.STARTING: Look("…", "starting", "#5d5d5d"),
    RunState.STOPPING: Look("■", "stopping", "#6b6b9a"),
    RunState.STOPPED: Look("■", "stopped", "#4e4e7a"),
}
UNKNOWN_LOOK = Look("?", "unknown", "#5d5d5d")


def look(state: str) -> Look:
    return LOOKS.get(state, UNKNOWN_LOOK)


class Navigation(Protocol):
    """How a view links to another view (the Gantt of a run) where it is shown."""

    def link(self, label_html: str, params: Mapping[str, str], title: str) -> str: ...

    def action(self, label: str, params: Mapping[str, str], confirmation: str) -> str:
        """A button that acts on a run once confirmed (Re-run, Stop); "" where there is none."""
        ...


@dataclass(frozen=True, slots=True)
class Viewer:
    """Where the page is read: for the console links and the CLI command it shows."""

    region: str
    stack_name: str
    theme: str = "light"  # or "dark", as the dashboard says


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(at: datetime | None) -> str:
    return readable_time(at) if at else "—"


_STYLE = """
.mo{font:12px/1.4 'Amazon Ember',Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg);padding:4px}
.mo.light{--fg:#16191f;--bg:#fff;--line:#d5dbdb;--muted:#545b64;--track:#f2f3f3}
.mo.dark{--fg:#d1d5db;--bg:#1b232d;--line:#414d5c;--muted:#a3aab3;--track:#232f3e}
.mo table{border-collapse:collapse}
.mo th,.mo td{border:1px solid var(--line);padding:2px 4px;text-align:left;white-space:nowrap}
.mo a{color:inherit}
.mo .cell{color:#fff;text-align:center;min-width:22px;font-weight:bold}
.mo .cell a{text-decoration:none;color:#fff}
.mo .cell.none{background:transparent;color:var(--muted)}
.mo .n{font-size:9px;vertical-align:super}
.mo .muted{color:var(--muted)}
.mo .legend span{display:inline-block;margin-right:8px}
.mo .legend b{display:inline-block;color:#fff;padding:0 4px;border-radius:2px}
.mo .track{position:relative;height:16px;min-width:320px;background:var(--track)}
.mo .bar{position:absolute;top:2px;height:12px;color:#fff;font-size:9px;line-height:12px;overflow:hidden;
 border-radius:2px;min-width:2px}
.mo .bar.critical{top:0;height:16px;line-height:16px;outline:2px solid var(--fg)}
.mo .gap{position:absolute;top:7px;height:2px;background:repeating-linear-gradient(90deg,var(--muted) 0 3px,
 transparent 3px 6px)}
.mo h4{margin:2px 0 6px}
.mo .track{margin-right:48px}
.mo .dur{position:absolute;top:2px;margin-left:3px;font-size:9px;line-height:12px;color:var(--muted)}
.mo .ticks{position:relative;height:14px;min-width:320px;margin-right:48px;font-size:9px;color:var(--muted)}
.mo .tick{position:absolute;top:0;white-space:nowrap}
.mo pre.log{white-space:pre-wrap;word-break:break-all;font:11px/1.35 Menlo,Consolas,monospace;margin:4px 0;
 padding:4px;background:var(--track);border:1px solid var(--line);max-width:960px}
"""


def _fill(state: str) -> str:
    """The class that paints a state's colour (one rule per state in the page's style, not one per cell)."""
    return f"f-{state.lower()}" if state in LOOKS else "f-unknown"


_FILLS = "".join(f".mo .f-{state.lower()}{{background:{look.colour}}}" for state, look in LOOKS.items()) + (
    f".mo .f-unknown{{background:{UNKNOWN_LOOK.colour}}}"
)


def page(body: str, viewer: Viewer) -> str:
    theme = "dark" if viewer.theme == "dark" else "light"
    return (
        f'<div class="cwdb-no-default-styles"></div><style>{_STYLE}{_FILLS}</style><div class="mo {theme}">{body}</div>'
    )


# Always in the legend; any other state shown is added after them.
GRID_LEGEND: Final = (
    TaskState.SUCCESS,
    TaskState.FAILED,
    TaskState.UPSTREAM_FAILED,
    TaskState.TIMEOUT,
    TaskState.RUNNING,
)
GANTT_LEGEND: Final = (
    TaskState.SUCCESS,
    TaskState.FAILED,
    TaskState.UP_FOR_RETRY,
    TaskState.TIMEOUT,
    TaskState.RUNNING,
)


def _legend(always: Sequence[str], shown: Iterable[str]) -> str:
    states = list(always) + sorted({state for state in shown if state in LOOKS} - set(always))
    items = "".join(
        f'<span><b style="background:{look(s).colour}">{look(s).symbol}</b> {look(s).word}</span>' for s in states
    )
    return f'<p class="legend muted">{items}<span>n: attempts</span></p>'


def heading_times(runs: Sequence[RunView]) -> list[str]:
    """Each run's column heading: `MM-DD HH:MM` of its start, with the seconds when two runs share a minute."""
    minutes = [_when(run.created_at)[5:16] for run in runs]
    if len(set(minutes)) == len(minutes):
        return minutes
    return [_when(run.created_at)[5:19] for run in runs]


def _run_heading(run: RunView, when: str, nav: Navigation, viewer: Viewer, *, new_version: bool = False) -> str:
    """A run's column header; `new_version`: it ran another version than the run before it (marked ◆)."""
    mark = look(run.state)
    marker = '<span class="version" title="new version">◆</span> ' if new_version else ""
    label = f'{marker}<span style="color:{mark.colour}">{mark.symbol}</span> {_text(when)}'
    who = "".join(
        f"; {words} {short_caller(by)}"
        for words, by in (("triggered by", run.triggered_by), ("stopped by", run.stopped_by))
        if by
    )
    version = f"; new version {run.workflow_version}" if new_version else ""
    title = (
        f"run {run.run_id} ({run.run_type or 'run'}), {mark.word}; started {_when(run.started_at)}, "
        f"ended {_when(run.ended_at)}{who}{version}. Gantt: click. CLI: "
        f"{runs_show_command(run.run_id, run.workflow_name, viewer.stack_name)}"
    )
    params = {"view": "gantt", "workflow": run.workflow_name, "runId": run.run_id}
    data = f' data-new-version="{_text(run.workflow_version)}"' if new_version else ""
    data += f' data-triggered-by="{_text(run.triggered_by)}"' if run.triggered_by else ""
    return (
        f'<th class="run" data-run="{_text(run.run_id)}" data-state="{_text(run.state)}"{data}>'
        f"{nav.link(label, params, title)}</th>"
    )


def _new_versions(runs: Sequence[RunView]) -> list[bool]:
    """Whether each run (oldest first) ran another version than the run before it, where both are known."""
    return [
        index > 0 and None not in (run.workflow_version, runs[index - 1].workflow_version)
        and run.workflow_version != runs[index - 1].workflow_version
        for index, run in enumerate(runs)
    ]  # fmt: skip


def _log_params(run: RunView, task_id: str, attempt: int) -> dict[str, str]:
    return {"view": "log", "workflow": run.workflow_name, "runId": run.run_id, "task": task_id, "attempt": str(attempt)}


def _cell(task_id: str, run: RunView, cell: Cell | None, nav: Navigation, viewer: Viewer) -> str:
    data = f'data-task="{_text(task_id)}" data-run="{_text(run.run_id)}"'
    if cell is None:
        return f'<td class="cell none" {data} data-state="" title="no attempt">–</td>'
    mark = look(cell.state)
    seconds = cell.seconds
    lines = [
        f"{task_id}: {mark.word}, {cell.attempts} attempt{'s' if cell.attempts != 1 else ''}",
        f"started {_when(cell.started_at)}, ended {_when(cell.ended_at)}"
        + (f" ({human_duration(seconds)})" if seconds is not None else ""),
    ]
    if cell.error:
        lines.append(error_line(cell.error, ERROR_CHARACTERS))
    count = f'<span class="n">{cell.attempts}</span>' if cell.attempts > 1 else ""
    content = f"{mark.symbol}{count}"
    if cell.state in TASK_ERROR_STATES and cell.log_stream:  # its log's last lines, where the grid is shown
        content = nav.link(content, _log_params(run, task_id, cell.attempt), "the attempt's last log lines: click")
    elif cell.log_stream:
        url = log_stream_url(run.region or viewer.region, run.log_group, cell.log_stream)
        content = f'<a href="{_text(url)}" target="_blank" rel="noopener">{content}</a>'
    return (
        f'<td class="cell {_fill(cell.state)}" {data} data-state="{_text(cell.state)}" '
        f'data-attempts="{cell.attempts}" title="{_text(chr(10).join(lines))}" '
        f'aria-label="{_text(mark.word)}">{content}</td>'
    )


def render_grid(workflow_name: str, grid: Grid, nav: Navigation, viewer: Viewer) -> str:
    if not grid.runs:
        return page(f"<p>No runs of {_text(workflow_name)} in this time range.</p>", viewer)
    times = heading_times(grid.runs)
    heading = "".join(
        _run_heading(run, when, nav, viewer, new_version=new)
        for run, when, new in zip(grid.runs, times, _new_versions(grid.runs), strict=True)
    )
    rows = "".join(
        f'<tr data-task="{_text(task)}"><th>{_text(task)}</th>'
        + "".join(_cell(task, run, grid.cells.get((task, run.run_id)), nav, viewer) for run in grid.runs)
        + "</tr>"
        for task in grid.tasks
    )
    console = f'<a href="{_text(workflows_console_url(viewer.region))}" target="_blank" rel="noopener">console</a>'
    table = (
        f'<table class="grid" data-workflow="{_text(workflow_name)}"><thead><tr><th>{_text(workflow_name)} '
        f"({console})</th>{heading}</tr></thead><tbody>{rows}</tbody></table>"
    )
    return page(table + _legend(GRID_LEGEND, (cell.state for cell in grid.cells.values())), viewer)


def _position(at: datetime, begin: datetime, span: float) -> float:
    return round(100 * (at - begin).total_seconds() / span, 2)


def _bar(bar: Bar, begin: datetime, span: float, run: RunView, *, nav: Navigation | None, region: str) -> str:
    mark = look(bar.state)
    left = _position(bar.started_at, begin, span)
    width = max(0.3, round(_position(bar.ended_at, begin, span) - left, 2))
    lines = [
        f"{bar.task_id} attempt {bar.attempt}: {mark.word}" + (" (on the critical path)" if bar.critical else ""),
        f"{_when(bar.started_at)} → {_when(bar.ended_at)} "
        f"({human_duration((bar.ended_at - bar.started_at).total_seconds())})",
    ]
    if bar.error:
        lines.append(error_line(bar.error, ERROR_CHARACTERS))
    symbol = mark.symbol
    if nav is not None:  # its log's last lines, where the chart is shown
        symbol = nav.link(symbol, _log_params(run, bar.task_id, bar.attempt), "the attempt's last log lines: click")
    elif bar.log_stream:
        url = log_stream_url(region, run.log_group, bar.log_stream)
        symbol = f'<a href="{_text(url)}" target="_blank" rel="noopener">{symbol}</a>'
    seconds = (bar.ended_at - bar.started_at).total_seconds()
    duration = human_duration(seconds)
    return (
        f'<div class="bar {_fill(bar.state)}{" critical" if bar.critical else ""}" '
        f'style="left:{left}%;width:{width}%" data-task="{_text(bar.task_id)}" data-attempt="{bar.attempt}" '
        f'data-state="{_text(bar.state)}" data-critical="{str(bar.critical).lower()}" '
        f'data-seconds="{seconds:.0f}" title="{_text(chr(10).join(lines))}" aria-label="{_text(mark.word)}">'
        f'{symbol}</div><span class="dur" style="left:{min(left + width, 100):.2f}%" '
        f'data-task="{_text(bar.task_id)}" data-attempt="{bar.attempt}">{_text(duration)}</span>'
    )


AXIS_TICKS: Final = 4  # intervals of the Gantt chart's time axis


def _axis(begin: datetime, end: datetime) -> str:
    """The time axis over the bars: the run's begin, three times between and its end (UTC, to the second)."""
    span = (end - begin).total_seconds()
    marks = []
    for step in range(AXIS_TICKS + 1):
        at = begin + (end - begin) * step / AXIS_TICKS
        offset = human_duration(span * step / AXIS_TICKS) if step else "0s"
        place = "right:0" if step == AXIS_TICKS else f"left:{100 * step / AXIS_TICKS:.0f}%"
        shift = "" if step in (0, AXIS_TICKS) else ";transform:translateX(-50%)"
        marks.append(
            f'<span class="tick" style="{place}{shift}" data-at="{_text(_when(at))}" '
            f'title="{_text(_when(at))}">{_text(_when(at)[11:19])} (+{_text(offset)})</span>'
        )
    return f'<tr class="axis"><th>UTC</th><td><div class="ticks">{"".join(marks)}</div></td></tr>'


def render_log(run: RunView, attempt: AttemptView, tail: LogTail, nav: Navigation, viewer: Viewer) -> str:
    """One attempt's last log lines (escaped, like everything a workflow wrote), or why they are not shown; with
    the whole log's link, the CLI command that prints it and the way back to the run's Gantt chart."""
    mark = look(attempt.state)
    stream = log_ref(run, attempt).stream
    url = log_stream_url(run.region or viewer.region, run.log_group, stream)
    command = logs_command(run.run_id, attempt.task_id, attempt.attempt, run.workflow_name, viewer.stack_name)
    times = f"{_when(attempt.started_at)} → {_when(attempt.ended_at)}"
    if attempt.started_at and attempt.ended_at:
        times += f" ({human_duration((attempt.ended_at - attempt.started_at).total_seconds())})"
    error = f" · {_text(error_line(attempt.error, ERROR_CHARACTERS))}" if attempt.error else ""
    head = (
        f'<h4 data-task="{_text(attempt.task_id)}" data-attempt="{attempt.attempt}" data-state="{_text(attempt.state)}"'
        f">{_text(attempt.task_id)}, attempt {attempt.attempt}, of {_text(run.workflow_name)} run "
        f'{_text(run.run_id)}: <span style="color:{mark.colour}">{mark.symbol}</span> {_text(mark.word)}</h4>'
        f'<p class="muted">{_text(times)}{error}</p>'
    )
    if tail.lines:
        body = f'<pre class="log" data-lines="{len(tail.lines)}">{_text(tail.text)}</pre>'
    else:
        body = f'<p class="log-note">Log not shown ({_text(tail.note)}): open it in CloudWatch.</p>'
    gantt_link = nav.link("Gantt chart", {"view": "gantt", "workflow": run.workflow_name, "runId": run.run_id}, "")
    links = (
        f'<p><a class="whole-log" href="{_text(url)}" target="_blank" rel="noopener">the whole log in CloudWatch</a>'
        f" · <code>{_text(command)}</code> · {gantt_link}</p>"
    )
    return page(head + body + links, viewer)


def _gaps(bars: Sequence[Bar], begin: datetime, span: float) -> str:
    """The waits between one attempt's end and the next one's start: the retry delays."""
    gaps = []
    for before, after in itertools.pairwise(bars):
        if after.attempt == before.attempt + 1 and after.started_at > before.ended_at:
            left = _position(before.ended_at, begin, span)
            width = round(_position(after.started_at, begin, span) - left, 2)
            wait = human_duration((after.started_at - before.ended_at).total_seconds())
            gaps.append(
                f'<div class="gap" style="left:{left}%;width:{width}%" data-retry-after="{before.attempt}" '
                f'title="waiting {wait} to retry"></div>'
            )
    return "".join(gaps)


def action_question(action: str, workflow_name: str, run_id: str) -> str | None:
    """What a button asks before it acts (None: no such action)."""
    if action == "rerun":
        return f"Start {workflow_name} again, as a new run of its latest version with run {run_id}'s parameters?"
    if action == "stop":
        return f"Stop {workflow_name} run {run_id}? Its running tasks are ended and no new task starts."
    return None


def run_buttons(run: RunView, nav: Navigation) -> str:
    """Re-run for an ended run, Stop for one still going: each asks first (mwaa_obs.actions does it)."""
    params = {"workflowId": run.workflow_id, "runId": run.run_id}
    action, label = ("rerun", "Re-run") if run.state in TERMINAL_RUN_STATES else ("stop", "Stop")
    button = nav.action(
        label, params | {"action": action}, action_question(action, run.workflow_name, run.run_id) or ""
    )
    if button and PLACE_SEPARATOR in run.workflow_id:
        # A member account's run (central mode): the actions function acts in its own account only, and would refuse
        place = run.workflow_id.rsplit(PLACE_SEPARATOR, 1)[0]
        command = f"mwaa-obs runs {action} {run.run_id} --workflow {run.workflow_name}"
        where = f"{label} in {_text(place)}, with credentials that may act there"
        return f'<span class="muted">{where}: <code>{_text(command)}</code></span>'
    return button


def render_gantt(chart: Gantt, viewer: Viewer, buttons: str = "", nav: Navigation | None = None) -> str:
    """`nav`: where a bar's click opens its attempt's log (None: a bar links to CloudWatch)."""
    run = chart.run
    mark = look(run.state)
    command = runs_show_command(run.run_id, run.workflow_name, viewer.stack_name)
    head = (
        f'<h4 data-run="{_text(run.run_id)}" data-state="{_text(run.state)}">{_text(run.workflow_name)} run '
        f'{_text(run.run_id)}: <span style="color:{mark.colour}">{mark.symbol}</span> {_text(mark.word)}</h4>'
        f'<p class="muted">{_text(_when(chart.begin))} → {_text(_when(chart.end))}'
        + (f" · {_text(error_line(run.error, ERROR_CHARACTERS))}" if run.error else "")
        + f" · <code>{_text(command)}</code> · ★ critical path</p>"
        + (f'<p class="actions">{buttons}</p>' if buttons else "")
    )
    if chart.begin is None or chart.end is None or not chart.bars:
        return page(head + "<p>No task ran in this run.</p>", viewer)
    span = max(1.0, (chart.end - chart.begin).total_seconds())
    rows = []
    for task in chart.tasks:
        bars = [bar for bar in chart.bars if bar.task_id == task]
        star = "★ " if any(bar.critical for bar in bars) else ""
        region = run.region or viewer.region
        track = "".join(_bar(bar, chart.begin, span, run, nav=nav, region=region) for bar in bars) + _gaps(
            bars, chart.begin, span
        )
        if not bars:  # it never ran (upstream failed, or not yet scheduled): say so in the row
            state = next((a.state for a in reversed(run.attempts) if a.task_id == task), "")
            track = f'<span class="muted" data-state="{_text(state)}">{look(state).symbol} {look(state).word}</span>'
        rows.append(
            f'<tr data-task="{_text(task)}"><th>{star}{_text(task)}</th><td><div class="track">{track}</div></td></tr>'
        )
    legend = _legend(GANTT_LEGEND, (attempt.state for attempt in run.attempts))
    axis = _axis(chart.begin, chart.end)
    return page(head + f'<table class="gantt">{axis}{"".join(rows)}</table>' + legend, viewer)


def render_failures(
    failures: Sequence[RunItem], failed: Mapping[str, Sequence[TaskAttemptItem]], nav: Navigation, viewer: Viewer
) -> str:
    """The failed runs, each with the task that broke it first and the first line of its error (`failed`: by the
    run's table key, the failed tasks the first to fail first), else the run's own error."""
    if not failures:
        return page("<p>No failed or timed-out run in this time range.</p>", viewer)
    rows = []
    for run in failures:
        mark = look(run.status or "")
        params = {"view": "gantt", "workflow": run.workflow_name, "runId": run.run_id}
        title = runs_show_command(run.run_id, run.workflow_name, viewer.stack_name)
        tasks = failed.get(run.pk, ())
        rows.append(
            f'<tr class="failure" data-workflow="{_text(run.workflow_name)}" data-run="{_text(run.run_id)}">'
            f"<td>{_text(run.workflow_name)}</td><td>{nav.link(_text(run.run_id), params, title)}</td>"
            f'<td><span style="color:{mark.colour}">{mark.symbol}</span> {_text(mark.word)}</td>'
            f"<td>{_text(_when(run.ended_at))}</td>{_failed_at(run, tasks)}</tr>"
        )
    head = "<tr><th>workflow</th><th>run (Gantt)</th><th>outcome</th><th>ended</th><th>failed at</th></tr>"
    return page(f'<table class="failures">{head}{"".join(rows)}</table>', viewer)


def _failed_at(run: RunItem, tasks: Sequence[TaskAttemptItem]) -> str:
    if not tasks:
        return f'<td class="failed-at">{_text(error_line(run.error_message, ERROR_CHARACTERS))}</td>'
    first = tasks[0]
    beyond = f" (and {len(tasks) - 1} more)" if len(tasks) > 1 else ""
    return (
        f'<td class="failed-at" data-task="{_text(task_name(first))}">'
        f"{_text(failed_at(task_name(first), first.error_message, ERROR_CHARACTERS) + beyond)}</td>"
    )
