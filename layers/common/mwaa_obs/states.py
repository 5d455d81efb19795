"""The state vocabulary: EventBridge detail-types, the API's state names, their order and the named sets of them.

Every state name the pipeline uses is written here once (tests/unit/test_vocabulary.py fails on a bare state
string anywhere else in the layer). RunState and TaskState are StrEnums, so they compare equal to the plain
strings the table and the API hold.

A state's rank orders the transitions of one run or one task attempt. A transition only moves the stored
status forward (higher rank); all final states share the top rank, so the first final state recorded wins and a
conflicting later one is kept in the history without changing the outcome. UP_FOR_RETRY ends an attempt but is
not final: when the run is stopped or times out before the next try, the same attempt goes on to FAILED.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

EVENT_SOURCE: Final = "aws.airflow-serverless"
RUN_DETAIL_TYPE_PREFIX: Final = "MWAA Serverless Workflow Run "
TASK_DETAIL_TYPE_PREFIX: Final = "MWAA Serverless Task "


class RunState(StrEnum):
    """A workflow run's RunState, as the API names it (the ones an event can announce)."""

    STARTING = "STARTING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    STOPPED = "STOPPED"


class TaskState(StrEnum):
    """A task instance's Status, as the API names it (the ones an event can announce)."""

    SCHEDULED = "SCHEDULED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    UP_FOR_RETRY = "UP_FOR_RETRY"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    TIMEOUT = "TIMEOUT"


class RunType(StrEnum):
    """How a run was started (GetWorkflowRun RunType)."""

    ON_DEMAND = "ON_DEMAND"
    SCHEDULED = "SCHEDULED"


# Detail-type suffix -> the state it announces.
RUN_STATE_BY_DETAIL: Final[dict[str, RunState]] = {
    "Started": RunState.STARTING,
    "Queued": RunState.QUEUED,
    "Running": RunState.RUNNING,
    "Succeeded": RunState.SUCCESS,
    "Failed": RunState.FAILED,
    "Stopped": RunState.STOPPED,
    "Timeout": RunState.TIMEOUT,
}
TASK_STATE_BY_DETAIL: Final[dict[str, TaskState]] = {
    "Scheduled": TaskState.SCHEDULED,
    "Queued": TaskState.QUEUED,
    "Running": TaskState.RUNNING,
    "Succeeded": TaskState.SUCCESS,
    "Failed": TaskState.FAILED,
    "Up For Retry": TaskState.UP_FOR_RETRY,
    "Upstream Failed": TaskState.UPSTREAM_FAILED,
    "Timeout": TaskState.TIMEOUT,
}
RUN_DETAIL_BY_STATE: Final = {state: suffix for suffix, state in RUN_STATE_BY_DETAIL.items()}
TASK_DETAIL_BY_STATE: Final = {state: suffix for suffix, state in TASK_STATE_BY_DETAIL.items()}

RUN_DETAIL_TYPES: Final = tuple(RUN_DETAIL_TYPE_PREFIX + suffix for suffix in RUN_STATE_BY_DETAIL)
TASK_DETAIL_TYPES: Final = tuple(TASK_DETAIL_TYPE_PREFIX + suffix for suffix in TASK_STATE_BY_DETAIL)
ALL_DETAIL_TYPES: Final = RUN_DETAIL_TYPES + TASK_DETAIL_TYPES

ENDED_RANK: Final = 4  # from here on, the run or attempt has stopped executing
TERMINAL_RANK: Final = 5
RUN_RANK: Final[dict[str, int]] = {
    RunState.STARTING: 1,
    RunState.QUEUED: 2,
    RunState.RUNNING: 3,
    RunState.SUCCESS: TERMINAL_RANK,
    RunState.FAILED: TERMINAL_RANK,
    RunState.TIMEOUT: TERMINAL_RANK,
    RunState.STOPPED: TERMINAL_RANK,
}
TASK_RANK: Final[dict[str, int]] = {
    TaskState.SCHEDULED: 1,
    TaskState.QUEUED: 2,
    TaskState.RUNNING: 3,
    TaskState.UP_FOR_RETRY: ENDED_RANK,
    TaskState.SUCCESS: TERMINAL_RANK,
    TaskState.FAILED: TERMINAL_RANK,
    TaskState.UPSTREAM_FAILED: TERMINAL_RANK,
    TaskState.TIMEOUT: TERMINAL_RANK,
}

TERMINAL_RUN_STATES: Final = frozenset(state for state, rank in RUN_RANK.items() if rank == TERMINAL_RANK)
# Run outcomes that count as a failure of the workflow (and land in the failures index).
FAILED_RUN_STATES: Final = frozenset({RunState.FAILED, RunState.TIMEOUT})
# Task attempts that failed the run: named in its failure message.
FAILED_TASK_STATES: Final = frozenset({TaskState.FAILED, TaskState.TIMEOUT})
# Task attempts that end with an error to tell (a failed try that will be retried included).
TASK_ERROR_STATES: Final = FAILED_TASK_STATES | {TaskState.UP_FOR_RETRY}
# Task states reached without running: no start, no end, no log stream.
TASK_NEVER_RAN_STATES: Final = frozenset({TaskState.UPSTREAM_FAILED})
# How a message says that a run ended badly.
RUN_OUTCOME_WORDS: Final[dict[str, str]] = {
    RunState.FAILED: "failed",
    RunState.TIMEOUT: "timed out",
    RunState.STOPPED: "was stopped",
}


def seen_attribute(state: str) -> str:
    """The item attribute that holds when `state` was first seen (the transition history)."""
    return f"seen_{state.lower()}"
