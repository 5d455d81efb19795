"""The ingest path's writes: one conditional UpdateItem per transition, no reads.

`seen_<state>` attributes are the transition history (first time each state was seen), `status`/`status_rank`
only ever move forward. Each write asks for the item as it was (ReturnValues and
ReturnValuesOnConditionCheckFailure = ALL_OLD), which tells a new transition from a duplicate or a late one.

A write may be applied and its answer lost (a timeout or a 500 after the write; botocore then sends it again, or
the message is retried): the retry finds the transition seen, as a duplicate would. So each write also records who
wrote it and how (`by_<state>`: the writer's token, advanced or recorded) and the times the item held before it
(`bq_`, `bs_`, `be_<state>`, when the event brings a time): a retry by the same writer (the same SQS message) finds
its own write and gets back what it would have been answered, and with it the metrics the transition owes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Final

from pynamodb.attributes import UnicodeAttribute

from mwaa_obs.api_calls import ApiCall
from mwaa_obs.events import Place, RunEvent, StateEvent, TaskEvent
from mwaa_obs.states import FAILED_RUN_STATES, RUN_RANK, TASK_RANK, seen_attribute
from mwaa_obs.store.retries import count_retry
from mwaa_obs.store.schema import (
    RUN_SORT_KEY,
    UNVERIFIED_PARTITION,
    WORKFLOW_SORT_KEY,
    WORKFLOWS_PARTITION,
    Entity,
    RunItem,
    StateItem,
    TaskAttemptItem,
    WorkflowChangeItem,
    WorkflowItem,
    change_sort_key,
    failures_partition,
    run_key,
    task_sort_key,
    workflow_key,
)
from mwaa_obs.store.update import Update, query, send_update
from mwaa_obs.times import sort_key_time


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
    replayed: bool = False  # this writer's own earlier write, found again: its answer had been lost
    instance_before: str | None = None  # attempts only: the task instance id the item held (another event's)


# The times a transition's metrics are computed from, and the letter of each one's copy in bq_/bs_/be_<state>.
TIMES: Final = (("queued_at", "q"), ("started_at", "s"), ("ended_at", "e"))
NO_TIME: Final = "-"
# What a second item of an attempt may know that the attempt's own lacks, besides the states it saw (fold)
FOLDED_FIELDS: Final = (
    "queued_at", "started_at", "ended_at", "error_message", "operator", "log_stream", "task_id", "task_instance_id"
)  # fmt: skip


def writer_token(writer: str) -> str:
    """A short token for a writer (an SQS message id): what `by_<state>` records."""
    return hashlib.blake2b(writer.encode(), digest_size=6).hexdigest()


class Transitions:
    """Writes transitions through one botocore DynamoDB client (stubbed in benchmarks, moto in tests). `home`: the
    stack's account and region, which the events' workflow ids are relative to (mwaa_obs.events.WorkflowRef)."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        history_ttl: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        home: Place | None,
    ) -> None:
        self.home = home
        self._client = client
        self._table_name = table_name
        self._history_ttl = history_ttl
        self._clock = clock

    def record_run(self, event: RunEvent, writer: str | None = None) -> Recorded:
        """`writer`: who writes (the SQS message id); a retry by the same writer finds its own lost write."""
        workflow_id = event.workflow.workflow_id
        first_seen = sort_key_time(event.occurred_at)
        update = Update(run_key(workflow_id, event.run_id), RUN_SORT_KEY)
        update.set(RunItem.gsi1pk, workflow_key(workflow_id))
        update.set(RunItem.gsi1sk, f"{first_seen}#{event.run_id}", if_absent=True)
        update.set(RunItem.run_type, event.run_type, if_absent=True)
        update.set(RunItem.workflow_version, event.workflow_version, if_absent=True)
        # Listed for the reconciler from the run's first write; a late event after the check lists it again.
        update.set(RunItem.gsi3pk, UNVERIFIED_PARTITION, if_absent=True)
        update.set(RunItem.gsi3sk, f"{first_seen}#{workflow_id}#{event.run_id}", if_absent=True)
        on_advance = Update(update.pk, update.sk)
        if event.status in FAILED_RUN_STATES:
            ended = event.ended_at or event.occurred_at
            on_advance.set(RunItem.gsi2pk, failures_partition(ended))
            on_advance.set(RunItem.gsi2sk, f"{sort_key_time(ended)}#{workflow_id}#{event.run_id}")
        return self._record(update, RunItem, event, RUN_RANK[event.status], on_advance, writer=writer)

    def record_task(self, event: TaskEvent, writer: str | None = None) -> Recorded:
        update = Update(run_key(event.workflow.workflow_id, event.run_id), task_sort_key(event.task_key, event.attempt))
        update.set(TaskAttemptItem.task_id, event.task_id, if_absent=True)
        update.set(TaskAttemptItem.task_instance_id, event.task_instance_id, if_absent=True)
        update.set(TaskAttemptItem.operator, event.operator, if_absent=True)
        update.set(TaskAttemptItem.log_stream, event.log_stream, if_absent=True)
        return self._record(
            update, TaskAttemptItem, event, TASK_RANK[event.status], Update(update.pk, update.sk), writer=writer
        )

    def count_retry(self, event: TaskEvent, threshold: int) -> bool:
        """Count a recorded retry in its workflow's clock hour; whether it passed the threshold (store.retries)."""
        return count_retry(self._client, self._table_name, event, threshold)

    def note_workflow(self, event: RunEvent) -> None:
        """Create the workflow item (idempotent), then mark the run so that its later events skip this.

        In that order, so that a failure in between leaves the mark unset and the retried event writes it again.
        """
        workflow = Update(workflow_key(event.workflow.workflow_id), WORKFLOW_SORT_KEY)
        workflow.set(WorkflowItem.kind, WorkflowItem)
        workflow.set(WorkflowItem.workflow_arn, event.workflow.arn)
        workflow.set(WorkflowItem.first_seen_at, event.occurred_at, if_absent=True)
        workflow.set(WorkflowItem.gsi1pk, WORKFLOWS_PARTITION)
        workflow.set(WorkflowItem.gsi1sk, event.workflow.workflow_id)
        self._client.update_item(**workflow.request(self._table_name))
        mark = Update(run_key(event.workflow.workflow_id, event.run_id), RUN_SORT_KEY)
        mark.set(RunItem.workflow_noted, True)
        self._client.update_item(**mark.request(self._table_name))

    def record_api_call(self, call: ApiCall) -> bool:
        """Store who made a management call (mwaa_obs.api_calls): on the run it started or stopped (the first word
        kept: a duplicate changes nothing), or as a change in its workflow's partition. Returns whether it was new.
        A run's item may be written here before any of its events: they fill it in."""
        workflow_id = call.workflow.workflow_id
        if call.run_id is not None:
            update = Update(run_key(workflow_id, call.run_id), RUN_SORT_KEY)
            update.set(RunItem.kind, RunItem)
            update.set(RunItem.workflow_arn, call.workflow.arn, if_absent=True)
            update.set(RunItem.expires_at, self._clock() + self._history_ttl, if_absent=True)
            who, when = (
                (RunItem.triggered_by, RunItem.triggered_at)
                if call.name == "StartWorkflowRun"
                else (RunItem.stopped_by, RunItem.stopped_at)
            )
            update.set(who, call.by)
            update.set(when, call.at)
            done, _ = send_update(self._client, update.request(self._table_name, absent=(who,)))
            return done
        change = Update(workflow_key(workflow_id), change_sort_key(sort_key_time(call.at), call.event_id))
        change.set(WorkflowChangeItem.kind, WorkflowChangeItem)
        change.set(WorkflowChangeItem.workflow_arn, call.workflow.arn)
        change.set(WorkflowChangeItem.call, call.name)
        change.set(WorkflowChangeItem.changed_by, call.by)
        change.set(WorkflowChangeItem.changed_at, call.at)
        if call.version is not None:
            change.set(WorkflowChangeItem.workflow_version, call.version)
        change.set(WorkflowChangeItem.expires_at, self._clock() + self._history_ttl)
        done, _ = send_update(self._client, change.request(self._table_name, absent=(WorkflowChangeItem.call,)))
        return done

    def note_unsuccessful(self, event: RunEvent, ended_at: datetime) -> None:
        """Keep on the workflow item the latest end of a run that ended other than SUCCESS (only ever raised)."""
        update = Update(workflow_key(event.workflow.workflow_id), WORKFLOW_SORT_KEY)
        update.set(WorkflowItem.kind, WorkflowItem)  # well-formed even before note_workflow made the item
        update.set(WorkflowItem.failed_through, ended_at.timestamp())
        at = ended_at.timestamp()
        send_update(self._client, update.request(self._table_name, below=(WorkflowItem.failed_through, at)))

    def fill(self, item: StateItem, status: str, found: Mapping[str, Any]) -> Timeline | None:
        """Write the fields the API supplied where the item lacks them, once per item and status.

        Returns the item's times before the write (for the durations it may complete), or None when the item was
        already enriched at this status (another delivery got there first).
        """
        update = Update(item.pk, item.sk)
        model = type(item)
        for name, value in found.items():
            update.set(getattr(model, name), value, if_absent=True)
        update.set(model.enriched, status)
        done, old = send_update(self._client, update.request(self._table_name, differs=(model.enriched, status)))
        return _recorded(WriteOutcome.RECORDED, old).before if done else None

    def fold(self, copy: TaskAttemptItem, into: TaskAttemptItem) -> bool:
        """Fold a second item of one attempt into the attempt's own (mwaa_obs.repairs.folds): what it knows that
        the other lacks (times, ids, the states it saw, its state if further on) written there, then it is deleted,
        unless a write moved it on meanwhile (the next pass folds it then). No metric: each event that wrote the
        copy owed its own already. Returns whether the copy is gone."""
        known = {
            name: getattr(copy, name)
            for name in (*FOLDED_FIELDS, *(seen_attribute(state) for state in TASK_RANK))
            if getattr(copy, name) is not None
        }
        if known:
            fields = Update(into.pk, into.sk)
            for name, value in known.items():
                fields.set(getattr(TaskAttemptItem, name), value, if_absent=True)
            self._client.update_item(**fields.request(self._table_name))
        rank = copy.status_rank or 0
        if copy.status is not None and rank > (into.status_rank or 0):
            further = Update(into.pk, into.sk)  # unless the attempt's own has moved as far on by now
            further.set(TaskAttemptItem.status, copy.status)
            further.set(TaskAttemptItem.status_rank, rank)
            send_update(self._client, further.request(self._table_name, below=(TaskAttemptItem.status_rank, rank)))
        rank_name = TaskAttemptItem.status_rank.attr_name
        condition = (
            {"ConditionExpression": "#rank = :rank", "ExpressionAttributeValues": {":rank": {"N": str(rank)}}}
            if copy.status_rank is not None
            else {"ConditionExpression": "attribute_not_exists(#rank)"}
        )
        try:
            self._client.delete_item(
                TableName=self._table_name,
                Key={"pk": {"S": copy.pk}, "sk": {"S": copy.sk}},
                ExpressionAttributeNames={"#rank": rank_name},
                **condition,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark_verified(self, workflow_id: str, run_id: str) -> None:
        """Take a run off the reconciler's list (it was checked against the API and found final)."""
        update = Update(run_key(workflow_id, run_id), RUN_SORT_KEY)
        update.remove(RunItem.gsi3pk)
        update.remove(RunItem.gsi3sk)
        self._client.update_item(**update.request(self._table_name))

    def mark_discovered(self, workflow_id: str, run_id: str, at: datetime) -> None:
        """Note that the reconciler found this run in the API with no event stored (once: the first finding)."""
        update = Update(run_key(workflow_id, run_id), RUN_SORT_KEY)
        update.set(RunItem.discovered_at, at, if_absent=True)
        self._client.update_item(**update.request(self._table_name))

    def unverified_runs(self, listed_before: datetime) -> list[tuple[str, str]]:
        """(workflow id, run id) of the runs the reconciler has yet to check, listed before that time, oldest first.

        Read from the raw keys: the keys-only projection carries no `kind` to build a model from.
        """
        request = {
            "TableName": self._table_name,
            "IndexName": Entity.unverified_runs.Meta.index_name,
            "KeyConditionExpression": "gsi3pk = :listed AND gsi3sk < :before",
            "ExpressionAttributeValues": {
                ":listed": {"S": UNVERIFIED_PARTITION},
                ":before": {"S": sort_key_time(listed_before)},
            },
        }
        found = []
        for item in query(self._client, request):
            _, workflow_id, run_id = item["pk"]["S"].split("#", 2)
            found.append((workflow_id, run_id))
        return found

    def _record(
        self,
        update: Update,
        model: type[StateItem],
        event: StateEvent,
        rank: float,
        on_advance: Update,
        *,
        writer: str | None,
    ) -> Recorded:
        """Store one transition: forward if it is the furthest yet, in the history only if it came late."""
        seen = getattr(model, seen_attribute(event.status))
        token = writer_token(writer or uuid.uuid4().hex)
        by = _by(event.status)
        if any(getattr(event, name) is not None for name, _ in TIMES):
            for name, letter in TIMES:
                update.copy(_before(letter, event.status), getattr(model, name), NO_TIME)
        update.set(model.kind, model)
        update.set(model.workflow_arn, event.workflow.arn)
        update.set(seen, event.occurred_at)
        update.set(model.expires_at, self._clock() + self._history_ttl)
        update.set(model.queued_at, event.queued_at, if_absent=True)
        update.set(model.started_at, event.started_at, if_absent=True)
        update.set(model.ended_at, event.ended_at, if_absent=True)
        update.set(model.error_message, event.error_message, if_absent=True)
        advance = update.including(on_advance)
        advance.set(model.status, event.status)
        advance.set(model.status_rank, rank)
        advance.set(by, f"{token}:{WriteOutcome.ADVANCED.value}")

        request = advance.request(self._table_name, absent=(seen,), below=(model.status_rank, rank))
        done, old = send_update(self._client, request)
        if done:
            return _recorded(WriteOutcome.ADVANCED, old)
        if old is not None and seen.attr_name in old:
            return _found_again(old, event.status, token) or _recorded(WriteOutcome.DUPLICATE, old)
        # Out of order: the item is already further on. Keep the transition and its times, not its status.
        update.set(by, f"{token}:{WriteOutcome.RECORDED.value}")
        done, old = send_update(self._client, update.request(self._table_name, absent=(seen,)))
        if done:
            return _recorded(WriteOutcome.RECORDED, old)
        return (old is not None and _found_again(old, event.status, token)) or _recorded(WriteOutcome.DUPLICATE, old)


def _recorded(outcome: WriteOutcome, old: Mapping[str, Any] | None) -> Recorded:
    """The write's outcome with what the item held before it (read from the raw item: no model is built)."""
    if not old:
        return Recorded(outcome, Timeline(), workflow_noted=False)
    times = (_raw_time(old, attribute) for attribute in (StateItem.queued_at, StateItem.started_at, StateItem.ended_at))
    is_run = old.get(Entity.kind.attr_name) == {"S": "run"}
    noted = not is_run or old.get(RunItem.workflow_noted.attr_name) == {"BOOL": True}
    status = old.get(StateItem.status.attr_name, {}).get("S")
    instance = old.get(TaskAttemptItem.task_instance_id.attr_name, {}).get("S")
    alerted = StateItem.alert.attr_name in old
    return Recorded(outcome, Timeline(*times), noted, status, alerted, instance_before=instance)


def _by(status: str) -> UnicodeAttribute:
    return UnicodeAttribute(attr_name=f"by_{status.lower()}")


def _before(letter: str, status: str) -> str:
    return f"b{letter}_{status.lower()}"


def _found_again(old: Mapping[str, Any], status: str, token: str) -> Recorded | None:
    """The transition as this writer's own earlier write recorded it, if that is what stored it (its answer was
    lost): the outcome it had and the times the item held before it. None if another writer stored it."""
    mark = old.get(_by(status).attr_name, {}).get("S", "")
    if not mark.startswith(f"{token}:"):
        return None
    found = _recorded(WriteOutcome(mark.split(":", 1)[1]), old)
    copies = [old.get(_before(letter, status), {}).get("S") for _, letter in TIMES]
    if all(copy is not None for copy in copies):  # the event brought a time: the item's times before it
        before = Timeline(*(None if copy == NO_TIME else StateItem.queued_at.deserialize(copy) for copy in copies))
        found = replace(found, before=before)
    return replace(found, replayed=True)


def _raw_time(raw: Mapping[str, Any], attribute: Any) -> datetime | None:
    value = raw.get(attribute.attr_name)
    found: datetime | None = attribute.deserialize(value["S"]) if value else None
    return found
