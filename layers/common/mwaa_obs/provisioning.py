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

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from mwaa_obs.settings import Route
from mwaa_obs.stats import percentile

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
                "Tags": _tags(workflow, route, context.prefix),
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
        "Tags": _tags(workflow, route, context.prefix),
    }


def desired_dashboard(shared_body: str, workflow: str, duration: int) -> dict[str, Any]:
    """The deployed workflow dashboard with this workflow fixed (no picker) and its own duration threshold."""
    body: dict[str, Any] = json.loads(shared_body.replace(WORKFLOW_PATTERN, workflow))
    body.pop("variables", None)
    for widget in body["widgets"]:
        params = widget.get("properties", {}).get("params", {})
        if params.get("view") == "charts":  # the runs widget draws the threshold on the duration chart
            params["threshold"] = duration
    return body


# Which stack's resources these are: the provision role may write an alarm or dashboard of its name scope only while
# it carries no other stack's value here (template.yaml, ManageTheStacksAlarms): the prefix `mwaa-obs` also starts
# `mwaa-obs-dev-…`, the names of another stack's alarms.
STACK_TAG: Final = "mwaa-obs-prefix"
MANAGED_TAG_KEYS: Final = frozenset({"workflow", "managed-by", "team", STACK_TAG})  # provisioning's tags; others stay


def _tags(workflow: str, route: Route, prefix: str) -> list[dict[str, str]]:
    tags = [
        {"Key": "workflow", "Value": workflow},
        {"Key": "managed-by", "Value": MANAGED_BY},
        {"Key": STACK_TAG, "Value": prefix},
    ]
    return tags + ([{"Key": "team", "Value": route.team}] if route.team else [])


def tag_set(workflow: str, route: Route, prefix: str) -> str:
    """The tags a dedicated workflow's resources carry, as one comparable string (kept on the workflow item)."""
    return json.dumps(sorted((tag["Key"], tag["Value"]) for tag in _tags(workflow, route, prefix)))


@dataclass
class Changes:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    retagged: list[str] = field(default_factory=list)
    tags: str | None = None  # the tag set every dedicated resource now carries (None: no dedicated resources)


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

    def provision(self, workflow: str, route: Route, durations: Sequence[float], tagged: str | None = None) -> Changes:
        """Bring the workflow's dedicated resources to its route. `tagged`: the tag set they were last given
        (tag_set; None: unknown): CloudWatch ignores Tags when a put updates a resource, so tags that changed are
        compared and set with TagResource and UntagResource on the resources that existed before."""
        changes = Changes()
        if workflow in RESERVED_NAMES:
            return changes
        names = alarm_names(self._context.prefix, workflow)
        found = self._cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        existing = {
            alarm["AlarmName"]: alarm for alarm in found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
        }
        dashboard_name = resource_name(self._context.dashboard_prefix, workflow)
        current_dashboard, dashboard_arn = self._dashboard(dashboard_name)
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
            tags = _tags(workflow, route, self._context.prefix)
            self._cloudwatch.put_dashboard(DashboardName=dashboard_name, DashboardBody=json.dumps(body), Tags=tags)
            changes.written.append(dashboard_name)
        changes.tags = tag_set(workflow, route, self._context.prefix)
        if tagged != changes.tags:
            arns = [alarm["AlarmArn"] for alarm in existing.values()] + ([dashboard_arn] if dashboard_arn else [])
            changes.retagged = [arn for arn in arns if self._retag(arn, _tags(workflow, route, self._context.prefix))]
        return changes

    def _retag(self, arn: str, wanted: list[dict[str, str]]) -> bool:
        """Give an existing resource the wanted tags and drop the managed ones no longer wanted; whether it changed."""
        found = {tag["Key"]: tag["Value"] for tag in self._cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"]}
        missing = [tag for tag in wanted if found.get(tag["Key"]) != tag["Value"]]
        stale = sorted((MANAGED_TAG_KEYS & set(found)) - {tag["Key"] for tag in wanted})
        if missing:
            self._cloudwatch.tag_resource(ResourceARN=arn, Tags=missing)
        if stale:
            self._cloudwatch.untag_resource(ResourceARN=arn, TagKeys=stale)
        return bool(missing or stale)

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

    def _dashboard(self, name: str) -> tuple[dict[str, Any] | None, str | None]:
        """The dashboard's body and ARN; (None, None) when there is none."""
        try:
            answer = self._cloudwatch.get_dashboard(DashboardName=name)
        except (self._cloudwatch.exceptions.DashboardNotFoundError, self._cloudwatch.exceptions.ResourceNotFound):
            return None, None
        body: dict[str, Any] = json.loads(answer["DashboardBody"])
        return body, answer.get("DashboardArn")

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
