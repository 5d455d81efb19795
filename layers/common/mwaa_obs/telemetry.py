"""Metrics out: a sink per invocation for the points the code owes, published as CloudWatch EMF when it ends.

The services take the sink as an argument and add to it; `emits_metrics` gives each invocation a fresh one and
publishes it in `finally`, so what was owed before an error still reaches CloudWatch and nothing is counted twice
across invocations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

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
            publish(sink.points, Metrics())

    return invoke


def publish(points: Iterable[MetricPoint], metrics: Metrics) -> None:
    """One EMF document per workflow, each holding the fleet rollup (no dimensions) and the per-workflow set.

    A batch is at most 100 messages (template.yaml caps IngestBatchSize) and a message owes at most one value of
    each metric, which keeps every metric within EMF's 100 values per document.
    """
    by_workflow: dict[str | None, list[MetricPoint]] = defaultdict(list)
    for point in points:
        by_workflow[point.workflow].append(point)
    for workflow, group in by_workflow.items():
        for point in group:
            metrics.add_metric(name=point.spec.name, unit=point.spec.unit, value=point.value)
        if workflow is not None:
            metrics.add_dimensions(**{WORKFLOW_DIMENSION: workflow})
        metrics.flush_metrics()
