"""End to end on the local stack: simulator -> EventBridge -> rule -> SQS -> ingest handler -> DynamoDB, and the
CLI's --json output equal to the simulator's ground truth, read through the real boto3 client."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mwaa_obs.messages.email import LOG_GUTTER
from mwaa_obs.task_logs import excerpt
from mwaa_obs.widget import ViewReader, read_charts
from mwaa_obs_tools import cli, dashboards, demo, emulator, localstack
from mwaa_obs_tools.simulator.faults import Faults
from tests.simulator import test_definition_shapes as shapes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"


def deployed(
    endpoint: str, accounts: int = 1, template: dict[str, Any] | None = None
) -> Iterator[localstack.LocalStack]:
    """The local stack in the session's emulator, reset before and after: one moto server serves the whole session,
    and a module's stack must not meet another module's. The environment it sets is restored afterwards.
    `accounts=2`: central mode, with a second account and region (LocalStack); `template`: another template than
    template.yaml.

    The simulated day starts at 06:00 UTC of today, whatever the hour the tests run at: the example workflows' cron
    schedules (midnight, every 4 hours) then fire at the same simulated moments in every run of the suite."""
    saved = dict(os.environ)
    emulator.reset(endpoint)
    start = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    local = localstack.LocalStack(endpoint, accounts=accounts, start=start, template=template)
    local.deploy()
    local.start_simulator()
    yield local
    local.stop()
    emulator.reset(endpoint)
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def simulated(stack: localstack.LocalStack, service: Any) -> dict[str, str]:
    """Given the example workflows with a failure, a retry, a time-out and a stop, run and fully ingested (and every
    failure alerted on its own: no grouping window)."""
    settings = {
        "defaults": {"group_window_minutes": 0},
        "workflows": [{"match": "simple_s3_test", "alarms": "dedicated"}],
    }
    arns = create_example_workflows(stack, settings)
    stack.engine.set_faults("create_s3_objects", Faults(fail={"create_object_2"}))
    stack.engine.set_faults("simple_s3_test", Faults(fail_first={"list_objects": 1}))
    # every attempt outlives crawl_raw's execution_timeout (1800 s), jitter (±30 %) included: the run times out
    stack.engine.set_faults("nightly_sales_etl", Faults(durations={"crawl_raw": 9000}))
    for name in ("create_s3_objects", "simple_s3_test", "nightly_sales_etl"):
        service.start_workflow_run(WorkflowArn=arns[name])
    stopped = service.start_workflow_run(WorkflowArn=arns["simple_s3_test"])["RunId"]
    stack.engine.advance(stack.engine.now + timedelta(seconds=60))
    service.stop_workflow_run(WorkflowArn=arns["simple_s3_test"], RunId=stopped)
    for _ in range(12):  # two simulated hours, draining the queue as we go
        stack.engine.advance(stack.engine.now + timedelta(minutes=10))
        stack.pump()
    return arns


def create_example_workflows(stack: localstack.LocalStack, settings: dict[str, Any]) -> dict[str, str]:
    """The settings stored, and every example workflow uploaded and created in the simulator; name -> ARN."""
    localstack.client(stack.endpoint, "ssm").put_parameter(
        Name=stack.outputs["SettingsParameterName"], Value=json.dumps(settings), Type="String", Overwrite=True
    )
    return demo.create_workflows(stack)


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert cli.main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def iso(at: datetime | None) -> str | None:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else None


def failures_told(alerts: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(workflow, run, state) of each failure email, whether its subject names the task that broke the run
    ("[mwaa-obs] etl failed at load: ... (run r1)") or only the run's state ("[mwaa-obs] FAILED etl run r1")."""
    told = []
    for message in alerts:
        named = re.fullmatch(r"\[mwaa-obs\] (\S+) (failed|timed out) at .+ \(run (\S+)\)", message["Subject"])
        plain = re.fullmatch(r"\[mwaa-obs\] (FAILED|TIMEOUT) (\S+) run (\S+)", message["Subject"])
        if named:
            told.append((named[1], named[3], {"failed": "FAILED", "timed out": "TIMEOUT"}[named[2]]))
        elif plain:
            told.append((plain[2], plain[3], plain[1]))
    return told


