"""The events the service would have sent, rebuilt from MWAA Serverless API answers.

The reconciler and backfill repair the stored state by feeding these through the ingest path: the same parsing,
the same idempotent writes, and so the same metrics and notices as if EventBridge had delivered them. What the API
cannot say (when a state was entered, except the start and end) is taken from the nearest time it does say.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Final

from mwaa_obs.states import (
    EVENT_SOURCE,
    RUN_DETAIL_TYPE_PREFIX,
    RUN_STATE_BY_DETAIL,
    TASK_DETAIL_TYPE_PREFIX,
    TASK_STATE_BY_DETAIL,
)

RUN_DETAIL_BY_STATE: Final = {state: suffix for suffix, state in RUN_STATE_BY_DETAIL.items()}
TASK_DETAIL_BY_STATE: Final = {state: suffix for suffix, state in TASK_STATE_BY_DETAIL.items()}


def run_event(
    workflow_arn: str, answer: dict[str, Any], now: datetime, *, state: str | None = None
) -> dict[str, Any] | None:
    """The event for the run's current state (a GetWorkflowRun answer), or for the earlier `state` given; None for
    a state no event names."""
    detail = answer.get("RunDetail", {})
    current = detail.get("RunState")
    state = state or current
    if state not in RUN_DETAIL_BY_STATE:
        return None
    started = detail.get("StartedOn")
    ended = detail.get("CompletedOn") if state == current else None
    at = ended or started or detail.get("ModifiedAt") or detail.get("CreatedAt") or now
    if state == "STARTING":
        at, started = detail.get("CreatedAt") or started or now, None
    fields = {
        "workflowArn": workflow_arn,
        "workflowVersion": answer.get("WorkflowVersion") or detail.get("WorkflowVersion"),
        "runId": answer.get("RunId") or detail.get("RunId"),
        "runType": answer.get("RunType") or detail.get("RunType"),
        "status": state,
        "startedAt": _iso(started),
        "endedAt": _iso(ended),
        "errorMessage": detail.get("ErrorMessage") if state == current else None,
    }
    return _event(RUN_DETAIL_TYPE_PREFIX + RUN_DETAIL_BY_STATE[state], workflow_arn, fields, at)


def task_event(
    workflow_arn: str,
    answer: dict[str, Any],
    now: datetime,
    *,
    state: str | None = None,
    attempt: int | None = None,
) -> dict[str, Any] | None:
    """The event for a task instance's state (a GetTaskInstance answer); `state` and `attempt` override the
    answer's, for an earlier attempt that the API no longer describes. None for a state no event names."""
    state = state or answer.get("Status")
    if state not in TASK_DETAIL_BY_STATE:
        return None
    own = attempt is None or attempt == answer.get("AttemptNumber")
    started, ended = (answer.get("StartedAt"), answer.get("EndedAt")) if own else (None, None)
    # An earlier attempt ended before the current one began.
    at = (ended or started or answer.get("ModifiedAt") or now) if own else (answer.get("StartedAt") or now)
    fields = {
        "workflowArn": workflow_arn,
        "workflowVersion": answer.get("WorkflowVersion"),
        "runId": answer.get("RunId"),
        "taskId": answer.get("TaskId"),
        "taskInstanceId": answer.get("TaskInstanceId"),
        "attemptNumber": answer.get("AttemptNumber") if own else attempt,
        "operatorName": answer.get("OperatorName"),
        "status": state,
        "startedAt": _iso(started),
        "endedAt": _iso(ended),
        "errorMessage": answer.get("ErrorMessage") if own else None,
        "logStream": answer.get("LogStream") if own else None,
    }
    return _event(TASK_DETAIL_TYPE_PREFIX + TASK_DETAIL_BY_STATE[state], workflow_arn, fields, at)


def _event(detail_type: str, workflow_arn: str, fields: dict[str, Any], at: Any) -> dict[str, Any]:
    detail = {key: value for key, value in fields.items() if value is not None}
    identity = "|".join(str(detail.get(key, "")) for key in ("runId", "taskInstanceId", "attemptNumber", "status"))
    return {
        "version": "0",
        "id": "api-" + hashlib.sha256(identity.encode()).hexdigest()[:32],
        "detail-type": detail_type,
        "source": EVENT_SOURCE,
        "time": _iso(at),
        "resources": [workflow_arn],
        "detail": detail,
    }


def _iso(at: Any) -> str | None:
    if at is None:
        return None
    if isinstance(at, int | float):
        at = datetime.fromtimestamp(at, UTC)
    moment: datetime = at
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def task_history(workflow_arn: str, answer: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """A task instance's events as far as the API tells them: an Up For Retry for each attempt before the current
    one (a later attempt exists only because they failed), then the current attempt's state."""
    current = answer.get("AttemptNumber")
    earlier = range(1, current) if isinstance(current, int) else range(0)
    events = [task_event(workflow_arn, answer, now, state="UP_FOR_RETRY", attempt=attempt) for attempt in earlier]
    events.append(task_event(workflow_arn, answer, now))
    return [event for event in events if event is not None]
