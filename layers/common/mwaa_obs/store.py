"""Data access: the single-table schema (pynamodb models) and every write the pipeline makes.

Keys (docs/ARCHITECTURE.md has the whole design):
    workflow       pk WF#<workflow id>                 sk WORKFLOW
    run            pk RUN#<workflow id>#<run id>       sk RUN
    task attempt   pk RUN#<workflow id>#<run id>       sk TASK#<task instance id or task id>#<attempt, 4 digits>

A run and all its task attempts share one partition (one Query); a busy workflow spreads over one partition per
run. GSI `workflow-runs` (gsi1) lists a workflow's runs newest first; GSI `recent-failures` (gsi2, one partition
per UTC day) lists failed and timed-out runs across all workflows; sparse GSI `unverified-runs` (gsi3, keys only)
lists the runs the reconciler has yet to check against the MWAA Serverless API.

Transitions are written with one conditional UpdateItem and no read: `seen_<state>` attributes are the transition
history (first time each state was seen), `status`/`status_rank` only ever move forward. Each write asks for
the item as it was (ReturnValues and ReturnValuesOnConditionCheckFailure = ALL_OLD), which is what lets one write
tell a new transition from a duplicate or a stale one; pynamodb's update() cannot ask for either, so the request
is built from the models' attributes (`_Update`) and sent through a botocore client. Reads use pynamodb.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any, Final

import botocore.session
from botocore.config import Config
from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    DiscriminatorAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from mwaa_obs.alerting import AlertKind, Decision, Health
from mwaa_obs.events import RunEvent, StateEvent, TaskEvent, truncate, workflow_name_of
from mwaa_obs.states import FAILED_RUN_STATES, RUN_RANK, TASK_RANK

# Every write is billed on the whole item's size (1 WCU per KB): the raw detail kept must stay small.
MAX_DETAIL_LENGTH: Final = 2000


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


class UnverifiedRunsIndex(GlobalSecondaryIndex["Entity"]):
    class Meta:
        index_name = "unverified-runs"
        projection = KeysOnlyProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Entity(Model):
    class Meta:
        table_name = os.environ.get("TABLE_NAME", "mwaa-obs")
        region = os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    expires_at = TTLAttribute(null=True)
    workflow_arn = UnicodeAttribute(null=True)

    workflow_runs = WorkflowRunsIndex()
    recent_failures = RecentFailuresIndex()
    unverified_runs = UnverifiedRunsIndex()

    # Identity lives in the keys alone: every attribute an update sets costs CPU and write capacity.
    @property
    def workflow_id(self) -> str:
        return self.pk.split("#", 2)[1]

    @property
    def workflow_name(self) -> str:
        return workflow_name_of(self.workflow_id)


WORKFLOWS_PARTITION: Final = "WORKFLOWS"
UNVERIFIED_PARTITION: Final = "UNVERIFIED"


class HealthAttribute(MapAttribute[str, Any]):
    """alerting.Health as stored on the workflow item."""

    failing_since = UTCDateTimeAttribute(null=True)
    failed_runs = NumberAttribute(default=0)
    unalerted = NumberAttribute(default=0)
    last_failure_at = UTCDateTimeAttribute(null=True)
    last_alert_at = UTCDateTimeAttribute(null=True)
    last_success_at = UTCDateTimeAttribute(null=True)


class WorkflowItem(Entity, discriminator="workflow"):
    first_seen_at = UTCDateTimeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)  # WORKFLOWS: the workflow-runs index also lists the workflows
    gsi1sk = UnicodeAttribute(null=True)
    health = HealthAttribute(null=True)
    health_version = NumberAttribute(null=True)  # optimistic lock: notifiers decide one run of a workflow at a time
    # From the MWAA Serverless API (GetWorkflow / ListWorkflows), refreshed by the reconciler:
    schedule = UnicodeAttribute(null=True)  # cron expression
    trigger_mode = UnicodeAttribute(null=True)
    log_group = UnicodeAttribute(null=True)
    workflow_status = UnicodeAttribute(null=True)
    modified_at = UTCDateTimeAttribute(null=True)  # the workflow's ModifiedAt when its metadata was last read
    deleted_at = UTCDateTimeAttribute(null=True)  # first pass that no longer found it in ListWorkflows
    # Whether dedicated alarms and a dashboard exist for it (None: not known yet). Lets the hourly provisioning
    # pass skip CloudWatch for the many workflows that have none.
    dedicated_resources = BooleanAttribute(null=True)


class AlertRecord(MapAttribute[str, Any]):
    """alerting.Decision as stored on the run (or task attempt) it was made for; set once."""

    kind = UnicodeAttribute()
    decided_at = UTCDateTimeAttribute()
    failed_runs = NumberAttribute(default=0)
    failing_since = UTCDateTimeAttribute(null=True)
    grouped = NumberAttribute(default=0)
    superseded = BooleanAttribute(default=False)


class StateItem(Entity):
    """What runs and task attempts share: the current status and the times derived from their transitions."""

    status = UnicodeAttribute(null=True)
    status_rank = NumberAttribute(null=True)
    queued_at = UTCDateTimeAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    workflow_version = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    last_event_id = UnicodeAttribute(null=True)
    alert = AlertRecord(null=True)
    notified_email = UTCDateTimeAttribute(null=True)
    notified_slack = UTCDateTimeAttribute(null=True)
    enriched = UnicodeAttribute(null=True)  # the status at which missing fields were last asked of the API

    @property
    def run_id(self) -> str:
        return self.pk.split("#", 2)[2]

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
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    seen_starting = UTCDateTimeAttribute(null=True)
    seen_queued = UTCDateTimeAttribute(null=True)
    seen_running = UTCDateTimeAttribute(null=True)
    seen_success = UTCDateTimeAttribute(null=True)
    seen_failed = UTCDateTimeAttribute(null=True)
    seen_timeout = UTCDateTimeAttribute(null=True)
    seen_stopped = UTCDateTimeAttribute(null=True)


class TaskAttemptItem(StateItem, discriminator="task"):
    task_id = UnicodeAttribute(null=True)
    task_instance_id = UnicodeAttribute(null=True)
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

    @property
    def task_key(self) -> str:
        """The task instance id, or the task id where events carry no instance id."""
        return self.sk.removeprefix("TASK#").rsplit("#", 1)[0]

    @property
    def attempt(self) -> int:
        return int(self.sk.rsplit("#", 1)[1])


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
    status_before: str | None = None
    alert_decided: bool = False  # the notifier has already handled this item's notice


def aws_config(**overrides: Any) -> Config:
    """What every function's AWS client uses: standard retries with backoff, short timeouts."""
    return Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=5, **overrides)


