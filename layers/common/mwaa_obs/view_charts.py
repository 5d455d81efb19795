"""A workflow's charts (mwaa_obs.charts) as HTML with inline SVG, for the runs widget and `mwaa-obs ui`.

CloudWatch custom widgets render SVG and CSS but run no JavaScript (add_custom_widget_dashboard_about.html), so
every chart is drawn here: axes, bars, lines and points, each point with a `<title>` tooltip and data attributes
(what the browser test reads back). Task ids come from workflows: they are escaped here, in `_text`, as every
other text is. Colours are the grid's (mwaa_obs.view_html.LOOKS); axes and labels follow the theme.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from mwaa_obs.charts import NOT_ENDED, OUTCOMES, Charts, TaskDurations
from mwaa_obs.states import RunState
from mwaa_obs.times import human_duration
from mwaa_obs.view_html import Viewer, look, page

WIDTH, HEIGHT = 360, 154
LEFT, RIGHT, TOP, BOTTOM = 44, 352, 8, 138  # the plot area
MAX_TASK_ROWS: Final = 20
_BLUE, _TEAL, _BROWN, _RED = "#1f77b4", "#17becf", "#8c564b", "#d62728"
_COLOUR: Final = {state: look(state).colour for state in OUTCOMES} | {NOT_ENDED: look(NOT_ENDED).colour}

_CHART_STYLE = """
.mo .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:8px 16px}
.mo figure.chart{margin:0}
.mo figure.chart .legend{margin:0}
.mo figure.chart figcaption{font-weight:bold;margin-bottom:2px}
.mo svg{width:100%;height:auto;overflow:visible}
.mo svg .axis{stroke:var(--muted);stroke-width:1}
.mo svg .grid{stroke:var(--line);stroke-width:1}
.mo svg text{fill:var(--muted);font-size:9px}
.mo svg .line{fill:none;stroke-width:1.5}
.mo svg .threshold{stroke:#d62728;stroke-dasharray:4 3;stroke-width:1}
"""


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


def render_charts(charts: Charts, viewer: Viewer) -> str:
    """The six charts of one workflow, side by side as the widget's width allows."""
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
    return page(f"<style>{_CHART_STYLE}</style>{note}" + f'<div class="charts">{"".join(figures)}</div>', viewer)
