"""Data access: the single-table schema (pynamodb models) and every write the pipeline makes.

Keys (docs/ARCHITECTURE.md has the whole design):
    workflow       pk WF#<workflow id>                 sk WORKFLOW
    run            pk RUN#<workflow id>#<run id>       sk RUN
    task attempt   pk RUN#<workflow id>#<run id>       sk TASK#<task instance id or task id>#<attempt, 4 digits>

A run and all its task attempts share one partition (one Query); a busy workflow spreads over one partition per
run. GSI `workflow-runs` (gsi1) lists a workflow's runs newest first; GSI `recent-failures` (gsi2, one partition
per UTC day) lists failed and timed-out runs across all workflows.

Transitions are written with one conditional UpdateItem and no read: `seen_<state>` attributes are the transition
history (first time each state was seen), `status`/`status_rank` only ever move forward. pynamodb builds the
request; it is sent through a botocore client because pynamodb's update() cannot ask for the item as it was
(ReturnValues and ReturnValuesOnConditionCheckFailure = ALL_OLD), which is what lets one write tell a new
transition from a duplicate or a stale one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Final

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from mwaa_obs.events import RunEvent, StateEvent, TaskEvent, WorkflowRef, truncate
from mwaa_obs.states import FAILED_RUN_STATES, RUN_RANK, TASK_RANK

MAX_DETAIL_LENGTH: Final = 8000


def workflow_key(workflow_id: str) -> str:
    return f"WF#{workflow_id}"


def run_key(workflow_id: str, run_id: str) -> str:
    return f"RUN#{workflow_id}#{run_id}"


def task_sort_key(task_key: str, attempt: int) -> str:
    return f"TASK#{task_key}#{attempt:04d}"


class WorkflowRunsIndex(GlobalSecondaryIndex["Entity"]):
    class Meta:
        index_name = "workflow-runs"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class RecentFailuresIndex(GlobalSecondaryIndex["Entity"]):
    class Meta:
        index_name = "recent-failures"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Entity(Model):
    class Meta:
        table_name = os.environ.get("TABLE_NAME", "mwaa-obs")
        region = os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    expires_at = TTLAttribute(null=True)
    workflow_id = UnicodeAttribute(null=True)
    workflow_name = UnicodeAttribute(null=True)
    workflow_arn = UnicodeAttribute(null=True)

    workflow_runs = WorkflowRunsIndex()
    recent_failures = RecentFailuresIndex()


class WorkflowItem(Entity, discriminator="workflow"):
    first_seen_at = UTCDateTimeAttribute(null=True)


class StateItem(Entity):
    """What runs and task attempts share: the current status and the times derived from their transitions."""

    run_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    status_rank = NumberAttribute(null=True)
    queued_at = UTCDateTimeAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    workflow_version = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    last_event_id = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)

    def seen(self) -> dict[str, datetime]:
        """The transition history: each state seen, with the time it happened."""
        states = RUN_RANK if isinstance(self, RunItem) else TASK_RANK
        found = {state: getattr(self, seen_attribute(state)) for state in states}
        return {state: at for state, at in found.items() if at is not None}


class RunItem(StateItem, discriminator="run"):
    run_type = UnicodeAttribute(null=True)
    workflow_noted = BooleanAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    seen_starting = UTCDateTimeAttribute(null=True)
    seen_queued = UTCDateTimeAttribute(null=True)
    seen_running = UTCDateTimeAttribute(null=True)
    seen_success = UTCDateTimeAttribute(null=True)
    seen_failed = UTCDateTimeAttribute(null=True)
    seen_timeout = UTCDateTimeAttribute(null=True)
    seen_stopped = UTCDateTimeAttribute(null=True)


class TaskAttemptItem(StateItem, discriminator="task"):
    task_key = UnicodeAttribute(null=True)
    task_id = UnicodeAttribute(null=True)
    task_instance_id = UnicodeAttribute(null=True)
    attempt = NumberAttribute(null=True)
    operator = UnicodeAttribute(null=True)
    log_stream = UnicodeAttribute(null=True)
    seen_scheduled = UTCDateTimeAttribute(null=True)
    seen_queued = UTCDateTimeAttribute(null=True)
    seen_running = UTCDateTimeAttribute(null=True)
    seen_success = UTCDateTimeAttribute(null=True)
    seen_failed = UTCDateTimeAttribute(null=True)
    seen_up_for_retry = UTCDateTimeAttribute(null=True)
    seen_upstream_failed = UTCDateTimeAttribute(null=True)
    seen_timeout = UTCDateTimeAttribute(null=True)


def seen_attribute(state: str) -> str:
    return f"seen_{state.lower()}"


class WriteOutcome(Enum):
    ADVANCED = "advanced"  # new transition; the stored status moved forward to it
    RECORDED = "recorded"  # new transition that arrived late; kept in the history, status unchanged
    DUPLICATE = "duplicate"  # this transition was already stored; nothing changed


@dataclass(frozen=True, slots=True)
class Timeline:
    """The times of a run or attempt that its metrics are computed from."""

    queued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def merged_with(self, event: StateEvent) -> Timeline:
        """What the item holds after the event's times are written with if_not_exists."""
        return Timeline(
            self.queued_at or event.queued_at,
            self.started_at or event.started_at,
            self.ended_at or event.ended_at,
        )


