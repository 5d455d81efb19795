"""Alarms and dashboards of template.yaml agree with the metric catalog: none watches a metric nobody emits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from mwaa_obs import WORKFLOW_PATTERN
from mwaa_obs.metrics import CATALOG, WORKFLOW_DIMENSION, Scope, dimension_sets
from mwaa_obs.provisioning import KINDS
from mwaa_obs_tools import dashboards, emulator

NAMESPACE_REF = "${MetricNamespace}"
NAMESPACE = "MWAAServerless/Observability"
_QUERY = re.compile(
    r"^SELECT (SUM|MAX|MIN|AVG|COUNT)\((\w+)\) "
    r'FROM SCHEMA\("([^"]+)", (\w+)\) GROUP BY (\w+) ORDER BY \1\(\) DESC LIMIT \d+$'
)
CATALOG_BY_NAME = {spec.name: spec for spec in CATALOG}
EMITTED = {(spec.name, dims) for spec in CATALOG for dims in dimension_sets(spec)}
FILL: dict[str, Any] = {
    "MetricNamespace": NAMESPACE,
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "mwaa-obs",
    "ResourcePrefix": "mwaa-obs",
    "IngestFunction": "mwaa-obs-ingest",
    "NotifyFunction": "mwaa-obs-notify",
    "FreshnessFunction": "mwaa-obs-freshness",
    "ProvisionFunction": "mwaa-obs-provision",
    "ReconcileFunction": "mwaa-obs-reconcile",
    "WidgetFunction.Arn": "arn:aws:lambda:us-east-1:123456789012:function:mwaa-obs-widget",
    "DurationAlarmSeconds": 3600,
}


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def alarm_name(properties: dict[str, Any]) -> str:
    name: str = properties["AlarmName"]["Fn::Sub"]
    return name.replace("${ResourcePrefix}", "mwaa-obs")


def query_metric(expression: str) -> tuple[str, tuple[str, ...]]:
    """(metric name, dimension set) a Metrics Insights query reads; fails on any other query shape."""
    match = _QUERY.match(expression)
    assert match, expression
    _, metric, namespace, schema_dimension, group_by = match.groups()
    assert namespace == NAMESPACE_REF
    assert schema_dimension == group_by == WORKFLOW_DIMENSION
    return metric, (schema_dimension,)


def widget_metrics(body: dict[str, Any]) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(namespace, metric name, dimension names) of every metric and query in a dashboard's metric widgets."""
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):
                expression = row[0]["expression"]
                if expression.startswith("SELECT"):
                    metric, dims = query_metric(expression.replace(NAMESPACE, NAMESPACE_REF))
                    yield NAMESPACE, metric, dims
                continue
            plain = [str(item) for item in row if not isinstance(item, dict)]
            yield plain[0], plain[1], tuple(plain[2:][0::2])


def test_every_workflow_alarm_reads_a_metric_the_pipeline_emits_under_that_dimension(template: dict[str, Any]) -> None:
    workflow_alarms = {name: p for name, p in alarms(template).items() if "Metrics" in p}
    assert len(workflow_alarms) == 5
    for name, properties in workflow_alarms.items():
        (query,) = properties["Metrics"]
        assert query_metric(query["Expression"]["Fn::Sub"]) in EMITTED, name
        assert query["ReturnData"] is True