def truth_runs(service: Any, arns: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    runs = {}
    for name, arn in arns.items():
        for page in service.get_paginator("list_workflow_runs").paginate(WorkflowArn=arn):
            for summary in page["WorkflowRuns"]:
                detail = service.get_workflow_run(WorkflowArn=arn, RunId=summary["RunId"])["RunDetail"]
                runs[(name, summary["RunId"])] = {
                    "workflow_name": name,
                    "workflow_arn": arn,
                    "run_id": summary["RunId"],
                    "status": detail["RunState"],
                    "started_at": iso(detail.get("StartedOn")),
                    "ended_at": iso(detail.get("CompletedOn")),
                    "duration_seconds": detail.get("Duration"),
                }
    return runs


def test_the_runs_list_equals_the_simulators_truth(
    stack: localstack.LocalStack, service: Any, simulated: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    truth = truth_runs(service, simulated)
    assert {run["status"] for run in truth.values()} >= {"SUCCESS", "FAILED", "TIMEOUT", "STOPPED"}
    listed = cli_json(capsys, "runs", "list", "--endpoint-url", stack.endpoint)
    shown = {
        (row["workflow_name"], row["run_id"]): {key: row[key] for key in truth[next(iter(truth))]} for row in listed
    }
    assert shown == truth


def test_every_run_shows_the_simulators_tasks(
    stack: localstack.LocalStack, service: Any, simulated: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    for (name, run_id), _ in truth_runs(service, simulated).items():
        arn = simulated[name]
        expected = {}
        for page in service.get_paginator("list_task_instances").paginate(WorkflowArn=arn, RunId=run_id):
            for summary in page["TaskInstances"]:
                if summary["Status"] == "NONE":
                    continue  # never scheduled: no event was ever sent for it
                task = service.get_task_instance(
                    WorkflowArn=arn, RunId=run_id, TaskInstanceId=summary["TaskInstanceId"]
                )
                expected[task["TaskInstanceId"]] = {
                    "task_id": task["TaskId"],
                    "task_instance_id": task["TaskInstanceId"],
                    "status": task["Status"],
                    "attempt": task["AttemptNumber"],
                    "started_at": iso(task.get("StartedAt")),
                    "ended_at": iso(task.get("EndedAt")),
                    "error_message": task.get("ErrorMessage"),
                }
        run = cli_json(capsys, "runs", "show", run_id, "--workflow", name, "--endpoint-url", stack.endpoint)
        shown = {t["task_instance_id"]: {key: t[key] for key in next(iter(expected.values()))} for t in run["tasks"]}
        assert shown == expected, (name, run_id)


def test_runs_show_in_text_lists_the_earlier_attempts(
    stack: localstack.LocalStack, service: Any, simulated: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the simple_s3_test run whose list_objects failed its first attempt and succeeded on retry
    retried = [
        run_id
        for (name, run_id), run in truth_runs(service, simulated).items()
        if name == "simple_s3_test" and run["status"] == "SUCCESS"
    ]
    assert retried
    capsys.readouterr()
    assert cli.main(["runs", "show", retried[0], "--workflow", "simple_s3_test", "--endpoint-url", stack.endpoint]) == 0
    text = capsys.readouterr().out
    # Then the text shows that attempt too, not only --json
    _, earlier = text.split("\nearlier attempts:\n")
    header, *rows = earlier.splitlines()
    assert header.split() == ["TASK", "ATTEMPT", "STATUS", "ERROR"]
    assert [row.split()[:3] for row in rows] == [["list_objects", "1", "UP_FOR_RETRY"]]


def test_runs_list_names_each_failed_runs_failed_tasks_and_their_errors(
    stack: localstack.LocalStack, service: Any, simulated: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the simulator's truth: each failed or timed-out run's tasks whose last attempt failed or timed out
    expected = {}
    for (name, run_id), run in truth_runs(service, simulated).items():
        if run["status"] not in {"FAILED", "TIMEOUT"}:
            continue
        tasks = []
        for page in service.get_paginator("list_task_instances").paginate(WorkflowArn=simulated[name], RunId=run_id):
            for summary in page["TaskInstances"]:
                if summary["Status"] in {"FAILED", "TIMEOUT"}:
                    task = service.get_task_instance(
                        WorkflowArn=simulated[name], RunId=run_id, TaskInstanceId=summary["TaskInstanceId"]
                    )
                    error = (task.get("ErrorMessage") or "").strip().splitlines()
                    tasks.append((task["TaskId"], task["AttemptNumber"], error[0] if error else None))
        expected[(name, run_id)] = sorted(tasks)
    assert any(expected.values())
    # Then `runs list --json` names them with the first line of each one's error, and no other run has any
    listed = cli_json(capsys, "runs", "list", "--endpoint-url", stack.endpoint)
    named = {
        (row["workflow_name"], row["run_id"]): sorted(
            (t["task_id"], t["attempt"], t["error"]) for t in row["failed_tasks"]
        )
        for row in listed
        if row["failed_tasks"]
    }
    assert named == {key: tasks for key, tasks in expected.items() if tasks}
    # And the text's ERROR column starts with the first failed task, not the run's generic error
    assert cli.main(["runs", "list", "--workflow", "create_s3_objects", "--endpoint-url", stack.endpoint]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if " FAILED " in line]
    assert rows
    assert all("  create_object_2: " in row for row in rows), rows


def test_the_metrics_reached_cloudwatch(stack: localstack.LocalStack, service: Any, simulated: dict[str, str]) -> None:
    failed = sum(1 for run in truth_runs(service, simulated).values() if run["status"] == "FAILED")
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    now = stack.engine.now  # metrics carry the simulator's clock
    total = 0.0
    for name in simulated:
        points = cloudwatch.get_metric_statistics(
            Namespace=stack.outputs["MetricNamespace"],
            MetricName="RunFailed",
            Dimensions=[{"Name": "WorkflowName", "Value": name}],
            StartTime=now - timedelta(hours=6),  # the module's simulated hours so far
            EndTime=now + timedelta(minutes=1),
            Period=21600,
            Statistics=["Sum"],
        )["Datapoints"]
        total += sum(point["Sum"] for point in points)
    assert total == failed
    # And the demo's totals are the fleet rollup's: the failures the workflows' own series count, and the runs
    # started, which a healthy run sends to the rollup only (the demo printed 0 for them from the workflows' series)
    assert demo._metric_total(stack, "RunFailed") == failed
    assert demo._metric_total(stack, "RunStarted") >= len(truth_runs(service, simulated)) > 0


def test_the_task_logs_reached_their_log_group(stack: localstack.LocalStack, simulated: dict[str, str]) -> None:
    logs = localstack.client(stack.endpoint, "logs")
    workflow_id = simulated["create_s3_objects"].rsplit("/", 1)[1]
    group = f"/aws/mwaa-serverless/{workflow_id}/"
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    failing = next(s for s in streams if "task_id=create_object_2" in s)
    assert failing.startswith(f"workflow_id={workflow_id}/run_id=")
    assert failing.endswith("/attempt=1.log")
    records = [
        json.loads(e["message"]) for e in logs.get_log_events(logGroupName=group, logStreamName=failing)["events"]
    ]
    # Airflow 3's records: the failure with its traceback, then the state the attempt was marked with
    failure = next(record for record in records if record["level"] == "error")
    assert failure["event"] == "Task failed with exception"
    assert failure["error_detail"][0]["frames"]
    assert records[-1]["event"].startswith(("Marking task as FAILED.", "Marking task as UP_FOR_RETRY."))


def test_a_failed_runs_email_and_slack_carry_its_failed_tasks_last_log_lines(
    stack: localstack.LocalStack, simulated: dict[str, str]
) -> None:
    logs = localstack.client(stack.endpoint, "logs")
    emails = [m for m in stack.alerts() if "failed at create_object_2" in m["Subject"]]
    assert emails
    email = emails[0]["Message"]
    run_id = emails[0]["Subject"].rsplit("(run ", 1)[1].rstrip(")")
    workflow_id = simulated["create_s3_objects"].rsplit("/", 1)[1]
    group = f"/aws/mwaa-serverless/{workflow_id}/"
    attempt = re.search(r"\* create_object_2 \(attempt (\d+), FAILED", email)
    assert attempt is not None
    stream = f"workflow_id={workflow_id}/run_id={run_id}/task_id=create_object_2/attempt={attempt[1]}.log"
    held = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]]
    tail = excerpt(held)
    # The email shows the log's last lines, as read at decision time, each behind the gutter
    assert "  Last log lines of create_object_2, attempt " in email
    for line in tail:
        assert f"\n{LOG_GUTTER}{line}" in email
    assert f"{LOG_GUTTER}INFO - Marking task as FAILED. dag_id=create_s3_objects, task_id=create_object_2" in email
    # And so does the Slack message for that run, in a code block under the task
    assert stack.slack is not None
    (payload,) = [p for p in stack.slack.delivered() if f"run `{run_id}`" in str(p["blocks"])]
    (shown,) = [b["text"]["text"] for b in payload["blocks"] if "Last log lines" in str(b)]
    assert "Task failed with exception" in shown
    assert "Traceback (most recent call last):" in shown


def test_each_failed_or_timed_out_run_was_told_once_by_email_and_slack(
    stack: localstack.LocalStack, service: Any, simulated: dict[str, str]
) -> None:
    # (Runs before the tests below add failures of their own.)
    failed = {
        (run["workflow_name"], run["run_id"], run["status"])
        for run in truth_runs(service, simulated).values()
        if run["status"] in {"FAILED", "TIMEOUT"}
    }
    assert {status for _, _, status in failed} == {"FAILED", "TIMEOUT"}
    # Each failed run told by email once, its subject naming the task that broke it (or its state, if none did)
    alerts = stack.alerts()
    told = failures_told(alerts)
    assert len(told) == len(alerts), [message["Subject"] for message in alerts]
    assert set(told) == failed
    assert len(alerts) == len(failed)
    assert stack.slack is not None
    slack_runs = sorted(
        next(block["text"]["text"] for block in payload["blocks"] if block["type"] == "section")
        for payload in stack.slack.delivered()
    )
    assert len(slack_runs) == len(failed)
    for name, run_id, _ in failed:
        assert sum(f"*{name}* run `{run_id}`" in text for text in slack_runs) == 1


def test_a_workflow_set_to_dedicated_got_its_own_alarms_and_dashboard_at_first_sight(
    stack: localstack.LocalStack, simulated: dict[str, str]
) -> None:
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    own = cloudwatch.describe_alarms(AlarmNamePrefix="mwaa-obs-simple_s3_test-")["MetricAlarms"]
    assert {alarm["AlarmName"].rsplit("-", 1)[-1] for alarm in own} == {"failed", "out", "slow", "storm", "overdue"}
    dashboards_found = {entry["DashboardName"] for entry in cloudwatch.list_dashboards()["DashboardEntries"]}
    # Dashboards are account-global: their names carry the region (alarms are regional and do not)
    assert "mwaa-obs-us-east-1-simple_s3_test" in dashboards_found
    assert "mwaa-obs-us-east-1-create_s3_objects" not in dashboards_found
    assert cloudwatch.describe_alarms(AlarmNamePrefix="mwaa-obs-create_s3_objects-")["MetricAlarms"] == []


def test_simulate_command_runs_a_workflow_into_the_store(
    stack: localstack.LocalStack, simulated: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    definition = str(EXAMPLES / "create_s3_objects.yaml")
    urls = ["--simulator-url", stack.simulator.url, "--endpoint-url", stack.endpoint]
    assert cli.main(["simulate", definition, "--runs", "2", "--fail-first", "create_object_1=1", *urls]) == 0
    printed = capsys.readouterr().out.splitlines()
    run_ids = [line.split()[1] for line in printed if line.startswith("create_s3_objects ")]
    assert len(run_ids) == 2
    assert all(line.split()[2] == "FAILED" for line in printed if line.startswith("create_s3_objects "))
    stack.pump()
    listed = cli_json(capsys, "runs", "list", "--workflow", "create_s3_objects", "--endpoint-url", stack.endpoint)
    assert {row["run_id"]: row["status"] for row in listed if row["run_id"] in run_ids} == dict.fromkeys(
        run_ids, "FAILED"
    )


def test_replay_sends_raw_events_through_the_bus(
    stack: localstack.LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/replayed-AAAAAAAAAA"
    events = [
        {"source": "aws.airflow-serverless", "detail-type": f"MWAA Serverless Workflow Run {state}",
         "time": f"2026-11-24T00:0{minute}:00Z", "resources": [arn], "detail": {"runId": "replayed-run"}}
        for minute, state in enumerate(["Started", "Running", "Succeeded"])
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(event) for event in reversed(events)) + "\n")
    assert cli.main(["replay", str(path), "--endpoint-url", stack.endpoint]) == 0
    stack.pump()
    (run,) = cli_json(capsys, "runs", "list", "--workflow", "replayed", "--endpoint-url", stack.endpoint)
    assert (run["run_id"], run["status"], run["duration_seconds"]) == ("replayed-run", "SUCCESS", 60.0)


def test_a_new_workflow_is_watched_from_its_first_event(
    stack: localstack.LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a workflow nobody has seen, and one event of it
    arn = "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/brand_new-BBBBBBBBBB"
    event = {"source": "aws.airflow-serverless", "detail-type": "MWAA Serverless Workflow Run Started",
             "time": "2026-11-24T00:00:00Z", "resources": [arn], "detail": {"runId": "first-run"}}  # fmt: skip
    path = tmp_path / "first.jsonl"
    path.write_text(json.dumps(event) + "\n")
    assert cli.main(["replay", str(path), "--endpoint-url", stack.endpoint]) == 0
    stack.pump()
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    namespace = stack.outputs["MetricNamespace"]
    # Then the workflow dashboard finds it: typed, or its beginning, the runs widget lists it from the table
    end = stack.engine.now
    context = {"params": {"view": "charts", "workflow": "brand"},
               "timeRange": {"start": int((end - timedelta(days=400)).timestamp() * 1000),
                             "end": int(end.timestamp() * 1000)}}  # fmt: skip
    assert '<li data-workflow="brand_new">' in stack.widget({"widgetContext": context})
    # A started run is healthy so far: it is in the fleet series, and no series of its own costs it anything
    own = cloudwatch.list_metrics(Namespace=namespace, Dimensions=[{"Name": "WorkflowName", "Value": "brand_new"}])
    assert own["Metrics"] == []
    # And the workflow alarms that judge it (it is one of their contributors) are there, as the template says
    found = cloudwatch.describe_alarms(AlarmNamePrefix="mwaa-obs-workflows-")["MetricAlarms"]
    assert {alarm["AlarmName"] for alarm in found} == {
        "mwaa-obs-workflows-failed", "mwaa-obs-workflows-timed-out", "mwaa-obs-workflows-too-slow",
        "mwaa-obs-workflows-retry-storm", "mwaa-obs-workflows-overdue",
    }  # fmt: skip
    for alarm in found:
        (query,) = alarm["Metrics"]
        assert f'FROM SCHEMA("{namespace}", WorkflowName) GROUP BY WorkflowName' in query["Expression"]
        assert alarm["TreatMissingData"] == "notBreaching"
        pages = alarm["AlarmName"] not in {"mwaa-obs-workflows-failed", "mwaa-obs-workflows-timed-out"}
        assert alarm["AlarmActions"] == alarm["OKActions"] == ([stack.outputs["AlarmTopicArn"]] if pages else [])
    # And the dashboards are the ones of dashboards/, filled in for this stack
    values = {
        "MetricNamespace": namespace, "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws", "AWS::StackName": localstack.STACK_NAME, "ResourcePrefix": "mwaa-obs",
        "IngestFunction": stack.outputs["IngestFunctionName"], "NotifyFunction": stack.outputs["NotifyFunctionName"],
        "FreshnessFunction": stack.outputs["FreshnessFunctionName"],
        "ProvisionFunction": stack.outputs["ProvisionFunctionName"],
        "ReconcileFunction": stack.outputs["ReconcileFunctionName"],
        "WidgetFunction.Arn": stack.outputs["WidgetFunctionArn"], "DurationAlarmSeconds": 3600,
    }  # fmt: skip
    for logical_id in dashboards.BODIES:
        name = stack.outputs[f"{logical_id}Name"]
        deployed = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
        assert deployed == dashboards.fill(dashboards.body_template(logical_id), values)


def test_dashboard_render_draws_the_workflows_graphs_from_the_emulators_metrics(
    stack: localstack.LocalStack, service: Any, simulated: dict[str, str], tmp_path: Path
) -> None:
    from mwaa_obs_tools import render

    # When the workflow dashboard of create_s3_objects is drawn over all the simulated hours
    end = stack.engine.now + timedelta(hours=1)
    start = end - timedelta(hours=48)
    out = tmp_path / "create_s3_objects.png"
    assert cli.main(["dashboard", "render", "create_s3_objects", "--out", str(out), "--endpoint-url",
                     stack.endpoint, "--end", end.isoformat(), "--hours", "48"]) == 0  # fmt: skip
    # Then a PNG was written; its charts (the runs widget's, from the table) count that workflow's runs by outcome
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    truth = [run for run in truth_runs(service, simulated).values() if run["workflow_name"] == "create_s3_objects"]
    charts = read_charts(ViewReader(stack.runs, stack.workflows), "create_s3_objects", start, end,
                         too_slow_seconds=None)  # fmt: skip
    assert charts is not None
    by_outcome = {state: sum(counts) for state, counts in charts.outcomes.items() if sum(counts)}
    assert by_outcome == Counter(run["status"] for run in truth)
    # And its metric graph of what went wrong counts, from the workflow's own series, the failed and timed-out runs
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    body = render.workflow_body(cloudwatch, stack.outputs["WorkflowDashboardName"], "create_s3_objects")
    failures = next(w for w in body["widgets"] if w["properties"].get("title", "").startswith("Runs failed, timed"))
    drawn = {line.label: sum(line.values) for line in render.widget_series(cloudwatch, failures, start, end, 3600)}
    statuses = Counter(run["status"] for run in truth)
    assert drawn == {"failed": statuses["FAILED"], "timed out": statuses["TIMEOUT"], "too slow": 0}


def test_dashboard_render_ends_at_the_local_stacks_clock_and_names_the_empty_graphs(
    stack: localstack.LocalStack, simulated: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = ["--endpoint-url", stack.endpoint, "--api-endpoint-url", stack.simulator.url]
    out = str(tmp_path / "drawn.png")
    capsys.readouterr()
    # With the default --end (the simulator's clock, ahead of the wall clock), the simulated runs are drawn
    assert cli.main(["dashboard", "render", "create_s3_objects", "--out", out, "--hours", "48", *urls]) == 0
    assert "Runs by outcome" not in capsys.readouterr().err
    # And a window without data is drawn with each graph saying so, and named on stderr
    before = (stack.engine.now - timedelta(days=30)).isoformat()
    assert cli.main(["dashboard", "render", "create_s3_objects", "--out", out, "--end", before, *urls]) == 0
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith("mwaa-obs: no data from ")
    assert "Runs by outcome (from the table)" in warning
    # (a graph of what only goes wrong, empty, is good news: "none in this window", not "no data")
    assert "Task failures and retry storms" not in warning
    # And a workflow the stack has never seen is refused: one line, exit 2, no picture
    unknown = tmp_path / "unknown.png"
    assert cli.main(["dashboard", "render", "never_ran", "--out", str(unknown), *urls]) == 2
    refused = capsys.readouterr().err.strip()
    assert refused.startswith("mwaa-obs: no workflow 'never_ran' in the stack's table (its workflows: ")
    assert "create_s3_objects" in refused
    assert not unknown.exists()
    # And a render that would ask for too many points is refused before it starts
    assert cli.main(["dashboard", "render", "never_ran", "--out", out, "--period", "1", "--hours", "1", *urls]) == 2
    assert capsys.readouterr().err.strip() == (
        "mwaa-obs: --period 1 over 1 hours is more than 1440 points per graph: use --period 3 or more, or fewer --hours"
    )


def test_dlq_redrive_moves_dead_events_back_and_they_are_then_stored(
    stack: localstack.LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an event that ended in the events DLQ (say, stored while the table was unavailable)
    arn = "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/redriven-CCCCCCCCCC"
    event = {"source": "aws.airflow-serverless", "detail-type": "MWAA Serverless Workflow Run Started",
             "time": "2026-11-24T00:00:00Z", "resources": [arn], "detail": {"runId": "from-the-dlq"}}  # fmt: skip
    sqs = localstack.client(stack.endpoint, "sqs")
    sqs.send_message(QueueUrl=stack.outputs["EventsDeadLetterQueueUrl"], MessageBody=json.dumps(event))
    # When it is redriven and the queue drained
    assert cli.main(["dlq", "redrive", "events", "--endpoint-url", stack.endpoint]) == 0
    assert capsys.readouterr().out.startswith("moved 1 message from mwaa-obs-events-dlq to mwaa-obs-events")
    stack.pump()
    # Then the DLQ is empty and the run is stored
    assert sqs.receive_message(QueueUrl=stack.outputs["EventsDeadLetterQueueUrl"]).get("Messages", []) == []
    (run,) = cli_json(capsys, "runs", "list", "--workflow", "redriven", "--endpoint-url", stack.endpoint)
    assert (run["run_id"], run["status"]) == ("from-the-dlq", "STARTING")


def test_the_text_output_stays_readable_with_shared_run_ids_and_huge_errors(
    stack: localstack.LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two workflows with a run of the same id, one failed with a 4,000-character, two-line error
    huge = "AccessDenied " + "x" * 2000 + "\n" + "y" * 2000
    events = [
        {"source": "aws.airflow-serverless", "detail-type": f"MWAA Serverless Workflow Run {state}",
         "time": f"2026-11-24T00:0{minute}:00Z", "resources": [arn], "detail": {"runId": "shared-run", **detail}}
        for arn, final, detail in (
            ("arn:aws:airflow-serverless:us-east-1:123456789012:workflow/alpha-CCCCCCCCCC", "Failed",
             {"errorMessage": huge}),
            ("arn:aws:airflow-serverless:us-east-1:123456789012:workflow/beta-DDDDDDDDDD", "Succeeded", {}),
        )
        for minute, state in enumerate(["Started", final])
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(event) for event in events) + "\n")
    assert cli.main(["replay", str(path), "--endpoint-url", stack.endpoint]) == 0
    stack.pump()
    capsys.readouterr()
    # Then `runs show` asks for --workflow naming the workflows by the name it takes
    assert cli.main(["runs", "show", "shared-run", "--endpoint-url", stack.endpoint]) == 2
    assert capsys.readouterr().err.strip() == (
        "mwaa-obs: run id shared-run exists in several workflows (alpha, beta): add --workflow NAME"
    )
    # And the table cuts the error to one short line, while --json keeps it as stored
    assert cli.main(["runs", "list", "--workflow", "alpha", "--endpoint-url", stack.endpoint]) == 0
    _, row = capsys.readouterr().out.splitlines()
    assert len(row) < 250
    assert row.endswith("…")
    assert "AccessDenied x" in row
    (listed,) = cli_json(capsys, "runs", "list", "--workflow", "alpha", "--endpoint-url", stack.endpoint)
    assert listed["error_message"].startswith(huge[:1000])
    assert "\n" in listed["error_message"]


def test_output_into_a_closed_pipe_is_one_line_not_a_traceback(stack: localstack.LocalStack) -> None:
    # `mwaa-obs runs list --json | head -1`, with the reader gone before anything is written
    reader, writer = os.pipe()
    os.close(reader)
    try:
        command = [
            *(sys.executable, "-m", "mwaa_obs_tools.cli"),
            *("runs", "list", "--json", "--endpoint-url", stack.endpoint),
        ]
        finished = subprocess.run(command, stdout=writer, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    finally:
        os.close(writer)
    assert finished.returncode == 2
    assert finished.stderr.strip() == "mwaa-obs: output closed before the end"


def test_backfill_of_a_workflow_the_api_does_not_know_is_an_error(
    stack: localstack.LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = ["--endpoint-url", stack.endpoint, "--api-endpoint-url", stack.simulator.url]
    assert cli.main(["backfill", "--workflow", "nosuch", *urls]) == 2
    assert capsys.readouterr().err.strip() == "mwaa-obs: no workflow named nosuch in the MWAA Serverless API"


def test_metrics_carry_the_minute_their_event_happened_not_when_it_was_processed(
    stack: localstack.LocalStack,
) -> None:
    # Given a run that failed 50 minutes before its events are processed (a backlog, a redrive)
    arn = "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/late_events-EEEEEEEEEE"
    failed_at = (stack.engine.now - timedelta(minutes=50)).replace(second=20, microsecond=0)
    stack.sink.publish(
        [
            {"Source": "aws.airflow-serverless", "DetailType": f"MWAA Serverless Workflow Run {state}",
             "Detail": json.dumps({"runId": "late-run"}), "Resources": [arn], "Time": at}
            for state, at in (("Started", failed_at - timedelta(minutes=3)), ("Failed", failed_at))
        ]
    )  # fmt: skip
    stack.pump()
    # Then its RunFailed point is in the minute it failed
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    points = cloudwatch.get_metric_statistics(
        Namespace=stack.outputs["MetricNamespace"],
        MetricName="RunFailed",
        Dimensions=[{"Name": "WorkflowName", "Value": "late_events"}],
        StartTime=failed_at - timedelta(hours=1),
        EndTime=stack.engine.now + timedelta(hours=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    assert [(point["Timestamp"], point["Sum"]) for point in points] == [(failed_at.replace(second=0), 1.0)]


def test_replay_sends_every_good_line_and_names_each_bad_one(
    stack: localstack.LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/mixed_file-FFFFFFFFFF"

    def started(run_id: str, **changes: Any) -> str:
        event = {"source": "aws.airflow-serverless", "detail-type": "MWAA Serverless Workflow Run Started",
                 "time": "2026-11-24T00:00:00Z", "resources": [arn], "detail": {"runId": run_id}}  # fmt: skip
        return json.dumps({key: value for key, value in (event | changes).items() if value is not None})

    lines = [
        started("good-1"),
        started("bad-2", detail="a string"),
        started("good-3"),
        '{"source": "aws.airflow-serverless", "detail-type": ',
        started("bad-5", source=None),
        started("bad-6", time="yesterday"),
        started("good-7"),
        started("unknown-8", **{"detail-type": "MWAA Serverless Workflow Run State Change"}),
        started("invalid-9", detail={"workflowArn": arn}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert cli.main(["replay", str(path), "--endpoint-url", stack.endpoint]) == 1
    printed = capsys.readouterr()
    assert printed.err.splitlines() == [
        f"{path}:2: not sent: detail is a str, not a JSON object",
        f"{path}:4: not sent: not JSON (Expecting value: line 1 column 53 (char 52))",
        f"{path}:5: not sent: no source",
        f"{path}:6: not sent: time 'yesterday' is not ISO-8601",
    ]
    assert printed.out.strip().splitlines() == [
        "sent 5 events through the local bus (4 not events, 0 refused)",
        "ingest will refuse 1 unknown event, first: line 8: unknown detail-type "
        "'MWAA Serverless Workflow Run State Change'",
        "ingest will refuse 1 invalid event, first: line 9: detail has no runId",
    ]
    stack.pump()
    listed = cli_json(capsys, "runs", "list", "--workflow", "mixed_file", "--endpoint-url", stack.endpoint)
    assert sorted(run["run_id"] for run in listed) == ["good-1", "good-3", "good-7"]


def test_the_drawn_dashboard_reads_right(stack: localstack.LocalStack, simulated: dict[str, str]) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex
    from matplotlib.container import BarContainer
    from matplotlib.lines import Line2D

    from mwaa_obs_tools import render

    end = stack.engine.now + timedelta(hours=1)
    start = end - timedelta(hours=6)
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    charts = read_charts(ViewReader(stack.runs, stack.workflows), "simple_s3_test", start, end,
                         too_slow_seconds=3600)  # fmt: skip
    figure, empty = render.draw(
        cloudwatch, stack.outputs["WorkflowDashboardName"], "simple_s3_test", start=start, end=end, charts=charts
    )
    try:
        figure.canvas.draw()
        graphs = [axis for axis in figure.axes if axis.get_visible() and axis.axison and axis.get_title()]
        titles = {axis.get_title(): axis for axis in graphs}
        # Every graph over time spans the same window (task durations by task are not over time)
        timed = [axis for title, axis in titles.items() if not title.startswith("Task duration by task")]
        assert len(timed) == len(graphs) - 1
        assert {tuple(axis.get_xlim()) for axis in timed} == {tuple(timed[0].get_xlim())}
        # Count graphs have whole-number ticks from 0
        counts = [title for title in titles if title.startswith(("Runs by outcome", "Task failures and retry storms"))]
        assert len(counts) == 2
        for title in counts:
            ticks = titles[title].get_yticks()
            assert all(float(tick).is_integer() for tick in ticks), (title, ticks)
            assert titles[title].get_ylim()[0] == 0
        # Legends sit beside their graph, not over it
        renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
        for axis in graphs:
            legend = axis.get_legend()
            if legend is not None:
                assert legend.get_window_extent(renderer).x0 >= axis.get_window_extent(renderer).x1 - 1
        # The too-slow threshold (3,600 s) does not flatten runs of a few minutes: it is named instead
        (duration,) = [axis for title, axis in titles.items() if title.startswith("Run duration")]
        assert duration.get_ylim()[1] < 3600
        assert "too-slow threshold 1h: above the graph" in duration.get_title()
        # One colour per state in every graph
        colours: dict[str, set[str]] = {}
        for axis in graphs:
            handles, labels = axis.get_legend_handles_labels()
            for handle, label in zip(handles, labels, strict=True):
                if isinstance(handle, Line2D):
                    colours.setdefault(label, set()).add(to_hex(handle.get_color()))
                elif isinstance(handle, BarContainer):
                    colours.setdefault(label, set()).add(to_hex(handle.patches[0].get_facecolor()))
        assert all(len(found) == 1 for found in colours.values()), colours
        assert colours["failed"] == {"#d62728"}
        # An empty graph says so
        for title in empty:
            assert any(text.get_text() == "no data in this window" for text in titles[title].texts)
    finally:
        plt.close(figure)


@pytest.mark.parametrize(
    ("text", "options", "run_state"),
    [
        (shapes.CONVERTED, [], "SUCCESS"),
        (shapes.NULL_SCHEDULE, ["--fail-first", "only=1"], "SUCCESS"),  # retried once
        (shapes.NO_SCHEDULE_TASK_LIST, ["--fail", "first"], "FAILED"),
        (shapes.WEEKDAYS, [], "SUCCESS"),
        (shapes.INTERVAL_ALIAS, [], "SUCCESS"),
        (shapes.CLEANUP, ["--fail", "work"], "SUCCESS"),
        (shapes.IGNORED_PARAMETERS, [], "SUCCESS"),
        (shapes.TIMES_OUT, ["--duration", "slow=600"], "TIMEOUT"),
    ],
    ids=["converted", "null", "task-list", "cron", "alias", "cleanup", "ignored", "times-out"],
)
def test_each_definition_shape_runs_through_simulate_to_the_state_it_implies(
    stack: localstack.LocalStack,
    service: Any,
    text: str,
    options: list[str],
    run_state: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    definition = tmp_path / "shape.yaml"
    definition.write_text(text)
    urls = ["--simulator-url", stack.simulator.url, "--endpoint-url", stack.endpoint]
    assert cli.main(["simulate", str(definition), *options, *urls]) == 0
    printed = capsys.readouterr()
    ((name, run_id, state, *_error),) = [line.split(maxsplit=3) for line in printed.out.splitlines()[:-1]]
    assert state == run_state
    assert len(run_id) == 15
    assert run_id.isalnum()
    assert ("ignores" in printed.err) is (text is shapes.IGNORED_PARAMETERS)
    stack.pump()
    rows = cli_json(capsys, "runs", "list", "--workflow", name, "--endpoint-url", stack.endpoint)
    assert {row["run_id"]: row["status"] for row in rows}[run_id] == run_state


OPERATOR = "airflow.providers.amazon.aws.operators.s3.S3ListOperator"


@pytest.mark.parametrize(
    ("body", "reason"),
    [  # each refusal is a documented rule of the service (see docs/LOCAL_STACK.md)
        ("tasks:\n    t: {operator: my_operators.CopyOperator}", "unknown operator"),
        (f"tasks:\n    t: {{operator: {OPERATOR}, retries: 4}}", "retries must be a whole number from 0 to 3"),
        (f"tasks:\n    t: {{operator: {OPERATOR}, retry_delay: 600}}", "retry_delay must be at most 300 seconds"),
        (f"tasks:\n    t: {{operator: {OPERATOR}, execution_timeout: 7200}}", "at most 3600 seconds"),
        (f"schedule: '@once'\n  tasks:\n    t: {{operator: {OPERATOR}}}", "has no cron form"),
        (f"start_date: 2020-01-01\n  tasks:\n    t: {{operator: {OPERATOR}}}", "must be in the future"),
    ],
    ids=["operator", "retries", "retry-delay", "execution-timeout", "once", "past-start"],
)
def test_simulate_refuses_what_the_service_refuses_in_one_line(
    stack: localstack.LocalStack, body: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definition = tmp_path / "refused.yaml"
    definition.write_text(f"refused:\n  {body}\n")
    urls = ["--simulator-url", stack.simulator.url, "--endpoint-url", stack.endpoint]
    assert cli.main(["simulate", str(definition), *urls]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("mwaa-obs: ")
    assert reason in line
