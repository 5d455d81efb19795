"""The runs widget's charts (mwaa_obs.charts) drawn with matplotlib, for `mwaa-obs dashboard render` and the demo.

The workflow dashboard draws a workflow's runs by outcome, success rate, durations, queue delay, landing time and
task durations with the runs widget, from the table (its own metric series carry only what is abnormal). The
picture draws the same Charts the widget computes, so the PNG and the dashboard show the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from matplotlib import ticker

from mwaa_obs.charts import NOT_ENDED, OUTCOMES, Charts
from mwaa_obs.states import RunState
from mwaa_obs.times import human_duration

TITLES: Final = (
    "Runs by outcome (from the table)",
    "Success rate (%, from the table)",
    "Run duration: p50 and p95 (from the table)",
    "Queue delay: p50 and max (from the table)",
    "Landing time: scheduled time to the run's end (per run)",
    "Task duration by task: p50 and p95",
)
NO_RUNS: Final = "no runs in this window"
_P50, _P95, _MAX = "#1f77b4", "#17becf", "#8c564b"
# The dashboards' words and colours for outcomes (dashboards/*.json), so that one state has one colour in a picture
OUTCOME_LOOKS: Final[dict[str, tuple[str, str]]] = {
    RunState.SUCCESS: ("succeeded", "#2ca02c"),
    RunState.FAILED: ("failed", "#d62728"),
    RunState.TIMEOUT: ("timed out", "#ff7f0e"),
    RunState.STOPPED: ("stopped", "#7f7f7f"),
    NOT_ENDED: ("not ended", "#9edae5"),
}


def draw_charts(axes: Sequence[Any], charts: Charts, start: datetime, end: datetime) -> list[str]:
    """The six charts on six axes; the titles of those with nothing to draw."""
    empty: list[str] = []
    if not charts.runs:
        for axis, title in zip(axes, TITLES, strict=True):
            axis.text(0.5, 0.5, NO_RUNS, ha="center", va="center", transform=axis.transAxes)
            axis.set_title(title, fontsize=10)
            axis.set_yticks([])
            _time_axis(axis, start, end)
        return list(TITLES)
    outcomes, rate, duration, queue, landing, tasks = axes
    _outcomes(outcomes, charts)
    _lines(rate, charts, [("success rate", charts.success_rate, OUTCOME_LOOKS[RunState.SUCCESS][1])], TITLES[1])
    rate.set_ylim(0, 105)
    title = _lines(duration, charts, [("p50", charts.duration_p50, _P50), ("p95", charts.duration_p95, _P95)],
                   TITLES[2], threshold=charts.too_slow_seconds)  # fmt: skip
    duration.set_title(title, fontsize=10)
    _lines(queue, charts, [("p50", charts.queue_p50, _P50), ("max", charts.queue_max, _MAX)], TITLES[3])
    _landing(landing, charts)
    _tasks(tasks, charts)
    for axis in (outcomes, rate, duration, queue, landing):
        _time_axis(axis, start, end)
    return empty


def _time_axis(axis: Any, start: datetime, end: datetime) -> None:
    from matplotlib import dates  # noqa: PLC0415

    axis.set_xlim(start, end)
    axis.xaxis.set_major_formatter(dates.DateFormatter("%d %H:%M"))  # type: ignore[no-untyped-call]
    axis.tick_params(labelsize=7)
    axis.grid(alpha=0.3)


def _legend(axis: Any) -> None:
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3)


def _outcomes(axis: Any, charts: Charts) -> None:
    base = [0] * len(charts.starts)
    for state in (*OUTCOMES, NOT_ENDED):
        counts = charts.outcomes[state]
        word, colour = OUTCOME_LOOKS[state]
        axis.bar(charts.starts, counts, width=charts.size * 0.9, bottom=base, align="edge", label=word, color=colour)
        base = [b + c for b, c in zip(base, counts, strict=True)]
    axis.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    axis.set_ylim(bottom=0)
    axis.set_title(f"{TITLES[0]}, per {human_duration(charts.size.total_seconds())}", fontsize=10)
    _legend(axis)


def _lines(
    axis: Any,
    charts: Charts,
    series: Sequence[tuple[str, Sequence[float | None], str]],
    title: str,
    *,
    threshold: float | None = None,
) -> str:
    """Each series a line through its buckets' middles (gaps where a bucket had no run); a threshold far above the
    data is named in the returned title rather than flattening the data under it."""
    middles = [at + charts.size / 2 for at in charts.starts]
    for order, (label, values, colour) in enumerate(series):
        points = [math.nan if value is None else value for value in values]
        style = (
            {"marker": "o", "markersize": 4}
            if order == 0
            else {"marker": "o", "markersize": 8, "markerfacecolor": "none"}
        )
        axis.plot(middles, points, label=label, color=colour, zorder=10 - order, **style)
    highest = max((value for _, values, _ in series for value in values if value is not None), default=0.0)
    if threshold is not None:
        if highest and threshold > 2 * highest:
            title += f" (too-slow threshold {human_duration(threshold)}: above the graph)"
        else:
            axis.axhline(threshold, linestyle="--", color="#d62728", label="too-slow threshold")
    axis.set_ylim(bottom=0)
    axis.set_title(title, fontsize=10)
    _legend(axis)
    return title


def _landing(axis: Any, charts: Charts) -> None:
    for state in sorted({state for _, _, state in charts.landing}):
        chosen = [(due, seconds) for due, seconds, s in charts.landing if s == state]
        word, colour = OUTCOME_LOOKS.get(state, OUTCOME_LOOKS[NOT_ENDED])
        axis.scatter([due for due, _ in chosen], [seconds for _, seconds in chosen], s=12, color=colour, label=word)
    axis.set_ylim(bottom=0)
    axis.set_title(TITLES[4], fontsize=10)
    if charts.landing:
        _legend(axis)


def _tasks(axis: Any, charts: Charts) -> None:
    shown = list(charts.tasks[:20])
    names = [task.task_id for task in shown]
    axis.barh(names, [task.p50 for task in shown], color=_P50, label="p50")
    axis.scatter([task.p95 for task in shown], names, marker="|", s=120, color=_P95, label="p95", zorder=3)
    axis.invert_yaxis()  # the first task on top, as in the grid
    axis.tick_params(labelsize=7)
    axis.set_xlim(left=0)
    axis.set_title(f"{TITLES[5]} (the latest {charts.task_runs} runs, seconds)", fontsize=10)
    if shown:
        _legend(axis)