def test_pipeline_alarms_watch_the_stacks_own_queues_and_functions(template: dict[str, Any]) -> None:
    watched = {}
    for name, properties in alarms(template).items():
        if "Metrics" in properties or properties["Namespace"] == {"Ref": "MetricNamespace"}:
            continue
        (dimension,) = properties["Dimensions"]
        watched[name] = (properties["Namespace"], properties["MetricName"], dimension["Value"])
    visible = "ApproximateNumberOfMessagesVisible"
    assert watched == {
        "EventsDeadLetterAlarm": ("AWS/SQS", visible, {"Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]}),
        "NoticesDeadLetterAlarm": ("AWS/SQS", visible, {"Fn::GetAtt": ["NoticesDeadLetterQueue", "QueueName"]}),
        "IngestErrorsAlarm": ("AWS/Lambda", "Errors", {"Ref": "IngestFunction"}),
        "IngestThrottlesAlarm": ("AWS/Lambda", "Throttles", {"Ref": "IngestFunction"}),
        "NotifyErrorsAlarm": ("AWS/Lambda", "Errors", {"Ref": "NotifyFunction"}),
        "FreshnessErrorsAlarm": ("AWS/Lambda", "Errors", {"Ref": "FreshnessFunction"}),
        "ProvisionErrorsAlarm": ("AWS/Lambda", "Errors", {"Ref": "ProvisionFunction"}),
        "ReconcileErrorsAlarm": ("AWS/Lambda", "Errors", {"Ref": "ReconcileFunction"}),
        "EventsAgeAlarm": ("AWS/SQS", "ApproximateAgeOfOldestMessage", {"Fn::GetAtt": ["EventsQueue", "QueueName"]}),
    }  # fmt: skip


def test_the_watchers_alarms_read_the_pipelines_own_fleet_metrics(template: dict[str, Any]) -> None:
    """docs/ALARMS.md, "When events stop": each sent only when something is wrong, so missing data is healthy."""
    found = {
        name: (properties["MetricName"], properties["Threshold"], properties["Period"])
        for name, properties in alarms(template).items()
        if properties.get("Namespace") == {"Ref": "MetricNamespace"} and "Dimensions" not in properties
    }
    assert found == {
        "InvalidEventsAlarm": ("InvalidEvents", 5, 3600),
        "UnknownEventTypesAlarm": ("UnknownEventTypes", 1, 3600),
        "RunsDiscoveredAlarm": ("RunsDiscovered", 1, 3600),
        "EventsStoppedAlarm": ("EventsStopped", 1, 3600),
        "PlacesUnreachableAlarm": ("PlacesUnreachable", 1, 3600),
    }
    for name in found:
        properties = alarms(template)[name]
        assert properties["TreatMissingData"] == "notBreaching"
        assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert properties["AlarmActions"] == properties["OKActions"] == [{"Ref": "AlarmTopic"}]
        assert not CATALOG_BY_NAME[properties["MetricName"]].per_workflow
    # The runs-discovered alarm looks at one hour: discovery must run at least hourly to feed it.
    allowed = template["Parameters"]["DiscoveryIntervalMinutes"]["AllowedValues"]
    assert max(allowed) <= 60


def test_every_alarm_chooses_missing_data_and_pages_only_for_what_notify_does_not_say(
    template: dict[str, Any],
) -> None:
    """One page per condition (docs/ALARMS.md): a failed or timed-out run pages through its notify message, so the
    alarms on those metrics have no actions; every other alarm tells the alarm topic both ways."""
    notify_speaks = {kind.spec.name for kind in KINDS if kind.notify_speaks}
    silent = set()
    for name, properties in alarms(template).items():
        assert properties["TreatMissingData"] in {"notBreaching", "breaching", "ignore", "missing"}, name
        assert alarm_name(properties).startswith("mwaa-obs-"), name
        metrics = properties.get("Metrics", [])
        if metrics and query_metric(metrics[0]["Expression"]["Fn::Sub"])[0] in notify_speaks:
            assert "AlarmActions" not in properties, name
            assert "OKActions" not in properties, name
            silent.add(name)
        else:
            assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
            assert properties["OKActions"] == [{"Ref": "AlarmTopic"}], name
    assert silent == {"WorkflowsFailedAlarm", "WorkflowsTimedOutAlarm"}


@pytest.mark.parametrize("logical_id", sorted(dashboards.BODIES))
def test_the_template_holds_the_dashboard_bodies_of_dashboards_dir(template: dict[str, Any], logical_id: str) -> None:
    body = template["Resources"][logical_id]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert body.strip() == dashboards.body_template(logical_id).strip(), "run `make dashboards`"


@pytest.mark.parametrize("logical_id", sorted(dashboards.BODIES))
def test_dashboard_widgets_read_only_emitted_metrics(logical_id: str) -> None:
    text = dashboards.body_template(logical_id)
    assert dashboards.placeholders(text) <= set(FILL), "a placeholder the template cannot fill"
    body = dashboards.fill(text, FILL)
    ours = [(metric, dims) for namespace, metric, dims in widget_metrics(body) if namespace == NAMESPACE]
    assert ours
    for metric, dims in ours:
        assert (metric, dims) in EMITTED, (logical_id, metric, dims)


def test_the_dashboards_alarm_widgets_name_the_templates_alarms(template: dict[str, Any]) -> None:
    # Every alarm every stack has (a dashboard body cannot name an alarm only central mode creates).
    names = {
        alarm_name(properties)
        for name, properties in alarms(template).items()
        if "Condition" not in template["Resources"][name]
    }
    fleet = dashboards.fill(dashboards.body_template("FleetDashboard"), FILL)
    (widget,) = [w for w in fleet["widgets"] if w["type"] == "alarm"]
    assert {arn.rsplit(":", 1)[1] for arn in widget["properties"]["alarms"]} == names
    workflow = dashboards.fill(dashboards.body_template("WorkflowDashboard"), FILL)
    (widget,) = [w for w in workflow["widgets"] if w["type"] == "alarm"]
    assert {arn.rsplit(":", 1)[1] for arn in widget["properties"]["alarms"]} == {
        name for name in names if "-workflows-" in name
    }


def test_the_workflow_dashboard_takes_the_workflow_typed_and_applies_it_everywhere() -> None:
    text = dashboards.body_template("WorkflowDashboard")
    body = dashboards.fill(text, FILL)
    (variable,) = body["variables"]
    assert variable["pattern"] == WORKFLOW_PATTERN
    # Typed, not picked from a metric search: a healthy workflow has no metric series of its own to be found by
    assert variable["inputType"] == "input"
    assert "search" not in variable
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if not isinstance(row[0], dict):
                assert row[2:4] == [WORKFLOW_DIMENSION, WORKFLOW_PATTERN], row
    assert json.dumps(body).count(WORKFLOW_PATTERN) >= 10
    # The runs widget is told the typed workflow too: its charts, its grid, its Gantt chart and its graph
    custom = [widget["properties"] for widget in body["widgets"] if widget["type"] == "custom"]
    assert [(p["params"]["view"], p["params"]["workflow"]) for p in custom] == [
        ("charts", WORKFLOW_PATTERN),
        ("grid", WORKFLOW_PATTERN),
        ("gantt", WORKFLOW_PATTERN),
        ("graph", WORKFLOW_PATTERN),
    ]
    assert {p["endpoint"] for p in custom} == {FILL["WidgetFunction.Arn"]}
    assert all(p["updateOn"]["timeRange"] for p in custom)  # the charts follow the dashboard's time range


def test_a_workflows_own_alarms_and_graphs_read_only_what_is_abnormal(template: dict[str, Any]) -> None:
    """A healthy workflow has no series of its own (docs/METRICS.md): a shared alarm or a graph of one workflow on a
    metric every healthy run owes would see nothing for most workflows (those are the runs widget's charts)."""
    for properties in (p for p in alarms(template).values() if "Metrics" in p):
        metric, _ = query_metric(properties["Metrics"][0]["Expression"]["Fn::Sub"])
        assert CATALOG_BY_NAME[metric].scope is Scope.EXCEPTION, metric
    for logical_id in sorted(dashboards.BODIES):
        body = dashboards.fill(dashboards.body_template(logical_id), FILL)
        for namespace, metric, dims in widget_metrics(body):
            if namespace == NAMESPACE and dims:
                assert CATALOG_BY_NAME[metric].scope is Scope.EXCEPTION, (logical_id, metric)


def test_the_fleet_dashboard_lists_the_latest_failures_and_the_matrix_with_the_runs_widget() -> None:
    body = dashboards.fill(dashboards.body_template("FleetDashboard"), FILL)
    custom, matrix = [widget["properties"] for widget in body["widgets"] if widget["type"] == "custom"]
    assert (custom["endpoint"], custom["params"]) == (FILL["WidgetFunction.Arn"], {"view": "failures"})
    assert custom["updateOn"]["timeRange"] is True  # the table follows the dashboard's time range
    assert (matrix["endpoint"], matrix["params"]["view"]) == (FILL["WidgetFunction.Arn"], "matrix")


@pytest.mark.parametrize("logical_id", ["FleetDashboard"])  # the workflow's success rate is the runs widget's
def test_ratios_fill_each_counter_so_that_a_quiet_period_still_has_a_point(logical_id: str) -> None:
    # Metric math over counters emitted only when runs end: without FILL, any missing operand drops the point
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html, FILL).
    body = dashboards.fill(dashboards.body_template(logical_id), FILL)
    ratios = [
        options["expression"]
        for widget in body["widgets"]
        for metric in widget.get("properties", {}).get("metrics", [])
        for options in metric
        if isinstance(options, dict) and "/" in options.get("expression", "")
    ]
    assert ratios
    for expression in ratios:
        operands = set(re.findall(r"\b([a-z][a-z0-9_]*)\b", expression)) - {"fill"}
        filled = set(re.findall(r"FILL\(([a-z0-9_]+), 0\)", expression))
        assert operands == filled, expression


def test_overdue_alarms_stay_in_alarm_across_an_empty_period(template: dict[str, Any]) -> None:
    from mwaa_obs.provisioning import KINDS

    shared = template["Resources"]["WorkflowsOverdueAlarm"]["Properties"]
    (dedicated,) = [kind for kind in KINDS if kind.suffix == "overdue"]
    for periods, datapoints, period in (
        (shared["EvaluationPeriods"], shared["DatapointsToAlarm"], shared["Metrics"][0]["Period"]),
        (dedicated.evaluation_periods, dedicated.datapoints_to_alarm, dedicated.period),
    ):
        # Written every 900 s, ScheduleOverdue leaves some periods of 900 s empty: 1 datapoint of 2 periods
        assert (periods, datapoints, period) == (2, 1, 900)


@pytest.mark.parametrize("logical_id", sorted(dashboards.BODIES))
def test_single_value_widgets_aggregate_the_whole_time_range(logical_id: str) -> None:
    # A bar, pie or single value widget shows one value per series: the last period's, unless setPeriodToTimeRange
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html).
    body = dashboards.fill(dashboards.body_template(logical_id), FILL)
    for widget in body["widgets"]:
        properties = widget.get("properties", {})
        if properties.get("view") in {"bar", "pie", "singleValue"}:
            assert properties.get("setPeriodToTimeRange") is True, properties.get("title")


def test_the_alarms_doc_states_the_metrics_insights_limits_and_what_the_stack_uses(template: dict[str, Any]) -> None:
    insights = [properties for properties in alarms(template).values() if "Metrics" in properties]
    limits = {int(re.search(r"LIMIT (\d+)$", p["Metrics"][0]["Expression"]["Fn::Sub"])[1]) for p in insights}  # type: ignore[index]
    documented = (emulator.REPO_ROOT / "docs" / "ALARMS.md").read_text(encoding="utf-8")
    section = documented[documented.index("### Limits of the Metrics Insights alarms") :]
    assert f"**{len(insights)}** (the shared workflow alarms)" in section
    assert limits == {500}
    for limit in ("200, not adjustable", "the latest 3 hours", "100+ time series", "`LIMIT 500`", "10,000"):
        assert limit in section, limit
