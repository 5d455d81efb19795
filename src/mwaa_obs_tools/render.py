"""`mwaa-obs dashboard render`: a workflow dashboard's graphs drawn offline (matplotlib) from the emulator's data.

The deployed dashboard body is read back (GetDashboard), its workflow pattern replaced by the chosen workflow, and
each metric widget drawn from GetMetricStatistics. The emulator does neither metric math nor percentiles, and
buckets its periods from the first datapoint rather than on the period's boundaries; so each metric is read once in
one-second buckets (exact count, sum, minimum and maximum per second; the values between are taken as the second's
mean), and every statistic, percentile and expression (+ - * / only) is computed here over periods aligned as
CloudWatch aligns them (an hourly point is the clock hour: a run that ended at 17:02:55 is in the 17:00 point).
A period with no datapoint is a gap; a period whose values are 0 is a 0 (a 0 % success rate is drawn, not "no
data"). The alarms are drawn as the alarm evaluator's timeline when the caller has one (the emulator evaluates no
alarm), else as CloudWatch holds them now.
"""

from __future__ import annotations

import ast
import json
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib import dates, ticker
from matplotlib.figure import Figure

from mwaa_obs import WORKFLOW_PATTERN
from mwaa_obs.charts import Charts
from mwaa_obs.metrics import CATALOG, SCHEDULE_OVERDUE, WORKFLOW_DIMENSION, Scope
from mwaa_obs.stats import percentile
from mwaa_obs_tools import render_charts
from mwaa_obs_tools.alarm_evaluator import ALARM, Second, Transition, aggregate, between, floor_to_period

if TYPE_CHECKING:
    from mwaa_obs.store.schema import WorkflowItem

BUCKET = timedelta(seconds=1)
_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


@dataclass(frozen=True)
class MetricRef:
    namespace: str
    name: str
    dimensions: list[dict[str, str]]

    def query(self) -> dict[str, Any]:
        return {"Namespace": self.namespace, "MetricName": self.name, "Dimensions": self.dimensions}


@dataclass(frozen=True)
class Series:
    label: str
    times: list[datetime]
    values: list[float]  # NaN: a gap
    color: str | None = None
    has_data: bool = True  # some period had a datapoint (a count's gaps are drawn as 0, so its values cannot say)


def workflow_body(cloudwatch: Any, dashboard_name: str, workflow: str) -> dict[str, Any]:
    text = cloudwatch.get_dashboard(DashboardName=dashboard_name)["DashboardBody"]
    body: dict[str, Any] = json.loads(text.replace(WORKFLOW_PATTERN, workflow))
    return body


def scheduled(items: Sequence[WorkflowItem]) -> bool | None:
    """Whether the workflow (its items in the table) runs on a schedule; None until the API described it."""
    described = [item for item in items if item.described_at is not None]
    return any(item.schedule for item in described) if described else None


def periods(start: datetime, end: datetime, period: int) -> list[datetime]:
    """The starts of the periods that cover [start, end), on the period's boundaries (whole hours for 3600)."""
    first = floor_to_period(start, period)
    return [first + timedelta(seconds=period * n) for n in range(math.ceil((end - first).total_seconds() / period))]


def widget_series(
    cloudwatch: Any, widget: Mapping[str, Any], start: datetime, end: datetime, period: int
) -> list[Series]:
    """The visible series of one metric widget over [start, end), one point per aligned period of `period` s."""
    properties = widget["properties"]
    buckets = periods(start, end, period)
    by_id: dict[str, list[float]] = {}
    drawn: list[Series] = []
    expressions: list[dict[str, Any]] = []
    for index, row in enumerate(properties.get("metrics", [])):
        options = row[-1] if isinstance(row[-1], dict) else {}
        if "expression" in options:
            expressions.append(options)
            continue
        namespace, name, *dimension_pairs = [item for item in row if not isinstance(item, dict)]
        dimensions = [
            {"Name": dimension_pairs[i], "Value": dimension_pairs[i + 1]} for i in range(0, len(dimension_pairs), 2)
        ]
        stat = options.get("stat", properties.get("stat", "Average"))
        seconds = _seconds(cloudwatch, MetricRef(namespace, name, dimensions), buckets[0], end)
        raw = [_statistic(between(seconds, at, at + timedelta(seconds=period)), stat) for at in buckets]
        # A count's empty period is drawn as 0, as the dashboards' stacked bars show it
        values = [0.0 if stat == "Sum" and math.isnan(value) else value for value in raw]
        by_id[options.get("id", f"m{index}")] = values
        if options.get("visible", True):
            has_data = any(not math.isnan(value) for value in raw)
            label = options.get("label", f"{name} {stat}")
            drawn.append(Series(label, buckets, values, options.get("color"), has_data))
    for options in expressions:
        expression = options["expression"]
        values = [_evaluate(expression, {key: series[i] for key, series in by_id.items()}) for i in range(len(buckets))]
        has_data = any(not math.isnan(value) for value in values)
        drawn.insert(0, Series(options.get("label", expression), buckets, values, options.get("color"), has_data))
    return drawn


