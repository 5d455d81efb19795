"""`mwaa-obs dashboard render`: a workflow dashboard's graphs drawn offline (matplotlib) from the emulator's data.

The deployed dashboard body is read back (GetDashboard), its workflow pattern replaced by the chosen workflow, and
each metric widget drawn from GetMetricStatistics. The emulator does neither metric math nor percentiles, so both
are computed here: expressions over the widget's series (+ - * / only), and percentiles from one-second buckets
(exact count, sum, minimum and maximum per bucket; the values between are taken as the bucket's mean).
"""

from __future__ import annotations

import ast
import json
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib import dates, ticker
from matplotlib.figure import Figure

from mwaa_obs import WORKFLOW_PATTERN
from mwaa_obs.stats import percentile

BUCKET = timedelta(seconds=1)
_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _mean_of_two(first: float, second: float) -> float:
    return (first + second) / 2


_COMBINE: dict[str, Callable[[float, float], float]] = {"Sum": operator.add, "Maximum": max, "Minimum": min}


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
    values: list[float]
    color: str | None = None


def workflow_body(cloudwatch: Any, dashboard_name: str, workflow: str) -> dict[str, Any]:
    text = cloudwatch.get_dashboard(DashboardName=dashboard_name)["DashboardBody"]
    body: dict[str, Any] = json.loads(text.replace(WORKFLOW_PATTERN, workflow))
    return body


def widget_series(
    cloudwatch: Any, widget: Mapping[str, Any], start: datetime, end: datetime, period: int
) -> list[Series]:
    """The visible series of one metric widget over [start, end), in buckets of `period` seconds."""
    properties = widget["properties"]
    buckets = [start + timedelta(seconds=period * n) for n in range(math.ceil((end - start).total_seconds() / period))]
    by_id: dict[str, list[float]] = {}
    drawn: list[Series] = []
    expressions: list[tuple[dict[str, Any], str]] = []
    for index, row in enumerate(properties.get("metrics", [])):
        options = row[-1] if isinstance(row[-1], dict) else {}
        if "expression" in options:
            expressions.append((options, options["expression"]))
            continue
        namespace, name, *dimension_pairs = [item for item in row if not isinstance(item, dict)]
        dimensions = [
            {"Name": dimension_pairs[i], "Value": dimension_pairs[i + 1]} for i in range(0, len(dimension_pairs), 2)
        ]
        stat = options.get("stat", properties.get("stat", "Average"))
        values = _statistic(cloudwatch, MetricRef(namespace, name, dimensions), stat, buckets, period)
        by_id[options.get("id", f"m{index}")] = values
        if options.get("visible", True):
            drawn.append(Series(options.get("label", f"{name} {stat}"), buckets, values, options.get("color")))
    for options, expression in expressions:
        values = [_evaluate(expression, {key: series[i] for key, series in by_id.items()}) for i in range(len(buckets))]
        drawn.insert(0, Series(options.get("label", expression), buckets, values, options.get("color")))
    return drawn


def _statistic(cloudwatch: Any, metric: MetricRef, stat: str, buckets: list[datetime], period: int) -> list[float]:
    if stat.startswith("p"):
        return [_percentile(cloudwatch, metric, float(stat[1:]), at, period) for at in buckets]
    statistic = {"Sum": "Sum", "Average": "Average", "Maximum": "Maximum", "Minimum": "Minimum"}[stat]
    points = cloudwatch.get_metric_statistics(
        **metric.query(),
        StartTime=buckets[0],
        EndTime=buckets[-1] + timedelta(seconds=period),
        Period=period,
        Statistics=[statistic],
    )["Datapoints"]
    # The emulator does not align its buckets to the period: each datapoint goes to the bucket it falls in.
    combine = _COMBINE.get(statistic, _mean_of_two)
    values = [math.nan] * len(buckets)
    for point in points:
        index = int((point["Timestamp"] - buckets[0]).total_seconds() // period)
        if 0 <= index < len(buckets):
            known = values[index]
            values[index] = point[statistic] if math.isnan(known) else combine(known, point[statistic])
    return [0.0 if statistic == "Sum" and math.isnan(value) else value for value in values]


def _percentile(cloudwatch: Any, metric: MetricRef, q: float, at: datetime, period: int) -> float:
    points = cloudwatch.get_metric_statistics(
        **metric.query(),
        StartTime=at,
        EndTime=at + timedelta(seconds=period),
        Period=int(BUCKET.total_seconds()),
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
    )["Datapoints"]
    samples: list[float] = []
    for point in points:
        count = round(point["SampleCount"])
        inner = (point["Sum"] - point["Minimum"] - point["Maximum"]) / (count - 2) if count > 2 else 0.0
        samples += [point["Minimum"], point["Maximum"]][:count] + [inner] * max(0, count - 2)
    return percentile(samples, q)


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
) -> Rendered:
    """Draw the workflow's metric widgets into one PNG; an empty graph says so on it, and is named in the result."""
    figure, empty = draw(cloudwatch, dashboard_name, workflow, start=start, end=end, period=period)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90)
    plt.close(figure)
    return Rendered(out, empty)


