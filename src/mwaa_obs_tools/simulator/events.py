"""What the simulated service publishes: an EventBridge event for every state change of a run or a task attempt
that has a detail-type (the 15 of https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-airflow-serverless.html).

A state change and its event are one step (`Publisher.run_state`, `Publisher.task_state`), so that nothing changes
unannounced. The states the API reports but no detail-type announces change silently, as on the service: a run's
STOPPING; a task's CANCELLED, REMOVED, DEFERRED, UP_FOR_RESCHEDULE, RESTARTING (and the simulator's SKIPPED).
Events wait until `flush`, then go to the sink in batches of PutEvents' size.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from mwaa_obs_tools.simulator import cloudtrail
from mwaa_obs_tools.simulator.model import FINAL_TASK, TERMINAL_RUN, Run, TaskInstance
from mwaa_obs_tools.simulator.scheduling import Clock

EVENT_SOURCE = "aws.airflow-serverless"
RUN_DETAIL_TYPE = {
    "STARTING": "Started",
    "QUEUED": "Queued",
    "RUNNING": "Running",
    "SUCCESS": "Succeeded",
    "FAILED": "Failed",
    "STOPPED": "Stopped",
    "TIMEOUT": "Timeout",
}
TASK_DETAIL_TYPE = {
    "SCHEDULED": "Scheduled",
    "QUEUED": "Queued",
    "RUNNING": "Running",
    "SUCCESS": "Succeeded",
    "FAILED": "Failed",
    "UP_FOR_RETRY": "Up For Retry",
    "UPSTREAM_FAILED": "Upstream Failed",
    "TIMEOUT": "Timeout",
}
MAX_EVENTS_PER_PUT = 10


class Sink(Protocol):
    """Where the simulated service's side effects go: EventBridge events and CloudWatch Logs lines."""

    def publish(self, entries: list[dict[str, Any]]) -> None: ...

    def log(self, group: str, stream: str, at: datetime, message: str) -> None: ...


class Publisher:
    def __init__(self, sink: Sink, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock
        self._events: list[dict[str, Any]] = []

    def flush(self) -> None:
        while self._events:
            batch, self._events = self._events[:MAX_EVENTS_PER_PUT], self._events[MAX_EVENTS_PER_PUT:]
            self._sink.publish(batch)

    def run_state(self, run: Run, state: str) -> None:
        """Move the run to `state` (an ended run stays as it ended) and announce it, if a detail-type does."""
        if run.state in TERMINAL_RUN:
            return
        run.state, run.modified_at = state, self._clock.now
        if state not in RUN_DETAIL_TYPE:
            return
        detail: dict[str, Any] = {
            "workflowArn": run.workflow.arn,
            "workflowVersion": run.version_id,
            "runId": run.run_id,
            "runType": run.run_type,
            "status": state,
        }
        _add_times(detail, run.started_at, run.ended_at if state in TERMINAL_RUN else None)
        if run.error_message and state in TERMINAL_RUN:
            detail["errorMessage"] = run.error_message
        self._emit(f"MWAA Serverless Workflow Run {RUN_DETAIL_TYPE[state]}", detail, run.workflow.arn)

    def task_state(self, run: Run, instance: TaskInstance, state: str, *, ended: bool = False) -> None:
        """Move the task instance's attempt to `state` (`ended`: it ends now) and announce it, if a detail-type
        does."""
        instance.status, instance.modified_at = state, self._clock.now
        if ended:
            instance.ended_at = self._clock.now
        if state not in TASK_DETAIL_TYPE:
            return
        detail: dict[str, Any] = {
            "workflowArn": run.workflow.arn,
            "workflowVersion": run.version_id,
            "runId": run.run_id,
            "taskId": instance.task.task_id,
            "taskInstanceId": instance.task_instance_id,
            "attemptNumber": instance.attempt,
            "operatorName": instance.task.operator_name,
            "status": state,
        }
        if instance.log_stream:
            detail["logStream"] = instance.log_stream
        _add_times(detail, instance.started_at, instance.ended_at if state in FINAL_TASK | {"UP_FOR_RETRY"} else None)
        if instance.error_message and state in {"FAILED", "TIMEOUT", "UP_FOR_RETRY"}:
            detail["errorMessage"] = instance.error_message
        self._emit(f"MWAA Serverless Task {TASK_DETAIL_TYPE[state]}", detail, run.workflow.arn)

    def api_call(self, detail: dict[str, Any], arn: str) -> None:
        """CloudTrail's record of a management call (simulator.cloudtrail), as EventBridge delivers it."""
        self._emit(cloudtrail.DETAIL_TYPE, detail, arn)

    def _emit(self, detail_type: str, detail: dict[str, Any], arn: str) -> None:
        self._events.append(
            {
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "Resources": [arn],
                "Time": self._clock.now,
            }
        )


def _add_times(detail: dict[str, Any], started: datetime | None, ended: datetime | None) -> None:
    if started:
        detail["startedAt"] = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    if ended:
        detail["endedAt"] = ended.strftime("%Y-%m-%dT%H:%M:%SZ")
