"""The dashboard picture tells the truth (issue 36): a 0 % success rate is drawn as 0, not as "no data"; every point
sits in the clock hour it happened in, whatever the window's start; p50 stays visible under an equal p90; an
on-demand workflow is "not scheduled" rather than "no data"; the alarms are the evaluator's, for this workflow;
no panel is left empty. Metric data is put into the session's emulator, read back by the renderer as in the demo."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import matplotlib.pyplot as plt
import pytest
from matplotlib.lines import Line2D

from mwaa_obs_tools import localstack, render
from mwaa_obs_tools.alarm_evaluator import ALARM, OK, Transition

WORKFLOW = "orders"
DAY = datetime(2026, 12, 1, tzinfo=UTC)


def _metric(namespace: str, name: str, **options: Any) -> list[Any]:
    return [namespace, name, "WorkflowName", "__workflow__", options]


def _body(namespace: str) -> dict[str, Any]:
    """The shapes of the workflow dashboard's widgets (dashboards/workflow.json), on a namespace of the test's own."""
    hourly = {"view": "timeSeries", "period": 3600}
    return {
        "widgets": [
            {"type": "metric", "properties": {"title": "outcomes", "stacked": True, "stat": "Sum", **hourly,
                "metrics": [_metric(namespace, "RunSucceeded", label="succeeded"),
                            _metric(namespace, "RunFailed", label="failed"),
                            _metric(namespace, "TaskUpForRetry", label="retries")]}},
            {"type": "metric", "properties": {"title": "success rate", "stat": "Sum", **hourly,
                "yAxis": {"left": {"min": 0, "max": 100}},
                "metrics": [[{"expression": "100 * FILL(ok, 0) / (FILL(ok, 0) + FILL(failed, 0))", "id": "rate",
                              "label": "success rate"}],
                            _metric(namespace, "RunSucceeded", id="ok", visible=False),
                            _metric(namespace, "RunFailed", id="failed", visible=False)]}},
            {"type": "metric", "properties": {"title": "duration", **hourly,
                "metrics": [_metric(namespace, "RunDuration", stat="p50", label="p50"),
                            _metric(namespace, "RunDuration", stat="p90", label="p90")]}},
            {"type": "metric", "properties": {"title": "overdue", "view": "timeSeries", "period": 900,
                "stat": "Maximum", "metrics": [_metric(namespace, "ScheduleOverdue", label="overdue")]}},
            {"type": "metric", "properties": {"title": "queue delay", **hourly,
                "metrics": [_metric(namespace, "RunQueueDelay", stat="Maximum", label="max")]}},
            {"type": "alarm", "properties": {"title": "alarms", "alarms": [
                "arn:aws:cloudwatch:us-east-1:123456789012:alarm:obs-workflows-failed",
                "arn:aws:cloudwatch:us-east-1:123456789012:alarm:obs-workflows-overdue"]}},
        ]
    }  # fmt: skip


@pytest.fixture
def drawn(endpoint: str) -> Iterator[tuple[Any, str, str]]:
    """A CloudWatch client, a dashboard of the widgets above and the namespace its metrics are in."""
    namespace = f"Render/{uuid.uuid4().hex[:8]}"
    cloudwatch = localstack.client(endpoint, "cloudwatch")
    name = f"render-{uuid.uuid4().hex[:8]}"
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody=json.dumps(_body(namespace)))
    yield cloudwatch, name, namespace
    cloudwatch.delete_dashboards(DashboardNames=[name])


def put(cloudwatch: Any, namespace: str, name: str, at: datetime, value: float = 1.0) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": name, "Dimensions": [{"Name": "WorkflowName", "Value": WORKFLOW}],
                     "Timestamp": at, "Value": value}],
    )  # fmt: skip


def widget(cloudwatch: Any, dashboard: str, title: str) -> dict[str, Any]:
    body = render.workflow_body(cloudwatch, dashboard, WORKFLOW)
    found: dict[str, Any] = next(w for w in body["widgets"] if w["properties"].get("title") == title)
    return found


def test_a_zero_success_rate_is_drawn_as_zero_not_as_no_data(drawn: tuple[Any, str, str]) -> None:
    cloudwatch, dashboard, namespace = drawn
    put(cloudwatch, namespace, "RunFailed", DAY + timedelta(hours=10, minutes=20))
    put(cloudwatch, namespace, "RunFailed", DAY + timedelta(hours=12, minutes=5))
    start, end = DAY + timedelta(hours=9), DAY + timedelta(hours=14)
    (rate,) = render.widget_series(cloudwatch, widget(cloudwatch, dashboard, "success rate"), start, end, 3600)
    by_hour = dict(zip([at.hour for at in rate.times], rate.values, strict=True))
    assert by_hour[10] == 0
    assert by_hour[12] == 0
    assert math.isnan(by_hour[11])
    assert math.isnan(by_hour[9])
    figure, empty = render.draw(cloudwatch, dashboard, WORKFLOW, start=start, end=end)
    plt.close(figure)
    assert "success rate" not in empty
    assert "outcomes" not in empty


@pytest.mark.parametrize("start_minute", [0, 7, 32, 59])
def test_each_point_is_in_the_clock_hour_it_happened_whatever_the_windows_start(
    drawn: tuple[Any, str, str], start_minute: int
) -> None:
    cloudwatch, dashboard, namespace = drawn
    retried, ended = DAY + timedelta(hours=17, seconds=10), DAY + timedelta(hours=17, minutes=2, seconds=55)
    put(cloudwatch, namespace, "TaskUpForRetry", retried)
    put(cloudwatch, namespace, "RunFailed", ended)
    put(cloudwatch, namespace, "RunDuration", ended, 175.0)
    put(cloudwatch, namespace, "RunQueueDelay", DAY + timedelta(hours=16, minutes=59, seconds=59), 12.0)
    start = DAY + timedelta(hours=6, minutes=start_minute)
    end = start + timedelta(hours=12)
    expected = {"succeeded": set(), "failed": {17}, "retries": {17}, "p50": {17}, "p90": {17}, "max": {16}}
    for title in ("outcomes", "duration", "queue delay"):
        for line in render.widget_series(cloudwatch, widget(cloudwatch, dashboard, title), start, end, 3600):
            assert all(at.minute == 0 and at.second == 0 for at in line.times)  # on the clock's hours
            hours = {at.hour for at, value in zip(line.times, line.values, strict=True) if value > 0}
            assert hours == expected[line.label], line.label


def test_an_equal_p50_and_p90_both_show(drawn: tuple[Any, str, str]) -> None:
    cloudwatch, dashboard, namespace = drawn
    put(cloudwatch, namespace, "RunDuration", DAY + timedelta(hours=3, minutes=10), 120.0)  # one run: p50 == p90
    figure, _ = render.draw(cloudwatch, dashboard, WORKFLOW, start=DAY, end=DAY + timedelta(hours=6))
    try:
        (axis,) = [axis for axis in figure.axes if axis.get_title() == "duration"]
        lines = {line.get_label(): line for line in axis.get_lines() if isinstance(line, Line2D)}
        p50, p90 = lines["p50"], lines["p90"]
        assert p50.get_zorder() > p90.get_zorder()  # p50 drawn over p90
        assert p90.get_markerfacecolor() == "none"  # a ring: p50's dot shows inside it
        assert p90.get_markersize() > p50.get_markersize()
    finally:
        plt.close(figure)


@pytest.mark.parametrize(
    ("scheduled", "note", "counted_empty"),
    # ScheduleOverdue is written only while a workflow is overdue: none is good news, not a graph without data
    [
        (False, render.NOT_SCHEDULED, False),
        (True, render.NOTHING_ABNORMAL, False),
        (None, render.NOTHING_ABNORMAL, False),
    ],
)
def test_an_on_demand_workflow_is_not_scheduled_rather_than_without_data(
    drawn: tuple[Any, str, str], scheduled: bool | None, note: str, counted_empty: bool
) -> None:
    cloudwatch, dashboard, _ = drawn
    figure, empty = render.draw(
        cloudwatch, dashboard, WORKFLOW, start=DAY, end=DAY + timedelta(hours=6), scheduled=scheduled
    )
    try:
        (axis,) = [axis for axis in figure.axes if axis.get_title() == "overdue"]
        assert [text.get_text() for text in axis.texts] == [note]
        assert ("overdue" in empty) is counted_empty
    finally:
        plt.close(figure)


def test_the_alarms_are_the_evaluators_for_this_workflow_and_fill_the_free_panel(
    drawn: tuple[Any, str, str],
) -> None:
    cloudwatch, dashboard, _ = drawn
    at = DAY + timedelta(hours=2)
    transitions = [
        Transition(at, "obs-workflows-failed", None, None, OK, notified=False),
        Transition(at, "obs-workflows-failed", WORKFLOW, None, ALARM, notified=False),
        Transition(at + timedelta(minutes=5), "obs-workflows-failed", WORKFLOW, ALARM, OK, notified=False),
        Transition(at, "obs-workflows-overdue", "another", None, ALARM, notified=True),  # not this workflow's
    ]
    assert render.alarm_spans(transitions, "obs-workflows-failed", WORKFLOW, DAY, DAY + timedelta(hours=6)) == [
        (at, at + timedelta(minutes=5))
    ]
    assert render.alarm_spans(transitions, "obs-workflows-overdue", WORKFLOW, DAY, DAY + timedelta(hours=6)) == []
    figure, _ = render.draw(
        cloudwatch, dashboard, WORKFLOW, start=DAY, end=DAY + timedelta(hours=6), transitions=transitions
    )
    try:
        panels = [axis for axis in figure.axes if axis.axison]
        assert len(panels) == len(figure.axes) == 6  # five graphs and the alarms: no empty panel
        (alarms,) = [axis for axis in panels if axis.get_title().startswith(f"Alarms for {WORKFLOW}")]
        assert [label.get_text() for label in alarms.get_yticklabels()] == ["failed", "overdue"]
        assert len(alarms.collections) == 2
        assert len(alarms.collections[1].get_paths()) == 0
    finally:
        plt.close(figure)
