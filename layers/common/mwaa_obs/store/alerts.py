"""The notifier's writes: one decision per run (with the workflow's health, atomically) and the channels reached."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mwaa_obs.alerting import AlertKind, Decision, Health
from mwaa_obs.store.schema import (
    WORKFLOW_SORT_KEY,
    AlertRecord,
    HealthAttribute,
    StateItem,
    WorkflowItem,
    item_from_raw,
    workflow_key,
)
from mwaa_obs.store.update import Update, as_transaction_item


class DecisionConflict(RuntimeError):
    """Another notifier changed the workflow's health since it was read: read it again and decide again."""


class AlreadyDecided(RuntimeError):
    """The run's alert was decided by an earlier delivery of the same notice."""


class Alerts:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def health(self, workflow_id: str) -> tuple[Health, int | None]:
        """The workflow's health and its version (None: never written)."""
        raw = self._client.get_item(
            TableName=self._table_name,
            Key={"pk": {"S": workflow_key(workflow_id)}, "sk": {"S": WORKFLOW_SORT_KEY}},
            ConsistentRead=True,
        ).get("Item")
        item = item_from_raw(raw) if raw else None
        if not isinstance(item, WorkflowItem) or item.health is None:
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
        self, item: StateItem, decision: Decision, health: Health | None = None, version: int | None = None
    ) -> None:
        """Record the decision on the run or attempt, once, together with the workflow's new health, atomically.

        Raises AlreadyDecided if the item holds a decision already, DecisionConflict if the health changed since
        it was read at `version`.
        """
        record = AlertRecord(
            kind=decision.kind.value,
            decided_at=decision.decided_at,
            failed_runs=decision.failed_runs,
            failing_since=decision.failing_since,
            grouped=decision.grouped,
            superseded=decision.superseded,
        )
        model = type(item)
        on_item = Update(item.pk, item.sk)
        on_item.set(model.alert, record)
        writes = [on_item.request(self._table_name, absent=model.alert)]
        if health is not None:
            on_workflow = Update(workflow_key(item.workflow_id), WORKFLOW_SORT_KEY)
            on_workflow.set(WorkflowItem.kind, WorkflowItem)  # well-formed even if the notice outran note_workflow
            on_workflow.set(WorkflowItem.health, HealthAttribute(**_fields(health)))
            on_workflow.set(WorkflowItem.health_version, (version or 0) + 1)
            writes.append(on_workflow.request(self._table_name, version=(WorkflowItem.health_version, version)))
        try:
            self._client.transact_write_items(TransactItems=[as_transaction_item(write) for write in writes])
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise AlreadyDecided(item.sk) from None
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise DecisionConflict(item.workflow_id) from None
            raise
        item.alert = record

    def mark_notified(self, item: StateItem, channel: str, at: datetime) -> None:
        """Note that the item's message reached a channel, so that a retried notice skips it."""
        attribute = getattr(type(item), f"notified_{channel}")
        update = Update(item.pk, item.sk)
        update.set(attribute, at)
        self._client.update_item(**update.request(self._table_name))
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
