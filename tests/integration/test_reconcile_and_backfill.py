"""The MWAA Serverless API as the source of truth, on the local stack: events lost on the way are repaired by one
reconcile pass (with the alerts they owed, once), backfill rebuilds the same history, throttling is retried."""

from __future__ import annotations

import json
import os
import random
import urllib.request
from datetime import timedelta
from typing import Any

import pytest

from mwaa_obs.aws import dynamodb_client
from mwaa_obs.metrics import SeriesPolicy
from mwaa_obs.mwaa_api import MwaaApi, api_client
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import WORKFLOW_SORT_KEY, WorkflowItem, workflow_key
from mwaa_obs.store.transitions import Transitions
from mwaa_obs_tools import backfill, emulator, localstack
from mwaa_obs_tools.sample_events import HOME
from mwaa_obs_tools.simulator.faults import Faults
from tests.integration.test_end_to_end import create_example_workflows, failures_told, truth_runs

LOSS_RATE = 0.10


@pytest.fixture(scope="module")
def lost(stack: localstack.LocalStack, service: Any) -> dict[str, Any]:
    """Given the example workflows run for two simulated hours with failures, while 10 % of the events, and every
    final event of create_s3_objects' runs, are lost on the way to EventBridge."""
    chance = random.Random(7)
    dropped: list[dict[str, Any]] = []

    def on_the_way(entry: dict[str, Any]) -> dict[str, Any] | None:
        detail = json.loads(entry["Detail"])
        final_run = (
            entry["DetailType"].endswith(("Run Failed", "Run Succeeded")) and "create_s3" in detail["workflowArn"]
        )
        if final_run or chance.random() < LOSS_RATE:
            dropped.append(entry)
            return None
        return entry

    stack.sink.on_the_way = on_the_way
    settings = {"defaults": {"group_window_minutes": 0}}
    arns = create_example_workflows(stack, settings)
    stack.engine.set_faults("create_s3_objects", Faults(fail={"create_object_2"}))
    stack.engine.set_faults("simple_s3_test", Faults(fail_first={"list_objects": 1}))
    for name in ("create_s3_objects", "simple_s3_test", "create_s3_objects"):
        service.start_workflow_run(WorkflowArn=arns[name])
    for _ in range(6):  # one simulated hour: every run ends, the reconciler's settle time has not passed
        stack.engine.advance(stack.engine.now + timedelta(minutes=10))
        stack.pump()
    before = _stored(stack, arns)
    stack.sink.on_the_way = lambda entry: entry
    for _ in range(12):  # two more hours: reconcile passes run on their schedule
        stack.engine.advance(stack.engine.now + timedelta(minutes=10))
        stack.pump()
    return {"arns": arns, "dropped": dropped, "before": before}


def _stored(stack: localstack.LocalStack, arns: dict[str, str]) -> dict[tuple[str, str], str | None]:
    return {
        (name, run.run_id): run.status
        for name, arn in arns.items()
        for run in stack.runs.recent(arn.rsplit("/", 1)[1], limit=100)
    }


def _stored_tasks(stack: localstack.LocalStack, arns: dict[str, str], run_ids: list[tuple[str, str]]) -> dict[Any, Any]:
    found: dict[Any, Any] = {}
    for name, run_id in run_ids:
        _, attempts = stack.runs.load(arns[name].rsplit("/", 1)[1], run_id)
        for attempt in attempts:
            key = (run_id, attempt.task_instance_id)
            if key not in found or attempt.attempt > found[key][0]:
                found[key] = (attempt.attempt, attempt.status, attempt.error_message)
    return found


def _truth_tasks(service: Any, arns: dict[str, str], run_ids: list[tuple[str, str]]) -> dict[Any, Any]:
    truth = {}
    for name, run_id in run_ids:
        for summary in service.list_task_instances(WorkflowArn=arns[name], RunId=run_id)["TaskInstances"]:
            if summary["Status"] == "NONE":
                continue
            task = service.get_task_instance(
                WorkflowArn=arns[name], RunId=run_id, TaskInstanceId=summary["TaskInstanceId"]
            )
            truth[(run_id, task["TaskInstanceId"])] = (task["AttemptNumber"], task["Status"], task.get("ErrorMessage"))
    return truth


def test_lost_events_left_the_stored_state_wrong_before_the_reconciler_ran(lost: dict[str, Any], service: Any) -> None:
    truth = {key: run["status"] for key, run in truth_runs(service, lost["arns"]).items()}
    assert len(lost["dropped"]) >= 5
    assert lost["before"] != truth


def test_one_reconcile_pass_makes_the_stored_runs_and_tasks_equal_the_truth(
    stack: localstack.LocalStack, lost: dict[str, Any], service: Any
) -> None:
    truth = {key: run["status"] for key, run in truth_runs(service, lost["arns"]).items()}
    assert _stored(stack, lost["arns"]) == truth
    assert _stored_tasks(stack, lost["arns"], list(truth)) == _truth_tasks(service, lost["arns"], list(truth))


