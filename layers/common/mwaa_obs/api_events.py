"""The events the service would have sent, rebuilt from MWAA Serverless API answers.

The reconciler and backfill repair the stored state by feeding these through the ingest path: the same parsing,
the same idempotent writes, and so the same metrics and notices as if EventBridge had delivered them. What the API
cannot say (when a state was entered, except the start and end) is taken from the nearest time it does say.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from mwaa_obs.mwaa_api import RunAnswer, TaskAnswer
from mwaa_obs.states import (
    EVENT_SOURCE,
    RUN_DETAIL_BY_STATE,
    RUN_DETAIL_TYPE_PREFIX,
    TASK_DETAIL_BY_STATE,
    TASK_DETAIL_TYPE_PREFIX,
    RunState,
    TaskState,
)
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
    ended = answer.ended_at if current else None
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
    started, ended = (answer.started_at, answer.ended_at) if own else (None, None)
    # An earlier attempt ended before the current one began.
    at = (ended or started or answer.modified_at or now) if own else (answer.started_at or now)
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
    """A task instance's events as far as the API tells them: an Up For Retry for each attempt before the current
    one (a later attempt exists only because they failed), then the current attempt's state."""
    earlier = range(1, answer.attempt) if answer.attempt is not None else range(0)
    events = [
        task_event(workflow_arn, answer, now, state=TaskState.UP_FOR_RETRY, attempt=attempt) for attempt in earlier
    ]
    events.append(task_event(workflow_arn, answer, now))
    return [event for event in events if event is not None]
