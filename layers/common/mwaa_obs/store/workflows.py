"""The workflow items: first seen by ingest, described by the API through the reconciler, marked by provisioning."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mwaa_obs.events import Place, workflow_ref
from mwaa_obs.graph import DefinitionUnreadable, GraphTask, WorkflowGraph, graph_of_definition
from mwaa_obs.mwaa_api import WorkflowAnswer
from mwaa_obs.store.schema import (
    WORKFLOW_SORT_KEY,
    WORKFLOWS_PARTITION,
    Entity,
    VersionTaskAttribute,
    WorkflowItem,
    WorkflowVersionItem,
    item_from_raw,
    version_sort_key,
    workflow_key,
)
from mwaa_obs.store.update import Update, query, send_update


class Workflows:
    """`home`: the stack's account and region, which workflow ids are relative to (None: ids unqualified; enough
    for every read, which takes the ids from the keys)."""

    def __init__(self, client: Any, table_name: str, *, home: Place | None = None) -> None:
        self._home = home
        self._client = client
        self._table_name = table_name

    def all(self) -> list[WorkflowItem]:
        """Every workflow seen, by workflow id (one small partition of the workflow-runs index)."""
        request = {
            "TableName": self._table_name,
            "IndexName": Entity.workflow_runs.Meta.index_name,
            "KeyConditionExpression": "gsi1pk = :workflows",
            "ExpressionAttributeValues": {":workflows": {"S": WORKFLOWS_PARTITION}},
        }
        found = (item_from_raw(raw) for raw in query(self._client, request))
        return [item for item in found if isinstance(item, WorkflowItem)]

    def named(self, name: str) -> list[WorkflowItem]:
        """The workflows of that name (a name deleted and created again has several ids): one Query of the
        workflow list, on the id's prefix (`<name>-` and the service's 10-character suffix)."""
        request = {
            "TableName": self._table_name,
            "IndexName": Entity.workflow_runs.Meta.index_name,
            "KeyConditionExpression": "gsi1pk = :workflows AND begins_with(gsi1sk, :name)",
            "ExpressionAttributeValues": {":workflows": {"S": WORKFLOWS_PARTITION}, ":name": {"S": f"{name}-"}},
        }
        found = (item_from_raw(raw) for raw in query(self._client, request))
        return [item for item in found if isinstance(item, WorkflowItem) and item.workflow_name == name]

    def starting_with(self, prefix: str, limit: int) -> list[WorkflowItem]:
        """At most `limit` workflows whose ids (and so names) begin with the prefix, by id: one Query of the
        workflow list (an empty prefix: the first ones)."""
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": Entity.workflow_runs.Meta.index_name,
            "KeyConditionExpression": "gsi1pk = :workflows" + (" AND begins_with(gsi1sk, :prefix)" if prefix else ""),
            "ExpressionAttributeValues": {":workflows": {"S": WORKFLOWS_PARTITION}}
            | ({":prefix": {"S": prefix}} if prefix else {}),
        }
        found = (item_from_raw(raw) for raw in query(self._client, request, limit))
        return [item for item in found if isinstance(item, WorkflowItem)]

    def log_group(self, workflow_id: str) -> str | None:
        """The log group the workflow names for its task logs (from GetWorkflow); None: unknown."""
        raw = self._client.get_item(
            TableName=self._table_name,
            Key={"pk": {"S": workflow_key(workflow_id)}, "sk": {"S": WORKFLOW_SORT_KEY}},
            ProjectionExpression="#group",
            ExpressionAttributeNames={"#group": WorkflowItem.log_group.attr_name},
        ).get("Item", {})
        value = raw.get(WorkflowItem.log_group.attr_name, {}).get("S")
        return str(value) if value else None

    def save_description(self, found: WorkflowAnswer, now: datetime) -> WorkflowItem:
        """Store what GetWorkflow says of a workflow (creating its item if no event has named it yet), its version's
        graph first (once per version: versions are immutable); returns the item as that write left what a pass
        reads of it (identity, first sight, description)."""
        workflow_id = self.workflow_id(found.arn)
        if found.version is not None:
            self.save_version(workflow_id, found, now)
        update = Update(workflow_key(workflow_id), WORKFLOW_SORT_KEY)
        update.set(WorkflowItem.kind, WorkflowItem)
        update.set(WorkflowItem.workflow_arn, found.arn)
        update.set(WorkflowItem.first_seen_at, now, if_absent=True)
        update.set(WorkflowItem.described_at, now)
        update.set(WorkflowItem.gsi1pk, WORKFLOWS_PARTITION)
        update.set(WorkflowItem.gsi1sk, workflow_id)
        update.remove(WorkflowItem.deleted_at)
        for attribute, value in (
            (WorkflowItem.schedule, found.schedule),
            (WorkflowItem.trigger_mode, found.trigger_mode),
            (WorkflowItem.log_group, found.log_group),
            (WorkflowItem.workflow_status, found.status),
            (WorkflowItem.modified_at, found.modified_at),
            (WorkflowItem.workflow_version, found.version),
        ):
            if value is None:
                update.remove(attribute)
            else:
                update.set(attribute, value)
        old = self._client.update_item(**update.request(self._table_name)).get("Attributes") or {}
        first_seen = old.get(WorkflowItem.first_seen_at.attr_name, {}).get("S")
        return WorkflowItem(
            pk=workflow_key(workflow_id), sk=WORKFLOW_SORT_KEY, workflow_arn=found.arn, described_at=now,
            first_seen_at=WorkflowItem.first_seen_at.deserialize(first_seen) if first_seen else now,
            gsi1pk=WORKFLOWS_PARTITION, gsi1sk=workflow_id, schedule=found.schedule, trigger_mode=found.trigger_mode,
            log_group=found.log_group, workflow_status=found.status, modified_at=found.modified_at,
            workflow_version=found.version,
        )  # fmt: skip

    def workflow_id(self, arn: str) -> str:
        ref = workflow_ref(arn, self._home)
        if ref is None:
            raise ValueError(f"not a workflow ARN: {arn!r}")
        return ref.workflow_id

    def save_version(self, workflow_id: str, found: WorkflowAnswer, now: datetime) -> bool:
        """The version's tasks and dependencies from its definition, written if that version has none stored yet
        (True: written now). A definition whose tasks cannot be read is stored with the reason, once too."""
        assert found.version is not None
        update = Update(workflow_key(workflow_id), version_sort_key(found.version))
        update.set(WorkflowVersionItem.kind, WorkflowVersionItem)
        update.set(WorkflowVersionItem.workflow_arn, found.arn)
        update.set(WorkflowVersionItem.described_at, now)
        update.set(WorkflowVersionItem.created_at, found.modified_at)
        try:
            graph = graph_of_definition(found.definition or "")
        except DefinitionUnreadable as error:
            update.set(WorkflowVersionItem.unreadable, str(error))
        else:
            update.set(WorkflowVersionItem.tasks, [_stored_task(task) for task in graph.tasks])
        applied, _ = send_update(self._client, update.request(self._table_name, absent=(WorkflowVersionItem.kind,)))
        return applied

    def stored_versions(self, workflow_id: str) -> set[str]:
        """The versions of a workflow whose graph is stored (their keys only)."""
        request = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :versions)",
            "ExpressionAttributeValues": {
                ":pk": {"S": workflow_key(workflow_id)},
                ":versions": {"S": version_sort_key("")},
            },
            "ProjectionExpression": "sk",
        }
        return {raw["sk"]["S"].removeprefix(version_sort_key("")) for raw in query(self._client, request)}

    def version(self, workflow_id: str, version: str) -> WorkflowVersionItem | None:
        """One version's stored graph (a Query of one key: the widget may only Query)."""
        request = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk AND sk = :sk",
            "ExpressionAttributeValues": {
                ":pk": {"S": workflow_key(workflow_id)},
                ":sk": {"S": version_sort_key(version)},
            },
        }
        found = (item_from_raw(raw) for raw in query(self._client, request, 1))
        return next((item for item in found if isinstance(item, WorkflowVersionItem)), None)

    def mark_deleted(self, workflow: WorkflowItem, at: datetime) -> None:
        update = Update(workflow.pk, workflow.sk)
        update.set(WorkflowItem.deleted_at, at, if_absent=True)
        self._client.update_item(**update.request(self._table_name))
        workflow.deleted_at = workflow.deleted_at or at

    def note_dedicated_resources(self, workflow: WorkflowItem, present: bool, tags: str | None = None) -> None:
        """Whether the workflow has dedicated resources, and the tag set they carry (written only when changed)."""
        if workflow.dedicated_resources is present and workflow.dedicated_tags == tags:
            return
        update = Update(workflow.pk, workflow.sk)
        update.set(WorkflowItem.dedicated_resources, present)
        if tags is None:
            update.remove(WorkflowItem.dedicated_tags)
        else:
            update.set(WorkflowItem.dedicated_tags, tags)
        self._client.update_item(**update.request(self._table_name))
        workflow.dedicated_resources = present
        workflow.dedicated_tags = tags


def _stored_task(task: GraphTask) -> VersionTaskAttribute:
    return VersionTaskAttribute(task_id=task.task_id, upstream=list(task.upstream) or None, operator=task.operator)


def stored_graph(item: WorkflowVersionItem) -> WorkflowGraph:
    """The graph a version item holds (no tasks when its definition was unreadable)."""
    return WorkflowGraph(
        tuple(
            GraphTask(task.task_id, tuple(str(up) for up in task.upstream or ()), task.operator)
            for task in item.tasks or ()
        )
    )
