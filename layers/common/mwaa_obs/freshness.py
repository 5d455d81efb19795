"""Missed-schedule detection: is a workflow's successful run overdue?

A CloudWatch alarm cannot see a daily run that never came (its evaluation windows are bounded, and a missing
datapoint is ambiguous), so a scheduled check reads the stored runs instead. A workflow's cadence is learned from
when its runs started: when at least two thirds of the gaps between its recent runs lie within a fifth of their
median, the median is its cadence; otherwise (runs started by hand, irregular triggers) it has none and is never
reported overdue. It is overdue when no run has succeeded within its cadence plus its grace period, counted from
its last success (or from when it was first seen).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Final

from mwaa_obs.metrics import SCHEDULE_OVERDUE, MetricPoint
from mwaa_obs.settings import Settings
from mwaa_obs.store import list_workflows, recent_runs

MIN_RUNS: Final = 4  # three gaps at least before a cadence is trusted
REGULAR_SHARE: Final = 2 / 3
TOLERANCE: Final = 0.2


def observed_cadence(run_starts: Sequence[datetime]) -> timedelta | None:
    """The workflow's cadence from its runs' start times (any order), or None if they are too few or irregular."""
    ordered = sorted(run_starts)
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(ordered)]
    gaps = [gap for gap in gaps if gap > 0]
    if len(gaps) < MIN_RUNS - 1:
        return None
    median = statistics.median(gaps)
    regular = sum(1 for gap in gaps if abs(gap - median) <= TOLERANCE * median)
    return timedelta(seconds=median) if regular >= REGULAR_SHARE * len(gaps) else None


@dataclass(frozen=True, slots=True)
class Verdict:
    workflow_name: str
    cadence: timedelta | None
    due_by: datetime | None  # when a successful run was due at the latest
    overdue: bool


def judge(
    workflow_name: str,
    *,
    run_starts: Sequence[datetime],
    last_success: datetime | None,
    first_seen: datetime | None,
    grace: timedelta,
    now: datetime,
) -> Verdict:
    cadence = observed_cadence(run_starts)
    reference = last_success or first_seen
    if cadence is None or reference is None:
        return Verdict(workflow_name, cadence, None, overdue=False)
    due_by = reference + cadence + grace
    return Verdict(workflow_name, cadence, due_by, overdue=now > due_by)


RECENT_RUNS: Final = 12


def check_all(now: datetime, settings: Settings) -> tuple[list[Verdict], list[MetricPoint]]:
    """Judge every workflow seen; a ScheduleOverdue point (0 or 1) for each one that has a cadence."""
    verdicts: list[Verdict] = []
    points: list[MetricPoint] = []
    for workflow in list_workflows():
        route = settings.route_for(workflow.workflow_name)
        if not route.freshness_check or workflow.deleted_at is not None:
            continue  # a deleted workflow is not overdue: it will never run again
        runs = recent_runs(workflow.workflow_id, limit=RECENT_RUNS)
        starts = [start for run in runs if (start := run.started_at or run.seen_starting or run.queued_at)]
        successes = [run.ended_at for run in runs if run.status == "SUCCESS" and run.ended_at]
        if workflow.health is not None and workflow.health.last_success_at is not None:
            successes.append(workflow.health.last_success_at)
        verdict = judge(
            workflow.workflow_name,
            run_starts=starts,
            last_success=max(successes, default=None),
            first_seen=workflow.first_seen_at,
            grace=timedelta(minutes=route.freshness_grace_minutes),
            now=now,
        )
        verdicts.append(verdict)
        if verdict.cadence is not None:
            points.append(MetricPoint(SCHEDULE_OVERDUE, 1 if verdict.overdue else 0, workflow.workflow_name))
    return verdicts, points