def draw(
    cloudwatch: Any, dashboard_name: str, workflow: str, *, start: datetime, end: datetime, period: int | None = None
) -> tuple[Figure, list[str]]:
    """The figure of the workflow's widgets, and the titles of those with no data. Every graph spans [start, end);
    a count graph has whole-number ticks; legends sit beside their graph, not over its first bars; a threshold far
    above the data is named in the title rather than flattening the data under it."""
    body = workflow_body(cloudwatch, dashboard_name, workflow)
    widgets = [widget for widget in body["widgets"] if widget["type"] == "metric"]
    alarms = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    rows = math.ceil(len(widgets) / 2) + (1 if alarms else 0)
    figure, axes = plt.subplots(rows, 2, figsize=(16, 3.2 * rows), squeeze=False)
    figure.suptitle(f"Workflow {workflow}  ({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC)", fontsize=13)
    empty: list[str] = []
    for axis, widget in zip(axes.flat, widgets, strict=False):
        properties = widget["properties"]
        title = properties.get("title", "")
        seconds = period or int(properties.get("period", 300))
        series = widget_series(cloudwatch, widget, start, end, seconds)
        counts = properties.get("stat") == "Sum"
        known = [value for line in series for value in line.values if not math.isnan(value)]
        if not (any(known) if counts else known):  # counts have their gaps filled with 0
            empty.append(title)
            axis.text(0.5, 0.5, "no data in this window", ha="center", va="center", transform=axis.transAxes)
            axis.set_ylim(0, 1)
        stacked = properties.get("stacked", False)
        base = [0.0] * len(series[0].times) if series else []
        for order, line in enumerate(series):
            values = [0.0 if math.isnan(v) else v for v in line.values] if stacked else line.values
            if stacked:
                width = timedelta(seconds=seconds * 0.9)
                axis.bar(line.times, values, width=width, bottom=base, label=line.label, color=line.color, align="edge")
                base = [b + v for b, v in zip(base, values, strict=True)]
            else:
                # The first series on top: p50 stays visible where p90 runs over it.
                axis.plot(line.times, values, marker=".", label=line.label, color=line.color, zorder=10 - order)
        highest = max((v for line in series for v in line.values if not math.isnan(v)), default=0.0)
        title += _annotations(axis, properties.get("annotations", {}).get("horizontal", []), highest)
        if counts or (properties.get("yAxis", {}).get("left", {}).get("max") == 1):
            axis.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
            axis.set_ylim(bottom=0)
        axis.set_xlim(start, end)
        axis.xaxis.set_major_formatter(dates.DateFormatter("%d %H:%M"))  # type: ignore[no-untyped-call]
        axis.set_title(title, fontsize=10)
        if series:
            axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    used = 2 * math.ceil(len(widgets) / 2)
    if alarms:
        _alarm_states(axes.flat[used], cloudwatch, alarms)
        used += 1
    for index, axis in enumerate(axes.flat):
        if len(widgets) <= index and not (alarms and index == used - 1):
            axis.axis("off")
    figure.tight_layout()
    return figure, empty


def _alarm_states(axis: Any, cloudwatch: Any, alarms: list[dict[str, Any]]) -> None:
    names = [arn.rsplit(":", 1)[1] for widget in alarms for arn in widget["properties"]["alarms"]]
    found = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] if names else []
    states = {alarm["AlarmName"]: alarm["StateValue"] for alarm in found}
    lines = [f"{name}: {states.get(name, 'not found')}" for name in names]
    axis.axis("off")
    axis.set_title("Alarms (the emulator never evaluates them: state as stored)", fontsize=10)
    axis.text(0.0, 0.9, "\n".join(lines), va="top", family="monospace", fontsize=8)


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
    empty: list[str]  # titles of the graphs with nothing but gaps or zeros in the window
