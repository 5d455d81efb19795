"""The events the service would have sent, rebuilt from MWAA Serverless API answers.

The reconciler and backfill repair the stored state by feeding these through the ingest path: the same parsing,
the same idempotent writes, and so the same metrics and notices as if EventBridge had delivered them. What the API
cannot say (when a state was entered, except the start and end) is taken from the nearest time it does say. The API
describes a task instance's latest attempt only: nothing is made up for the earlier ones (the reconciler closes
those the table holds as unfinished, `followed_attempt_event`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from mwaa_obs.mwaa_api import RunAnswer, TaskAnswer
from mwaa_obs.states import (
    CLOSED_WITH_RUN_STATE,
    ENDED_RANK,
    EVENT_SOURCE,
    FOLLOWED_ATTEMPT_STATE,
    RUN_DETAIL_BY_STATE,
    RUN_DETAIL_TYPE_PREFIX,
    RUN_RANK,
    TASK_DETAIL_BY_STATE,
    TASK_DETAIL_TYPE_PREFIX,
    TASK_RANK,
    RunState,
    TaskState,
)
from mwaa_obs.store.schema import TaskAttemptItem
from mwaa_obs.times import event_time


def run_event(
    workflow_arn: str, answer: RunAnswer, now: datetime, *, state: str | None = None
) -> dict[str, Any] | None:
    """The event for the run's current state, or for the earlier `state` given; None for a state no event names."""
    state = state or answer.state
    if state not in RUN_DETAIL_BY_STATE:
        return None
    current = state == answer.state
    started = answer.started_at
    # An end only for a state that ends the run (a STOPPING run is still going).
    ended = answer.ended_at if current and RUN_RANK[state] >= ENDED_RANK else None
    at = ended or started or answer.modified_at or answer.created_at or now
    if state == RunState.STARTING:
        at, started = answer.created_at or started or now, None
    fields = {
        "workflowArn": workflow_arn,
        "workflowVersion": answer.workflow_version,
        "runId": answer.run_id,
        "runType": answer.run_type,
        "status": state,
        "startedAt": started,
        "endedAt": ended,
        "errorMessage": answer.error_message if current else None,
    }
    return _event(RUN_DETAIL_TYPE_PREFIX + RUN_DETAIL_BY_STATE[RunState(state)], workflow_arn, fields, at)


def task_event(
    workflow_arn: str,
    answer: TaskAnswer,
    now: datetime,
    *,
    state: str | None = None,
    attempt: int | None = None,
) -> dict[str, Any] | None:
    """The event for a task instance's state; `state` and `attempt` override the answer's, for an earlier attempt
    that the API no longer describes. None for a state no event names."""
    state = state or answer.status
    if state not in TASK_DETAIL_BY_STATE:
        return None
    own = attempt is None or attempt == answer.attempt
    # An end only for a state that ends the attempt: Airflow stamps one on each deferral or reschedule too.
    ends = TASK_RANK[state] >= ENDED_RANK
    started, ended = (answer.started_at, answer.ended_at if ends else None) if own else (None, None)
    if own:  # an end the API does not give is the attempt's last change
        at = ended or (answer.modified_at if ends else None) or started or answer.modified_at or now
    else:  # an earlier attempt ended before the current one began
        at = answer.started_at or now
    fields = {
        "workflowArn": workflow_arn,
        "workflowVersion": answer.workflow_version,
        "runId": answer.run_id,
        "taskId": answer.task_id,
        "taskInstanceId": answer.task_instance_id,
        "attemptNumber": answer.attempt if own else attempt,
        "operatorName": answer.operator,
        "status": state,
        "startedAt": started,
        "endedAt": ended,
        "errorMessage": answer.error_message if own else None,
        "logStream": answer.log_stream if own else None,
    }
    return _event(TASK_DETAIL_TYPE_PREFIX + TASK_DETAIL_BY_STATE[TaskState(state)], workflow_arn, fields, at)


def _event(detail_type: str, workflow_arn: str, fields: dict[str, Any], at: datetime) -> dict[str, Any]:
    detail = {
        key: event_time(value) if isinstance(value, datetime) else value
        for key, value in fields.items()
        if value is not None
    }
    identity = "|".join(str(detail.get(key, "")) for key in ("runId", "taskInstanceId", "attemptNumber", "status"))
    return {
        "version": "0",
        "id": "api-" + hashlib.sha256(identity.encode()).hexdigest()[:32],
        "detail-type": detail_type,
        "source": EVENT_SOURCE,
        "time": event_time(at),
        "resources": [workflow_arn],
        "detail": detail,
    }


def task_history(workflow_arn: str, answer: TaskAnswer, now: datetime) -> list[dict[str, Any]]:
    """A task instance's events as far as the API tells them: its latest attempt's state (none before it is
    scheduled). Earlier attempts are not made up: a later attempt number does not say how they ended (a failure, a
    restart) nor that a reschedule did not count one."""
    event = task_event(workflow_arn, answer, now)
    return [event] if event is not None else []


def followed_attempt_event(workflow_arn: str, answer: TaskAnswer, attempt: int, now: datetime) -> dict[str, Any]:
    """An earlier attempt that the table holds as unfinished while the API describes a later one: it ended, as
    Airflow records a try that another follows (FOLLOWED_ATTEMPT_STATE), before the later one began."""
    event = task_event(workflow_arn, answer, now, state=FOLLOWED_ATTEMPT_STATE, attempt=attempt)
    assert event is not None  # every ranked state has a detail-type
    return event


def closing_event(workflow_arn: str, item: TaskAttemptItem, at: datetime) -> dict[str, Any]:
    """An attempt its ended run left unfinished, closed at the run's end (CLOSED_WITH_RUN_STATE)."""
    # Named so that ingest keys it as the item is keyed (mwaa_obs.events): by its task id, else (an item only
    # instance ids named, or one stored before attempts were keyed by task id) by its instance id alone.
    by_task = item.task_id is not None and item.task_key == item.task_id
    fields = {
        "workflowArn": workflow_arn,
        "runId": item.run_id,
        "taskId": item.task_id if by_task else None,
        "taskInstanceId": item.task_instance_id if by_task else item.task_key,
        "attemptNumber": item.attempt,
        "status": CLOSED_WITH_RUN_STATE,
        "endedAt": at,
    }
    detail_type = TASK_DETAIL_TYPE_PREFIX + TASK_DETAIL_BY_STATE[CLOSED_WITH_RUN_STATE]
    return _event(detail_type, workflow_arn, fields, at)
