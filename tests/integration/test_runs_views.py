"""The runs grid, the Gantt chart and the failures table, on the local stack: the widget function as a dashboard calls
it, and `mwaa-obs ui` in a real headless Chromium, checked cell by cell and bar by bar against the simulator; and
`mwaa-obs logs`, checked against what CloudWatch Logs holds."""

from __future__ import annotations

import html
import http.client
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from mwaa_obs.task_logs import excerpt, readable
from mwaa_obs.view_html import Viewer
from mwaa_obs.widget import LOG_VIEW_BYTES, LOG_VIEW_LINES, ViewReader, render
from mwaa_obs.widget_request import ViewRequest
from mwaa_obs_tools import browser, cli, localstack
from mwaa_obs_tools.cli import logs as cli_logs
from mwaa_obs_tools.simulator.faults import Faults
from mwaa_obs_tools.ui import LocalNavigation, Site, UiServer, log_reader
from tests.integration.test_end_to_end import create_example_workflows

RUNS_EACH = 3


@pytest.fixture(scope="module")
def ran(stack: localstack.LocalStack, service: Any) -> dict[str, str]:
    """Three runs each of two workflows, ingested: one task retried then succeeding, one failing every time."""
    arns = create_example_workflows(stack, {"defaults": {"group_window_minutes": 0}})
    stack.engine.set_faults("simple_s3_test", Faults(fail_first={"list_objects": 1}))
    stack.engine.set_faults("create_s3_objects", Faults(fail={"create_object_2"}))
    for _ in range(RUNS_EACH):
        for name in ("simple_s3_test", "create_s3_objects"):
            service.start_workflow_run(WorkflowArn=arns[name])
        stack.engine.advance(stack.engine.now + timedelta(minutes=20))
        stack.pump()
    stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=2))
    stack.pump()
    return arns


def truth(service: Any, arn: str) -> dict[str, dict[str, tuple[str, int]]]:
    """run id -> task id -> (status, attempts), as the simulator's API says."""
    found = {}
    for run in service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]:
        summaries = service.list_task_instances(WorkflowArn=arn, RunId=run["RunId"])["TaskInstances"]
        tasks = [
            service.get_task_instance(WorkflowArn=arn, RunId=run["RunId"], TaskInstanceId=t["TaskInstanceId"])
            for t in summaries
        ]
        # every task that reached a state (SKIPPED has no event, so no item)
        found[run["RunId"]] = {
            t["TaskId"]: (t["Status"], t.get("AttemptNumber", 0)) for t in tasks if t.get("Status", "NONE") != "NONE"
        }
    return found


@pytest.fixture(scope="module")
def site(stack: localstack.LocalStack) -> Iterator[str]:
    logs = log_reader(stack.endpoint)
    site = Site(
        stack.runs, stack.workflows, "us-east-1", localstack.STACK_NAME, lambda: stack.engine.now, stack.policies,
        logs=logs,
    )  # fmt: skip
    server = UiServer(site)
    yield server.start().url
    server.stop()


def widget_event(stack: localstack.LocalStack, **params: Any) -> dict[str, Any]:
    end = stack.engine.now
    return {
        "widgetContext": {
            "dashboardName": "mwaa-obs-us-east-1-workflow",
            "theme": "light",
            "params": params,
            "timeRange": {"mode": "relative", "start": int((end - timedelta(days=1)).timestamp() * 1000),
                          "end": int(end.timestamp() * 1000)},
        },
        **params,
    }  # fmt: skip


def test_the_widget_function_renders_the_grid_of_the_workflow_the_dashboard_picked(
    stack: localstack.LocalStack, ran: dict[str, str]
) -> None:
    page = stack.widget(widget_event(stack, view="grid", workflow="simple_s3_test", runs=25))
    assert 'data-workflow="simple_s3_test"' in page
    assert page.count('class="run"') == RUNS_EACH  # one column per run
    assert f'endpoint="{stack.outputs["WidgetFunctionArn"]}"' in page  # a column opens its Gantt in a pop-up
    assert stack.widget({"describe": True}).startswith("## mwaa-obs runs widget")