def _seconds(cloudwatch: Any, metric: MetricRef, start: datetime, end: datetime) -> list[Second]:
    """The metric's seconds with data in [start, end), in time order: one request per metric and window."""
    points = cloudwatch.get_metric_statistics(
        **metric.query(),
        StartTime=start,
        EndTime=end,
        Period=int(BUCKET.total_seconds()),
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
    )["Datapoints"]
    found = (Second(p["Timestamp"], p["Sum"], p["SampleCount"], p["Maximum"], p["Minimum"]) for p in points)
    return sorted(found, key=lambda second: second.at)


def _statistic(seconds: Sequence[Second], stat: str) -> float:
    """A statistic of one period's seconds; NaN when it has none."""
    if stat.startswith("p"):
        samples: list[float] = []
        for second in seconds:
            count = round(second.count)
            inner = (second.total - second.minimum - second.maximum) / (count - 2) if count > 2 else 0.0
            samples += [second.minimum, second.maximum][:count] + [inner] * max(0, count - 2)
        return percentile(samples, float(stat[1:]))
    value = aggregate(seconds, {"Sum": "Sum", "Average": "Average", "Maximum": "Maximum", "Minimum": "Minimum"}[stat])
    return math.nan if value is None else value


def _evaluate(expression: str, values: Mapping[str, float]) -> float:
    """+ - * / and FILL(id, number) over metric ids and numbers; NaN where a division has nothing to divide."""

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                return math.nan
            return _OPERATORS[type(node.op)](left, right)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "FILL":
            value, filler = (walk(argument) for argument in node.args)
            return filler if math.isnan(value) else value
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        raise ValueError(f"unsupported in an offline expression: {ast.dump(node)}")

    return walk(ast.parse(expression, mode="eval"))


def render(
    cloudwatch: Any,
    dashboard_name: str,
    workflow: str,
    out: Path,
    *,
    start: datetime,
    end: datetime,
    period: int | None = None,
    transitions: Sequence[Transition] | None = None,
    scheduled: bool | None = None,
    charts: Charts | None = None,
) -> Rendered:
    """Draw the workflow's charts (the runs widget's, from the table) and metric widgets into one PNG; an empty graph
    says so on it, and is named in the result."""
    figure, empty = draw(
        cloudwatch,
        dashboard_name,
        workflow,
        start=start,
        end=end,
        period=period,
        transitions=transitions,
        scheduled=scheduled,
        charts=charts,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90)
    plt.close(figure)
    return Rendered(out, empty)


NO_DATA = "no data in this window"
NOT_SCHEDULED = "not scheduled (runs on demand only): never overdue"
NOTHING_ABNORMAL = "none in this window (written only when it happens)"
EXCEPTIONS: Final = frozenset(spec.name for spec in CATALOG if spec.scope is Scope.EXCEPTION)
# p50 as a dot, p90 as a ring around it: where both are the same value (one run in the period), both show
MARKERS: Final = ({"marker": "o", "markersize": 4}, {"marker": "o", "markersize": 9, "markerfacecolor": "none"})


