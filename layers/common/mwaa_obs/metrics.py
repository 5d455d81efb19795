"""The metric catalog: every custom metric the pipeline emits, its unit and its dimensions.

Alarms, dashboards and docs/METRICS.md are derived from this one place, so none of them can refer to a metric
that nobody emits. Every metric has a fleet-wide rollup (no dimensions); its scope says whether a workflow's own
series (dimension WorkflowName) carries it too: always for what is abnormal (failures, a retry storm, a run too slow,
a missed schedule), only for the workflows whose settings ask for full metrics for what every healthy run owes.
CloudWatch bills a custom metric for each hour it receives data, so a healthy workflow's own series cost nothing.
There is no per-task dimension: cardinality must not grow with task count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from mwaa_obs.states import RunState, TaskState

WORKFLOW_DIMENSION: Final = "WorkflowName"


class Scope(StrEnum):
    """Which series a metric is published under, besides the fleet rollup every metric has."""

    FLEET = "fleet only"  # no per-workflow series
    EXCEPTION = "exception"  # per workflow always: only something abnormal emits it, so a healthy workflow pays nothing
    FULL = "full"  # per workflow only for a workflow with full metrics (settings); every healthy run owes it


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    unit: str
    scope: Scope
    meaning: str

    @property
    def per_workflow(self) -> bool:
        """Whether a workflow's own series can carry it (always, or with full metrics)."""
        return self.scope is not Scope.FLEET