@dataclass(frozen=True, slots=True)
class Recorded:
    outcome: WriteOutcome
    before: Timeline
    workflow_noted: bool = True  # runs only: the workflow item is known to exist


class Store:
    """Writes transitions through one botocore DynamoDB client (stubbed in benchmarks, moto in tests)."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        history_ttl: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._history_ttl = history_ttl
        self._clock = clock

    def record_run(self, event: RunEvent) -> Recorded:
        item = RunItem(run_key(event.workflow.workflow_id, event.run_id), "RUN")
        always: list[Action] = [
            RunItem.gsi1pk.set(workflow_key(event.workflow.workflow_id)),
            RunItem.gsi1sk.set(RunItem.gsi1sk | f"{_iso(event.occurred_at)}#{event.run_id}"),
            *_if_absent(RunItem.run_type, event.run_type),
        ]
        on_advance: list[Action] = []
        if event.status in FAILED_RUN_STATES:
            ended = event.ended_at or event.occurred_at
            on_advance += [
                RunItem.gsi2pk.set(failures_partition(ended)),
                RunItem.gsi2sk.set(f"{_iso(ended)}#{event.workflow.workflow_id}#{event.run_id}"),
            ]
        return self._record(item, RunItem, event, rank=RUN_RANK[event.status], always=always, on_advance=on_advance)

    def record_task(self, event: TaskEvent) -> Recorded:
        item = TaskAttemptItem(
            run_key(event.workflow.workflow_id, event.run_id), task_sort_key(event.task_key, event.attempt)
        )
        always: list[Action] = [
            TaskAttemptItem.task_key.set(event.task_key),
            TaskAttemptItem.attempt.set(event.attempt),
            *_if_absent(TaskAttemptItem.task_id, event.task_id),
            *_if_absent(TaskAttemptItem.task_instance_id, event.task_instance_id),
            *_if_absent(TaskAttemptItem.operator, event.operator),
            *_if_absent(TaskAttemptItem.log_stream, event.log_stream),
        ]
        return self._record(item, TaskAttemptItem, event, rank=TASK_RANK[event.status], always=always, on_advance=[])

    def note_workflow(self, event: RunEvent) -> None:
        """Create the workflow item (idempotent), then mark the run so that its later events skip this.

        In that order, so that a failure in between leaves the mark unset and the retried event writes it again.
        """
        workflow = WorkflowItem(workflow_key(event.workflow.workflow_id), "WORKFLOW")
        self._send(
            workflow,
            [
                WorkflowItem.kind.set(WorkflowItem),
                *_identity(WorkflowItem, event.workflow),
                WorkflowItem.first_seen_at.set(WorkflowItem.first_seen_at | event.occurred_at),
            ],
        )
        run = RunItem(run_key(event.workflow.workflow_id, event.run_id), "RUN")
        self._send(run, [RunItem.workflow_noted.set(True)])

    def _record(
        self,
        item: StateItem,
        model: type[StateItem],
        event: StateEvent,
        *,
        rank: int,
        always: list[Action],
        on_advance: list[Action],
    ) -> Recorded:
        seen = getattr(model, seen_attribute(event.status))
        now = self._clock()
        common: list[Action] = [
            model.kind.set(model),
            *_identity(model, event.workflow),
            model.run_id.set(event.run_id),
            seen.set(event.occurred_at),
            model.expires_at.set(now + self._history_ttl),
            *_if_absent(model.queued_at, event.queued_at),
            *_if_absent(model.started_at, event.started_at),
            *_if_absent(model.ended_at, event.ended_at),
            *_if_absent(model.error_message, event.error_message),
            *_if_absent(model.workflow_version, event.workflow_version),
            *always,
        ]
        advance: list[Action] = [
            model.status.set(event.status),
            model.status_rank.set(rank),
            model.last_event_id.set(event.event_id),
            model.updated_at.set(now),
            model.detail.set(truncate(json.dumps(event.detail, default=str), MAX_DETAIL_LENGTH)),
            *on_advance,
        ]
        forward = model.status_rank.does_not_exist() | (model.status_rank < rank)
        done, old = self._update(item, common + advance, seen.does_not_exist() & forward)
        if done:
            return _recorded(WriteOutcome.ADVANCED, model, old)
        if old is not None and seen_attribute(event.status) in old:
            return _recorded(WriteOutcome.DUPLICATE, model, old)
        # Out of order: the item is already further on. Keep the transition and its times, not its status.
        done, old = self._update(item, common, seen.does_not_exist())
        return _recorded(WriteOutcome.RECORDED if done else WriteOutcome.DUPLICATE, model, old)

    def _update(self, item: Model, actions: list[Action], condition: Condition) -> tuple[bool, dict[str, Any] | None]:
        """One conditional UpdateItem; returns whether it applied and the item as it was before."""
        try:
            response = self._send(item, actions, condition)
        except self._client.exceptions.ConditionalCheckFailedException as error:
            return False, error.response.get("Item")
        return True, response.get("Attributes")

    def _send(self, item: Model, actions: list[Action], condition: Condition | None = None) -> dict[str, Any]:
        request = item.get_update_kwargs_from_instance(actions, condition, return_values_on_condition_failure="ALL_OLD")
        response: dict[str, Any] = self._client.update_item(**request, ReturnValues="ALL_OLD")
        return response


def failures_partition(at: datetime) -> str:
    return f"FAIL#{at.astimezone(UTC):%Y-%m-%d}"


def _recorded(outcome: WriteOutcome, model: type[StateItem], old: Mapping[str, Any] | None) -> Recorded:
    if not old:
        return Recorded(outcome, Timeline(), workflow_noted=model is not RunItem)
    stored = model.from_raw_data(dict(old))
    noted = not isinstance(stored, RunItem) or bool(stored.workflow_noted)
    return Recorded(outcome, Timeline(stored.queued_at, stored.started_at, stored.ended_at), noted)


def _identity(model: type[Entity], workflow: WorkflowRef) -> list[Action]:
    return [
        model.workflow_id.set(workflow.workflow_id),
        model.workflow_name.set(workflow.name),
        model.workflow_arn.set(workflow.arn),
    ]


def _if_absent(attribute: Any, value: Any) -> list[Action]:
    """SET attribute = if_not_exists(attribute, value), or nothing when the event lacks the value."""
    return [] if value is None else [attribute.set(attribute | value)]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- Reads (the CLI and tests; the ingest path never reads) ------------------------------------------------------


def load_run(workflow_id: str, run_id: str) -> tuple[RunItem | None, list[TaskAttemptItem]]:
    """A run and all its task attempts, in one Query of the run's partition."""
    run: RunItem | None = None
    attempts: list[TaskAttemptItem] = []
    for item in Entity.query(run_key(workflow_id, run_id), consistent_read=True):
        if isinstance(item, RunItem):
            run = item
        elif isinstance(item, TaskAttemptItem):
            attempts.append(item)
    return run, attempts


def recent_runs(workflow_id: str, limit: int = 20) -> list[RunItem]:
    """A workflow's runs, newest first."""
    found = Entity.workflow_runs.query(workflow_key(workflow_id), scan_index_forward=False, limit=limit)
    return [item for item in found if isinstance(item, RunItem)]


def recent_failures(days: int = 1, now: datetime | None = None) -> list[RunItem]:
    """Failed and timed-out runs across all workflows over the last `days` UTC days, newest first."""
    today = (now or datetime.now(UTC)).astimezone(UTC)
    failures: list[RunItem] = []
    for back in range(days):
        partition = failures_partition(today - timedelta(days=back))
        found = Entity.recent_failures.query(partition, scan_index_forward=False)
        failures.extend(item for item in found if isinstance(item, RunItem))
    return failures