@cache
def aws_session() -> botocore.session.Session:
    """One botocore session per process: each new session reloads the endpoint data (about 50 ms of cold start)."""
    return botocore.session.get_session()


def dynamodb_client(endpoint_url: str | None = None) -> Any:
    """The client the functions write through.

    Client-side parameter validation is off: `_Update` builds well-formed requests and DynamoDB validates them
    again, while botocore's validation of an UpdateItem with a dozen attribute values cost a fifth of ingest CPU.
    """
    config = aws_config(parameter_validation=False)
    return aws_session().create_client("dynamodb", endpoint_url=endpoint_url, config=config)


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
        workflow_id = event.workflow.workflow_id
        update = _Update(run_key(workflow_id, event.run_id), "RUN")
        update.set(RunItem.gsi1pk, workflow_key(workflow_id))
        update.set(RunItem.gsi1sk, f"{_iso(event.occurred_at)}#{event.run_id}", if_absent=True)
        update.set(RunItem.run_type, event.run_type, if_absent=True)
        # Listed for the reconciler from the run's first write; a late event after the check lists it again.
        update.set(RunItem.gsi3pk, UNVERIFIED_PARTITION, if_absent=True)
        update.set(RunItem.gsi3sk, f"{_iso(event.occurred_at)}#{workflow_id}#{event.run_id}", if_absent=True)
        on_advance = _Update(update.pk, update.sk)
        if event.status in FAILED_RUN_STATES:
            ended = event.ended_at or event.occurred_at
            on_advance.set(RunItem.gsi2pk, failures_partition(ended))
            on_advance.set(RunItem.gsi2sk, f"{_iso(ended)}#{workflow_id}#{event.run_id}")
        return self._record(update, RunItem, event, RUN_RANK[event.status], on_advance)

    def record_task(self, event: TaskEvent) -> Recorded:
        update = _Update(
            run_key(event.workflow.workflow_id, event.run_id), task_sort_key(event.task_key, event.attempt)
        )
        update.set(TaskAttemptItem.task_id, event.task_id, if_absent=True)
        update.set(TaskAttemptItem.task_instance_id, event.task_instance_id, if_absent=True)
        update.set(TaskAttemptItem.operator, event.operator, if_absent=True)
        update.set(TaskAttemptItem.log_stream, event.log_stream, if_absent=True)
        return self._record(update, TaskAttemptItem, event, TASK_RANK[event.status], _Update(update.pk, update.sk))

    def note_workflow(self, event: RunEvent) -> None:
        """Create the workflow item (idempotent), then mark the run so that its later events skip this.

        In that order, so that a failure in between leaves the mark unset and the retried event writes it again.
        """
        workflow = _Update(workflow_key(event.workflow.workflow_id), "WORKFLOW")
        workflow.set(WorkflowItem.kind, WorkflowItem)
        workflow.set(WorkflowItem.workflow_arn, event.workflow.arn)
        workflow.set(WorkflowItem.first_seen_at, event.occurred_at, if_absent=True)
        workflow.set(WorkflowItem.gsi1pk, WORKFLOWS_PARTITION)
        workflow.set(WorkflowItem.gsi1sk, event.workflow.workflow_id)
        self._client.update_item(**workflow.request(self._table_name))
        mark = _Update(run_key(event.workflow.workflow_id, event.run_id), "RUN")
        mark.set(RunItem.workflow_noted, True)
        self._client.update_item(**mark.request(self._table_name))

    def fill(self, item: StateItem, status: str, found: Mapping[str, Any]) -> Timeline | None:
        """Write the fields the API supplied where the item lacks them, once per item and status.

        Returns the item's times before the write (for the durations it may complete), or None when the item was
        already enriched at this status (another delivery got there first).
        """
        update = _Update(item.pk, item.sk)
        model = type(item)
        for name, value in found.items():
            update.set(getattr(model, name), value, if_absent=True)
        update.set(model.enriched, status)
        request = update.request(self._table_name, differs=(model.enriched, status))
        done, old = self._update(request)
        return _recorded(WriteOutcome.RECORDED, old).before if done else None

    def mark_verified(self, workflow_id: str, run_id: str) -> None:
        """Take a run off the reconciler's list (it was checked against the API and found final)."""
        update = _Update(run_key(workflow_id, run_id), "RUN")
        update.remove(RunItem.gsi3pk)
        update.remove(RunItem.gsi3sk)
        self._client.update_item(**update.request(self._table_name))

    def unverified_runs(self, listed_before: datetime) -> list[tuple[str, str]]:
        """(workflow id, run id) of the runs the reconciler has yet to check, listed before that time, oldest first.

        Through the botocore client: pynamodb cannot build its models from a keys-only projection (no kind).
        """
        found: list[tuple[str, str]] = []
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": Entity.unverified_runs.Meta.index_name,
            "KeyConditionExpression": "gsi3pk = :listed AND gsi3sk < :before",
            "ExpressionAttributeValues": {
                ":listed": {"S": UNVERIFIED_PARTITION},
                ":before": {"S": _iso(listed_before)},
            },
        }
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                _, workflow_id, run_id = item["pk"]["S"].split("#", 2)
                found.append((workflow_id, run_id))
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _record(
        self, update: _Update, model: type[StateItem], event: StateEvent, rank: int, on_advance: _Update
    ) -> Recorded:
        """Store one transition: forward if it is the furthest yet, in the history only if it came late."""
        seen = getattr(model, seen_attribute(event.status))
        update.set(model.kind, model)
        update.set(model.workflow_arn, event.workflow.arn)
        update.set(seen, event.occurred_at)
        update.set(model.expires_at, self._clock() + self._history_ttl)
        update.set(model.queued_at, event.queued_at, if_absent=True)
        update.set(model.started_at, event.started_at, if_absent=True)
        update.set(model.ended_at, event.ended_at, if_absent=True)
        update.set(model.error_message, event.error_message, if_absent=True)
        update.set(model.workflow_version, event.workflow_version, if_absent=True)
        advance = update.including(on_advance)
        advance.set(model.status, event.status)
        advance.set(model.status_rank, rank)
        advance.set(model.last_event_id, event.event_id)
        advance.set(model.detail, truncate(json.dumps(event.detail, default=str), MAX_DETAIL_LENGTH))

        done, old = self._update(advance.request(self._table_name, unseen=seen, below=(model.status_rank, rank)))
        if done:
            return _recorded(WriteOutcome.ADVANCED, old)
        if old is not None and seen.attr_name in old:
            return _recorded(WriteOutcome.DUPLICATE, old)
        # Out of order: the item is already further on. Keep the transition and its times, not its status.
        done, old = self._update(update.request(self._table_name, unseen=seen))
        return _recorded(WriteOutcome.RECORDED if done else WriteOutcome.DUPLICATE, old)

    def _update(self, request: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        """One conditional UpdateItem; returns whether it applied and the item as it was before."""
        try:
            response = self._client.update_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException as error:
            return False, error.response.get("Item")
        return True, response.get("Attributes")


class _Update:
    """The SET clauses of one UpdateItem, named after the models' attributes and serialised by them.

    Written directly rather than with pynamodb's expression builder, which took a quarter of the ingest CPU for
    requests this simple (make bench).
    """

    def __init__(self, pk: str, sk: str) -> None:
        self.pk, self.sk = pk, sk
        self._assignments: list[tuple[Attribute[Any], Any, bool]] = []
        self._removals: list[Attribute[Any]] = []

    def set(self, attribute: Attribute[Any], value: Any, *, if_absent: bool = False) -> None:
        """SET attribute = value (or if_not_exists(attribute, value)); nothing when the value is None."""
        if value is not None:
            self._assignments.append((attribute, value, if_absent))

    def remove(self, attribute: Attribute[Any]) -> None:
        self._removals.append(attribute)

    def including(self, other: _Update) -> _Update:
        combined = _Update(self.pk, self.sk)
        combined._assignments = self._assignments + other._assignments
        return combined

    def request(
        self,
        table_name: str,
        *,
        unseen: Attribute[Any] | None = None,
        below: tuple[Attribute[Any], int] | None = None,
        differs: tuple[Attribute[Any], str] | None = None,
    ) -> dict[str, Any]:
        """The UpdateItem request; `unseen`: only if that attribute is absent; `below`: only if it is lower;
        `differs`: only if it is absent or holds another value."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        clauses = []
        for index, (attribute, value, if_absent) in enumerate(self._assignments):
            name, placeholder = f"#a{index}", f":a{index}"
            names[name] = attribute.attr_name
            values[placeholder] = {attribute.attr_type: attribute.serialize(value)}
            clauses.append(f"{name} = if_not_exists({name}, {placeholder})" if if_absent else f"{name} = {placeholder}")
        removals = []
        for index, attribute in enumerate(self._removals):
            names[f"#r{index}"] = attribute.attr_name
            removals.append(f"#r{index}")
        conditions = []
        if unseen is not None:
            names["#unseen"] = unseen.attr_name
            conditions.append("attribute_not_exists(#unseen)")
        if below is not None:
            names["#below"] = below[0].attr_name
            values[":below"] = {"N": str(below[1])}
            conditions.append("(attribute_not_exists(#below) OR #below < :below)")
        if differs is not None:
            names["#differs"] = differs[0].attr_name
            values[":differs"] = {"S": differs[1]}
            conditions.append("(attribute_not_exists(#differs) OR #differs <> :differs)")
        parts = (["SET " + ", ".join(clauses)] if clauses else []) + (
            ["REMOVE " + ", ".join(removals)] if removals else []
        )
        request: dict[str, Any] = {
            "TableName": table_name,
            "Key": {"pk": {"S": self.pk}, "sk": {"S": self.sk}},
            "UpdateExpression": " ".join(parts),
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_OLD",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return request


def failures_partition(at: datetime) -> str:
    return f"FAIL#{at.astimezone(UTC):%Y-%m-%d}"


def _recorded(outcome: WriteOutcome, old: Mapping[str, Any] | None) -> Recorded:
    """The write's outcome with what the item held before it (read from the raw item: no model is built)."""
    if not old:
        return Recorded(outcome, Timeline(), workflow_noted=False)
    times = (_raw_time(old, attribute) for attribute in (StateItem.queued_at, StateItem.started_at, StateItem.ended_at))
    is_run = old.get(Entity.kind.attr_name) == {"S": "run"}
    noted = not is_run or old.get(RunItem.workflow_noted.attr_name) == {"BOOL": True}
    status = old.get(StateItem.status.attr_name, {}).get("S")
    return Recorded(outcome, Timeline(*times), noted, status, StateItem.alert.attr_name in old)


def _raw_time(raw: Mapping[str, Any], attribute: UTCDateTimeAttribute) -> datetime | None:
    value = raw.get(attribute.attr_name)
    return attribute.deserialize(value["S"]) if value else None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- Reads (the CLI and tests; the ingest path never reads) ------------------------------------------------------


def bind_table(table_name: str) -> None:
    """Point the models' reads at a table chosen at run time (the CLI's stack, the demo's local table)."""
    Entity.Meta.table_name = table_name


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


def list_workflows() -> list[WorkflowItem]:
    """Every workflow seen, by workflow id (one small partition of the workflow-runs index)."""
    found = Entity.workflow_runs.query(WORKFLOWS_PARTITION)
    return [item for item in found if isinstance(item, WorkflowItem)]


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


# --- The reconciler: workflow metadata from the API -------------------------------------------------------------


def save_workflow_metadata(workflow_arn: str, found: Mapping[str, Any], first_seen: datetime) -> None:
    """Store what GetWorkflow says of a workflow (creating its item if no event has named it yet)."""
    workflow_id = workflow_arn.rsplit("/", 1)[1]
    schedule = (found.get("ScheduleConfiguration") or {}).get("CronExpression")
    log_group = (found.get("LoggingConfiguration") or {}).get("LogGroupName")
    item = WorkflowItem(workflow_key(workflow_id), "WORKFLOW")
    actions: list[Action] = [
        WorkflowItem.kind.set(WorkflowItem),
        WorkflowItem.workflow_arn.set(workflow_arn),
        WorkflowItem.first_seen_at.set(WorkflowItem.first_seen_at | first_seen),
        WorkflowItem.gsi1pk.set(WORKFLOWS_PARTITION),
        WorkflowItem.gsi1sk.set(workflow_id),
        WorkflowItem.deleted_at.remove(),
    ]
    for attribute, value in (
        (WorkflowItem.schedule, schedule),
        (WorkflowItem.trigger_mode, found.get("TriggerMode")),
        (WorkflowItem.log_group, log_group),
        (WorkflowItem.workflow_status, found.get("WorkflowStatus")),
        (WorkflowItem.modified_at, found.get("ModifiedAt")),
    ):
        actions.append(attribute.set(value) if value is not None else attribute.remove())
    item.update(actions=actions)


def mark_workflow_deleted(workflow: WorkflowItem, at: datetime) -> None:
    workflow.update(actions=[WorkflowItem.deleted_at.set(WorkflowItem.deleted_at | at)])


def workflow_log_group(workflow_id: str) -> str | None:
    """The log group the workflow names for its task logs (GetWorkflow, stored by the reconciler); None: unknown."""
    try:
        item = WorkflowItem.get(workflow_key(workflow_id), "WORKFLOW", attributes_to_get=["kind", "log_group"])
    except WorkflowItem.DoesNotExist:
        return None
    return item.log_group


def note_dedicated_resources(workflow: WorkflowItem, present: bool) -> None:
    if workflow.dedicated_resources is not present:
        workflow.update(actions=[WorkflowItem.dedicated_resources.set(present)])


# --- The notifier: decisions and deliveries, one run at a time (never on the ingest path) ------------------------

CHANNELS: Final = ("email", "slack")


class DecisionConflict(RuntimeError):
    """Another notifier changed the workflow's health since it was read: read it again and decide again."""


class AlreadyDecided(RuntimeError):
    """The run's alert was decided by an earlier delivery of the same notice."""


def load_health(workflow_id: str) -> tuple[Health, int | None]:
    """The workflow's health and its version (None: never written)."""
    try:
        item = WorkflowItem.get(workflow_key(workflow_id), "WORKFLOW", consistent_read=True)
    except WorkflowItem.DoesNotExist:
        return Health(), None
    if item.health is None:
        return Health(), None
    stored = item.health
    health = Health(
        failing_since=stored.failing_since,
        failed_runs=int(stored.failed_runs),
        unalerted=int(stored.unalerted),
        last_failure_at=stored.last_failure_at,
        last_alert_at=stored.last_alert_at,
        last_success_at=stored.last_success_at,
    )
    return health, int(item.health_version) if item.health_version is not None else None


def save_decision(
    item: StateItem, decision: Decision, health: Health | None = None, version: int | None = None
) -> None:
    """Record the decision on the run or attempt, once, together with the workflow's new health, atomically.

    Raises AlreadyDecided if the item holds a decision already, DecisionConflict if the health changed since it was
    read at `version`.
    """
    record = AlertRecord(
        kind=decision.kind.value,
        decided_at=decision.decided_at,
        failed_runs=decision.failed_runs,
        failing_since=decision.failing_since,
        grouped=decision.grouped,
        superseded=decision.superseded,
    )
    target = type(item)(item.pk, item.sk)
    try:
        with TransactWrite(connection=Entity._get_connection().connection) as transaction:
            transaction.update(
                target, actions=[type(item).alert.set(record)], condition=type(item).alert.does_not_exist()
            )
            if health is not None:
                workflow = WorkflowItem(workflow_key(item.workflow_id), "WORKFLOW")
                unchanged = (
                    WorkflowItem.health_version.does_not_exist()
                    if version is None
                    else WorkflowItem.health_version == version
                )
                actions: list[Action] = [
                    WorkflowItem.kind.set(WorkflowItem),  # well-formed even if the notice outran note_workflow
                    WorkflowItem.health.set(HealthAttribute(**_fields(health))),
                    WorkflowItem.health_version.set((version or 0) + 1),
                ]
                transaction.update(workflow, actions=actions, condition=unchanged)
    except TransactWriteError as error:
        reasons = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            raise AlreadyDecided(item.sk) from None
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            raise DecisionConflict(item.workflow_id) from None
        raise
    item.alert = record


def mark_notified(item: StateItem, channel: str, at: datetime) -> None:
    """Note that the item's message reached a channel, so that a retried notice skips it."""
    attribute = getattr(type(item), f"notified_{channel}")
    type(item)(item.pk, item.sk).update(actions=[attribute.set(at)])
    setattr(item, attribute.attr_name, at)


def notified_at(item: StateItem, channel: str) -> datetime | None:
    found: datetime | None = getattr(item, f"notified_{channel}")
    return found


def decision_of(item: StateItem) -> Decision | None:
    record = item.alert
    if record is None:
        return None
    return Decision(
        AlertKind(record.kind),
        record.decided_at,
        failed_runs=int(record.failed_runs),
        failing_since=record.failing_since,
        grouped=int(record.grouped),
        superseded=bool(record.superseded),
    )


def _fields(health: Health) -> dict[str, Any]:
    return {name: getattr(health, name) for name in Health.__dataclass_fields__}
