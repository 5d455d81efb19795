"""CloudWatch's alarms and dashboards as CloudWatch keeps them, where moto server keeps them otherwise.

1. Composite alarms: moto has no PutCompositeAlarm, though its alarm model keeps an alarm rule. Here PutCompositeAlarm
   stores a composite alarm in moto's own model (DescribeAlarms returns it under CompositeAlarms, DeleteAlarms
   deletes it), and DescribeAlarms honours AlarmTypes: "If you omit this parameter, only metric alarms are returned,
   even if composite alarms exist" (API_DescribeAlarms.html).
2. Tags are the creator's: PutMetricAlarm, PutCompositeAlarm and PutDashboard apply `Tags` only when they create the
   resource ("If you are using this operation to update an existing alarm, any tags you specify in this parameter
   are ignored", API_PutMetricAlarm.html; the same for composites and dashboards). moto applied an alarm's on every
   put and a dashboard's never; TagResource, UntagResource and ListTagsForResource refused dashboards ("the only
   CloudWatch resources that can be tagged are alarms", an old rule); a deleted resource kept its tags for the next
   of its name. Here as CloudWatch does.

Applied by moto_patches.apply(); docs/LOCAL_STACK.md lists them.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from moto.cloudwatch.exceptions import ResourceNotFoundException
from moto.cloudwatch.models import CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult


def apply() -> None:
    response: Any = CloudWatchResponse  # patched in place: the methods' own types do not fit the wrappers
    backend: Any = CloudWatchBackend
    response.put_composite_alarm = response.put_metric_alarm  # reads AlarmRule into moto's alarm model
    response.describe_alarms = _describe_alarms
    response.put_dashboard = _tagged_on_creation(response.put_dashboard)
    backend.put_metric_alarm = _tags_ignored_on_update(backend.put_metric_alarm)
    backend.tag_resource = _tag_resource
    backend.untag_resource = _untag_resource
    backend.delete_alarms = _untagged_when_deleted(backend.delete_alarms, _alarm_arns)
    backend.delete_dashboards = _untagged_when_deleted(backend.delete_dashboards, _dashboard_arns)


def _describe_alarms(response: CloudWatchResponse) -> ActionResult:
    backend: CloudWatchBackend = response.cloudwatch_backend
    names = response._get_param("AlarmNames", [])
    prefix = response._get_param("AlarmNamePrefix")
    state = response._get_param("StateValue")
    types = response._get_param("AlarmTypes") or ["MetricAlarm"]
    if names:  # by key: moto's own lookup compares every alarm with the list (seconds a call at 7,000 alarms)
        alarms = [backend.alarms[name] for name in dict.fromkeys(names) if name in backend.alarms]
    elif prefix:
        alarms = list(backend.get_alarms_by_alarm_name_prefix(prefix))
    else:
        alarms = list(backend.describe_alarms())
    if state:
        alarms = [alarm for alarm in alarms if alarm.state_value == state]
    metric = [alarm for alarm in alarms if alarm.rule is None] if "MetricAlarm" in types else []
    composite = [alarm for alarm in alarms if alarm.rule is not None] if "CompositeAlarm" in types else []
    return ActionResult({"MetricAlarms": metric, "CompositeAlarms": composite})


def _tags_ignored_on_update(put_metric_alarm: Any) -> Any:
    @wraps(put_metric_alarm)
    def put(backend: CloudWatchBackend, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("name") in backend.alarms:
            kwargs["tags"] = None
        return put_metric_alarm(backend, *args, **kwargs)

    return put


def _tagged_on_creation(put_dashboard: Any) -> Any:
    @wraps(put_dashboard)
    def put(response: CloudWatchResponse) -> Any:
        backend: CloudWatchBackend = response.cloudwatch_backend
        name = response._get_param("DashboardName")
        new = backend.get_dashboard(name) is None
        answer = put_dashboard(response)
        tags = response._get_param("Tags", [])
        dashboard = backend.get_dashboard(name)
        if new and tags and dashboard is not None:
            backend.tagger.tag_resource(dashboard.arn, tags)
        return answer

    return put


def _taggable(backend: CloudWatchBackend, arn: str) -> bool:
    alarms = {alarm.alarm_arn for alarm in backend.alarms.values()}
    dashboards = {dashboard.arn for dashboard in backend.dashboards.values()}
    rules = {rule.rule_arn for rule in backend.insight_rules.values()}
    return arn in alarms | dashboards | rules


def _tag_resource(backend: CloudWatchBackend, arn: str, tags: dict[str, str]) -> None:
    if not _taggable(backend, arn):
        raise ResourceNotFoundException
    backend.tagger.tag_resource(arn, backend.tagger.convert_dict_to_tags_input(tags))


def _untag_resource(backend: CloudWatchBackend, arn: str, tag_keys: list[str]) -> None:
    if not _taggable(backend, arn):
        raise ResourceNotFoundException
    backend.tagger.untag_resource_using_names(arn, tag_keys)


def _alarm_arns(backend: CloudWatchBackend, names: set[str]) -> list[str]:
    return [alarm.alarm_arn for name, alarm in backend.alarms.items() if name in names]


def _dashboard_arns(backend: CloudWatchBackend, names: set[str]) -> list[str]:
    return [dashboard.arn for name, dashboard in backend.dashboards.items() if name in names]


def _untagged_when_deleted(delete: Any, arns_of: Any) -> Any:
    @wraps(delete)
    def deleted(backend: CloudWatchBackend, names: list[str] | None = None, **named: list[str]) -> Any:
        # moto's own callers may name the argument: its CloudFormation deletes a dashboard with dashboards=[name]
        names = names if names is not None else next(iter(named.values()))
        arns = arns_of(backend, set(names))
        answer = delete(backend, names)
        for arn in arns:
            backend.tagger.delete_all_tags_for_resource(arn)
        return answer

    return deleted