RUN_STARTED: Final = MetricSpec("RunStarted", "Count", Scope.FULL, "A run's Started transition was first recorded.")
RUN_SUCCEEDED: Final = MetricSpec("RunSucceeded", "Count", Scope.FULL, "A run ended in SUCCESS.")
RUN_FAILED: Final = MetricSpec("RunFailed", "Count", Scope.EXCEPTION, "A run ended in FAILED.")
RUN_TIMED_OUT: Final = MetricSpec("RunTimedOut", "Count", Scope.EXCEPTION, "A run ended in TIMEOUT.")
RUN_STOPPED: Final = MetricSpec("RunStopped", "Count", Scope.EXCEPTION, "A run ended in STOPPED.")
RUN_DURATION: Final = MetricSpec(
    "RunDuration", "Seconds", Scope.FULL, "Run start (RUNNING) to its end, once both are known."
)
RUN_QUEUE_DELAY: Final = MetricSpec(
    "RunQueueDelay", "Seconds", Scope.FULL, "Run QUEUED to RUNNING, once both are known."
)
RUN_TOO_SLOW: Final = MetricSpec(
    "RunTooSlow",
    "Count",
    Scope.EXCEPTION,
    "A run ended longer than its workflow's threshold (settings duration_threshold_seconds, else "
    "DurationAlarmSeconds), judged when its duration became known.",
)
TASK_SUCCEEDED: Final = MetricSpec("TaskSucceeded", "Count", Scope.FULL, "A task attempt ended in SUCCESS.")
TASK_FAILED: Final = MetricSpec(
    "TaskFailed", "Count", Scope.EXCEPTION, "A task attempt ended in FAILED (no retry left)."
)
TASK_UP_FOR_RETRY: Final = MetricSpec(
    "TaskUpForRetry", "Count", Scope.FULL, "A task attempt failed and will be retried."
)
RETRY_STORM: Final = MetricSpec(
    "RetryStorm",
    "Count",
    Scope.EXCEPTION,
    "1 when a workflow's task retries in one UTC clock hour first pass its threshold (settings retry_threshold, "
    "else RetryStormThreshold); judged at ingest, so a workflow writes it only in a storm.",
)
TASK_UPSTREAM_FAILED: Final = MetricSpec(
    "TaskUpstreamFailed", "Count", Scope.EXCEPTION, "A task was skipped: an upstream failed."
)
TASK_TIMED_OUT: Final = MetricSpec("TaskTimedOut", "Count", Scope.EXCEPTION, "A task attempt ended in TIMEOUT.")
TASK_CANCELLED: Final = MetricSpec(
    "TaskCancelled",
    "Count",
    Scope.EXCEPTION,
    "A task attempt ended in CANCELLED (its run was stopped, or ended before it).",
)
TASK_REMOVED: Final = MetricSpec(
    "TaskRemoved", "Count", Scope.EXCEPTION, "A task ended in REMOVED: an update took it out."
)
TASK_DURATION: Final = MetricSpec(
    "TaskDuration", "Seconds", Scope.FULL, "Task attempt start to end, once both are known."
)
INVALID_EVENTS: Final = MetricSpec(
    "InvalidEvents", "Count", Scope.FLEET, "An event was rejected as bad input (fleet only)."
)
UNKNOWN_EVENT_TYPES: Final = MetricSpec(
    "UnknownEventTypes",
    "Count",
    Scope.FLEET,
    "An event of a detail-type this version does not know; sampled (fleet only).",
)
EVENTS_DEAD_LETTERED: Final = MetricSpec(
    "EventsDeadLettered",
    "Count",
    Scope.FLEET,
    "An event failed its last attempt to be stored: to the DLQ (fleet only).",
)
NOTIFICATIONS_SENT: Final = MetricSpec(
    "NotificationsSent",
    "Count",
    Scope.EXCEPTION,
    "A failure, recovery or retry message reached one channel (email or Slack).",
)
ALERTS_GROUPED: Final = MetricSpec(
    "AlertsGrouped",
    "Count",
    Scope.EXCEPTION,
    "A failed run was not alerted on its own: grouped into the incident's next message.",
)
NOTIFICATION_FAILURES: Final = MetricSpec(
    "NotificationFailures",
    "Count",
    Scope.FLEET,
    "A channel refused or missed a message; the notice is retried (fleet only).",
)
NOTIFICATIONS_DEAD_LETTERED: Final = MetricSpec(
    "NotificationsDeadLettered",
    "Count",
    Scope.FLEET,
    "A notice failed its last attempt and goes to the DLQ (fleet only).",
)
INVALID_NOTICES: Final = MetricSpec(
    "InvalidNotices", "Count", Scope.FLEET, "A notice named no stored run or was malformed; dropped (fleet only)."
)
SCHEDULE_OVERDUE: Final = MetricSpec(
    "ScheduleOverdue",
    "Count",
    Scope.EXCEPTION,
    "1, every 15 min, while a scheduled workflow has had no successful run by its scheduled time plus grace; "
    "nothing while it is on time (no cost when all is well).",
)
INVALID_SETTINGS: Final = MetricSpec(
    "InvalidSettings", "Count", Scope.FLEET, "The settings document was rejected; the previous one stays (fleet only)."
)
ENRICHMENT_FAILURES: Final = MetricSpec(
    "EnrichmentFailures",
    "Count",
    Scope.FLEET,
    "The API could not fill what an item lacked; the alert used what was stored.",
)
RUNS_REPAIRED: Final = MetricSpec(
    "RunsRepaired", "Count", Scope.FLEET, "The reconciler found a run's events missing and repaired it from the API."
)
RUNS_DISCOVERED: Final = MetricSpec(
    "RunsDiscovered",
    "Count",
    Scope.FLEET,
    "The reconciler found a run in the API that no event had brought, and imported it (fleet only).",
)
EVENTS_STOPPED: Final = MetricSpec(
    "EventsStopped",
    "Count",
    Scope.FLEET,
    "1 when, over EventsStoppedHours, the API showed runs and no event brought any of them; sent only then.",
)
UNKNOWN_STATES: Final = MetricSpec(
    "UnknownStates",
    "Count",
    Scope.FLEET,
    "The API answered a run or task state this version does not know; sampled, not stored (fleet only).",
)
TASK_IDS_DISAGREE: Final = MetricSpec(
    "TaskIdsDisagree",
    "Count",
    Scope.FLEET,
    "Two events of one task attempt named different task instance ids: one item kept, the first id (fleet only).",
)
ATTEMPTS_CLOSED: Final = MetricSpec(
    "AttemptsClosed",
    "Count",
    Scope.FLEET,
    "A task attempt was still unfinished, for the API too, a settle time after its run ended: closed as CANCELLED.",
)
ITEMS_SKIPPED: Final = MetricSpec(
    "ItemsSkipped",
    "Count",
    Scope.FLEET,
    "A reconcile, discovery or provision pass skipped one workflow or run it could not handle; the others went on.",
)
PLACES_UNREACHABLE: Final = MetricSpec(
    "PlacesUnreachable",
    "Count",
    Scope.FLEET,
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
    RUN_TOO_SLOW,
    TASK_SUCCEEDED,
    TASK_FAILED,
    TASK_UP_FOR_RETRY,
    RETRY_STORM,
    TASK_UPSTREAM_FAILED,
    TASK_TIMED_OUT,
    TASK_CANCELLED,
    TASK_REMOVED,
    TASK_DURATION,
    INVALID_EVENTS,
    UNKNOWN_EVENT_TYPES,
    TASK_IDS_DISAGREE,
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
    """The dimension sets a metric can be published under: the fleet rollup, and per workflow where it applies."""
    return ((), (WORKFLOW_DIMENSION,)) if spec.per_workflow else ((),)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value to publish; workflow is None for fleet-only metrics; at is when it happened (None: when published)."""

    spec: MetricSpec
    value: float
    workflow: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SeriesPolicy:
    """What one workflow's own series carry, from its settings (mwaa_obs.settings.series_policy)."""

    full: bool = False  # also what every healthy run owes (Scope.FULL), for a team's own alarms or anomaly detection
    too_slow_seconds: float | None = None  # a run longer than this owes RunTooSlow; None: none does
    retry_threshold: int | None = None  # more task retries than this in a clock hour owe RetryStorm; None: none do


# A workflow's name -> what its own series carry (mwaa_obs.settings.SeriesPolicies, from the settings document).
type Policies = Callable[[str], SeriesPolicy]


def scoped(points: Iterable[MetricPoint], policy: SeriesPolicy) -> list[MetricPoint]:
    """The points as published for a workflow of this policy: a healthy run's points feed the fleet rollup only,
    unless the workflow has full metrics."""
    return [
        replace(point, workflow=None) if point.spec.scope is Scope.FULL and not policy.full else point
        for point in points
    ]