@pytest.mark.parametrize("view", ["grid", "charts", "trends"])
def test_a_grid_or_the_charts_read_the_workflow_its_runs_and_one_query_per_run(
    stack: localstack.LocalStack, ran: dict[str, str], view: str
) -> None:
    # The charts' per-run tables (what the trends view drew, with reads of its own) come from the same reads
    reader = ViewReader(stack.runs, stack.workflows)
    end = stack.engine.now
    request = ViewRequest.of({"workflow": "create_s3_objects", "view": view}, end - timedelta(days=1), end, "light")
    render(request, reader, LocalNavigation({}), Viewer("us-east-1", localstack.STACK_NAME), end)
    assert reader.reads == 1 + 1 + RUNS_EACH


def cells(page: Any) -> dict[str, dict[str, tuple[str, int]]]:
    found: dict[str, dict[str, tuple[str, int]]] = {}
    for cell in page.query_selector_all("td.cell[data-attempts]"):
        run, task = cell.get_attribute("data-run"), cell.get_attribute("data-task")
        found.setdefault(run, {})[task] = (cell.get_attribute("data-state"), int(cell.get_attribute("data-attempts")))
    return found


@pytest.mark.parametrize("workflow", ["simple_s3_test", "create_s3_objects"])
def test_the_grid_in_a_browser_shows_each_tasks_state_and_attempts_as_the_simulator_ran_them(
    site: str, service: Any, ran: dict[str, str], workflow: str, tmp_path: Path
) -> None:
    expected = truth(service, ran[workflow])
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/view?view=grid&workflow={workflow}")
        assert cells(page) == expected
        columns = [h.get_attribute("data-run") for h in page.query_selector_all("th.run")]
        assert len(columns) == RUNS_EACH
        # Each state is told in words to a screen reader and in the tooltip, not by colour alone
        for cell in page.query_selector_all("td.cell[data-attempts]"):
            assert cell.get_attribute("aria-label")
            assert cell.get_attribute("title").startswith(cell.get_attribute("data-task"))
        shot = tmp_path / f"{workflow}-grid.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes().startswith(b"\x89PNG")


def test_a_column_click_opens_that_runs_gantt_with_a_bar_per_attempt_in_order(
    site: str, service: Any, ran: dict[str, str], tmp_path: Path
) -> None:
    expected = truth(service, ran["simple_s3_test"])
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/view?view=grid&workflow=simple_s3_test&theme=dark")
        header = page.query_selector_all("th.run")[-1]
        run_id = header.get_attribute("data-run")
        header.query_selector("a").click()
        page.wait_for_selector("table.gantt")
        assert page.query_selector("h4").get_attribute("data-run") == run_id
        bars = page.query_selector_all("div.bar")
        by_task: dict[str, list[tuple[int, str, float]]] = {}
        for bar in bars:
            left = float(bar.get_attribute("style").split("left:")[1].split("%")[0])
            by_task.setdefault(bar.get_attribute("data-task"), []).append(
                (int(bar.get_attribute("data-attempt")), bar.get_attribute("data-state"), left)
            )
        assert {task: (found[-1][1], len(found)) for task, found in by_task.items()} == expected[run_id]
        retried = by_task["list_objects"]
        assert [state for _, state, _ in retried] == ["UP_FOR_RETRY", "SUCCESS"]
        assert retried[0][2] < retried[1][2]  # the retry starts after the first attempt, the wait between them drawn
        assert page.query_selector('div.gap[data-retry-after="1"]') is not None
        # the chain that set the run's length: both tasks, one after the other
        assert {bar.get_attribute("data-task") for bar in bars if bar.get_attribute("data-critical") == "true"} == {
            "list_objects",
            "create_object_list",
        }
        assert "dark" in page.query_selector("div.mo").get_attribute("class")
        shot = tmp_path / "gantt.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes().startswith(b"\x89PNG")


def test_the_failures_table_lists_every_failed_run_across_workflows(
    site: str, service: Any, ran: dict[str, str]
) -> None:
    failed = {
        (name, run["RunId"])
        for name, arn in ran.items()
        for run in service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]
        if run["RunDetailSummary"]["Status"] in ("FAILED", "TIMEOUT")
    }
    assert len(failed) == RUNS_EACH
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/")
        rows = page.query_selector_all("tr.failure")
        assert {(r.get_attribute("data-workflow"), r.get_attribute("data-run")) for r in rows} == failed
        # each naming the task that broke it and the first line of its error, not the run's generic error
        for row in rows:
            cell = row.query_selector("td.failed-at")
            assert cell.get_attribute("data-task") == "create_object_2"
            assert cell.inner_text().startswith("create_object_2: ")
            assert "Workflow execution failed" not in cell.inner_text()
        assert {o.get_attribute("value") for o in page.query_selector_all("#picker option")} == set(ran)


