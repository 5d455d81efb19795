"""The notifier's writes: one decision per notice, each failure named once, the workflow's health (all in one
transaction), and the channels a message reached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from mwaa_obs.alerting import AlertKind, Decision, Health, Named, Plan
from mwaa_obs.store.schema import (
    RUN_SORT_KEY,
    WORKFLOW_SORT_KEY,
    AlertRecord,
    HealthAttribute,
    RunItem,
    StateItem,
    WorkflowItem,
    account_alerts_key,
    hour_sort_key,
    item_from_raw,
    run_key,
    workflow_key,
)
from mwaa_obs.store.update import Update, as_transaction_item


class DecisionConflict(RuntimeError):
    """Another notifier changed the workflow's health since it was read: read it again and decide again."""


class AlreadyDecided(RuntimeError):
    """The run's alert was decided by an earlier delivery of the same notice."""


class OverBudget(RuntimeError):
    """The account's messages this hour reached its bound (AccountBudget): the message would be one too many."""

    def __init__(self, budget: AccountBudget) -> None:
        super().__init__(budget.account)
        self.resets_at = budget.resets_at  # when the account has slots again


@dataclass(frozen=True, slots=True)
class AccountBudget:
    """A message taking one of its account's slots for an hour: at most `bound` a UTC hour per source account
    (central mode). The count lives in an item of its own, `ACCOUNTALERTS#<account>` / `<hour>`, expiring after
    BUDGET_KEPT."""

    account: str
    hour: datetime  # the UTC hour the slot is taken in (its start)
    bound: int

    @property
    def resets_at(self) -> datetime:
        return self.hour + timedelta(hours=1)


BUDGET_KEPT: Final = timedelta(days=2)


def account_budget(account: str, now: datetime, bound: int) -> AccountBudget:
    return AccountBudget(account, now.astimezone(UTC).replace(minute=0, second=0, microsecond=0), bound)


