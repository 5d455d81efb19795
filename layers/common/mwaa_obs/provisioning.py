"""Dedicated monitoring for the workflows whose settings ask for it (`"alarms": "dedicated"`).

Every workflow has the shared alarms and dashboard of template.yaml. A dedicated workflow also gets its own
alarms `<prefix>-<workflow>-<kind>` (failed, timed-out, too-slow, retry-storm, overdue; tagged with the workflow
and managed-by), a composite `<prefix>-<workflow>-health`, and a dashboard `<prefix>-<region>-<workflow>` made from
the deployed workflow dashboard with the workflow fixed and its own duration threshold drawn.

Who speaks for what (docs/ALARMS.md, "One page per condition"): a run's failure or timeout speaks through the
notify function's message only; the dedicated alarms carry no actions, and the composite, the only one that
pages, watches the conditions notify does not see (too slow, retry storm, overdue). Provisioning compares
what exists with what should and writes only the differences, so running it again changes nothing, and a new
template, threshold or setting updates what exists; a workflow that is no longer dedicated loses its resources.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from aws_lambda_powertools import Logger

from mwaa_obs import PRODUCT, SERVICE, WORKFLOW_PATTERN
from mwaa_obs.metrics import (
    RUN_DURATION,
    RUN_FAILED,
    RUN_TIMED_OUT,
    SCHEDULE_OVERDUE,
    TASK_UP_FOR_RETRY,
    WORKFLOW_DIMENSION,
    MetricSpec,
)
from mwaa_obs.settings import Route, Settings
from mwaa_obs.states import RunState
from mwaa_obs.stats import percentile
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import WorkflowItem, item_from_raw
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.times import invocation_time

logger = Logger(service=SERVICE, child=True)

MANAGED_BY: Final = PRODUCT
# Names the stack's own alarms use after the prefix: a workflow with such a name keeps the shared alarms only.
RESERVED_NAMES: Final = frozenset({"workflows", "pipeline", "workflow", "fleet"})
MIN_RUNS_TO_LEARN: Final = 5
LEARNED_MULTIPLE: Final = 2.0  # a run twice as long as the 90th percentile of recent successful runs is too slow


@dataclass(frozen=True, slots=True)
class StackContext:
    prefix: str
    namespace: str
    alarm_topic_arn: str
    default_duration_seconds: int
    default_retry_threshold: int
    dashboard_prefix: str  # `<prefix>-<region>`: dashboards are account-global, alarms regional


@dataclass(frozen=True, slots=True)
class AlarmKind:
    suffix: str
    spec: MetricSpec
    statistic: str
    period: int
    description: str
    # M of N: a metric written every 15 minutes leaves some periods empty, which must not flip the alarm to OK
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    # A condition the notify function's messages already carry (a run that failed or timed out) must not page again
    notify_speaks: bool = False


KINDS: Final = (
    AlarmKind("failed", RUN_FAILED, "Sum", 300, "a run ended FAILED", notify_speaks=True),
    AlarmKind("timed-out", RUN_TIMED_OUT, "Sum", 300, "a run ended in TIMEOUT", notify_speaks=True),
    AlarmKind("too-slow", RUN_DURATION, "Maximum", 3600, "a run longer than the threshold ended"),
    AlarmKind("retry-storm", TASK_UP_FOR_RETRY, "Sum", 3600, "task retries above the threshold in an hour"),
    # ScheduleOverdue is written every 15 min while overdue: a 900 s period holds 0, 1 or 2 points, so 1 of 2 periods
    # keeps an overdue workflow in ALARM across an empty one (AlarmEvaluation: "M out of N" datapoints,
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
    AlarmKind("overdue", SCHEDULE_OVERDUE, "Maximum", 900, "no successful run by its scheduled time plus grace", 2, 1),
)
PAGING_KINDS: Final = tuple(kind for kind in KINDS if not kind.notify_speaks)
# The metric alarm fields provisioning sets, compared with DescribeAlarms to decide whether to write.
_COMPARED: Final = (
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
    "OKActions",
)


def learned_duration(durations: Sequence[float], default: int) -> int:
    """The too-slow threshold: twice the 90th percentile of recent successful runs, or the default."""
    if len(durations) < MIN_RUNS_TO_LEARN:
        return default
    return max(60, round(LEARNED_MULTIPLE * percentile(durations, 90)))


# PutDashboard: DashboardName "can contain only alphanumerics, dash (-), and underscore (_)", at most 255
# characters (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html); AlarmName:
# 1 to 255 characters (API_PutMetricAlarm.html). MWAA Serverless workflow names may hold "." and run to 255.
NAME_LIMIT: Final = 255
_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_-]")
LONGEST_SUFFIX: Final = max(len(f"-{kind.suffix}") for kind in KINDS) + len("-health")


def resource_name(prefix: str, workflow: str, suffix: str = "") -> str:
    """`<prefix>-<workflow>[-<suffix>]`, valid as a dashboard and an alarm name for any workflow name: a name with
    characters CloudWatch refuses, or too long, gets them replaced, is cut, and takes a short hash of the real name
    (so two workflows never share a name)."""
    safe = _NOT_IN_A_NAME.sub("-", workflow)
    room = NAME_LIMIT - len(prefix) - 1 - LONGEST_SUFFIX
    if safe != workflow or len(safe) > room:
        digest = hashlib.sha256(workflow.encode()).hexdigest()[:10]
        safe = f"{safe[: room - len(digest) - 1]}-{digest}"
    return f"{prefix}-{safe}" + (f"-{suffix}" if suffix else "")


def alarm_names(prefix: str, workflow: str) -> list[str]:
    return [resource_name(prefix, workflow, kind.suffix) for kind in KINDS] + [
        resource_name(prefix, workflow, "health")
    ]


def desired_alarms(workflow: str, route: Route, context: StackContext, duration: int) -> list[dict[str, Any]]:
    """PutMetricAlarm requests of a dedicated workflow. Every metric is emitted only when its event happens (or, for
    ScheduleOverdue, only for a workflow with a schedule): missing data is not breaching. None has actions: the
    composite pages for them."""
    thresholds = {
        "too-slow": route.duration_threshold_seconds or duration,
        "retry-storm": route.retry_threshold or context.default_retry_threshold,
    }
    requests = []
    for kind in KINDS:
        requests.append(
            {
                "AlarmName": resource_name(context.prefix, workflow, kind.suffix),
                "AlarmDescription": f"{workflow}: {kind.description}.",
                "Namespace": context.namespace,
                "MetricName": kind.spec.name,
                "Dimensions": [{"Name": WORKFLOW_DIMENSION, "Value": workflow}],
                "Statistic": kind.statistic,
                "Period": kind.period,
                "EvaluationPeriods": kind.evaluation_periods,
                "DatapointsToAlarm": kind.datapoints_to_alarm,
                "Threshold": float(thresholds.get(kind.suffix, 0)),
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [],
                "OKActions": [],
                "Tags": _tags(workflow, route),
            }
        )
    return requests


def desired_health(workflow: str, route: Route, context: StackContext) -> dict[str, Any]:
    """The one dedicated alarm that pages: ALARM while any condition the notify messages do not carry is."""
    rule = " OR ".join(f'ALARM("{resource_name(context.prefix, workflow, kind.suffix)}")' for kind in PAGING_KINDS)
    return {
        "AlarmName": resource_name(context.prefix, workflow, "health"),
        "AlarmDescription": f"{workflow}: too slow, a retry storm or overdue (failures page through notify).",
        "AlarmRule": rule,
        "AlarmActions": [context.alarm_topic_arn],
        "OKActions": [context.alarm_topic_arn],
        "Tags": _tags(workflow, route),
    }


def desired_dashboard(shared_body: str, workflow: str, duration: int) -> dict[str, Any]:
    """The deployed workflow dashboard with this workflow fixed (no picker) and its own duration threshold."""
    body: dict[str, Any] = json.loads(shared_body.replace(WORKFLOW_PATTERN, workflow))
    body.pop("variables", None)
    for widget in body["widgets"]:
        for line in widget.get("properties", {}).get("annotations", {}).get("horizontal", []):
            if line.get("label") == "duration alarm":
                line["value"] = duration
    return body


def _tags(workflow: str, route: Route) -> list[dict[str, str]]:
    tags = [{"Key": "workflow", "Value": workflow}, {"Key": "managed-by", "Value": MANAGED_BY}]
    return tags + ([{"Key": "team", "Value": route.team}] if route.team else [])


@dataclass
class Changes:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


class Provisioner:
    """Brings one workflow's dedicated resources to what its settings ask for, through one CloudWatch client."""

    def __init__(self, cloudwatch: Any, context: StackContext, shared_dashboard: str) -> None:
        self._cloudwatch = cloudwatch
        self._context = context
        self._shared_dashboard = shared_dashboard
        self._shared_body_of_pass: str | None = None

    def start_pass(self) -> None:
        """A new pass reads the shared workflow dashboard again (once: a deploy may have changed it since the last)."""
        self._shared_body_of_pass = None

    def provision(self, workflow: str, route: Route, durations: Sequence[float]) -> Changes:
        changes = Changes()
        if workflow in RESERVED_NAMES:
            return changes
        names = alarm_names(self._context.prefix, workflow)
        found = self._cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        existing = {
            alarm["AlarmName"]: alarm for alarm in found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
        }
        dashboard_name = resource_name(self._context.dashboard_prefix, workflow)
        current_dashboard = self._dashboard(dashboard_name)
        if route.alarms != "dedicated":
            if existing:
                self._cloudwatch.delete_alarms(AlarmNames=sorted(existing))
                changes.deleted += sorted(existing)
            if current_dashboard is not None:
                self._cloudwatch.delete_dashboards(DashboardNames=[dashboard_name])
                changes.deleted.append(dashboard_name)
            return changes

        duration = learned_duration(durations, self._context.default_duration_seconds)
        for request in desired_alarms(workflow, route, self._context, duration):
            self._put(
                request, existing.get(request["AlarmName"]), self._cloudwatch.put_metric_alarm, _COMPARED, changes
            )
        health = desired_health(workflow, route, self._context)
        compared = ("AlarmDescription", "AlarmRule", "AlarmActions", "OKActions")
        self._put(health, existing.get(health["AlarmName"]), self._cloudwatch.put_composite_alarm, compared, changes)
        body = desired_dashboard(self._shared_body(), workflow, route.duration_threshold_seconds or duration)
        if current_dashboard == body:
            changes.unchanged.append(dashboard_name)
        else:
            self._cloudwatch.put_dashboard(
                DashboardName=dashboard_name, DashboardBody=json.dumps(body), Tags=_tags(workflow, route)
            )
            changes.written.append(dashboard_name)
        return changes

    def _put(
        self,
        request: dict[str, Any],
        existing: dict[str, Any] | None,
        put: Any,
        compared: Sequence[str],
        changes: Changes,
    ) -> None:
        if existing is not None and all(_same(existing.get(key), request.get(key)) for key in compared):
            changes.unchanged.append(request["AlarmName"])
            return
        put(**request)
        changes.written.append(request["AlarmName"])

    def _dashboard(self, name: str) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = json.loads(self._cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
        except (self._cloudwatch.exceptions.DashboardNotFoundError, self._cloudwatch.exceptions.ResourceNotFound):
            return None
        return body

    def _shared_body(self) -> str:
        if self._shared_body_of_pass is None:
            answer = self._cloudwatch.get_dashboard(DashboardName=self._shared_dashboard)
            self._shared_body_of_pass = str(answer["DashboardBody"])
        return self._shared_body_of_pass


def _same(found: Any, wanted: Any) -> bool:
    if isinstance(wanted, float) and isinstance(found, int | float):
        return float(found) == wanted
    if isinstance(wanted, list) and isinstance(found, list):
        return sorted(map(json.dumps, found)) == sorted(map(json.dumps, wanted))
    return bool(found == wanted)


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
    provision-errors alarm watches). With less than
    STOP_BEFORE_DEADLINE left, the pass stops; the next takes the workflows it left, most needed first (`_work`).
    """
    totals = {"workflows": 0, "written": 0, "unchanged": 0, "deleted": 0, "failed": 0, "left": 0}
    provisioner.start_pass()
    work = _work(workflows.all() if only is None else only, settings, retired, turn)
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
        totals["written"] += len(changes.written)
        totals["unchanged"] += len(changes.unchanged)
        totals["deleted"] += len(changes.deleted)
    return totals


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
    changes = provisioner.provision(workflow.workflow_name, route, durations)
    workflows.note_dedicated_resources(workflow, dedicated)
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
