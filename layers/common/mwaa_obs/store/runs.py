"""Reads of runs and their task attempts: the notifier's, the reconciler's, the checks' and the CLI's."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from mwaa_obs.store.schema import (
    CHANGE_PREFIX,
    Entity,
    RunItem,
    StateItem,
    TaskAttemptItem,
    WorkflowChangeItem,
    failures_partition,
    item_from_raw,
    run_key,
    workflow_key,
)
from mwaa_obs.store.update import query
from mwaa_obs.times import sort_key_time

Item = TypeVar("Item", bound=StateItem)


class Runs:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def load(
        self, workflow_id: str, run_id: str, consistent: bool = True
    ) -> tuple[RunItem | None, list[TaskAttemptItem]]:
        """A run and all its task attempts, in one Query of the run's partition (consistent unless a reader that
        only shows them, for half the read units, says otherwise)."""
        request = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": run_key(workflow_id, run_id)}},
            "ConsistentRead": consistent,
        }
        run: RunItem | None = None
        attempts: list[TaskAttemptItem] = []
        for raw in query(self._client, request):
            item = item_from_raw(raw)
            if isinstance(item, RunItem):
                run = item
            elif isinstance(item, TaskAttemptItem):
                attempts.append(item)
        return run, attempts

    def changes(self, workflow_id: str, since: datetime, until: datetime) -> list[WorkflowChangeItem]:
        """The workflow's changes (CloudTrail's CreateWorkflow, UpdateWorkflow, DeleteWorkflow) between two times,
        oldest first: one Query of the workflow's partition."""
        request = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :since AND :until",
            "ExpressionAttributeValues": {
                ":pk": {"S": workflow_key(workflow_id)},
                ":since": {"S": CHANGE_PREFIX + sort_key_time(since)},
                ":until": {"S": CHANGE_PREFIX + sort_key_time(until) + "~"},  # "~" sorts after every event id
            },
        }
        return [
            item for raw in query(self._client, request) if isinstance(item := item_from_raw(raw), WorkflowChangeItem)
        ]

    def reread(self, item: Item) -> Item:
        """The item as it is now (a consistent read)."""
        raw = self._client.get_item(
            TableName=self._table_name, Key={"pk": {"S": item.pk}, "sk": {"S": item.sk}}, ConsistentRead=True
        )
        fresh = item_from_raw(raw["Item"])
        if not isinstance(fresh, type(item)):
            raise TypeError(f"{item.sk} is stored as {type(fresh).__name__}")
        return fresh

    def recent(self, workflow_id: str, limit: int = 20) -> list[RunItem]:
        """A workflow's runs, newest first (by when each was first seen)."""
        request = {
            "TableName": self._table_name,
            "IndexName": Entity.workflow_runs.Meta.index_name,
            "KeyConditionExpression": "gsi1pk = :workflow",
            "ExpressionAttributeValues": {":workflow": {"S": workflow_key(workflow_id)}},
            "ScanIndexForward": False,
        }
        found = (item_from_raw(raw) for raw in query(self._client, request, limit))
        return [item for item in found if isinstance(item, RunItem)]

    def between(self, workflow_id: str, start: datetime, end: datetime, limit: int) -> list[RunItem]:
        """A workflow's runs first seen in [start, end], newest first, at most `limit` of them."""
        request = {
            "TableName": self._table_name,
            "IndexName": Entity.workflow_runs.Meta.index_name,
            "KeyConditionExpression": "gsi1pk = :workflow AND gsi1sk BETWEEN :start AND :end",
            "ExpressionAttributeValues": {
                ":workflow": {"S": workflow_key(workflow_id)},
                ":start": {"S": sort_key_time(start)},
                ":end": {"S": sort_key_time(end) + "~"},  # "~" sorts after the "#<run id>" that follows the time
            },
            "ScanIndexForward": False,
        }
        found = (item_from_raw(raw) for raw in query(self._client, request, limit))
        return [item for item in found if isinstance(item, RunItem)]

    def seen_since(self, workflow_id: str, since: datetime) -> dict[str, bool]:
        """The runs of a workflow first seen since that time: run id -> whether events brought it (False: the
        reconciler discovered it in the API). One Query of the workflow-runs index, two attributes projected."""
        request = {
            "TableName": self._table_name,
            "IndexName": Entity.workflow_runs.Meta.index_name,
            "KeyConditionExpression": "gsi1pk = :workflow AND gsi1sk >= :since",
            "ExpressionAttributeValues": {
                ":workflow": {"S": workflow_key(workflow_id)},
                ":since": {"S": sort_key_time(since)},
            },
            "ProjectionExpression": "pk, #discovered",
            "ExpressionAttributeNames": {"#discovered": RunItem.discovered_at.attr_name},
        }
        return {
            raw["pk"]["S"].split("#", 2)[2]: RunItem.discovered_at.attr_name not in raw
            for raw in query(self._client, request)
        }

    def failures_on(self, day: date, start: datetime, end: datetime, limit: int) -> list[RunItem]:
        """At most `limit` failed and timed-out runs across all workflows that ended on that UTC day within
        [start, end], newest first: one Query of the day's partition on the end times, stopped at `limit` (a day of
        any number of failures reads `limit` items)."""
        request = {
            "TableName": self._table_name,
            "IndexName": Entity.recent_failures.Meta.index_name,
            "KeyConditionExpression": "gsi2pk = :day AND gsi2sk BETWEEN :start AND :end",
            "ExpressionAttributeValues": {
                ":day": {"S": failures_partition(datetime.combine(day, time(), UTC))},
                ":start": {"S": sort_key_time(start)},
                ":end": {"S": sort_key_time(end) + "~"},  # "~" sorts after the "#<workflow>#<run>" that follows
            },
            "ScanIndexForward": False,
        }
        found = (item_from_raw(raw) for raw in query(self._client, request, limit))
        return [item for item in found if isinstance(item, RunItem)]

    def recent_failures(self, days: int = 1, now: datetime | None = None) -> list[RunItem]:
        """Failed and timed-out runs across all workflows over the last `days` UTC days, newest first."""
        today = (now or datetime.now(UTC)).astimezone(UTC)
        failures: list[RunItem] = []
        for back in range(days):
            request = {
                "TableName": self._table_name,
                "IndexName": Entity.recent_failures.Meta.index_name,
                "KeyConditionExpression": "gsi2pk = :day",
                "ExpressionAttributeValues": {":day": {"S": failures_partition(today - timedelta(days=back))}},
                "ScanIndexForward": False,
            }
            found = (item_from_raw(raw) for raw in query(self._client, request))
            failures.extend(item for item in found if isinstance(item, RunItem))
        return failures