def durations(service: Any, arn: str) -> tuple[dict[str, int], list[float], dict[str, list[float]]]:
    """Runs by status, each ended run's duration, and each task's attempt durations, as the simulator ran them (the
    example has no retries: an instance's one attempt is all there is)."""
    statuses: dict[str, int] = {}
    runs: list[float] = []
    tasks: dict[str, list[float]] = {}
    for run in service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]:
        summary = run["RunDetailSummary"]
        statuses[summary["Status"]] = statuses.get(summary["Status"], 0) + 1
        if summary.get("StartedAt") and summary.get("EndedAt"):
            runs.append((summary["EndedAt"] - summary["StartedAt"]).total_seconds())
        for instance in service.list_task_instances(WorkflowArn=arn, RunId=run["RunId"])["TaskInstances"]:
            found = service.get_task_instance(
                WorkflowArn=arn, RunId=run["RunId"], TaskInstanceId=instance["TaskInstanceId"]
            )
            if found.get("StartedAt") and found.get("EndedAt"):
                tasks.setdefault(found["TaskId"], []).append((found["EndedAt"] - found["StartedAt"]).total_seconds())
    return statuses, runs, tasks


def test_the_charts_in_a_browser_draw_each_runs_outcome_duration_and_task_as_the_simulator_ran_them(
    site: str, service: Any, ran: dict[str, str], tmp_path: Path
) -> None:
    statuses, runs, tasks = durations(service, ran["create_s3_objects"])
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/view?view=charts&workflow=create_s3_objects&hours=24")
        # Every run counted once, by its outcome
        drawn: dict[str, int] = {}
        for bar in page.query_selector_all('figure[data-chart="outcomes"] rect[data-state]'):
            drawn[bar.get_attribute("data-state")] = drawn.get(bar.get_attribute("data-state"), 0) + int(
                bar.get_attribute("data-count")
            )
        assert drawn == statuses == {"FAILED": RUNS_EACH}
        # None succeeded: a success rate of 0 wherever runs ended
        rates = page.query_selector_all('figure[data-chart="success"] circle[data-series]')
        assert rates
        assert {float(point.get_attribute("data-value")) for point in rates} == {0.0}

        # Each point is one of the runs' durations (nearest rank picks a sample), the longest run the highest p95
        def values(series: str) -> list[float]:
            selector = f'figure[data-chart="duration"] circle[data-series="{series}"]'
            return [float(point.get_attribute("data-value")) for point in page.query_selector_all(selector)]

        assert set(values("p50")) | set(values("p95")) <= set(runs)
        assert max(values("p95")) == max(runs)
        # Each task that ran: the p95 of three attempts is the longest (nearest rank), in the order they ran
        rows = page.query_selector_all('figure[data-chart="tasks"] g[data-task]')
        assert {row.get_attribute("data-task"): float(row.get_attribute("data-p95")) for row in rows} == {
            task: max(seconds) for task, seconds in tasks.items()
        }
        assert [row.get_attribute("data-task") for row in rows][:2] == ["create_object_1", "create_object_2"]
        # Run on demand: landing is from when each run was first seen to its end, one point per ended run
        assert len(page.query_selector_all('figure[data-chart="landing"] circle')) == len(runs)
        assert page.query_selector("script") is None
        shot = tmp_path / "charts.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes().startswith(b"\x89PNG")


def test_the_charts_draw_the_workflows_own_too_slow_threshold_from_the_settings(
    stack: localstack.LocalStack, ran: dict[str, str]
) -> None:
    ssm = localstack.client(stack.endpoint, "ssm")
    name = stack.outputs["SettingsParameterName"]
    previous = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    document = {"defaults": {"group_window_minutes": 0},
                "workflows": [{"match": "simple_s3_test", "duration_threshold_seconds": 120}]}  # fmt: skip
    ssm.put_parameter(Name=name, Value=json.dumps(document), Type="String", Overwrite=True)
    try:
        page = stack.widget(widget_event(stack, view="charts", workflow="simple_s3_test"))
    finally:
        ssm.put_parameter(Name=name, Value=previous, Type="String", Overwrite=True)
    assert 'data-threshold="120"' in page
    assert f'data-runs="{RUNS_EACH}"' in page


