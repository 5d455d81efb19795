"""The state vocabulary: EventBridge detail-types, the API's state names and their order.

A state's rank orders the transitions of one run or one task attempt. A transition only moves the stored
status forward (higher rank); all final states share the top rank, so the first final state recorded wins and a
conflicting later one is kept in the history without changing the outcome. UP_FOR_RETRY ends an attempt but is
not final: when the run is stopped or times out before the next try, the same attempt goes on to FAILED.
"""

from __future__ import annotations

from typing import Final

EVENT_SOURCE: Final = "aws.airflow-serverless"
RUN_DETAIL_TYPE_PREFIX: Final = "MWAA Serverless Workflow Run "
TASK_DETAIL_TYPE_PREFIX: Final = "MWAA Serverless Task "

# Detail-type suffix -> the API's RunState / task Status value.
RUN_STATE_BY_DETAIL: Final[dict[str, str]] = {
    "Started": "STARTING",
    "Queued": "QUEUED",
    "Running": "RUNNING",
    "Succeeded": "SUCCESS",
    "Failed": "FAILED",
    "Stopped": "STOPPED",
    "Timeout": "TIMEOUT",
}
TASK_STATE_BY_DETAIL: Final[dict[str, str]] = {
    "Scheduled": "SCHEDULED",
    "Queued": "QUEUED",
    "Running": "RUNNING",
    "Succeeded": "SUCCESS",
    "Failed": "FAILED",
    "Up For Retry": "UP_FOR_RETRY",
    "Upstream Failed": "UPSTREAM_FAILED",
    "Timeout": "TIMEOUT",
}

RUN_DETAIL_TYPES: Final = tuple(RUN_DETAIL_TYPE_PREFIX + suffix for suffix in RUN_STATE_BY_DETAIL)
TASK_DETAIL_TYPES: Final = tuple(TASK_DETAIL_TYPE_PREFIX + suffix for suffix in TASK_STATE_BY_DETAIL)
ALL_DETAIL_TYPES: Final = RUN_DETAIL_TYPES + TASK_DETAIL_TYPES

ENDED_RANK: Final = 4  # from here on, the run or attempt has stopped executing
TERMINAL_RANK: Final = 5
RUN_RANK: Final[dict[str, int]] = {
    "STARTING": 1,
    "QUEUED": 2,
    "RUNNING": 3,
    "SUCCESS": TERMINAL_RANK,
    "FAILED": TERMINAL_RANK,
    "TIMEOUT": TERMINAL_RANK,
    "STOPPED": TERMINAL_RANK,
}
TASK_RANK: Final[dict[str, int]] = {
    "SCHEDULED": 1,
    "QUEUED": 2,
    "RUNNING": 3,
    "UP_FOR_RETRY": ENDED_RANK,
    "SUCCESS": TERMINAL_RANK,
    "FAILED": TERMINAL_RANK,
    "UPSTREAM_FAILED": TERMINAL_RANK,
    "TIMEOUT": TERMINAL_RANK,
}

TERMINAL_RUN_STATES: Final = frozenset(state for state, rank in RUN_RANK.items() if rank == TERMINAL_RANK)
# Run outcomes that count as a failure of the workflow (and land in the failures index).
FAILED_RUN_STATES: Final = frozenset({"FAILED", "TIMEOUT"})
