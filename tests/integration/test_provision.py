"""Dedicated alarms and dashboards per workflow, on the emulator: created on first sight, idempotent, updated and
removed as the settings change."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest

from mwaa_obs.metrics import CATALOG, dimension_sets
from mwaa_obs.pacing import Pacer
from mwaa_obs.provision_pass import ProvisioningIncomplete, provision_all, provision_invocation
from mwaa_obs.provisioning import Provisioner, StackContext
from mwaa_obs.settings import parse_settings
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.workflows import Workflows
from mwaa_obs_tools import dashboards, localstack
from mwaa_obs_tools.factories import T0, minutes, run_event, sqs_event, workflow_arn
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext, matches_filter
from tests.conftest import FUNCTIONS, SETTINGS_PARAMETER

TOPIC = "arn:aws:sns:us-east-1:123456789012:mwaa-obs-test-alarms"
CONTEXT = StackContext("mwaa-obs", "MWAAServerless/Test", TOPIC, 3600, 10, "mwaa-obs-us-east-1")
SHARED_DASHBOARD = "mwaa-obs-us-east-1-workflow"
SALES_DASHBOARD = "mwaa-obs-us-east-1-sales_etl"
SALES = workflow_arn("sales_etl", "Sa1e5Sa1e5")
DEDICATED = {"workflows": [{"match": "sales_*", "alarms": "dedicated", "team": "sales"}]}
EMITTED = {(spec.name, dims) for spec in CATALOG for dims in dimension_sets(spec)}
FILL: dict[str, Any] = {
    "MetricNamespace": "MWAAServerless/Test", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws", "AWS::StackName": "mwaa-obs", "ResourcePrefix": "mwaa-obs", "DurationAlarmSeconds": 3600,
    "WidgetFunction.Arn": "arn:aws:lambda:us-east-1:123456789012:function:mwaa-obs-widget",
}  # fmt: skip


@pytest.fixture
def cloudwatch(endpoint: str) -> Iterator[Any]:
    """A client on the emulator paced as the provision function's is, and the stack's shared workflow dashboard
    deployed."""
    client = Pacer().attach(localstack.client(endpoint, "cloudwatch"))
    body = dashboards.fill(dashboards.body_template("WorkflowDashboard"), FILL)
    client.put_dashboard(DashboardName=SHARED_DASHBOARD, DashboardBody=json.dumps(body))
    yield client
    found = client.describe_alarms(AlarmNamePrefix="mwaa-obs-", AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    alarms = found["MetricAlarms"] + found["CompositeAlarms"]
    if alarms:
        client.delete_alarms(AlarmNames=[alarm["AlarmName"] for alarm in alarms])
    names = [entry["DashboardName"] for entry in client.list_dashboards()["DashboardEntries"]]
    client.delete_dashboards(DashboardNames=names)


@pytest.fixture
def provisioner(cloudwatch: Any) -> Provisioner:
    return Provisioner(cloudwatch, CONTEXT, SHARED_DASHBOARD)


@pytest.fixture
def sales_history(state_table: str, ingest_handler: ModuleType) -> None:
    """Six successful runs of sales_etl lasting 10 to 15 minutes."""
    events = []
    for n, length in enumerate((10, 11, 12, 13, 14, 15)):
        began = T0 + timedelta(hours=n)
        events += [
            run_event("Started", f"r{n}", began, arn=SALES),
            run_event("Running", f"r{n}", began + minutes(1), arn=SALES),
            run_event("Succeeded", f"r{n}", began + minutes(1 + length), arn=SALES),
        ]
    for start in range(0, len(events), 10):
        ingest_handler.lambda_handler(sqs_event(events[start : start + 10]), FakeLambdaContext())


def test_a_dedicated_workflow_gets_its_alarms_health_alarm_and_dashboard(
    provisioner: Provisioner, cloudwatch: Any, sales_history: None, workflows: Workflows, runs: Runs
) -> None:
    sent_dashboards: dict[str, dict[str, Any]] = {}
    cloudwatch.meta.events.register(
        "provide-client-params.cloudwatch.PutDashboard",
        lambda params, **_: sent_dashboards.__setitem__(params["DashboardName"], dict(params)),
    )
    totals = provision_all(provisioner, parse_settings(json.dumps(DEDICATED)), workflows, runs)
    assert totals == {"workflows": 1, "written": 7, "unchanged": 0, "deleted": 0, "retagged": 0, "failed": 0, "left": 0}
    alarms = {
        a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNamePrefix="mwaa-obs-sales_etl-")["MetricAlarms"]
    }
    assert set(alarms) == {
        f"mwaa-obs-sales_etl-{kind}" for kind in ("failed", "timed-out", "too-slow", "retry-storm", "overdue")
    }
    for alarm in alarms.values():
        # Each watches a metric the pipeline emits, per workflow, and pages nobody: the composite does
        assert (alarm["MetricName"], ("WorkflowName",)) in EMITTED
        assert alarm["Dimensions"] == [{"Name": "WorkflowName", "Value": "sales_etl"}]
        assert alarm["Namespace"] == "MWAAServerless/Test"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == alarm["OKActions"] == []
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        assert {"Key": "workflow", "Value": "sales_etl"} in tags
        assert {"Key": "managed-by", "Value": "mwaa-obs"} in tags
    # The duration threshold is learned: twice the p90 of the six runs (15 min)
    assert alarms["mwaa-obs-sales_etl-too-slow"]["Threshold"] == 1800
    assert alarms["mwaa-obs-sales_etl-retry-storm"]["Threshold"] == 10
    (health,) = cloudwatch.describe_alarms(AlarmNames=["mwaa-obs-sales_etl-health"], AlarmTypes=["CompositeAlarm"])[
        "CompositeAlarms"
    ]
    # The composite pages, both ways, for what the notify messages do not carry (failures and timeouts they do)
    assert health["AlarmRule"] == (
        'ALARM("mwaa-obs-sales_etl-too-slow") OR ALARM("mwaa-obs-sales_etl-retry-storm") OR '
        'ALARM("mwaa-obs-sales_etl-overdue")'
    )
    assert health["AlarmActions"] == health["OKActions"] == [TOPIC]
    dashboard = cloudwatch.get_dashboard(DashboardName=SALES_DASHBOARD)
    body = json.loads(dashboard["DashboardBody"])
    assert {"Key": "workflow", "Value": "sales_etl"} in sent_dashboards[SALES_DASHBOARD]["Tags"]
    assert _tags_of(cloudwatch, dashboard["DashboardArn"]) == {
        "workflow": "sales_etl", "managed-by": "mwaa-obs", "team": "sales", "mwaa-obs-prefix": "mwaa-obs"
    }  # fmt: skip
    assert "variables" not in body
    assert "__workflow__" not in json.dumps(body)
    assert '"sales_etl"' in json.dumps(body)
    # Its charts, grid, Gantt chart and graph show this workflow, the charts with its own too-slow threshold
    custom = [widget["properties"]["params"] for widget in body["widgets"] if widget["type"] == "custom"]
    assert [(params["view"], params["workflow"]) for params in custom] == [
        ("charts", "sales_etl"),
        ("grid", "sales_etl"),
        ("gantt", "sales_etl"),
        ("graph", "sales_etl"),
    ]
    assert custom[0]["threshold"] == alarms["mwaa-obs-sales_etl-too-slow"]["Threshold"]


def test_provisioning_again_changes_nothing(
    provisioner: Provisioner, sales_history: None, workflows: Workflows, runs: Runs
) -> None:
    settings = parse_settings(json.dumps(DEDICATED))
    provision_all(provisioner, settings, workflows, runs)
    assert provision_all(provisioner, settings, workflows, runs) == {
        "workflows": 1,
        "written": 0,
        "unchanged": 7,
        "deleted": 0,
        "retagged": 0,
        "failed": 0,
        "left": 0,
    }


def test_a_new_threshold_or_dashboard_template_updates_only_what_changed(
    provisioner: Provisioner, cloudwatch: Any, sales_history: None, workflows: Workflows, runs: Runs
) -> None:
    provision_all(provisioner, parse_settings(json.dumps(DEDICATED)), workflows, runs)
    rule = {"match": "sales_*", "alarms": "dedicated", "team": "sales", "duration_threshold_seconds": 900}
    changes = provisioner.provision(
        "sales_etl", parse_settings(json.dumps({"workflows": [rule]})).route_for("sales_etl"), []
    )
    assert sorted(changes.written) == sorted([SALES_DASHBOARD, "mwaa-obs-sales_etl-too-slow"])  # threshold drawn too
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["mwaa-obs-sales_etl-too-slow"])["MetricAlarms"]
    assert alarm["Threshold"] == 900


def test_a_workflow_that_is_no_longer_dedicated_loses_its_resources(
    provisioner: Provisioner, cloudwatch: Any, sales_history: None, workflows: Workflows, runs: Runs
) -> None:
    provision_all(provisioner, parse_settings(json.dumps(DEDICATED)), workflows, runs)
    totals = provision_all(provisioner, parse_settings("{}"), workflows, runs)
    assert totals["deleted"] == 7
    assert cloudwatch.describe_alarms(AlarmNamePrefix="mwaa-obs-sales_etl-")["MetricAlarms"] == []
    assert SALES_DASHBOARD not in [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]


def test_a_workflow_without_dedicated_resources_is_checked_once_then_costs_no_cloudwatch_call(
    provisioner: Provisioner, cloudwatch: Any, sales_history: None, workflows: Workflows, runs: Runs
) -> None:
    calls: list[str] = []

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    cloudwatch.meta.events.register("before-call.cloudwatch", count)
    shared, dedicated = parse_settings("{}"), parse_settings(json.dumps(DEDICATED))
    # Given a shared workflow checked by one pass (it might have had resources before this version)
    provision_all(provisioner, shared, workflows, runs)
    assert sorted(calls) == ["DescribeAlarms", "GetDashboard"]
    # When the next passes run with the same settings
    calls.clear()
    provision_all(provisioner, shared, workflows, runs)
    provision_all(provisioner, shared, workflows, runs)
    # Then CloudWatch is not asked again
    assert calls == []
    # And once the settings make it dedicated, it gets its resources, and loses them when they no longer do
    assert provision_all(provisioner, dedicated, workflows, runs)["written"] == 7
    assert provision_all(provisioner, shared, workflows, runs)["deleted"] == 7
    calls.clear()
    provision_all(provisioner, shared, workflows, runs)
    assert calls == []
    cloudwatch.meta.events.unregister("before-call.cloudwatch", count)


def test_first_sight_through_the_table_stream_provisions_the_new_workflow(
    endpoint: str,
    state_table: str,
    cloudwatch: Any,
    template: dict[str, Any],
    function_module: Callable[[str], ModuleType],
    ingest_handler: ModuleType,
) -> None:
    # Given the settings make sales_* dedicated, the provision function as Lambda would load it (acting as its role,
    # so its names are this environment's), and the stack's shared dashboard under those names
    ssm = localstack.client(endpoint, "ssm")
    ssm.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps(DEDICATED), Type="String", Overwrite=True)
    provision = function_module("ProvisionFunction")
    body = dashboards.fill(dashboards.body_template("WorkflowDashboard"), FILL | {"ResourcePrefix": FUNCTIONS.prefix})
    cloudwatch.put_dashboard(DashboardName=provision.config.workflow_dashboard, DashboardBody=json.dumps(body))
    # When the first event of the workflow is ingested, and the stream's new workflow item is handed over
    ingest_handler.lambda_handler(sqs_event([run_event("Started", "first", T0, arn=SALES)]), FakeLambdaContext())
    (pattern,) = _first_sight_filters(template)
    records = [record for record in _stream_records(endpoint, state_table) if matches_filter(pattern, record)]
    assert len(records) == 1
    summary = provision.lambda_handler({"Records": records}, FakeLambdaContext(function_name="provision"))
    # Then its dedicated alarms exist
    assert summary["workflows"] == 1
    found = cloudwatch.describe_alarms(AlarmNamePrefix=f"{FUNCTIONS.prefix}-sales_etl-")["MetricAlarms"]
    assert len(found) == 5
    ssm.delete_parameter(Name=SETTINGS_PARAMETER)


def _stream_records(endpoint: str, table: str) -> list[dict[str, Any]]:
    dynamodb, streams = localstack.client(endpoint, "dynamodb"), localstack.client(endpoint, "dynamodbstreams")
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        records += streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return records


def _first_sight_filters(template: dict[str, Any]) -> list[dict[str, Any]]:
    source = template["Resources"]["ProvisionFunction"]["Properties"]["Events"]["FirstSight"]["Properties"]
    return [json.loads(entry["Pattern"]) for entry in source["FilterCriteria"]["Filters"]]


@pytest.mark.parametrize("fault", ["refused by CloudWatch", "a value the code does not expect"])
def test_a_workflow_that_fails_does_not_stop_the_others(
    provisioner: Provisioner, cloudwatch: Any, ingest_handler: ModuleType, workflows: Workflows, runs: Runs, fault: str
) -> None:
    # Given two dedicated workflows, and every alarm of the first failing: CloudWatch refusing it (moto validates
    # no names), or an error of the code's own (issue 33: one bad item never stops a pass)
    other = workflow_arn("sales_other", "Sa1e5Oth3r")
    for arn in (SALES, other):
        ingest_handler.lambda_handler(sqs_event([run_event("Started", "r", T0, arn=arn)]), FakeLambdaContext())

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if not params["AlarmName"].startswith("mwaa-obs-sales_etl-"):
            return
        if fault == "refused by CloudWatch":
            raise cloudwatch.exceptions.InvalidParameterValueException(
                {"Error": {"Code": "InvalidParameterValue", "Message": "refused"}}, "PutMetricAlarm"
            )
        raise ValueError(f"unexpected alarm name {params['AlarmName']!r}")

    cloudwatch.meta.events.register("provide-client-params.cloudwatch.PutMetricAlarm", refuse)
    try:
        # When the pass runs
        with pytest.raises(ProvisioningIncomplete):
            provision_invocation(
                {"time": T0.isoformat()},
                provisioner,
                parse_settings(json.dumps(DEDICATED)),
                workflows,
                runs,
                retention=timedelta(days=14),
            )
    finally:
        cloudwatch.meta.events.unregister("provide-client-params.cloudwatch.PutMetricAlarm", refuse)
    # Then the other workflow got its alarms all the same
    found = cloudwatch.describe_alarms(AlarmNamePrefix="mwaa-obs-sales_other-")["MetricAlarms"]
    assert len(found) == 5


def _first_runs(ingest_handler: ModuleType, names: list[str]) -> None:
    """One started run of each workflow (its first event creates its workflow item)."""
    for number, name in enumerate(names):
        arn = workflow_arn(name, f"Wf{number:08d}")
        ingest_handler.lambda_handler(sqs_event([run_event("Started", "r", T0, arn=arn)]), FakeLambdaContext())


def _counting(client: Any, service: str) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    client.meta.events.register(
        f"provide-client-params.{service}", lambda params, model, **_: calls.append((model.name, dict(params)))
    )
    return calls


def test_a_pass_reads_the_shared_dashboard_once(
    provisioner: Provisioner, cloudwatch: Any, ingest_handler: ModuleType, workflows: Workflows, runs: Runs
) -> None:
    _first_runs(ingest_handler, ["sales_a", "sales_b", "sales_c"])
    calls = _counting(cloudwatch, "cloudwatch")
    assert provision_all(provisioner, parse_settings(json.dumps(DEDICATED)), workflows, runs)["workflows"] == 3
    shared_reads = [params for name, params in calls if params.get("DashboardName") == SHARED_DASHBOARD]
    assert len(shared_reads) == 1
    # And the next pass reads it again (a deploy may have changed it between passes)
    provision_all(provisioner, parse_settings(json.dumps(DEDICATED)), workflows, runs)
    assert len([params for name, params in calls if params.get("DashboardName") == SHARED_DASHBOARD]) == 2


def test_first_sight_reads_the_new_workflow_from_the_stream_not_the_workflow_list(
    endpoint: str,
    state_table: str,
    cloudwatch: Any,
    template: dict[str, Any],
    function_module: Callable[[str], ModuleType],
    ingest_handler: ModuleType,
) -> None:
    # Given 30 workflows known, the provision function as Lambda would load it (acting as its role, with this
    # environment's names), and the stack's shared dashboard under those names
    ssm = localstack.client(endpoint, "ssm")
    ssm.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps(DEDICATED), Type="String", Overwrite=True)
    _first_runs(ingest_handler, [f"other_{number}" for number in range(30)])
    provision = function_module("ProvisionFunction")
    body = dashboards.fill(dashboards.body_template("WorkflowDashboard"), FILL | {"ResourcePrefix": FUNCTIONS.prefix})
    cloudwatch.put_dashboard(DashboardName=provision.config.workflow_dashboard, DashboardBody=json.dumps(body))
    reads = _counting(provision.workflows._client, "dynamodb")
    # When a new workflow's first event is ingested and its stream record handed over
    ingest_handler.lambda_handler(sqs_event([run_event("Started", "first", T0, arn=SALES)]), FakeLambdaContext())
    (pattern,) = _first_sight_filters(template)
    records = [record for record in _stream_records(endpoint, state_table) if matches_filter(pattern, record)]
    new = [record for record in records if "sales_etl" in record["dynamodb"]["Keys"]["pk"]["S"]]
    summary = provision.lambda_handler({"Records": new}, FakeLambdaContext(function_name="provision"))
    # Then it is provisioned without reading the list of the 31 workflows (onboarding N workflows is N reads, not N²)
    assert summary["workflows"] == 1
    assert [name for name, params in reads if ":workflows" in params.get("ExpressionAttributeValues", {})] == []
    ssm.delete_parameter(Name=SETTINGS_PARAMETER)


def test_a_pass_out_of_time_stops_and_the_next_takes_what_it_left_first(
    provisioner: Provisioner, cloudwatch: Any, ingest_handler: ModuleType, workflows: Workflows, runs: Runs
) -> None:
    # Given four dedicated workflows, and a pass whose deadline comes after two of them
    _first_runs(ingest_handler, ["sales_a", "sales_b", "sales_c", "sales_d"])
    settings = parse_settings(json.dumps(DEDICATED))
    checks = iter([timedelta(minutes=4), timedelta(minutes=2), timedelta(seconds=20)])
    calls = _counting(cloudwatch, "cloudwatch")
    first = provision_all(provisioner, settings, workflows, runs, time_left=lambda: next(checks))
    # Then it stops before its deadline with two left, each one it began provisioned whole (7 resources)
    assert (first["workflows"], first["written"], first["left"]) == (2, 14, 2)
    done_first = {params["AlarmName"].split("-")[2] for name, params in calls if name == "PutMetricAlarm"}
    # And the next pass provisions the two it left, first, then checks the two done
    calls.clear()
    second = provision_all(provisioner, settings, workflows, runs)
    assert (second["workflows"], second["written"], second["unchanged"], second["left"]) == (4, 14, 14, 0)
    order = [params["AlarmNames"][0].split("-")[2] for name, params in calls if name == "DescribeAlarms"]
    assert set(order[:2]).isdisjoint(done_first)
    assert set(order[2:]) == done_first


def _tags_of(cloudwatch: Any, arn: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def _dedicated_arns(cloudwatch: Any) -> list[str]:
    found = cloudwatch.describe_alarms(
        AlarmNamePrefix="mwaa-obs-sales_etl-", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    alarms = [alarm["AlarmArn"] for alarm in found["MetricAlarms"] + found["CompositeAlarms"]]
    return [*alarms, cloudwatch.get_dashboard(DashboardName=SALES_DASHBOARD)["DashboardArn"]]


def test_a_team_that_changes_reaches_the_tags_of_every_dedicated_resource(
    provisioner: Provisioner, cloudwatch: Any, sales_history: None, workflows: Workflows, runs: Runs
) -> None:
    # Given sales_etl's dedicated resources, tagged for team sales
    provision_all(provisioner, parse_settings(json.dumps(DEDICATED)), workflows, runs)
    arns = _dedicated_arns(cloudwatch)
    assert len(arns) == 7
    assert {_tags_of(cloudwatch, arn)["team"] for arn in arns} == {"sales"}
    # When the settings give it to team finance (CloudWatch ignores Tags on a put that updates a resource)
    finance = {"workflows": [{"match": "sales_*", "alarms": "dedicated", "team": "finance"}]}
    totals = provision_all(provisioner, parse_settings(json.dumps(finance)), workflows, runs)
    # Then every resource says finance, and nothing else was rewritten
    assert (totals["retagged"], totals["written"]) == (7, 0)
    assert {_tags_of(cloudwatch, arn)["team"] for arn in arns} == {"finance"}
    # And without a team, the team tag goes; the others and a tag someone added stay
    cloudwatch.tag_resource(ResourceARN=arns[0], Tags=[{"Key": "cost-centre", "Value": "42"}])
    provision_all(
        provisioner,
        parse_settings(json.dumps({"workflows": [{"match": "sales_*", "alarms": "dedicated"}]})),
        workflows,
        runs,
    )
    assert _tags_of(cloudwatch, arns[0]) == {
        "workflow": "sales_etl", "managed-by": "mwaa-obs", "mwaa-obs-prefix": "mwaa-obs", "cost-centre": "42"
    }  # fmt: skip
    assert all("team" not in _tags_of(cloudwatch, arn) for arn in arns)
    # And once the tags are as wanted, a pass asks CloudWatch nothing about them
    calls = _counting(cloudwatch, "cloudwatch")
    assert (
        provision_all(
            provisioner,
            parse_settings(json.dumps({"workflows": [{"match": "sales_*", "alarms": "dedicated"}]})),
            workflows,
            runs,
        )["retagged"]
        == 0
    )
    assert [name for name, _ in calls if "Tag" in name] == []


def test_a_new_workflow_that_is_not_dedicated_costs_no_cloudwatch_call(
    provisioner: Provisioner, cloudwatch: Any, ingest_handler: ModuleType, workflows: Workflows, runs: Runs
) -> None:
    # Given a new workflow, first seen (as its stream record brings it), that the settings leave on the shared alarms
    _first_runs(ingest_handler, ["scratch_one"])
    calls = _counting(cloudwatch, "cloudwatch")
    # When the first-sight invocation handles it
    totals = provision_all(provisioner, parse_settings(json.dumps(DEDICATED)), workflows, runs, only=workflows.all())
    # Then it is noted as having no dedicated resources without asking CloudWatch, and no pass asks about it again
    assert totals["workflows"] == 1
    assert calls == []
    assert [workflow.dedicated_resources for workflow in workflows.all()] == [False]
    provision_all(provisioner, parse_settings(json.dumps(DEDICATED)), workflows, runs)
    assert calls == []