def test_with_no_workflow_typed_the_widget_lists_the_workflows_to_pick(
    stack: localstack.LocalStack, ran: dict[str, str]
) -> None:
    # The dashboard's variable not filled in yet arrives as its pattern; a beginning lists the names it begins
    for typed, expected in (("__workflow__", set(ran)), ("simple", {"simple_s3_test"}), ("nothing_like_it", set())):
        page = stack.widget(widget_event(stack, view="charts", workflow=typed))
        listed = {part.split('"', 1)[0] for part in page.split('<li data-workflow="')[1:]}
        assert listed == expected, typed


def test_a_hostile_workflow_parameter_is_shown_as_text(site: str, ran: dict[str, str]) -> None:
    with browser.chromium() as chromium:
        page = chromium.new_page()
        dialogs: list[str] = []

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(f"{site}/view?view=grid&workflow=" + json.dumps("<img src=x onerror=alert(1)>")[1:-1])
        assert page.query_selector("img") is None
        assert "No workflow named" in page.inner_text("div.mo")
        assert dialogs == []


# --- The attempt's log from the views (issue 34 item 4): a failed cell of the grid and a bar of the Gantt open it


def log_text(stack: localstack.LocalStack, service: Any, arn: str, run_id: str, task: str, attempt: int) -> str:
    """The tail a log view shows of what CloudWatch Logs holds for the attempt."""
    held = stored_log(stack, service, arn, run_id, task, attempt)
    return "\n".join(excerpt(held, LOG_VIEW_LINES, LOG_VIEW_BYTES))


def test_the_widget_functions_log_view_shows_the_attempts_last_lines_escaped(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str]
) -> None:
    run_id = runs_of(service, ran["create_s3_objects"], "FAILED")[0]
    params = {"view": "log", "workflow": "create_s3_objects", "runId": run_id, "task": "create_object_2"}
    page = stack.widget(widget_event(stack, **params, attempt="1"))
    tail = log_text(stack, service, ran["create_s3_objects"], run_id, "create_object_2", 1)
    assert "Task failed with exception" in tail
    assert f'<pre class="log" data-lines="{tail.count(chr(10)) + 1}">{html.escape(tail)}</pre>' in page
    assert f"mwaa-obs logs {run_id} create_object_2 --attempt 1 --workflow create_s3_objects" in page
    # the way back to the run's Gantt is a pop-up of the widget again
    assert f'endpoint="{stack.outputs["WidgetFunctionArn"]}"' in page


def test_a_failed_cell_and_a_bar_open_the_attempts_log_in_a_browser(
    site: str, stack: localstack.LocalStack, service: Any, ran: dict[str, str]
) -> None:
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/view?view=grid&workflow=create_s3_objects")
        failed = page.query_selector_all('td.cell[data-task="create_object_2"][data-state="FAILED"]')
        assert len(failed) == RUNS_EACH
        run_id = failed[-1].get_attribute("data-run")
        failed[-1].query_selector("a").click()
        page.wait_for_selector("pre.log")
        expected = log_text(stack, service, ran["create_s3_objects"], run_id, "create_object_2", 1)
        assert page.inner_text("pre.log") == expected
        assert page.query_selector("h4").get_attribute("data-task") == "create_object_2"
        # from the log back to the run's Gantt, and from its retried bar to that attempt's log
        page.click("text=Gantt chart")
        page.wait_for_selector("table.gantt")
        assert page.query_selector("tr.axis .tick") is not None
        page.goto(f"{site}/view?view=grid&workflow=simple_s3_test")
        header = page.query_selector_all("th.run")[-1]
        retried_run = header.get_attribute("data-run")
        header.query_selector("a").click()
        page.wait_for_selector("table.gantt")
        page.query_selector('div.bar[data-task="list_objects"][data-attempt="1"] a').click()
        page.wait_for_selector("pre.log")
        first = log_text(stack, service, ran["simple_s3_test"], retried_run, "list_objects", 1)
        assert page.inner_text("pre.log") == first
        assert "Marking task as UP_FOR_RETRY." in first


# --- `mwaa-obs logs` (issue 34 item 3): the attempts' logs as CloudWatch Logs holds them, headed, on the local stack


