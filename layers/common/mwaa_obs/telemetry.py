"""Metrics out: a sink per invocation for the points the code owes, published as CloudWatch EMF when it ends.

The services take the sink as an argument and add to it; `emits_metrics` gives each invocation a fresh one and
publishes it in `finally`, so what was owed before an error still reaches CloudWatch and nothing is counted twice
across invocations.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, Final

from aws_lambda_powertools import Metrics

from mwaa_obs.metrics import WORKFLOW_DIMENSION, MetricPoint, MetricSpec


class MetricSink:
    """The metric points one invocation owes."""

    def __init__(self) -> None:
        self.points: list[MetricPoint] = []

    def count(self, spec: MetricSpec, workflow: str | None = None, value: float = 1) -> None:
        self.points.append(MetricPoint(spec, value, workflow))

    def extend(self, points: Iterable[MetricPoint]) -> None:
        self.points.extend(points)


def emits_metrics[Event, Result](handler: Callable[[Event, Any, MetricSink], Result]) -> Callable[[Event, Any], Result]:
    """A Lambda handler taking (event, context, sink) as one taking (event, context) that publishes its sink."""

    @wraps(handler)
    def invoke(event: Event, context: Any) -> Result:
        sink = MetricSink()
        try:
            return handler(event, context, sink)
        finally:
            # Made per invocation: Powertools reads the namespace from the function's environment when made.
            publish(sink.points, Metrics(), clock())

    return invoke


def wall_clock() -> datetime:
    return datetime.now(UTC)


# Now, for the points without a time of their own and for ingest's receipt of an event: the local stack sets its
# simulated clock here.
clock: Callable[[], datetime] = wall_clock

# CloudWatch skips EMF metrics stamped more than 14 days in the past or 2 hours in the future ("Specification:
# Embedded metric format", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
# a point outside that window (an event redriven weeks later) is stamped when published rather than lost.
ACCEPTED_PAST: Final = timedelta(days=14) - timedelta(hours=1)
ACCEPTED_FUTURE: Final = timedelta(hours=2) - timedelta(minutes=5)


def stamp(point: MetricPoint, now: datetime) -> datetime:
    """The minute a point is published at: when it happened, if CloudWatch accepts that time, else now."""
    at = point.at if point.at is not None and now - ACCEPTED_PAST <= point.at <= now + ACCEPTED_FUTURE else now
    return at.replace(second=0, microsecond=0)  # CloudWatch keeps EMF metrics at one-minute resolution


# Powertools prints a document by itself when a metric reaches its 100th value (EMF: "Numeric array metric targets
# MUST NOT have more than 100 members") or the set its 100th metric, with the dimensions set at that moment, and
# keeps those dimensions for the next document (aws_lambda_powertools 3.x, cloudwatch_emf/cloudwatch.py add_metric,
# MAX_METRICS = 100). Documents of at most 99 points never reach either limit: every flush is this module's own.
POINTS_PER_DOCUMENT: Final = 99


def publish(points: Iterable[MetricPoint], metrics: Metrics, now: datetime) -> None:
    """One EMF document per workflow and minute (more for a burst of over 99 points), each holding the fleet rollup
    (no dimensions) and the per-workflow set, stamped with the minute its points happened in."""
    groups: dict[tuple[str | None, datetime], list[MetricPoint]] = defaultdict(list)
    for point in points:
        groups[(point.workflow, stamp(point, now))].append(point)
    for (workflow, at), group in groups.items():
        for start in range(0, len(group), POINTS_PER_DOCUMENT):
            _flush(metrics, workflow, at, group[start : start + POINTS_PER_DOCUMENT])


def _flush(metrics: Metrics, workflow: str | None, at: datetime, points: list[MetricPoint]) -> None:
    with warnings.catch_warnings():
        # stamp() kept `at` in CloudWatch's window around `now`; Powertools checks it against the wall clock
        # again, which differs from `now` only on the local stack's simulated clock.
        warnings.simplefilter("ignore", UserWarning)
        metrics.set_timestamp(at)
    if workflow is not None:
        metrics.add_dimensions(**{WORKFLOW_DIMENSION: workflow})  # before the values: see POINTS_PER_DOCUMENT
    for point in points:
        metrics.add_metric(name=point.spec.name, unit=point.spec.unit, value=point.value)
    metrics.flush_metrics()
