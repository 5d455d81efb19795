"""Publishing metric points as CloudWatch EMF through Powertools Metrics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from aws_lambda_powertools import Metrics

from mwaa_obs.metrics import WORKFLOW_DIMENSION, MetricPoint


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
