"""Central mode on the local stack: a second account in another region sends its events through the forwarder
stack deployed there (moto routes the forwarder rule's cross-account, cross-region target to the central bus), and
a workflow of the same name in each account stays two workflows everywhere: table, metrics, alarm contributors,
messages, `mwaa-obs runs list` and the runs widget. The reconciler repairs a run of the second account through the
reader role the forwarder created there, assumed with the central stack's external id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.sts.models import sts_backends

from mwaa_obs_tools import cli, localstack
from mwaa_obs_tools.alarm_evaluator import EmulatorAlarms
from mwaa_obs_tools.sample_events import EXAMPLES, OTHER
from mwaa_obs_tools.simulator.faults import Faults
from tests.integration.test_end_to_end import cli_json, deployed
from tests.integration.test_runs_views import widget_event

NAME = "orders_etl"
HOME_LABEL = NAME
OTHER_LABEL = f"{OTHER.account}/{OTHER.region}/{NAME}"


@pytest.fixture(scope="module")
def stack(endpoint: str) -> Iterator[localstack.LocalStack]:
    """The central stack (SourceAccountIds: the second account) and the forwarder deployed in that account."""
    yield from deployed(endpoint, accounts=2)


@pytest.fixture(scope="module")
def ran(stack: localstack.LocalStack) -> dict[str, Any]:
    """Given `orders_etl` in both accounts: at home two runs succeed; in the other account every run fails, and the
    final event of its second run is lost on the way (the reconciler must find it through the reader role)."""
    localstack.client(stack.endpoint, "ssm").put_parameter(
        Name=stack.outputs["SettingsParameterName"],
        Value=json.dumps({"defaults": {"group_window_minutes": 0}}),
        Type="String",
        Overwrite=True,
    )
    location = localstack.definition_location(EXAMPLES / "simple_s3_test.yaml")
    body = (EXAMPLES / "simple_s3_test.yaml").read_bytes()
    localstack.client(stack.endpoint, "s3").put_object(Bucket=location["Bucket"], Key=location["ObjectKey"], Body=body)
    home = boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1")
    other = localstack.other_account_service(stack)
    request = {"Name": NAME, "DefinitionS3Location": location, "RoleArn": localstack.WORKFLOW_ROLE_ARN}
    arns = {HOME_LABEL: home.create_workflow(**request)["WorkflowArn"]}
    arns[OTHER_LABEL] = other.create_workflow(**request)["WorkflowArn"]
    (engine,) = stack.other_engines
    engine.set_faults(NAME, Faults(fail={"list_objects"}))
    runs = {
        HOME_LABEL: [home.start_workflow_run(WorkflowArn=arns[HOME_LABEL])["RunId"] for _ in range(2)],
        OTHER_LABEL: [other.start_workflow_run(WorkflowArn=arns[OTHER_LABEL])["RunId"]],
    }
    stack.engine.advance(stack.engine.now + timedelta(minutes=20))  # the first failure ends, then the second run
    stack.pump()
    lost = other.start_workflow_run(WorkflowArn=arns[OTHER_LABEL])["RunId"]
    runs[OTHER_LABEL].append(lost)
    (sink,) = stack.other_sinks

    def lose_the_end(entry: dict[str, Any]) -> dict[str, Any] | None:
        final = entry["DetailType"].endswith(("Run Failed", "Run Succeeded"))
        return None if final and json.loads(entry["Detail"])["runId"] == lost else entry

    sink.on_the_way = lose_the_end
    for _ in range(3):  # half an hour: every run ends, the reconciler's settle time has not passed
        stack.engine.advance(stack.engine.now + timedelta(minutes=10))
        stack.pump()
    before = stack.runs.load(f"{OTHER}/{arns[OTHER_LABEL].rsplit('/', 1)[1]}", lost)[0]
    sink.on_the_way = lambda entry: entry
    start = stack.engine.now - timedelta(minutes=50)
    for _ in range(12):  # two more hours: reconcile passes on their schedule
        stack.engine.advance(stack.engine.now + timedelta(minutes=10))
        stack.pump()
    truth = {
        label: {run_id: client.get_workflow_run(WorkflowArn=arns[label], RunId=run_id)["RunDetail"]["RunState"]
                for run_id in runs[label]}
        for label, client in ((HOME_LABEL, home), (OTHER_LABEL, other))
    }  # fmt: skip
    return {"arns": arns, "runs": runs, "lost": lost, "before": before, "truth": truth, "start": start}


def _workflow_id(ran: dict[str, Any], label: str) -> str:
    service_id = ran["arns"][label].rsplit("/", 1)[1]
    return service_id if label == HOME_LABEL else f"{OTHER}/{service_id}"


def test_the_simulated_truth_is_a_success_at_home_and_failures_elsewhere(ran: dict[str, Any]) -> None:
    assert set(ran["truth"][HOME_LABEL].values()) == {"SUCCESS"}
    assert set(ran["truth"][OTHER_LABEL].values()) == {"FAILED"}
    assert ran["arns"][OTHER_LABEL].startswith(f"arn:aws:airflow-serverless:{OTHER.region}:{OTHER.account}:")


def test_the_forwarder_in_the_other_account_sends_to_the_central_bus(stack: localstack.LocalStack) -> None:
    events = localstack.client(stack.endpoint, "events", OTHER)
    (rule,) = [r for r in events.list_rules()["Rules"] if r["Arn"] == stack.forwarder_outputs["ForwardRuleArn"]]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == stack.outputs["CentralEventBusArn"]
    assert target["RoleArn"].startswith(f"arn:aws:iam::{OTHER.account}:role/")


def test_same_named_workflows_stay_two_workflows_in_the_table(
    stack: localstack.LocalStack, ran: dict[str, Any]
) -> None:
    stored = {item.workflow_name: item.workflow_arn for item in stack.workflows.all()}
    assert stored == {HOME_LABEL: ran["arns"][HOME_LABEL], OTHER_LABEL: ran["arns"][OTHER_LABEL]}
    for label in (HOME_LABEL, OTHER_LABEL):
        # the other account's runs came only through its forwarder: its simulator puts them on its own bus
        runs = {run.run_id: run.status for run in stack.runs.recent(_workflow_id(ran, label), limit=10)}
        assert runs == ran["truth"][label], label


def test_the_reconciler_repaired_the_other_accounts_run_through_the_reader_role(
    stack: localstack.LocalStack, ran: dict[str, Any]
) -> None:
    assert ran["before"] is not None
    assert ran["before"].status == "RUNNING"  # its final event was lost
    repaired, _ = stack.runs.load(_workflow_id(ran, OTHER_LABEL), ran["lost"])
    assert repaired is not None
    assert repaired.status == "FAILED"
    assumed = {(role.role_arn, role.external_id) for role in sts_backends[OTHER.account]["aws"].assumed_roles}
    reader = (stack.forwarder_outputs["ReaderRoleArn"], stack.outputs["ReaderExternalId"])
    assert reader in assumed
    assert reader[0] == f"arn:aws:iam::{OTHER.account}:role/{stack.outputs['ReaderRoleName']}-{OTHER.region}"


def test_metrics_and_alarm_contributors_name_each_workflow_by_its_place(
    stack: localstack.LocalStack, ran: dict[str, Any]
) -> None:
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    namespace = stack.outputs["MetricNamespace"]

    def labels(metric: str) -> set[str]:
        listed = cloudwatch.list_metrics(Namespace=namespace, MetricName=metric)["Metrics"]
        return {d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "WorkflowName"}

    assert labels("RunFailed") == {OTHER_LABEL}
    # What a healthy run owes feeds the fleet series only (docs/METRICS.md): no workflow's own series for it
    assert labels("RunStarted") == labels("RunSucceeded") == set()
    transitions = EmulatorAlarms(cloudwatch).transitions(ran["start"], stack.engine.now)
    failed = [t for t in transitions if t.alarm.endswith("-workflows-failed") and t.new == "ALARM"]
    assert {t.contributor for t in failed if t.contributor is not None} == {OTHER_LABEL}  # the alarm's own: None


def test_the_failure_message_names_the_place_and_links_its_region(
    stack: localstack.LocalStack, ran: dict[str, Any]
) -> None:
    messages = [m for m in stack.alerts() if " failed at " in m["Subject"]]
    assert {m["Subject"].split()[1] for m in messages} == {OTHER_LABEL}
    text = messages[0]["Message"]
    assert f"region={OTHER.region}" in text
    assert f"/aws/mwaa-serverless/{ran['arns'][OTHER_LABEL].rsplit('/', 1)[1]}/".replace("/", "$252F") in text


def test_runs_list_and_the_runs_widget_keep_them_apart(
    stack: localstack.LocalStack, ran: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    listed = cli_json(capsys, "runs", "list", "--endpoint-url", stack.endpoint)
    by_workflow: dict[str, set[str]] = {}
    for run in listed:
        by_workflow.setdefault(run["workflow_name"], set()).add(run["run_id"])
    assert by_workflow == {label: set(ran["runs"][label]) for label in (HOME_LABEL, OTHER_LABEL)}
    only = cli_json(capsys, "runs", "list", "--workflow", OTHER_LABEL, "--endpoint-url", stack.endpoint)
    assert {run["run_id"] for run in only} == set(ran["runs"][OTHER_LABEL])
    page = stack.widget(widget_event(stack, view="grid", workflow=OTHER_LABEL, runs=25))
    assert all(run_id in page for run_id in ran["runs"][OTHER_LABEL])
    assert not any(run_id in page for run_id in ran["runs"][HOME_LABEL])


def test_the_doctor_checks_the_home_workflows_and_counts_the_others_apart(
    stack: localstack.LocalStack, ran: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["doctor", "--endpoint-url", stack.endpoint, "--api-endpoint-url", stack.simulator.url, "--json"]
    capsys.readouterr()
    cli.main(command)
    (check,) = [c for c in json.loads(capsys.readouterr().out) if c["name"] == "workflows"]
    assert check["status"] == "ok"
    assert "no longer listed" not in check["detail"]  # the other account's workflow is not taken for deleted
    assert "1 of other accounts and regions" in check["detail"]


def test_backfill_of_the_other_place_reads_it_through_its_reader_role(
    stack: localstack.LocalStack, ran: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    place = f"{OTHER.account}/{OTHER.region}"
    command = ["backfill", "--place", place, "--endpoint-url", stack.endpoint]
    reader = stack.forwarder_outputs["ReaderRoleArn"]

    def times_assumed() -> int:
        return sum(role.role_arn == reader for role in sts_backends[OTHER.account]["aws"].assumed_roles)

    assumed_before = times_assumed()
    capsys.readouterr()
    assert cli.main([*command, "--api-endpoint-url", stack.simulator.url]) == 0
    printed = capsys.readouterr().out
    assert times_assumed() == assumed_before + 1  # the CLI read the other place as the reader role
    # its two runs, of its one workflow, already stored by events and the reconciler: nothing new
    assert "imported 2 runs" in printed
    assert "of 1 workflow" in printed
    assert ", 0 new)" in printed
    with pytest.raises(SystemExit):
        cli.main(["backfill", "--place", "eu-west-1", "--endpoint-url", stack.endpoint])


def test_events_stopping_in_one_account_is_said_though_the_others_still_send(
    stack: localstack.LocalStack, ran: dict[str, Any]
) -> None:
    """Last in this module: it breaks the forwarder. Home keeps sending; the other account's runs reach only its API."""
    events = localstack.client(stack.endpoint, "events", OTHER)
    (rule,) = [r for r in events.list_rules()["Rules"] if r["Arn"] == stack.forwarder_outputs["ForwardRuleArn"]]
    events.remove_targets(Rule=rule["Name"], Ids=["central-bus"])
    home = boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1")
    other = localstack.other_account_service(stack)
    (engine,) = stack.other_engines
    engine.set_faults(NAME, Faults())
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    broken_at = stack.engine.now
    for _ in range(10):  # five hours, a run in each account every half hour: past EventsStoppedHours (3)
        home.start_workflow_run(WorkflowArn=ran["arns"][HOME_LABEL])
        other.start_workflow_run(WorkflowArn=ran["arns"][OTHER_LABEL])
        for _ in range(3):
            stack.engine.advance(stack.engine.now + timedelta(minutes=10))
            stack.pump()
    stopped = cloudwatch.get_metric_statistics(
        Namespace=stack.outputs["MetricNamespace"],
        MetricName="EventsStopped",
        StartTime=broken_at,
        EndTime=stack.engine.now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert stopped, "the other account's silence was hidden by home's events"
    home_runs = stack.runs.recent(_workflow_id(ran, HOME_LABEL), limit=20)
    assert sum(run.discovered_at is None for run in home_runs) >= 10  # home's events kept coming all along