def test_the_alerts_the_lost_events_owed_were_sent_once(
    stack: localstack.LocalStack, lost: dict[str, Any], service: Any
) -> None:
    failed = sorted(
        (name, run_id, run["status"])
        for (name, run_id), run in truth_runs(service, lost["arns"]).items()
        if run["status"] in {"FAILED", "TIMEOUT"}
    )
    assert failed
    assert sorted(failures_told(stack.alerts())) == failed


def test_backfill_into_an_empty_table_rebuilds_the_same_history_and_is_idempotent(
    stack: localstack.LocalStack, lost: dict[str, Any], service: Any, dynamodb: Any
) -> None:
    table = "mwaa-obs-backfill-test"
    emulator.create_state_table(dynamodb, table, stack.template)
    os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"] = stack.simulator.url
    api = MwaaApi(api_client())
    try:
        client = dynamodb_client(stack.endpoint)
        store = Transitions(client, table, timedelta(days=90), home=HOME)
        first = backfill.backfill(api, store)
        again = backfill.backfill(api, store)
        truth = {key: run["status"] for key, run in truth_runs(service, lost["arns"]).items()}
        rebuilt = {
            (name, run.run_id): run.status
            for name, arn in lost["arns"].items()
            for run in Runs(client, table).recent(arn.rsplit("/", 1)[1], limit=100)
        }
        assert rebuilt == truth
        assert first.runs == len(truth)
        assert first.new > 0
        assert again.new == 0
    finally:
        emulator.delete_state_table(dynamodb, table)


def test_backfill_publishes_each_runs_metrics_at_its_own_time(
    stack: localstack.LocalStack, lost: dict[str, Any], service: Any, dynamodb: Any
) -> None:
    table, namespace = "mwaa-obs-backfill-metrics", "MWAAServerless/BackfillTest"
    emulator.create_state_table(dynamodb, table, stack.template)
    os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"] = stack.simulator.url
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    try:
        store = Transitions(dynamodb_client(stack.endpoint), table, timedelta(days=90), home=HOME)
        report = backfill.BackfillReport()
        publish = backfill.metric_publisher(cloudwatch, namespace, stack.engine.now, report)
        full = SeriesPolicy(full=True)  # every workflow's own series carry RunStarted (docs/METRICS.md)
        backfill.backfill(
            MwaaApi(api_client()), store, publish=publish, now=stack.engine.now, report=report, policies=lambda _: full
        )
    finally:
        emulator.delete_state_table(dynamodb, table)
    # Then each run's start is counted once, at the time the run was created (the first event backfill rebuilds)
    checked = set()
    for name, arn in lost["arns"].items():
        created = sorted(
            service.get_workflow_run(WorkflowArn=arn, RunId=summary["RunId"])["RunDetail"]["CreatedAt"]
            for summary in service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]
        )
        if not created:  # a cron workflow whose next fire lies beyond the simulated hours (they start at wall time)
            continue
        checked.add(name)
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName="RunStarted",
            Dimensions=[{"Name": "WorkflowName", "Value": name}],
            StartTime=created[0] - timedelta(hours=1),
            EndTime=stack.engine.now + timedelta(hours=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        assert sorted(point["Timestamp"] for point in points for _ in range(int(point["Sum"]))) == created, name
    assert checked >= {"create_s3_objects", "simple_s3_test"}  # the ones started on demand
    assert report.metrics_published > 0
    assert report.metrics_too_old == 0


def test_what_task_events_lack_is_read_once_from_the_api_and_reaches_the_alert(
    stack: localstack.LocalStack, lost: dict[str, Any], service: Any
) -> None:
    # Given simple_s3_test's task events arriving without operator, log stream and error
    def trimmed(entry: dict[str, Any]) -> dict[str, Any]:
        detail = json.loads(entry["Detail"])
        if "Task" in entry["DetailType"] and "simple_s3_test" in detail["workflowArn"]:
            for name in ("operatorName", "logStream", "errorMessage"):
                detail.pop(name, None)
        return {**entry, "Detail": json.dumps(detail)}

    stack.sink.on_the_way = trimmed
    arn = lost["arns"]["simple_s3_test"]
    stack.engine.set_faults("simple_s3_test", Faults(fail={"list_objects"}))
    reads_before = stack.simulator.traffic.calls["GetTaskInstance"]
    alerts_before = len(stack.alerts())
    # When a run fails, within the reconciler's settle time (so that only enrichment asks the API)
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    try:
        while service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]["RunState"] != "FAILED":
            stack.engine.advance(stack.engine.now + timedelta(minutes=5))
            stack.pump()
        stack.pump()
    finally:
        stack.sink.on_the_way = lambda entry: entry
    # Then every stored attempt was read once, and the failed one holds the API's operator, log stream and error
    _, attempts = stack.runs.load(arn.rsplit("/", 1)[1], run_id)
    assert stack.simulator.traffic.calls["GetTaskInstance"] - reads_before == len(attempts)
    (failed,) = [attempt for attempt in attempts if attempt.status == "FAILED"]
    truth = service.get_task_instance(WorkflowArn=arn, RunId=run_id, TaskInstanceId=failed.task_instance_id)
    assert (failed.operator, failed.log_stream, failed.error_message) == (
        truth["OperatorName"],
        truth["LogStream"],
        truth["ErrorMessage"],
    )
    # And the alert names the error the events lacked
    (alert,) = [m for m in stack.alerts()[alerts_before:] if run_id in m["Subject"]]
    assert truth["ErrorMessage"] in alert["Message"]