def draw(
    cloudwatch: Any,
    dashboard_name: str,
    workflow: str,
    *,
    start: datetime,
    end: datetime,
    period: int | None = None,
    transitions: Sequence[Transition] | None = None,
    scheduled: bool | None = None,
    charts: Charts | None = None,
) -> tuple[Figure, list[str]]:
    """The figure of the workflow's widgets, and the titles of those with no data. Every graph spans [start, end);
    a count graph has whole-number ticks; legends sit beside their graph, not over its first bars; a threshold far
    above the data is named in the title rather than flattening the data under it. `transitions`: the alarms'
    states over the window, evaluated offline; `scheduled`: False for a workflow that runs on demand only (its
    overdue graph says so rather than "no data"); `charts`: the runs widget's charts of the workflow, drawn first as
    on the dashboard (mwaa_obs_tools.render_charts)."""
    body = workflow_body(cloudwatch, dashboard_name, workflow)
    widgets = [widget for widget in body["widgets"] if widget["type"] == "metric"]
    alarms = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    drawn_first = len(render_charts.TITLES) if charts is not None else 0
    panels = drawn_first + len(widgets) + (1 if alarms else 0)  # the alarms take the first free place
    rows = math.ceil(panels / 2)
    figure, axes = plt.subplots(rows, 2, figsize=(16, 3.2 * rows), squeeze=False)
    figure.suptitle(f"Workflow {workflow}  ({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC)", fontsize=13)
    empty: list[str] = []
    if charts is not None:
        empty += render_charts.draw_charts(list(axes.flat)[:drawn_first], charts, start, end)
    for axis, widget in zip(list(axes.flat)[drawn_first:], widgets, strict=False):
        if _draw_widget(axis, cloudwatch, widget, start=start, end=end, period=period, scheduled=scheduled):
            empty.append(widget["properties"].get("title", ""))
    if alarms:
        where = axes.flat[drawn_first + len(widgets)]
        _draw_alarms(where, cloudwatch, alarms, workflow, start=start, end=end, transitions=transitions)
    for axis in list(axes.flat)[panels:]:
        axis.axis("off")
    figure.tight_layout()
    return figure, empty


def _draw_widget(
    axis: Any,
    cloudwatch: Any,
    widget: Mapping[str, Any],
    *,
    start: datetime,
    end: datetime,
    period: int | None,
    scheduled: bool | None,
) -> bool:
    """One metric widget on its axis; whether it had no data."""
    properties = widget["properties"]
    title = properties.get("title", "")
    seconds = period or int(properties.get("period", 300))
    series = widget_series(cloudwatch, widget, start, end, seconds)
    counts = properties.get("stat") == "Sum"
    empty = not any(line.has_data for line in series)
    if empty:
        overdue = any(SCHEDULE_OVERDUE.name in row for row in properties.get("metrics", []))
        note = NOT_SCHEDULED if overdue and scheduled is False else NO_DATA
        if note == NO_DATA and _only_exceptions(properties):
            note = NOTHING_ABNORMAL  # its series are written only when something goes wrong: none is good news
        axis.text(0.5, 0.5, note, ha="center", va="center", transform=axis.transAxes)
        axis.set_ylim(0, 1)
        empty = note == NO_DATA
    stacked = properties.get("stacked", False)
    base = [0.0] * len(series[0].times) if series else []
    for order, line in enumerate(series):
        values = [0.0 if math.isnan(v) else v for v in line.values] if stacked else line.values
        if stacked:
            width = timedelta(seconds=seconds * 0.9)
            axis.bar(line.times, values, width=width, bottom=base, label=line.label, color=line.color, align="edge")
            base = [b + v for b, v in zip(base, values, strict=True)]
        else:
            # The first series on top: p50 stays visible where p90 runs over it, and is a dot inside p90's ring
            style = MARKERS[min(order, len(MARKERS) - 1)]
            axis.plot(line.times, values, label=line.label, color=line.color, zorder=10 - order, **style)
    highest = max((v for line in series for v in line.values if not math.isnan(v)), default=0.0)
    title += _annotations(axis, properties.get("annotations", {}).get("horizontal", []), highest)
    if counts or (properties.get("yAxis", {}).get("left", {}).get("max") == 1):
        axis.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        axis.set_ylim(bottom=0)
    _time_axis(axis, start, end)
    axis.set_title(title, fontsize=10)
    if series:
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3)
    return empty


