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
from matplotlib import dates

from mwaa_obs.stats import percentile
from mwaa_obs_tools.dashboards import WORKFLOW_PATTERN

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
    body = workflow_body(cloudwatch, dashboard_name, workflow)
    widgets = [widget for widget in body["widgets"] if widget["type"] == "metric"]
    alarms = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    rows = math.ceil(len(widgets) / 2) + (1 if alarms else 0)
    figure, axes = plt.subplots(rows, 2, figsize=(14, 3.2 * rows), squeeze=False)
    figure.suptitle(f"Workflow {workflow}  ({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC)", fontsize=13)
    empty: list[str] = []
    for axis, widget in zip(axes.flat, widgets, strict=False):
        properties = widget["properties"]
        seconds = period or int(properties.get("period", 300))
        series = widget_series(cloudwatch, widget, start, end, seconds)
        if not any(value for line in series for value in line.values if not math.isnan(value)):
            empty.append(properties.get("title", ""))
            axis.text(0.5, 0.5, "no data in this window", ha="center", va="center", transform=axis.transAxes)
        stacked = properties.get("stacked", False)
        base = [0.0] * len(series[0].times) if series else []
        for line in series:
            values = [0.0 if math.isnan(v) else v for v in line.values] if stacked else line.values
            if stacked:
                width = timedelta(seconds=seconds * 0.9)
                axis.bar(line.times, values, width=width, bottom=base, label=line.label, color=line.color, align="edge")
                base = [b + v for b, v in zip(base, values, strict=True)]
            else:
                axis.plot(line.times, values, marker=".", label=line.label, color=line.color)
        for annotation in properties.get("annotations", {}).get("horizontal", []):
            axis.axhline(float(annotation["value"]), linestyle="--", color=annotation.get("color", "red"))
            axis.annotate(
                annotation.get("label", ""), (0.01, float(annotation["value"])), xycoords=("axes fraction", "data")
            )
        axis.xaxis.set_major_formatter(dates.DateFormatter("%d %H:%M"))  # type: ignore[no-untyped-call]
        axis.set_title(properties.get("title", ""), fontsize=10)
        axis.legend(fontsize=7, loc="upper left")
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    used = 2 * math.ceil(len(widgets) / 2)
    if alarms:
        axis = axes.flat[used]
        names = [arn.rsplit(":", 1)[1] for widget in alarms for arn in widget["properties"]["alarms"]]
        found = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] if names else []
        states = {alarm["AlarmName"]: alarm["StateValue"] for alarm in found}
        lines = [f"{name}: {states.get(name, 'not found')}" for name in names]
        axis.axis("off")
        axis.set_title("Alarms (the emulator never evaluates them: state as stored)", fontsize=10)
        axis.text(0.0, 0.9, "\n".join(lines), va="top", family="monospace", fontsize=8)
        used += 1
    for index, axis in enumerate(axes.flat):
        if len(widgets) <= index and not (alarms and index == used - 1):
            axis.axis("off")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90)
    plt.close(figure)
    return Rendered(out, empty)


@dataclass(frozen=True)
class Rendered:
    path: Path
    empty: list[str]  # titles of the graphs with nothing but gaps or zeros in the window