def test_a_throttled_api_is_retried(stack: localstack.LocalStack, lost: dict[str, Any]) -> None:
    os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"] = stack.simulator.url
    api = MwaaApi(api_client())
    arn = lost["arns"]["simple_s3_test"]
    request = urllib.request.Request(
        f"{stack.simulator.url}/_simulator/throttle", data=json.dumps({"requests": 2}).encode(), method="POST"
    )
    urllib.request.urlopen(request)
    before = stack.simulator.traffic.calls["GetWorkflow"]
    assert api.workflow(arn) is not None
    assert stack.simulator.traffic.calls["GetWorkflow"] - before == 3


def test_a_run_whose_events_all_vanished_is_discovered_stored_true_and_told_once(
    stack: localstack.LocalStack, service: Any, lost: dict[str, Any]
) -> None:
    """Given a failing run none of whose events reach the bus (a rule disabled, a queue policy broken)."""
    arn = lost["arns"]["simple_s3_test"]
    workflow_id = arn.rsplit("/", 1)[1]
    stack.engine.set_faults("simple_s3_test", Faults(fail={"list_objects"}))
    stack.sink.on_the_way = lambda entry: None
    alerts_before = len(stack.alerts())
    discovered_before = _metric_sum(stack, "RunsDiscovered")
    try:
        run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
        while service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]["RunState"] != "FAILED":
            stack.engine.advance(stack.engine.now + timedelta(minutes=5))
            stack.pump()
    finally:
        stack.sink.on_the_way = lambda entry: entry
    assert stack.runs.load(workflow_id, run_id)[0] is None  # no event brought it
    # When the discovery pass (hourly) runs after the settle time
    for _ in range(15):
        stack.engine.advance(stack.engine.now + timedelta(minutes=10))
        stack.pump()
    # Then the run is stored in its true final state, marked as discovered, with its tasks
    run, attempts = stack.runs.load(workflow_id, run_id)
    truth = service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]
    assert run is not None
    assert run.status == truth["RunState"] == "FAILED"
    assert run.discovered_at is not None
    assert {attempt.status for attempt in attempts} >= {"FAILED"}
    # And it was counted once, and its failure told once
    assert _metric_sum(stack, "RunsDiscovered") - discovered_before == 1
    new_alerts = stack.alerts()[alerts_before:]
    assert sum(run_id in alert["Message"] for alert in new_alerts) == 1


def _metric_sum(stack: localstack.LocalStack, name: str) -> float:
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    answer = cloudwatch.get_metric_statistics(
        Namespace=stack.outputs["MetricNamespace"],
        MetricName=name,
        StartTime=stack.engine.now - timedelta(days=2),
        EndTime=stack.engine.now + timedelta(hours=1),
        Period=86400 * 3,
        Statistics=["Sum"],
    )
    return float(sum(point["Sum"] for point in answer["Datapoints"]))


def test_the_reconciler_stores_each_schedule_and_describes_again_what_an_earlier_version_stored(
    stack: localstack.LocalStack, service: Any, lost: dict[str, Any]
) -> None:
    def described() -> dict[str, tuple[bool, str | None]]:
        return {item.workflow_name: (item.described_at is not None, item.schedule) for item in stack.workflows.all()}

    # The passes so far stored what GetWorkflow says: the schedule, or none for a workflow run on demand
    truth = {
        name: (service.get_workflow(WorkflowArn=arn).get("ScheduleConfiguration") or {}).get("CronExpression")
        for name, arn in lost["arns"].items()
    }
    assert described() == {name: (True, schedule) for name, schedule in truth.items()}
    assert truth["create_s3_objects"] is None
    # Given an item written before described_at existed (unchanged in the API since)
    dynamodb = localstack.client(stack.endpoint, "dynamodb")
    workflow_id = lost["arns"]["nightly_sales_etl"].rsplit("/", 1)[1]
    dynamodb.update_item(
        TableName=stack.outputs["StateTableName"],
        Key={"pk": {"S": workflow_key(workflow_id)}, "sk": {"S": WORKFLOW_SORT_KEY}},
        UpdateExpression=f"REMOVE {WorkflowItem.described_at.attr_name}",
    )
    assert described()["nightly_sales_etl"] == (False, truth["nightly_sales_etl"])
    # When the next reconcile pass runs, then it reads that workflow again
    for _ in range(3):
        stack.engine.advance(stack.engine.now + timedelta(minutes=10))
        stack.pump()
    assert described()["nightly_sales_etl"] == (True, truth["nightly_sales_etl"])