def _budget_request(table_name: str, budget: AccountBudget) -> dict[str, Any]:
    """One more message of the account this hour, unless it has had `bound` already."""
    return {
        "Update": {
            "TableName": table_name,
            "Key": {"pk": {"S": account_alerts_key(budget.account)}, "sk": {"S": hour_sort_key(budget.hour)}},
            "UpdateExpression": "ADD #sent :one SET #expires = :expires",
            "ConditionExpression": "attribute_not_exists(#sent) OR #sent < :bound",
            "ExpressionAttributeNames": {"#sent": "sent", "#expires": StateItem.expires_at.attr_name},
            "ExpressionAttributeValues": {
                ":one": {"N": "1"},
                ":bound": {"N": str(budget.bound)},
                ":expires": {"N": str(int((budget.resets_at + BUDGET_KEPT).timestamp()))},
            },
        }
    }


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to send one item's message: taken before sending, by one notifier at a time. `until` (epoch
    seconds) is past the end of the holder's invocation, so a lease outlives its holder only if the holder died,
    and then only until its invocation would have been stopped anyway."""

    owner: str
    until: float


class Alerts:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def health(self, workflow_id: str) -> tuple[Health, int | None]:
        """The workflow's health and its version (None: never written)."""
        health, version, _ = self.health_of(workflow_id)
        return health, version

    def health_of(self, workflow_id: str) -> tuple[Health, int | None, datetime | None]:
        """The workflow's health, its version (None: never written), and the end of its latest run that ended
        other than SUCCESS (the epoch for none; None: not known yet), in one read."""
        raw = self._client.get_item(
            TableName=self._table_name,
            Key={"pk": {"S": workflow_key(workflow_id)}, "sk": {"S": WORKFLOW_SORT_KEY}},
            ConsistentRead=True,
        ).get("Item")
        item = item_from_raw(raw) if raw else None
        if not isinstance(item, WorkflowItem):
            return Health(), None, None
        failed = datetime.fromtimestamp(float(item.failed_through), UTC) if item.failed_through is not None else None
        if item.health is None:
            return Health(), None, failed
        stored = item.health
        health = Health(
            last_alert_at=stored.last_alert_at,
            resolved_through=stored.resolved_through,
            last_success_at=stored.last_success_at,
        )
        return health, int(item.health_version) if item.health_version is not None else None, failed

    def keep_failed_through(self, workflow_id: str, at: datetime) -> None:
        """Start keeping the workflow's latest unsuccessful end, from a history read (ingest raises it from there;
        a value ingest wrote first stays)."""
        update = Update(workflow_key(workflow_id), WORKFLOW_SORT_KEY)
        update.set(WorkflowItem.kind, WorkflowItem)
        update.set(WorkflowItem.failed_through, at.timestamp(), if_absent=True)
        self._client.update_item(**update.request(self._table_name))

    def save_decision(self, item: StateItem, decision: Decision, lease: Lease | None = None) -> None:
        """Record a decision that names nothing and leaves the workflow's health as it is (a retry, a quiet run)."""
        self._transact(
            item, decision, workflow_id=item.workflow_id, lead=None, names=(), health=None, version=None, lease=lease
        )

    def save_plan(
        self,
        workflow_id: str,
        plan: Plan,
        version: int | None,
        *,
        item: RunItem | None,
        lead: str,
        lease: Lease | None = None,
        budget: AccountBudget | None = None,
    ) -> None:
        """Record, in one transaction, the decision on the run whose notice it answers (`item`; None for a flush),
        each failure the message led by `lead` names, and the workflow's health after it. With `lease`, a decision
        that sends a message takes its delivery lease in the same transaction: a duplicate notice that finds the
        decision made finds it taken, and leaves the message to this notifier. With `budget`, the message takes
        one of its account's slots for the hour in the same transaction.

        Raises AlreadyDecided if the item holds a decision already, DecisionConflict if the health changed since it
        was read at `version` or another message named one of the failures first, OverBudget (and nothing is
        written) if the account has no slot left this hour.
        """
        self._transact(
            item,
            plan.decision,
            workflow_id=workflow_id,
            lead=lead,
            names=plan.names,
            health=plan.health,
            version=version,
            lease=lease,
            budget=budget,
        )

    def _transact(
        self,
        item: StateItem | None,
        decision: Decision,
        *,
        workflow_id: str,
        lead: str | None,
        names: tuple[Named, ...],
        health: Health | None,
        version: int | None,
        lease: Lease | None,
        budget: AccountBudget | None = None,
    ) -> None:
        record = AlertRecord(
            kind=decision.kind.value,
            decided_at=decision.decided_at,
            failed_runs=decision.failed_runs,
            failing_since=decision.failing_since,
            grouped=decision.grouped,
            superseded=decision.superseded,
            by_end_time=True,
        )
        writes: dict[str, Update] = {}
        conditions: dict[str, tuple[Any, ...]] = {}
        if item is not None:
            writes[item.sk + item.pk] = update = Update(item.pk, item.sk)
            update.set(type(item).alert, record)
            conditions[item.sk + item.pk] = (type(item).alert,)
            if lease is not None and decision.kind.sends:
                update.set(StateItem.sending_by, lease.owner)
                update.set(StateItem.sending_until, lease.until)
        for named in names:
            key = RUN_SORT_KEY + run_key(workflow_id, named.run_id)
            update = writes.setdefault(key, Update(run_key(workflow_id, named.run_id), RUN_SORT_KEY))
            update.set(RunItem.named_in, lead)
            update.set(RunItem.named_open, not named.recovered)
            conditions[key] = (*conditions.get(key, ()), RunItem.named_in)
        requests = [writes[key].request(self._table_name, absent=conditions[key]) for key in writes]
        if health is not None:
            on_workflow = Update(workflow_key(workflow_id), WORKFLOW_SORT_KEY)
            on_workflow.set(WorkflowItem.kind, WorkflowItem)  # well-formed even if the notice outran note_workflow
            on_workflow.set(WorkflowItem.health, HealthAttribute(**_fields(health)))
            on_workflow.set(WorkflowItem.health_version, (version or 0) + 1)
            requests.append(on_workflow.request(self._table_name, version=(WorkflowItem.health_version, version)))
        items = [as_transaction_item(request) for request in requests]
        if budget is not None:
            items.append(_budget_request(self._table_name, budget))  # last: its cancellation reason is the last one
        try:
            self._client.transact_write_items(TransactItems=items)
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            first = reasons[0] if reasons else {}
            decided = StateItem.alert.attr_name in first.get("Item", {})
            if item is not None and first.get("Code") == "ConditionalCheckFailed" and decided:
                raise AlreadyDecided(item.sk) from None
            refused = [reason.get("Code") == "ConditionalCheckFailed" for reason in reasons]
            if budget is not None and refused and refused[-1] and not any(refused[:-1]):
                raise OverBudget(budget) from None
            if any(refused):
                raise DecisionConflict(workflow_id) from None
            raise
        if item is not None:
            item.alert = record
            if lease is not None and decision.kind.sends:
                item.sending_by, item.sending_until = lease.owner, lease.until

    def claim(self, item: StateItem, lease: Lease, now: float) -> bool:
        """Take the item's delivery lease unless another notifier holds it (not yet expired at `now`). On success
        the item's channel marks are refreshed from the table as they were when it was taken. Taking it again is
        allowed (a retried request whose first answer was lost must not read as someone else's lease)."""
        names = {"#by": StateItem.sending_by.attr_name, "#until": StateItem.sending_until.attr_name}
        try:
            answer = self._client.update_item(
                TableName=self._table_name,
                Key={"pk": {"S": item.pk}, "sk": {"S": item.sk}},
                UpdateExpression="SET #by = :by, #until = :until",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(#until) OR #until < :now OR #by = :by)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":by": {"S": lease.owner},
                    ":until": {"N": StateItem.sending_until.serialize(lease.until)},
                    ":now": {"N": StateItem.sending_until.serialize(now)},
                },
                ReturnValues="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        fresh = item_from_raw(answer["Attributes"])
        for channel in CHANNELS:
            attribute = f"notified_{channel}"
            setattr(item, attribute, getattr(fresh, attribute))
        item.sending_by, item.sending_until = lease.owner, lease.until
        return True

    def release(self, item: StateItem, lease: Lease) -> None:
        """Give the lease back (if still held: past `until`, another notifier may hold it now). Raises on AWS
        errors; the caller may let the lease expire instead."""
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key={"pk": {"S": item.pk}, "sk": {"S": item.sk}},
                UpdateExpression="REMOVE #by, #until",
                ConditionExpression="#by = :by",
                ExpressionAttributeNames={
                    "#by": StateItem.sending_by.attr_name,
                    "#until": StateItem.sending_until.attr_name,
                },
                ExpressionAttributeValues={":by": {"S": lease.owner}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return
        item.sending_by = item.sending_until = None

    def mark_notified(self, item: StateItem, channel: str, at: datetime) -> None:
        """Note that the item's message reached a channel, so that a retried notice skips it."""
        attribute = getattr(type(item), f"notified_{channel}")
        update = Update(item.pk, item.sk)
        update.set(attribute, at)
        self._client.update_item(**update.request(self._table_name))
        setattr(item, attribute.attr_name, at)


CHANNELS: Final = ("email", "slack")


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
