"""A workflow's charts (mwaa_obs.charts) as HTML with inline SVG, for the runs widget and `mwaa-obs ui`.

CloudWatch custom widgets render SVG and CSS but run no JavaScript (add_custom_widget_dashboard_about.html), so
every chart is drawn here: axes, bars, lines and points, each point with a `<title>` tooltip and data attributes
(what the browser test reads back). Under the charts, the latest runs one by one: each task's duration per run (a
line, a dot per run in its state's colour) and each run's landing after its schedule's fire, each run a link to its
Gantt chart. Task ids come from workflows: they are escaped here, in `_text`, as every other text is. Colours are
the grid's (mwaa_obs.view_html.LOOKS); axes and labels follow the theme.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from mwaa_obs.charts import NOT_ENDED, OUTCOMES, Charts, Landing, TaskDurations, TaskTrend
from mwaa_obs.links import runs_show_command
from mwaa_obs.states import RunState
from mwaa_obs.stats import percentile
from mwaa_obs.times import human_duration
from mwaa_obs.view_html import LOOKS, Navigation, Viewer, _fill, _when, look, page

WIDTH, HEIGHT = 360, 154
LEFT, RIGHT, TOP, BOTTOM = 44, 352, 8, 138  # the plot area
MAX_TASK_ROWS: Final = 20
_BLUE, _TEAL, _BROWN, _RED = "#1f77b4", "#17becf", "#8c564b", "#d62728"
_COLOUR: Final = {state: look(state).colour for state in OUTCOMES} | {NOT_ENDED: look(NOT_ENDED).colour}

SPARK_WIDTH, SPARK_HEIGHT = 240, 28  # px, a task's duration per run
DOT_MARGIN = 3  # px left and right of that line: the first and last runs' dots whole

_CHART_STYLE = """
.mo .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:8px 16px}
.mo figure.chart{margin:0}
.mo figure.chart .legend{margin:0}
.mo figure.chart figcaption{font-weight:bold;margin-bottom:2px}
.mo .charts svg{width:100%;height:auto;overflow:visible}
.mo .charts svg .axis{stroke:var(--muted);stroke-width:1}
.mo .charts svg .grid{stroke:var(--line);stroke-width:1}
.mo .charts svg text{fill:var(--muted);font-size:9px}
.mo .charts svg .line{fill:none;stroke-width:1.5}
.mo .charts svg .threshold{stroke:#d62728;stroke-dasharray:4 3;stroke-width:1}
.mo .runs{display:flex;flex-wrap:wrap;gap:8px 24px;margin-top:8px}
.mo .runs polyline{fill:none;stroke:var(--muted);stroke-width:1.2}
.mo .runs circle{stroke:none;fill:var(--muted)}
.mo .runs .late{display:inline-block;height:10px;background:var(--muted);vertical-align:middle}
""" + "".join(f".mo .runs circle.f-{state.lower()}{{fill:{shown.colour}}}" for state, shown in LOOKS.items())


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _x(charts: Charts, at: datetime) -> float:
    span = (charts.starts[-1] + charts.size - charts.starts[0]).total_seconds()
    return round(LEFT + (RIGHT - LEFT) * (at - charts.starts[0]).total_seconds() / span, 1)


def _y(value: float, top: float) -> float:
    return round(BOTTOM - (BOTTOM - TOP) * value / top, 1) if top > 0 else BOTTOM


# Tops of a time axis: whole minutes and hours read better than powers of ten of seconds.
_TIME_TOPS: Final = (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200,
                     10800, 14400, 21600, 43200, 86400, 172800, 604800)  # fmt: skip


def _nice_top(highest: float, seconds: bool = False) -> float:
    """The y axis' top: the data's highest value rounded up to a round number (of seconds, minutes or hours for a
    time axis)."""
    if highest <= 0:
        return 1.0
    if seconds and highest <= _TIME_TOPS[-1]:
        return float(next(top for top in _TIME_TOPS if top >= highest))
    power = 10.0 ** (len(str(int(highest))) - 1)
    return float(next(step * power for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if step * power >= highest))


def _label(value: float, seconds: bool) -> str:
    return human_duration(value) if seconds else f"{value:g}"


def _frame(charts: Charts, top: float, seconds: bool) -> str:
    """Axes, the y axis' 0, middle and top, and up to four time labels along the x axis."""
    parts = [f'<line class="axis" x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}"/>']
    for value in (0, top / 2, top):
        y = _y(value, top)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{RIGHT}" y2="{y}"/>')
        parts.append(f'<text x="{LEFT - 3}" y="{y + 3}" text-anchor="end">{_text(_label(value, seconds))}</text>')
    step = max(1, len(charts.starts) // 4)
    style = "%d %b" if charts.size >= timedelta(days=1) else "%d %H:%M"
    for at in charts.starts[::step]:
        parts.append(f'<text x="{_x(charts, at)}" y="{BOTTOM + 12}">{_text(at.strftime(style))}</text>')
    return "".join(parts)


def _figure(name: str, caption: str, body: str, legend: Sequence[tuple[str, str]] = ()) -> str:
    keys = "".join(f'<span><b style="background:{colour}">&#160;</b> {_text(label)}</span>' for label, colour in legend)
    return (
        f'<figure class="chart" data-chart="{name}"><figcaption>{_text(caption)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_text(caption)}">{body}</svg>'
        + (f'<p class="legend muted">{keys}</p>' if keys else "")
        + "</figure>"
    )


def _outcomes(charts: Charts) -> str:
    totals = [sum(charts.outcomes[state][i] for state in charts.outcomes) for i in range(len(charts.starts))]
    top = _nice_top(max(totals, default=0))
    width = max(1.0, (RIGHT - LEFT) / len(charts.starts) * 0.8)
    bars = []
    for index, at in enumerate(charts.starts):
        base = 0
        for state in (*OUTCOMES, NOT_ENDED):
            count = charts.outcomes[state][index]
            if not count:
                continue
            y_top, y_base = _y(base + count, top), _y(base, top)
            word = look(state).word if state != NOT_ENDED else "not ended"
            bars.append(
                f'<rect x="{_x(charts, at)}" y="{y_top}" width="{width:.1f}" height="{round(y_base - y_top, 1)}" '
                f'fill="{_COLOUR[state]}" data-bucket="{at.isoformat()}" data-state="{state}" data-count="{count}">'
                f"<title>{_text(f'{at:%Y-%m-%d %H:%M}: {count} {word}')}</title></rect>"
            )
            base += count
    legend = [(look(state).word, _COLOUR[state]) for state in OUTCOMES] + [("not ended", _COLOUR[NOT_ENDED])]
    return _figure("outcomes", f"Runs by outcome (per {human_duration(charts.size.total_seconds())})",
                   _frame(charts, top, seconds=False) + "".join(bars), legend)  # fmt: skip


def _line(charts: Charts, series: tuple[str, Sequence[float | None], str], top: float, *, seconds: bool) -> str:
    """A series as line segments between consecutive known points, and a point (with its tooltip) at each."""
    name, values, colour = series
    half = charts.size / 2
    points = [
        (_x(charts, at + half), _y(value, top), at, value)
        for at, value in zip(charts.starts, values, strict=True)
        if value is not None
    ]
    segments: list[list[str]] = []
    run: list[str] = []
    known = {at for _, _, at, _ in points}
    for x, y, at, _ in points:
        if run and at - charts.size not in known:
            segments.append(run)
            run = []
        run.append(f"{x},{y}")
    segments.append(run)
    lines = "".join(
        f'<polyline class="line" stroke="{colour}" points="{" ".join(s)}"/>' for s in segments if len(s) > 1
    )
    dots = "".join(
        f'<circle cx="{x}" cy="{y}" r="2.2" fill="{colour}" data-series="{name}" data-bucket="{at.isoformat()}" '
        f'data-value="{round(value, 3)}"><title>{_text(f"{at:%Y-%m-%d %H:%M}: {name} {_label(value, seconds)}")}'
        "</title></circle>"
        for x, y, at, value in points
    )
    return lines + dots


def _series_chart(
    charts: Charts,
    name: str,
    caption: str,
    series: Sequence[tuple[str, Sequence[float | None], str]],
    *,
    seconds: bool,
    fixed_top: float | None = None,
    threshold: float | None = None,
) -> str:
    highest = max((value for _, values, _ in series for value in values if value is not None), default=0.0)
    notes = ""
    top = fixed_top or _nice_top(highest, seconds)
    extra = ""
    if threshold is not None:
        if highest and threshold > 2 * highest:  # far above the data: named, not drawn (it would flatten the data)
            notes = f" (too-slow threshold {human_duration(threshold)}: above the chart)"
        else:
            top = _nice_top(max(highest, threshold), seconds)
            y = _y(threshold, top)
            extra = (
                f'<line class="threshold" x1="{LEFT}" y1="{y}" x2="{RIGHT}" y2="{y}" data-threshold="{threshold}">'
                f"<title>{_text(f'too-slow threshold {human_duration(threshold)}')}</title></line>"
            )
    body = _frame(charts, top, seconds) + extra
    body += "".join(_line(charts, line, top, seconds=seconds) for line in series)
    if not highest and not any(value is not None for _, values, _ in series for value in values):
        body += f'<text x="{(LEFT + RIGHT) // 2}" y="{(TOP + BOTTOM) // 2}" text-anchor="middle">no runs ended</text>'
    legend = [(label, colour) for label, _, colour in series]
    return _figure(name, caption + notes, body, legend)


def _landing(charts: Charts) -> str:
    top = _nice_top(max((seconds for _, seconds, _ in charts.landing), default=0), seconds=True)
    dots = "".join(
        f'<circle cx="{_x(charts, due)}" cy="{_y(seconds, top)}" r="2.5" fill="{look(state).colour}" '
        f'data-due="{due.isoformat()}" data-value="{round(seconds, 3)}" data-state="{_text(state)}">'
        f"<title>{_text(f'due {due:%Y-%m-%d %H:%M}, landed {human_duration(seconds)} later ({look(state).word})')}"
        "</title></circle>"
        for due, seconds, state in charts.landing
        if charts.starts[0] <= due < charts.end
    )
    return _figure(
        "landing", "Landing time: scheduled time to the run's end (per run)", _frame(charts, top, True) + dots
    )


def _tasks(charts: Charts) -> str:
    shown: Sequence[TaskDurations] = charts.tasks[:MAX_TASK_ROWS]
    caption = f"Task duration by task, p50 and p95 (the latest {charts.task_runs} runs)"
    if not shown:
        return _figure("tasks", caption, '<text x="44" y="70">no task ran</text>')
    top = _nice_top(max(task.p95 for task in shown), seconds=True)
    row = (BOTTOM - TOP) / len(shown)
    label_width = 110
    scale = (RIGHT - label_width) / top
    parts = []
    for index, task in enumerate(shown):
        y = round(TOP + index * row, 1)
        tip = (
            f"{task.task_id}: p50 {human_duration(task.p50)}, p95 {human_duration(task.p95)}, longest "
            f"{human_duration(task.longest)} ({task.attempts} attempts)"
        )
        parts.append(
            f'<g data-task="{_text(task.task_id)}" data-p50="{round(task.p50, 3)}" data-p95="{round(task.p95, 3)}">'
            f"<title>{_text(tip)}</title>"
            f'<text x="{label_width - 4}" y="{y + row * 0.7:.1f}" text-anchor="end">{_text(task.task_id[:22])}</text>'
            f'<rect x="{label_width}" y="{y + row * 0.15:.1f}" width="{max(1.0, task.p50 * scale):.1f}" '
            f'height="{row * 0.7:.1f}" fill="{_BLUE}"/>'
            f'<line x1="{label_width + task.p95 * scale:.1f}" y1="{y:.1f}" x2="{label_width + task.p95 * scale:.1f}" '
            f'y2="{y + row:.1f}" stroke="{_TEAL}" stroke-width="2"/></g>'
        )
    parts.append(f'<text x="{label_width}" y="{BOTTOM + 12}">0</text>')
    parts.append(f'<text x="{RIGHT}" y="{BOTTOM + 12}" text-anchor="end">{_text(human_duration(top))}</text>')
    more = len(charts.tasks) - len(shown)
    if more:
        caption += f"; {more} more tasks not shown"
    return _figure("tasks", caption, "".join(parts), [("p50", _BLUE), ("p95", _TEAL)])


def _duration_line(trend: TaskTrend) -> str:
    """The task's durations as a line over the runs (a gap where it did not run), each run a dot with its figure."""
    longest = max(trend.durations, default=0.0) or 1.0
    step = (SPARK_WIDTH - 2 * DOT_MARGIN) / max(1, len(trend.points) - 1)
    dots: list[str] = []
    segments: list[list[str]] = []
    current: list[str] = []
    for index, point in enumerate(trend.points):
        if point.seconds is None:
            segments.append(current)
            current = []
            continue
        x = round(DOT_MARGIN + index * step, 1)
        y = round(SPARK_HEIGHT - 2 - (SPARK_HEIGHT - 4) * point.seconds / longest, 1)
        current.append(f"{x},{y}")
        dots.append(
            f'<circle class="{_fill(point.state)}" cx="{x}" cy="{y}" r="2.5" data-run="{_text(point.run_id)}" '
            f'data-seconds="{point.seconds:g}"><title>{_text(point.run_id)}: '
            f"{_text(human_duration(point.seconds))} ({_text(look(point.state).word)})</title></circle>"
        )
    segments.append(current)
    lines = "".join(f'<polyline points="{" ".join(s)}"></polyline>' for s in segments if len(s) > 1)
    return f'<svg width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" aria-hidden="true">{lines}{"".join(dots)}</svg>'


def _task_trends(charts: Charts) -> str:
    rows = "".join(
        f'<tr class="task-trend" data-task="{_text(trend.task_id)}"><th>{_text(trend.task_id)}</th>'
        f"<td>{_duration_line(trend)}</td>"
        f"<td>{_text(human_duration(percentile(trend.durations, 50)) if trend.durations else '—')}</td>"
        f"<td>{_text(human_duration(trend.points[-1].seconds) if trend.points[-1].seconds is not None else '—')}</td>"
        "</tr>"
        for trend in charts.task_trends
    )
    return (
        f"<div><h4>Each task's duration in the latest {charts.task_runs} runs (oldest left)</h4>"
        '<table class="durations"><tr><th>task</th><th>duration per run</th><th>median</th><th>last run</th></tr>'
        f"{rows}</table></div>"
    )


def _landing_row(landing: Landing, workflow: str, longest: float, nav: Navigation, viewer: Viewer) -> str:
    mark = look(landing.state)
    late = landing.late_seconds
    gantt = nav.link(
        _text(landing.run_id),
        {"view": "gantt", "workflow": workflow, "runId": landing.run_id},
        runs_show_command(landing.run_id, workflow, viewer.stack_name),
    )
    if late is None:
        after, bar = ("on demand" if landing.on_demand else "—"), ""
    else:
        after = ("+" if late >= 0 else "−") + human_duration(abs(late))
        bar = f'<span class="late" style="width:{round(120 * max(0.0, late) / longest)}px"></span>'
    return (
        f'<tr class="landing" data-run="{_text(landing.run_id)}" '
        f'data-late-seconds="{"" if late is None else f"{late:g}"}">'
        f'<td>{gantt}</td><td><span style="color:{mark.colour}">{mark.symbol}</span> {_text(mark.word)}</td>'
        f"<td>{_text(_when(landing.fired_at))}</td><td>{_text(_when(landing.ended_at))}</td>"
        f"<td>{_text(after)} {bar}</td></tr>"
    )


def _landings(charts: Charts, nav: Navigation, viewer: Viewer) -> str:
    lates = [late for landing in charts.landings if (late := landing.late_seconds) is not None]
    longest = max([*lates, 1.0])
    rows = "".join(_landing_row(landing, charts.workflow, longest, nav, viewer) for landing in charts.landings)
    schedule = f"schedule <code>{_text(charts.schedule)}</code>" if charts.schedule else "no schedule (on demand)"
    typical = f" · landed a median {_text(human_duration(percentile(lates, 50)))} after its fire" if lates else ""
    return (
        f'<div><h4>The latest runs\' landing vs their schedule</h4><p class="muted">{schedule}{typical}</p>'
        '<table class="landings"><tr><th>run (Gantt)</th><th>outcome</th><th>scheduled for</th><th>landed (ended)</th>'
        f"<th>after its fire</th></tr>{rows}</table></div>"
    )


def render_charts(charts: Charts, nav: Navigation, viewer: Viewer) -> str:
    """The six charts of one workflow, side by side as the widget's width allows, then its latest runs one by one."""
    if not charts.runs:
        return page(f"<p>No runs of {_text(charts.workflow)} in this time range.</p>", viewer)
    bucket = human_duration(charts.size.total_seconds())
    rate = [("success rate", charts.success_rate, look(RunState.SUCCESS).colour)]
    figures = [
        _outcomes(charts),
        _series_chart(charts, "success", f"Success rate (%, per {bucket})", rate, seconds=False, fixed_top=100),
        _series_chart(
            charts, "duration", f"Run duration: p50 and p95 (per {bucket})",
            [("p50", charts.duration_p50, _BLUE), ("p95", charts.duration_p95, _TEAL)],
            seconds=True, threshold=charts.too_slow_seconds,
        ),
        _series_chart(
            charts, "queue", f"Queue delay, queued to running: p50 and max (per {bucket})",
            [("p50", charts.queue_p50, _BLUE), ("max", charts.queue_max, _BROWN)], seconds=True,
        ),
        _landing(charts),
        _tasks(charts),
    ]  # fmt: skip
    newest = " (the newest of the range: older ones are not drawn)" if charts.capped else ""
    note = (
        f'<p class="muted" data-runs="{charts.runs}">{charts.runs} runs of {_text(charts.workflow)}{newest} from the '
        f"table, by when each was first seen; the too-slow alarm's threshold is drawn in "
        f'<span style="color:{_RED}">red</span> where it fits.</p>'
    )
    runs = f'<div class="runs">{_landings(charts, nav, viewer)}{_task_trends(charts)}</div>' if charts.landings else ""
    return page(f"<style>{_CHART_STYLE}</style>{note}" + f'<div class="charts">{"".join(figures)}</div>{runs}', viewer)
