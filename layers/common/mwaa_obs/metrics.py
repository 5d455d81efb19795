"""The metric catalog: every custom metric the pipeline emits, its unit and its dimensions.

Alarms, dashboards and docs/METRICS.md are derived from this one place, so none of them can refer to a metric
that nobody emits. Each metric is emitted twice in one EMF document: per workflow (dimension WorkflowName) and as a
fleet-wide rollup (no dimensions). There is no per-task dimension: cardinality must not grow with task count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from mwaa_obs.states import RunState, TaskState

WORKFLOW_DIMENSION: Final = "WorkflowName"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    unit: str
    per_workflow: bool
    meaning: str


RUN_STARTED: Final = MetricSpec("RunStarted", "Count", True, "A run's Started transition was first recorded.")
RUN_SUCCEEDED: Final = MetricSpec("RunSucceeded", "Count", True, "A run ended in SUCCESS.")
RUN_FAILED: Final = MetricSpec("RunFailed", "Count", True, "A run ended in FAILED.")
RUN_TIMED_OUT: Final = MetricSpec("RunTimedOut", "Count", True, "A run ended in TIMEOUT.")
RUN_STOPPED: Final = MetricSpec("RunStopped", "Count", True, "A run ended in STOPPED.")
RUN_DURATION: Final = MetricSpec("RunDuration", "Seconds", True, "Run start (RUNNING) to its end, once both are known.")
RUN_QUEUE_DELAY: Final = MetricSpec("RunQueueDelay", "Seconds", True, "Run QUEUED to RUNNING, once both are known.")
TASK_SUCCEEDED: Final = MetricSpec("TaskSucceeded", "Count", True, "A task attempt ended in SUCCESS.")
TASK_FAILED: Final = MetricSpec("TaskFailed", "Count", True, "A task attempt ended in FAILED (no retry left).")
TASK_UP_FOR_RETRY: Final = MetricSpec("TaskUpForRetry", "Count", True, "A task attempt failed and will be retried.")
TASK_UPSTREAM_FAILED: Final = MetricSpec("TaskUpstreamFailed", "Count", True, "A task was skipped: an upstream failed.")
TASK_TIMED_OUT: Final = MetricSpec("TaskTimedOut", "Count", True, "A task attempt ended in TIMEOUT.")
TASK_CANCELLED: Final = MetricSpec(
    "TaskCancelled", "Count", True, "A task attempt ended in CANCELLED (its run was stopped, or ended before it)."
)
TASK_REMOVED: Final = MetricSpec("TaskRemoved", "Count", True, "A task ended in REMOVED: an update took it out.")
TASK_DURATION: Final = MetricSpec("TaskDuration", "Seconds", True, "Task attempt start to end, once both are known.")
INVALID_EVENTS: Final = MetricSpec("InvalidEvents", "Count", False, "An event was rejected as bad input (fleet only).")
UNKNOWN_EVENT_TYPES: Final = MetricSpec(
    "UnknownEventTypes", "Count", False, "An event of a detail-type this version does not know; sampled (fleet only)."
)
EVENTS_DEAD_LETTERED: Final = MetricSpec(
    "EventsDeadLettered", "Count", False, "An event failed its last attempt to be stored: to the DLQ (fleet only)."
)
NOTIFICATIONS_SENT: Final = MetricSpec(
    "NotificationsSent", "Count", True, "A failure, recovery or retry message reached one channel (email or Slack)."
)
ALERTS_GROUPED: Final = MetricSpec(
    "AlertsGrouped", "Count", True, "A failed run was not alerted on its own: grouped into the incident's next message."
)
NOTIFICATION_FAILURES: Final = MetricSpec(
    "NotificationFailures", "Count", False, "A channel refused or missed a message; the notice is retried (fleet only)."
)
NOTIFICATIONS_DEAD_LETTERED: Final = MetricSpec(
    "NotificationsDeadLettered", "Count", False, "A notice failed its last attempt and goes to the DLQ (fleet only)."
)
INVALID_NOTICES: Final = MetricSpec(
    "InvalidNotices", "Count", False, "A notice named no stored run or was malformed; dropped (fleet only)."
)
SCHEDULE_OVERDUE: Final = MetricSpec(
    "ScheduleOverdue",
    "Count",
    True,
    "1, every 15 min, while a scheduled workflow has had no successful run by its scheduled time plus grace; "
    "nothing while it is on time (no cost when all is well).",
)
INVALID_SETTINGS: Final = MetricSpec(
    "InvalidSettings", "Count", False, "The settings document was rejected; the previous one stays (fleet only)."
)
ENRICHMENT_FAILURES: Final = MetricSpec(
    "EnrichmentFailures", "Count", False, "The API could not fill what an item lacked; the alert used what was stored."
)
RUNS_REPAIRED: Final = MetricSpec(
    "RunsRepaired", "Count", False, "The reconciler found a run's events missing and repaired it from the API."
)
RUNS_DISCOVERED: Final = MetricSpec(
    "RunsDiscovered",
    "Count",
    False,
    "The reconciler found a run in the API that no event had brought, and imported it (fleet only).",
)
EVENTS_STOPPED: Final = MetricSpec(
    "EventsStopped",
    "Count",
    False,
    "1 when, over EventsStoppedHours, the API showed runs and no event brought any of them; sent only then.",
)
UNKNOWN_STATES: Final = MetricSpec(
    "UnknownStates",
    "Count",
    False,
    "The API answered a run or task state this version does not know; sampled, not stored (fleet only).",
)
ATTEMPTS_CLOSED: Final = MetricSpec(
    "AttemptsClosed",
    "Count",
    False,
    "A task attempt was still unfinished, for the API too, a settle time after its run ended: closed as CANCELLED.",
)
ITEMS_SKIPPED: Final = MetricSpec(
    "ItemsSkipped",
    "Count",
    False,
    "A reconcile, discovery or provision pass skipped one workflow or run it could not handle; the others went on.",
)
PLACES_UNREACHABLE: Final = MetricSpec(
    "PlacesUnreachable",
    "Count",
    False,
    "Central mode: a pass could not read the API of another account and region (role or endpoint); once per place.",
)

CATALOG: Final = (
    RUN_STARTED,
    RUN_SUCCEEDED,
    RUN_FAILED,
    RUN_TIMED_OUT,
    RUN_STOPPED,
    RUN_DURATION,
    RUN_QUEUE_DELAY,
    TASK_SUCCEEDED,
    TASK_FAILED,
    TASK_UP_FOR_RETRY,
    TASK_UPSTREAM_FAILED,
    TASK_TIMED_OUT,
    TASK_CANCELLED,
    TASK_REMOVED,
    TASK_DURATION,
    INVALID_EVENTS,
    UNKNOWN_EVENT_TYPES,
    EVENTS_DEAD_LETTERED,
    NOTIFICATIONS_SENT,
    ALERTS_GROUPED,
    NOTIFICATION_FAILURES,
    NOTIFICATIONS_DEAD_LETTERED,
    INVALID_NOTICES,
    SCHEDULE_OVERDUE,
    INVALID_SETTINGS,
    ENRICHMENT_FAILURES,
    RUNS_REPAIRED,
    RUNS_DISCOVERED,
    EVENTS_STOPPED,
    UNKNOWN_STATES,
    ATTEMPTS_CLOSED,
    ITEMS_SKIPPED,
    PLACES_UNREACHABLE,
)

RUN_OUTCOME_METRICS: Final[dict[str, MetricSpec]] = {
    RunState.SUCCESS: RUN_SUCCEEDED,
    RunState.FAILED: RUN_FAILED,
    RunState.TIMEOUT: RUN_TIMED_OUT,
    RunState.STOPPED: RUN_STOPPED,
}
TASK_OUTCOME_METRICS: Final[dict[str, MetricSpec]] = {
    TaskState.SUCCESS: TASK_SUCCEEDED,
    TaskState.FAILED: TASK_FAILED,
    TaskState.UPSTREAM_FAILED: TASK_UPSTREAM_FAILED,
    TaskState.TIMEOUT: TASK_TIMED_OUT,
    TaskState.CANCELLED: TASK_CANCELLED,
    TaskState.REMOVED: TASK_REMOVED,
}
# Counted when the transition is first recorded, whatever arrived before it (not outcomes: none can conflict).
RUN_OCCURRENCE_METRICS: Final[dict[str, MetricSpec]] = {RunState.STARTING: RUN_STARTED}
TASK_OCCURRENCE_METRICS: Final[dict[str, MetricSpec]] = {TaskState.UP_FOR_RETRY: TASK_UP_FOR_RETRY}


def dimension_sets(spec: MetricSpec) -> tuple[tuple[str, ...], ...]:
    """The dimension sets a metric is published under: the fleet rollup, and per workflow where it applies."""
    return ((), (WORKFLOW_DIMENSION,)) if spec.per_workflow else ((),)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value to publish; workflow is None for fleet-only metrics; at is when it happened (None: when published)."""

    spec: MetricSpec
    value: float
    workflow: str | None = None
    at: datetime | None = None
