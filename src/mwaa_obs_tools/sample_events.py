"""Synthetic but realistic MWAA Serverless event histories, for the demo and the benchmarks.

Each run goes Started -> Queued -> Running -> its tasks in dependency order (each attempt Scheduled -> Queued ->
Running -> Succeeded / Failed / Up For Retry) -> the run's outcome; a failed task marks its downstream tasks
Upstream Failed. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass(frozen=True)
class SampleWorkflow:
    name: str
    tasks: tuple[tuple[str, str], ...]  # (task id, operator), each depending on the one before
    runs_per_day: int
    failure_rate: float  # chance that one attempt of a task fails
    retries: int

    @property
    def workflow_id(self) -> str:
        return f"{self.name}-{_suffix(self.name)}"

    @property
    def arn(self) -> str:
        return f"arn:aws:airflow-serverless:{REGION}:{ACCOUNT}:workflow/{self.workflow_id}"


EXAMPLE_WORKFLOWS = (
    SampleWorkflow(
        "simple_s3_test",
        (("list_objects", "S3ListOperator"), ("create_object_list", "S3CreateObjectOperator")),
        runs_per_day=24,
        failure_rate=0.08,
        retries=1,
    ),
    SampleWorkflow(
        "create_s3_objects",
        tuple((f"create_object_{n}", "S3CreateObjectOperator") for n in (1, 2, 3)),
        runs_per_day=12,
        failure_rate=0.05,
        retries=0,
    ),
)


def _suffix(name: str) -> str:
    """A stable 10-character workflow id suffix, as the service generates."""
    return uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:10]


def day_of_events(
    workflows: tuple[SampleWorkflow, ...] = EXAMPLE_WORKFLOWS,
    start: datetime = datetime(2026, 11, 24, tzinfo=UTC),
    seed: int = 7,
) -> list[dict[str, Any]]:
    """All events of one day of runs of `workflows`, in the order they happened."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not security
    events: list[dict[str, Any]] = []
    for workflow in workflows:
        every = timedelta(days=1) / workflow.runs_per_day
        for index in range(workflow.runs_per_day):
            events += run_events(workflow, start + index * every, rng)
    events.sort(key=lambda event: event["time"])
    return events


def run_events(workflow: SampleWorkflow, at: datetime, rng: random.Random) -> list[dict[str, Any]]:
    run_id = f"scheduled__{at:%Y-%m-%dT%H:%M:%S}+00:00"
    clock = [at]
    events: list[dict[str, Any]] = []

    def emit(detail_type: str, detail: dict[str, Any], seconds: float) -> datetime:
        clock[0] += timedelta(seconds=seconds)
        body = {"workflowArn": workflow.arn, "runId": run_id, **detail}
        events.append(envelope(detail_type, body, clock[0], workflow.arn))
        return clock[0]

    emit("MWAA Serverless Workflow Run Started", {"runType": "SCHEDULED"}, 0)
    emit("MWAA Serverless Workflow Run Queued", {}, rng.uniform(1, 5))
    emit("MWAA Serverless Workflow Run Running", {}, rng.uniform(5, 40))
    failed_task: str | None = None
    for task_id, operator in workflow.tasks:
        instance = str(uuid.UUID(int=rng.getrandbits(128)))
        task = {"taskId": task_id, "taskInstanceId": instance, "operatorName": operator}
        if failed_task:
            emit("MWAA Serverless Task Upstream Failed", {**task, "attemptNumber": 1}, 0.5)
            continue
        for attempt in range(1, workflow.retries + 2):
            log = f"workflow_id={workflow.workflow_id}/run_id={run_id}/task_id={task_id}/attempt={attempt}.log"
            attempt_detail = {**task, "attemptNumber": attempt, "logStream": log}
            emit("MWAA Serverless Task Scheduled", attempt_detail, 1)
            emit("MWAA Serverless Task Queued", attempt_detail, rng.uniform(0.5, 3))
            emit("MWAA Serverless Task Running", attempt_detail, rng.uniform(1, 10))
            seconds = rng.uniform(5, 120)
            if rng.random() >= workflow.failure_rate:
                emit("MWAA Serverless Task Succeeded", attempt_detail, seconds)
                break
            error = {"errorMessage": f"An error occurred (AccessDenied) when calling {operator}: access denied"}
            if attempt <= workflow.retries:
                emit("MWAA Serverless Task Up For Retry", {**attempt_detail, **error}, seconds)
            else:
                emit("MWAA Serverless Task Failed", {**attempt_detail, **error}, seconds)
                failed_task = task_id
    if failed_task:
        emit("MWAA Serverless Workflow Run Failed", {"errorMessage": f"Task {failed_task} failed"}, 2)
    else:
        emit("MWAA Serverless Workflow Run Succeeded", {}, 2)
    return events


def envelope(detail_type: str, detail: Mapping[str, Any], at: datetime, arn: str | None = None) -> dict[str, Any]:
    """An EventBridge event as MWAA Serverless would send it (`time` has whole seconds, as EventBridge's does)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.airflow-serverless",
        "account": ACCOUNT,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [arn] if arn else [],
        "detail": dict(detail),
    }