def cli_out(stack: localstack.LocalStack, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert cli.main([*args, "--endpoint-url", stack.endpoint]) == 0
    return capsys.readouterr().out


def stored_log(stack: localstack.LocalStack, service: Any, arn: str, run_id: str, task: str, attempt: int) -> list[str]:
    """The messages CloudWatch Logs holds for the attempt, read as the simulator's API names its stream."""
    summaries = service.list_task_instances(WorkflowArn=arn, RunId=run_id)["TaskInstances"]
    instances = [
        service.get_task_instance(WorkflowArn=arn, RunId=run_id, TaskInstanceId=summary["TaskInstanceId"])
        for summary in summaries
    ]
    (instance,) = [found for found in instances if found["TaskId"] == task]
    group = service.get_workflow(WorkflowArn=arn)["LoggingConfiguration"]["LogGroupName"]
    stream = instance["LogStream"].replace(f"{instance['AttemptNumber']}.log", f"{attempt}.log")
    logs = boto3.client("logs", endpoint_url=stack.endpoint, region_name="us-east-1")
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [event["message"] for event in events["events"]]


def runs_of(service: Any, arn: str, status: str) -> list[str]:
    return [
        run["RunId"]
        for run in service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]
        if run["RunDetailSummary"]["Status"] == status
    ]


def test_logs_of_a_failed_run_print_its_failed_tasks_log_headed(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = runs_of(service, ran["create_s3_objects"], "FAILED")[0]
    out = cli_out(stack, capsys, "logs", run_id)
    held = stored_log(stack, service, ran["create_s3_objects"], run_id, "create_object_2", 1)
    assert held  # the simulator wrote the attempt's log
    lines = out.splitlines()
    assert lines[0] == "==> create_object_2, attempt 1 (FAILED) <=="
    assert [line for line in lines if line.startswith("==>")] == [lines[0]]  # the failed task only
    for message in held:  # every event, in order, as Airflow's text view shows it
        assert readable(message)[0] in out
    assert out.index(readable(held[0])[0]) < out.index(readable(held[-1])[0])


def test_logs_of_a_task_print_every_attempt_in_order_or_the_one_asked(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = runs_of(service, ran["simple_s3_test"], "SUCCESS")[0]
    out = cli_out(stack, capsys, "logs", run_id, "list_objects")
    headers = [line for line in out.splitlines() if line.startswith("==>")]
    assert headers == ["==> list_objects, attempt 1 (UP_FOR_RETRY) <==", "==> list_objects, attempt 2 (SUCCESS) <=="]
    second = stored_log(stack, service, ran["simple_s3_test"], run_id, "list_objects", 2)
    assert readable(second[-1])[0] in out.split(headers[1])[1]
    shown = cli_out(stack, capsys, "logs", run_id, "list_objects", "--attempt", "2", "--json").splitlines()
    assert [json.loads(line)["message"] for line in shown] == second
    assert {(json.loads(line)["task_id"], json.loads(line)["attempt"]) for line in shown} == {("list_objects", 2)}


def test_logs_of_a_task_the_run_does_not_have_is_one_line_naming_its_tasks(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = runs_of(service, ran["simple_s3_test"], "SUCCESS")[0]
    capsys.readouterr()
    assert cli.main(["logs", run_id, "no_such_task", "--endpoint-url", stack.endpoint]) == 2
    error = capsys.readouterr().err
    assert error.startswith("mwaa-obs: the run has no task no_such_task (its tasks: ")
    assert "list_objects" in error
    assert error.count("\n") == 1


def follow_a_new_run(
    stack: localstack.LocalStack,
    service: Any,
    arn: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *options: str,
) -> tuple[str, str, list[tuple[str, float]]]:
    """`logs --follow` of a run just started, the run moving on a minute at each of its pauses: the run id, what it
    printed, and each pause (the run's state then, the seconds asked)."""
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    stack.engine.advance(stack.engine.now + timedelta(seconds=30))
    stack.pump()
    assert service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]["RunState"] not in ("SUCCESS",)
    pauses: list[tuple[str, float]] = []

    def a_minute_later(seconds: float) -> None:
        pauses.append((service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]["RunState"], seconds))
        assert len(pauses) < 200, "follow did not end with the run"
        stack.engine.advance(stack.engine.now + timedelta(minutes=1))
        stack.pump()

    monkeypatch.setattr(cli_logs, "_pause", a_minute_later)
    out = cli_out(stack, capsys, "logs", run_id, "--follow", *options)
    assert service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]["RunState"] == "SUCCESS"
    return run_id, out, pauses


