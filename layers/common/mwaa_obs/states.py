"""The state vocabulary: EventBridge detail-types, the API's state names, their order and the named sets of them.

Every state name the pipeline uses is written here once (tests/unit/test_vocabulary.py fails on a bare state
string anywhere else in the layer, and on a state of botocore's model that RunState or TaskState lacks). RunState
and TaskState are StrEnums, so they compare equal to the plain strings the table and the API hold.

A state's rank orders the transitions of one run or one task attempt. A transition only moves the stored
status forward (higher rank); all final states share the top rank, so the first final state recorded wins and a
conflicting later one is kept in the history without changing the outcome. UP_FOR_RETRY ends an attempt but is
not final: when the run is stopped or times out before the next try, the same attempt goes on to FAILED.

Ranks are stored with each item (status_rank). The states added after the first version (STOPPING, the waiting
and restarting task states) sit between the old ranks (3.25, 3.5, 3.75) rather than renumbering them, so that
items written by an earlier version still compare correctly; binary fractions, exact in DynamoDB and in floats.

A waiting attempt (DEFERRED, UP_FOR_RESCHEDULE) resumes as the same attempt (Airflow keeps its try number): its
later SCHEDULED, QUEUED and RUNNING are recorded in its history without moving it back, so it shows as waiting
until it ends, and a resume is never a retry (docs/EVENTS.md, "States").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

EVENT_SOURCE: Final = "aws.airflow-serverless"
RUN_DETAIL_TYPE_PREFIX: Final = "MWAA Serverless Workflow Run "
TASK_DETAIL_TYPE_PREFIX: Final = "MWAA Serverless Task "


class RunState(StrEnum):
    """A workflow run's state, as the API names it (WorkflowRunStatus in botocore's model, every value)."""

    STARTING = "STARTING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    STOPPED = "STOPPED"


class TaskState(StrEnum):
    """A task instance's status, as the API names it (TaskInstanceStatus in botocore's model, every value)."""

    NONE = "NONE"  # not scheduled yet: nothing to store (no rank, no event)
    SCHEDULED = "SCHEDULED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    UP_FOR_RESCHEDULE = "UP_FOR_RESCHEDULE"  # a sensor in reschedule mode between two pokes
    DEFERRED = "DEFERRED"  # handed to the triggerer; resumes as the same attempt
    RESTARTING = "RESTARTING"  # cleared while running: this attempt ends, another follows
    UP_FOR_RETRY = "UP_FOR_RETRY"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"  # ended by its run's stop or end (assumed: docs/EVENTS.md)
    REMOVED = "REMOVED"  # no longer in the workflow (an update removed it)


class RunType(StrEnum):
    """How a run was started (GetWorkflowRun RunType)."""

    ON_DEMAND = "ON_DEMAND"
    SCHEDULED = "SCHEDULED"


# Detail-type suffix -> the state it announces. The ones AWS does not document (UNDOCUMENTED_DETAIL_SUFFIXES) are
# the names the service would give those states by its own pattern: accepted if it ever sends them, and what the
# reconciler's rebuilt events are called (docs/EVENTS.md).
RUN_STATE_BY_DETAIL: Final[dict[str, RunState]] = {
    "Started": RunState.STARTING,
    "Queued": RunState.QUEUED,
    "Running": RunState.RUNNING,
    "Stopping": RunState.STOPPING,
    "Succeeded": RunState.SUCCESS,
    "Failed": RunState.FAILED,
    "Stopped": RunState.STOPPED,
    "Timeout": RunState.TIMEOUT,
}
TASK_STATE_BY_DETAIL: Final[dict[str, TaskState]] = {
    "Scheduled": TaskState.SCHEDULED,
    "Queued": TaskState.QUEUED,
    "Running": TaskState.RUNNING,
    "Up For Reschedule": TaskState.UP_FOR_RESCHEDULE,
    "Deferred": TaskState.DEFERRED,
    "Restarting": TaskState.RESTARTING,
    "Succeeded": TaskState.SUCCESS,
    "Failed": TaskState.FAILED,
    "Up For Retry": TaskState.UP_FOR_RETRY,
    "Upstream Failed": TaskState.UPSTREAM_FAILED,
    "Timeout": TaskState.TIMEOUT,
    "Cancelled": TaskState.CANCELLED,
    "Removed": TaskState.REMOVED,
}
UNDOCUMENTED_DETAIL_SUFFIXES: Final = frozenset(
    {"Stopping", "Up For Reschedule", "Deferred", "Restarting", "Cancelled", "Removed"}
)
RUN_DETAIL_BY_STATE: Final = {state: suffix for suffix, state in RUN_STATE_BY_DETAIL.items()}
TASK_DETAIL_BY_STATE: Final = {state: suffix for suffix, state in TASK_STATE_BY_DETAIL.items()}

RUN_DETAIL_TYPES: Final = tuple(RUN_DETAIL_TYPE_PREFIX + suffix for suffix in RUN_STATE_BY_DETAIL)
TASK_DETAIL_TYPES: Final = tuple(TASK_DETAIL_TYPE_PREFIX + suffix for suffix in TASK_STATE_BY_DETAIL)
ALL_DETAIL_TYPES: Final = RUN_DETAIL_TYPES + TASK_DETAIL_TYPES  # every detail-type ingest stores
# The 15 of AWS's page (EventBridge user guide, "Amazon MWAA Serverless events").
DOCUMENTED_DETAIL_TYPES: Final = tuple(
    detail_type
    for detail_type in ALL_DETAIL_TYPES
    if detail_type.removeprefix(RUN_DETAIL_TYPE_PREFIX).removeprefix(TASK_DETAIL_TYPE_PREFIX)
    not in UNDOCUMENTED_DETAIL_SUFFIXES
)

ENDED_RANK: Final = 4  # from here on, the run or attempt has stopped executing
TERMINAL_RANK: Final = 5
RUN_RANK: Final[dict[str, float]] = {
    RunState.STARTING: 1,
    RunState.QUEUED: 2,
    RunState.RUNNING: 3,
    RunState.STOPPING: 3.5,
    RunState.SUCCESS: TERMINAL_RANK,
    RunState.FAILED: TERMINAL_RANK,
    RunState.TIMEOUT: TERMINAL_RANK,
    RunState.STOPPED: TERMINAL_RANK,
}
TASK_RANK: Final[dict[str, float]] = {
    TaskState.SCHEDULED: 1,
    TaskState.QUEUED: 2,
    TaskState.RUNNING: 3,
    TaskState.UP_FOR_RESCHEDULE: 3.25,
    TaskState.DEFERRED: 3.5,
    TaskState.RESTARTING: 3.75,
    TaskState.UP_FOR_RETRY: ENDED_RANK,
    TaskState.SUCCESS: TERMINAL_RANK,
    TaskState.FAILED: TERMINAL_RANK,
    TaskState.UPSTREAM_FAILED: TERMINAL_RANK,
    TaskState.TIMEOUT: TERMINAL_RANK,
    TaskState.CANCELLED: TERMINAL_RANK,
    TaskState.REMOVED: TERMINAL_RANK,
}

TERMINAL_RUN_STATES: Final = frozenset(state for state, rank in RUN_RANK.items() if rank == TERMINAL_RANK)
TERMINAL_TASK_STATES: Final = frozenset(state for state, rank in TASK_RANK.items() if rank == TERMINAL_RANK)
# Run outcomes that count as a failure of the workflow (and land in the failures index).
FAILED_RUN_STATES: Final = frozenset({RunState.FAILED, RunState.TIMEOUT})
# Task attempts that failed the run: named in its failure message.
FAILED_TASK_STATES: Final = frozenset({TaskState.FAILED, TaskState.TIMEOUT})
# Task attempts that end with an error to tell (a failed try that will be retried included).
TASK_ERROR_STATES: Final = FAILED_TASK_STATES | {TaskState.UP_FOR_RETRY}
# Task states reached without running: no start, no end, no log stream.
TASK_NEVER_RAN_STATES: Final = frozenset({TaskState.UPSTREAM_FAILED})
# An attempt that another attempt of its task followed ended in this state: Airflow's word for a try that another
# follows (a failure with retries left, or a restart).
FOLLOWED_ATTEMPT_STATE: Final = TaskState.UP_FOR_RETRY
# What the reconciler closes an attempt as when its run has ended and the API still gives it no final state
# (assumed: what a stopped run's unfinished tasks become; docs/EVENTS.md).
CLOSED_WITH_RUN_STATE: Final = TaskState.CANCELLED
# Task attempts that ended without failing the run, counted in its message (the words after the count).
TASK_CUT_SHORT_WORDS: Final[dict[str, str]] = {
    TaskState.UPSTREAM_FAILED: "skipped (upstream failed)",
    TaskState.CANCELLED: "cancelled",
    TaskState.REMOVED: "removed from the workflow",
}
# How a message says that a run ended badly.
RUN_OUTCOME_WORDS: Final[dict[str, str]] = {
    RunState.FAILED: "failed",
    RunState.TIMEOUT: "timed out",
    RunState.STOPPED: "was stopped",
}


def seen_attribute(state: str) -> str:
    """The item attribute that holds when `state` was first seen (the transition history)."""
    return f"seen_{state.lower()}"
