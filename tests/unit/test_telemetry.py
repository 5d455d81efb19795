"""EMF publishing through Powertools: asserting on the documents as CloudWatch would read them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from mwaa_obs.metrics import INVALID_EVENTS, RUN_DURATION, RUN_FAILED, MetricPoint
from mwaa_obs.telemetry import MetricSink, emits_metrics, publish
from mwaa_obs_tools.factories import T0, minutes
from tests.conftest import Printed

NOW = T0 + minutes(600)


def test_each_workflow_gets_one_document_with_a_fleet_rollup(printed: Callable[[], Printed]) -> None:
    # Given metrics of two workflows and a fleet-only one
    points = [
        MetricPoint(RUN_FAILED, 1, "etl"),
        MetricPoint(RUN_DURATION, 30, "etl"),
        MetricPoint(RUN_DURATION, 90, "etl"),
        MetricPoint(RUN_FAILED, 1, "reports"),
        MetricPoint(INVALID_EVENTS, 1),
    ]
    # When they are published
    publish(points, Metrics(namespace="MWAAServerless/Test"), NOW)
    documents = printed().emf
    # Then each workflow's document carries the rollup (no dimensions) and the per-workflow dimension set
    by_workflow = {document.get("WorkflowName"): document for document in documents}
    assert set(by_workflow) == {"etl", "reports", None}
    etl = by_workflow["etl"]
    directive = etl["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "MWAAServerless/Test"
    assert directive["Dimensions"] == [[], ["WorkflowName"]]
    assert {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]} == {
        "RunFailed": "Count",
        "RunDuration": "Seconds",
    }
    assert etl["RunDuration"] == [30.0, 90.0]
    assert etl["RunFailed"] == [1.0]
    # And a fleet-only metric has no workflow dimension
    fleet = by_workflow[None]["_aws"]["CloudWatchMetrics"][0]
    assert fleet["Dimensions"] == [[]]
    assert by_workflow[None]["InvalidEvents"] == [1.0]


def test_points_are_stamped_with_the_minute_they_happened_unless_cloudwatch_would_skip_that_time(
    printed: Callable[[], Printed],
) -> None:
    # Given failures of one workflow at two minutes, and one redriven 15 days after it happened
    points = [
        MetricPoint(RUN_FAILED, 1, "etl", T0 + minutes(5) + timedelta(seconds=10)),
        MetricPoint(RUN_FAILED, 1, "etl", T0 + minutes(5) + timedelta(seconds=50)),
        MetricPoint(RUN_FAILED, 1, "etl", T0 + minutes(7)),
        MetricPoint(RUN_FAILED, 1, "etl", NOW - timedelta(days=15)),
        MetricPoint(INVALID_EVENTS, 1),
    ]
    publish(points, Metrics(namespace="MWAAServerless/Test"), NOW)
    stamped = {
        (document.get("WorkflowName"), datetime.fromtimestamp(document["_aws"]["Timestamp"] / 1000, UTC)): document
        for document in printed().emf
    }
    # Then one document per workflow and minute, at that minute; the too-old one and the timeless one at now
    assert {key: document.get("RunFailed") for key, document in stamped.items()} == {
        ("etl", T0 + minutes(5)): [1.0, 1.0],
        ("etl", T0 + minutes(7)): [1.0],
        ("etl", NOW): [1.0],
        (None, NOW): None,
    }


def test_nothing_to_publish_prints_nothing(printed: Callable[[], Printed]) -> None:
    publish([], Metrics(namespace="MWAAServerless/Test"), NOW)
    assert printed().emf == []


def test_each_invocation_publishes_its_own_points_even_when_it_fails(printed: Callable[[], Printed]) -> None:
    sinks: list[MetricSink] = []

    @emits_metrics
    def handler(event: dict[str, Any], context: Any, sink: MetricSink) -> str:
        sinks.append(sink)
        sink.count(RUN_FAILED, "etl")
        if event.get("fail"):
            raise RuntimeError("after the count")
        return "done"

    # When one invocation succeeds and the next fails after counting
    assert handler({}, None) == "done"
    with pytest.raises(RuntimeError):
        handler({"fail": True}, None)
    # Then each got a fresh sink, and both counts were published, once each
    assert len(sinks) == 2
    assert sinks[0] is not sinks[1]
    assert [document["RunFailed"] for document in printed().emf] == [[1.0], [1.0]]


@pytest.mark.parametrize("burst", [99, 100, 150, 250])
def test_a_burst_of_a_hundred_values_keeps_its_workflow_and_leaks_it_nowhere(
    printed: Callable[[], Printed], burst: int
) -> None:
    # Given durations of one workflow in one minute (Powertools publishes on its own at a metric's 100th value, with
    # the dimensions set at that moment, and keeps them for the next document), then a fleet-only point
    points = [MetricPoint(RUN_DURATION, float(n), "etl") for n in range(burst)] + [MetricPoint(INVALID_EVENTS, 1)]
    # When they are published
    publish(points, Metrics(namespace="MWAAServerless/Test"), NOW)
    documents = printed().emf
    # Then every duration is in a document of the workflow, none beyond EMF's 100 values per metric
    etl = [document for document in documents if "RunDuration" in document]
    assert all(document.get("WorkflowName") == "etl" for document in etl)
    assert sorted(value for document in etl for value in document["RunDuration"]) == [float(n) for n in range(burst)]
    assert all(len(document["RunDuration"]) < 100 for document in etl)
    # And the fleet-only point carries no workflow dimension
    (fleet,) = [document for document in documents if "InvalidEvents" in document]
    assert "WorkflowName" not in fleet
    assert fleet["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]