def test_logs_follow_prints_what_a_running_run_writes_until_it_ends(
    stack: localstack.LocalStack,
    service: Any,
    ran: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a run of simple_s3_test just started (its first task will fail once, then be retried)
    arn = ran["simple_s3_test"]
    # When `logs --follow` runs, the run moving on a minute between two of its reads
    run_id, out, pauses = follow_a_new_run(stack, service, arn, capsys, monkeypatch)
    # Then it ended by itself once the run had ended, having printed every attempt's log as it came
    assert pauses[0][0] != "SUCCESS"
    for task, attempt in (("list_objects", 1), ("list_objects", 2)):
        held = stored_log(stack, service, arn, run_id, task, attempt)
        assert held
        assert f"==> {task}, attempt {attempt} (" in out
        for message in held:
            assert readable(message)[0] in out


def test_logs_follow_backs_off_while_reads_are_throttled_and_misses_nothing(
    stack: localstack.LocalStack,
    service: Any,
    ran: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given CloudWatch Logs refusing GetLogEvents (after botocore's own retries) for three reads from the fourth on,
    # as its account-wide quota refuses a reader sharing it with others
    calls = {"made": 0, "refused": 0}

    def refuse_some(**_: Any) -> None:
        calls["made"] += 1
        if 4 <= calls["made"] < 7:
            calls["refused"] += 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetLogEvents")

    original = cli_logs._regional_logs

    def throttled_logs(endpoint_url: str | None, region: str) -> Any:
        logs = original(endpoint_url, region)
        logs.meta.events.register("before-call.cloudwatch-logs.GetLogEvents", refuse_some)
        return logs

    monkeypatch.setattr(cli_logs, "_regional_logs", throttled_logs)
    # When `logs --follow --json` follows a new run through them
    arn = ran["simple_s3_test"]
    run_id, out, pauses = follow_a_new_run(stack, service, arn, capsys, monkeypatch, "--json")
    # Then each refused pass waited twice as long as the one before (2 s the usual pause), and 2 s again after
    assert calls["refused"] == 3
    waits = [seconds for _, seconds in pauses]
    first = waits.index(4.0)
    assert waits[first : first + 4] == [4.0, 8.0, 16.0, 2.0]
    # And every line of every attempt's log was printed exactly once, in order
    printed = [json.loads(line) for line in out.splitlines()]
    for task, attempt in (("list_objects", 1), ("list_objects", 2)):
        held = stored_log(stack, service, arn, run_id, task, attempt)
        assert held
        assert [line["message"] for line in printed if (line["task_id"], line["attempt"]) == (task, attempt)] == held


def get(site: str, target: str, host: str | None = None, method: str = "GET", **headers: str) -> tuple[int, str]:
    """The status and body of a request to the site, with its own Host header or `host`."""
    parts = urlsplit(site)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        if host is not None:
            headers["Host"] = host
        body = "action=rerun&workflowId=w&runId=r" if method == "POST" else None
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_the_ui_answers_only_to_its_loopback_names(site: str) -> None:
    # A page elsewhere reaching it by DNS rebinding (its own name resolved to 127.0.0.1) sends its own Host
    port = urlsplit(site).port
    assert get(site, "/")[0] == 200
    assert get(site, "/", host=f"127.0.0.1:{port}")[0] == 200
    for host in (f"rebind.example:{port}", "rebind.example", f"localhost.rebind.example:{port}", "localhost"):
        status, body = get(site, "/view?view=failures", host=host)
        assert (status, "answers only at localhost" in body) == (403, True)


@pytest.mark.parametrize("hours", ["nan", "inf", "-inf", "1e300", "0", "-5", "many"])
def test_the_ui_refuses_hours_that_are_no_range_with_a_page_that_says_so(site: str, hours: str) -> None:
    status, body = get(site, f"/view?view=failures&hours={hours}")
    assert (status, "hours must be a number above 0, at most 8784" in body) == (400, True)


def test_a_form_posted_to_the_ui_is_taken_only_from_its_own_pages(site: str) -> None:
    # A page elsewhere posting a Re-run to it (the browser sends the user there, with Host localhost) is refused
    port = urlsplit(site).port
    for origin in ("https://evil.example", f"http://rebind.example:{port}", "null"):
        status, _ = get(site, "/action", method="POST", Origin=origin)
        assert status == 403
    assert get(site, "/action", method="POST")[0] == 403  # no Origin: not a page of its own
    # Its own page's form gets through (this site has no actions: the page says there is none)
    assert get(site, "/action", method="POST", Origin=f"http://localhost:{port}")[0] == 404