def _only_exceptions(properties: Mapping[str, Any]) -> bool:
    """Whether every series of a widget is a workflow's own series of a metric only something abnormal writes."""
    rows = [row for row in properties.get("metrics", []) if not isinstance(row[0], dict)]
    names = [str(row[1]) for row in rows]
    return bool(rows) and all(
        name in EXCEPTIONS and WORKFLOW_DIMENSION in row for name, row in zip(names, rows, strict=True)
    )


def _time_axis(axis: Any, start: datetime, end: datetime) -> None:
    axis.set_xlim(start, end)
    axis.xaxis.set_major_formatter(dates.DateFormatter("%d %H:%M"))  # type: ignore[no-untyped-call]
    axis.tick_params(labelsize=7)
    axis.grid(alpha=0.3)


def _alarm_names(alarms: list[dict[str, Any]]) -> list[str]:
    return [arn.rsplit(":", 1)[1] for widget in alarms for arn in widget["properties"]["alarms"]]


def _draw_alarms(
    axis: Any,
    cloudwatch: Any,
    alarms: list[dict[str, Any]],
    workflow: str,
    *,
    start: datetime,
    end: datetime,
    transitions: Sequence[Transition] | None,
) -> None:
    """Each alarm a row: its time in ALARM for this workflow (a contributor) over the window, from the offline
    evaluation; without one (AWS), the states CloudWatch holds now."""
    names = _alarm_names(alarms)
    if transitions is None:
        found = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] if names else []
        states = {alarm["AlarmName"]: alarm["StateValue"] for alarm in found}
        axis.axis("off")
        axis.set_title("Alarms now, as CloudWatch holds them (all workflows)", fontsize=10)
        lines = [f"{name}: {states.get(name, 'not found')}" for name in names]
        axis.text(0.0, 0.9, "\n".join(lines), va="top", family="monospace", fontsize=8)
        return
    for row, name in enumerate(names):
        spans = alarm_spans(transitions, name, workflow, start, end)
        axis.broken_barh(
            [(dates.date2num(a), dates.date2num(b) - dates.date2num(a)) for a, b in spans],  # type: ignore[no-untyped-call]
            (row - 0.35, 0.7),
            color="#d62728",
        )
    axis.set_yticks(range(len(names)), [name.split("-workflows-")[-1] for name in names], fontsize=8)
    axis.set_ylim(len(names) - 0.5, -0.5)
    _time_axis(axis, start, end)
    axis.set_title(
        f"Alarms for {workflow} (red: in ALARM; evaluated offline, the emulator evaluates none)", fontsize=10
    )


def alarm_spans(
    transitions: Sequence[Transition], alarm: str, workflow: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """When the alarm was in ALARM for the workflow: as its contributor, or the alarm itself when it has none."""
    own = [transition for transition in transitions if transition.alarm == alarm]
    grouped = any(transition.contributor for transition in own)
    spans: list[tuple[datetime, datetime]] = []
    since: datetime | None = None
    for transition in sorted(own, key=lambda t: t.at):
        if transition.contributor != (workflow if grouped else None):
            continue
        if transition.new == ALARM and since is None:
            since = max(transition.at, start)
        elif transition.new != ALARM and since is not None:
            spans.append((since, min(transition.at, end)))
            since = None
    if since is not None:
        spans.append((since, end))
    return [(a, b) for a, b in spans if a < b]


def _annotations(axis: Any, annotations: list[dict[str, Any]], highest: float) -> str:
    """Draw the thresholds near the data; name in the title (returned) those more than twice above it."""
    far = []
    for annotation in annotations:
        value, label = float(annotation["value"]), annotation.get("label", "")
        if highest and value > 2 * highest:
            far.append(f"{label} {value:g}")
            continue
        axis.axhline(value, linestyle="--", color=annotation.get("color", "red"), label=label)
    return f" ({', '.join(far)}: above the graph)" if far else ""


@dataclass(frozen=True)
class Rendered:
    path: Path
    empty: list[str]  # titles of the graphs with no data in the window
