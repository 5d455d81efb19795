"""Missed-schedule detection: is a workflow's successful run overdue?

A CloudWatch alarm cannot see a daily run that never came (its evaluation windows are bounded, and a missing
datapoint is ambiguous), so a scheduled check reads the stored runs instead. When a run is due comes from the
workflow's schedule, as GetWorkflow describes it (stored by the reconciler): a workflow described without a
schedule runs only on demand and is never overdue, however regularly someone starts it; with a cron schedule, a
run is due at the first fire time after the last success and overdue once its grace period has passed too.
Until the workflow is described (or when its schedule is not a cron expression this module reads), the cadence
is learned from when its scheduled runs started (runs started on demand are left out): when at least two thirds
of the gaps between recent runs lie within a fifth of their median, the median is its cadence, and it is overdue
when no run has succeeded within its cadence plus grace. Either way the count starts from the last success, or
from when the workflow was first seen.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Final

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.cron import Cron, CronError
from mwaa_obs.metrics import SCHEDULE_OVERDUE
from mwaa_obs.settings import Settings
from mwaa_obs.states import RunState, RunType
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import WorkflowItem
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)

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
    schedule: Cron | None,
    run_starts: Sequence[datetime],
    last_success: datetime | None,
    first_seen: datetime | None,
    grace: timedelta,
    now: datetime,
) -> Verdict:
    """The verdict from the cron schedule when there is one, else from the cadence of `run_starts`."""
    reference = last_success or first_seen
    if schedule is not None:
        if reference is None:
            return Verdict(workflow_name, None, None, overdue=False)
        due = schedule.next_after(reference)
        due_by = due + grace
        return Verdict(workflow_name, schedule.next_after(due) - due, due_by, overdue=now > due_by)
    cadence = observed_cadence(run_starts)
    if cadence is None or reference is None:
        return Verdict(workflow_name, cadence, None, overdue=False)
    due_by = reference + cadence + grace
    return Verdict(workflow_name, cadence, due_by, overdue=now > due_by)


def runs_on_demand_only(workflow: WorkflowItem) -> bool:
    """GetWorkflow described it without a schedule: nothing is ever due."""
    return workflow.described_at is not None and workflow.schedule is None


def cron_schedule(workflow: WorkflowItem, now: datetime) -> Cron | None:
    """The workflow's cron schedule; None when not described yet, or (logged) when it is not one we can read."""
    if workflow.schedule is None:
        return None
    try:
        cron = Cron.parse(workflow.schedule)
        cron.next_after(now)  # a schedule that never fires is none
    except CronError as error:
        logger.warning(
            "schedule not read: cadence observed from scheduled runs",
            extra={"workflow": workflow.workflow_name, "schedule": workflow.schedule, "reason": str(error)},
        )
        return None
    return cron


RECENT_RUNS: Final = 12


def check_all(now: datetime, settings: Settings, workflows: Workflows, runs: Runs, sink: MetricSink) -> list[Verdict]:
    """Judge every workflow seen; a ScheduleOverdue point (1) for each one overdue, none for one on time: the alarms
    take no data as not breaching, and a point every 15 minutes for every workflow would keep a custom metric per
    workflow billed every hour of the month (CloudWatch bills a metric in the hours it receives data)."""
    verdicts: list[Verdict] = []
    for workflow in workflows.all():
        route = settings.route_for(workflow.workflow_name)
        if not route.freshness_check or workflow.deleted_at is not None or runs_on_demand_only(workflow):
            continue  # deleted, it will never run again; on demand, it is never due
        schedule = cron_schedule(workflow, now)
        grace = timedelta(minutes=route.freshness_grace_minutes)
        recorded = workflow.health.last_success_at if workflow.health is not None else None
        if schedule is not None and recorded is not None:
            # The notifier records each success on the workflow item: on time by it, its runs need no Query (one
            # Query per workflow every 15 minutes would not fit a pass at 10,000 workflows: make bench, "scale").
            # Late by it, the stored runs are read, as a success may be stored that the notifier has yet to decide.
            verdict = judge(workflow.workflow_name, schedule=schedule, run_starts=(), last_success=recorded,
                            first_seen=workflow.first_seen_at, grace=grace, now=now)  # fmt: skip
            if not verdict.overdue:
                verdicts.append(verdict)
                continue
        recent = runs.recent(workflow.workflow_id, limit=RECENT_RUNS)
        scheduled = [run for run in recent if run.run_type != RunType.ON_DEMAND]
        starts = [start for run in scheduled if (start := run.started_at or run.seen_starting or run.queued_at)]
        successes = [run.ended_at for run in recent if run.status == RunState.SUCCESS and run.ended_at]
        if workflow.health is not None and workflow.health.last_success_at is not None:
            successes.append(workflow.health.last_success_at)
        verdict = judge(
            workflow.workflow_name,
            schedule=schedule,
            run_starts=starts,
            last_success=max(successes, default=None),
            first_seen=workflow.first_seen_at,
            grace=grace,
            now=now,
        )
        verdicts.append(verdict)
        if verdict.overdue:
            sink.count(SCHEDULE_OVERDUE, workflow.workflow_name)
    return verdicts


def check_and_log(
    now: datetime, settings: Settings, workflows: Workflows, runs: Runs, sink: MetricSink
) -> dict[str, int]:
    """One scheduled pass: every workflow judged, each overdue one logged; how many were checked and overdue."""
    verdicts = check_all(now, settings, workflows, runs, sink)
    overdue = [verdict for verdict in verdicts if verdict.overdue]
    for verdict in overdue:
        logger.warning(
            "workflow overdue",
            extra={"workflow": verdict.workflow_name, "due_by": str(verdict.due_by), "cadence": str(verdict.cadence)},
        )
    logger.info("freshness checked", extra={"workflows": len(verdicts), "overdue": len(overdue)})
    return {"workflows": len(verdicts), "overdue": len(overdue)}
