"""The provision function's pass: which workflows to bring to their settings, in what order, within the invocation's
time (mwaa_obs.provisioning does one workflow)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.provisioning import Changes, Provisioner
from mwaa_obs.settings import Route, Settings
from mwaa_obs.states import RunState
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import WorkflowItem, item_from_raw
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.times import invocation_time

logger = Logger(service=SERVICE, child=True)

RECENT_RUNS: Final = 20


def workflows_first_seen(event: Mapping[str, Any]) -> list[WorkflowItem]:
    """The workflow items a stream batch created, read from the records themselves (NEW_AND_OLD_IMAGES; the mapping's
    filter passes only their inserts): no read of the workflow list per new workflow."""
    found: dict[str, WorkflowItem] = {}
    for record in event.get("Records", []):
        image = record.get("dynamodb", {}).get("NewImage", {})
        if record.get("eventName") == "INSERT" and image.get("pk", {}).get("S", "").startswith("WF#"):
            item = item_from_raw(image)
            if isinstance(item, WorkflowItem):
                found[item.workflow_id] = item
    return list(found.values())


def is_retired(workflow: WorkflowItem, now: datetime, retention: timedelta) -> bool:
    """Deleted from the service longer ago than the retention: its dedicated resources can go."""
    return workflow.deleted_at is not None and workflow.deleted_at <= now - retention


# A pass stops starting workflows this long before its deadline: a workflow's writes at CloudWatch's rates (6 alarm
# writes at 3 a second, tags, retries with backoff) fit in it, so the invocation ends on its own, not timed out.
STOP_BEFORE_DEADLINE: Final = timedelta(seconds=30)


def _work(
    candidates: Iterable[WorkflowItem], settings: Settings, retired: Callable[[WorkflowItem], bool], turn: str
) -> list[tuple[WorkflowItem, Route]]:
    """The workflows a pass must look at, most needed first, so that a pass cut short by its deadline leaves the
    least undone and the next one goes on from there: dedicated workflows without their resources yet, then those
    whose resources must go, then those to check again (in an order that changes each `turn`, so that a fleet too
    large for one pass is checked in turns)."""
    create: list[tuple[WorkflowItem, Route]] = []
    remove: list[tuple[WorkflowItem, Route]] = []
    check: list[tuple[WorkflowItem, Route]] = []
    for workflow in candidates:
        route = settings.route_for(workflow.workflow_name)
        if retired(workflow):
            route = dataclasses.replace(route, alarms="shared")
        if route.alarms == "dedicated":
            (check if workflow.dedicated_resources is True else create).append((workflow, route))
        elif workflow.dedicated_resources is not False:  # known to have none: nothing to create or delete, no call
            remove.append((workflow, route))
    check.sort(key=lambda pair: hashlib.sha256(f"{turn}/{pair[0].workflow_id}".encode()).digest())
    return create + remove + check


def provision_all(
    provisioner: Provisioner,
    settings: Settings,
    workflows: Workflows,
    runs: Runs,
    *,
    only: Sequence[WorkflowItem] | None = None,
    retired: Callable[[WorkflowItem], bool] = lambda _: False,
    time_left: Callable[[], timedelta] = lambda: timedelta.max,
    turn: str = "",
) -> dict[str, int]:
    """Provision every workflow seen (or only those items); returns how many workflows were checked, how many
    resources were written, left, deleted, and how many workflows were left for the next pass (`left`).

    A retired workflow (deleted from the service longer ago than the retention) loses its dedicated resources.
    A workflow known to have none, and not asked to, is not checked: most workflows cost no CloudWatch call.
    A workflow that fails (CloudWatch refuses it, or anything about it is not as expected) is logged and skipped;
    the others go on, and ProvisioningIncomplete is raised at the end (the invocation counts as an error, which the
    provision-errors alarm watches). With less than STOP_BEFORE_DEADLINE left, the pass stops; the next takes the
    workflows it left, most needed first (`_work`).
    """
    totals = {"workflows": 0, "written": 0, "unchanged": 0, "deleted": 0, "retagged": 0, "failed": 0, "left": 0}
    provisioner.start_pass()
    candidates: Iterable[WorkflowItem] = workflows.all() if only is None else only
    if only is not None:
        candidates = _noted_if_shared(only, settings, workflows, totals)
    work = _work(candidates, settings, retired, turn)
    for done, (workflow, route) in enumerate(work):
        if time_left() < STOP_BEFORE_DEADLINE:
            totals["left"] = len(work) - done
            logger.warning("pass stopped before its deadline; the next pass goes on", extra={"left": totals["left"]})
            break
        try:
            changes = _provision_one(provisioner, workflows, runs, workflow, route)
        except Exception as error:  # one workflow's fault (CloudWatch's refusal, a value not expected) is its own
            logger.exception(
                "workflow not provisioned; the others go on",
                extra={"workflow": workflow.workflow_name, "error": f"{type(error).__name__}: {str(error)[:300]}"},
            )
            totals["failed"] += 1
            continue
        totals["workflows"] += 1
        totals["retagged"] += len(changes.retagged)
        totals["written"] += len(changes.written)
        totals["unchanged"] += len(changes.unchanged)
        totals["deleted"] += len(changes.deleted)
    return totals


def _noted_if_shared(
    first_seen: Sequence[WorkflowItem], settings: Settings, workflows: Workflows, totals: dict[str, int]
) -> list[WorkflowItem]:
    """Workflows seen for the first time that are not dedicated have no dedicated resources of their own: noted so at
    once, without a CloudWatch call (a workflow named as a deleted dedicated one was keeps that one's resources until
    its retention ends, when the deleted workflow's item has them removed). The dedicated ones are returned."""
    dedicated = []
    for workflow in first_seen:
        if workflow.dedicated_resources is None and settings.route_for(workflow.workflow_name).alarms != "dedicated":
            workflows.note_dedicated_resources(workflow, False)
            totals["workflows"] += 1
        else:
            dedicated.append(workflow)
    return dedicated


def _provision_one(
    provisioner: Provisioner, workflows: Workflows, runs: Runs, workflow: WorkflowItem, route: Route
) -> Changes:
    """One workflow's dedicated resources brought in line with its route."""
    dedicated = route.alarms == "dedicated"
    durations: list[float] = []
    if dedicated and route.duration_threshold_seconds is None:
        durations = [
            (run.ended_at - run.started_at).total_seconds()
            for run in runs.recent(workflow.workflow_id, limit=RECENT_RUNS)
            if run.status == RunState.SUCCESS and run.started_at and run.ended_at
        ]
    changes = provisioner.provision(workflow.workflow_name, route, durations, workflow.dedicated_tags)
    workflows.note_dedicated_resources(workflow, dedicated, changes.tags)
    return changes


def provision_invocation(
    event: Mapping[str, Any],
    provisioner: Provisioner,
    settings: Settings,
    workflows: Workflows,
    runs: Runs,
    *,
    retention: timedelta,
    time_left: Callable[[], timedelta] = lambda: timedelta.max,
) -> dict[str, int]:
    """One invocation: the workflows a stream batch first saw, or (on the schedule) every workflow."""
    only = workflows_first_seen(event) if "Records" in event else None
    now = invocation_time(event)
    summary = provision_all(
        provisioner,
        settings,
        workflows,
        runs,
        only=only,
        retired=lambda workflow: is_retired(workflow, now, retention),
        time_left=time_left,
        turn=f"{now:%Y-%m-%dT%H}",
    )
    logger.info("provisioned", extra=summary)
    if summary["failed"]:
        raise ProvisioningIncomplete(f"{summary['failed']} workflows not provisioned; see the log")
    return summary


class ProvisioningIncomplete(RuntimeError):
    """Some workflows' dedicated resources could not be written (the others were); the next pass tries again."""
