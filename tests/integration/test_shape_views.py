"""The graph view (and the fleet's views) on the local stack: the widget function as a dashboard calls it, and
`mwaa-obs ui` in a real headless Chromium, checked against the simulator's definitions and runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from mwaa_obs.matrix import MATRIX_RUNS
from mwaa_obs.settings import SettingsSource
from mwaa_obs.view_html import Viewer
from mwaa_obs.widget import ViewReader, render
from mwaa_obs.widget_request import ViewRequest
from mwaa_obs_tools import browser, localstack
from mwaa_obs_tools.simulator.definition import parse_definition
from mwaa_obs_tools.simulator.faults import Faults
from mwaa_obs_tools.ui import LocalNavigation, Site, UiServer
from tests.integration.test_end_to_end import create_example_workflows

RUNS_EACH = 2
SETTINGS = {"defaults": {"group_window_minutes": 0}, "workflows": [{"match": "nightly_*", "team": "sales"}]}
# nightly_sales_etl's second version: a task added after the fan-in, and one dropped
SECOND_VERSION = "nightly_sales_etl_v2.yaml"


@pytest.fixture(scope="module")
def ran(stack: localstack.LocalStack, service: Any) -> dict[str, Any]:
    """Every example run twice (create_object_2 failing), then nightly_sales_etl updated and run on its new
    version; the reconciler's passes read each version's definition."""
    arns = create_example_workflows(stack, SETTINGS)
    stack.engine.set_faults("create_s3_objects", Faults(fail={"create_object_2"}))
    for _ in range(RUNS_EACH):
        for arn in arns.values():
            service.start_workflow_run(WorkflowArn=arn)
        stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=4))
        stack.pump()
    first = service.get_workflow(WorkflowArn=arns["nightly_sales_etl"])
    text = (
        first["WorkflowDefinition"]
        .replace(
            "    notify:\n",
            "    archive_exports:\n      operator: airflow.operators.empty.EmptyOperator\n"
            "      dependencies: [check_totals]\n    notify:\n",
        )
        .replace("      dependencies: [load_warehouse]\n", "      dependencies: [load_warehouse, archive_exports]\n")
    )
    location = {"Bucket": first["DefinitionS3Location"]["Bucket"], "ObjectKey": f"workflows/{SECOND_VERSION}"}
    localstack.client(stack.endpoint, "s3").put_object(
        Bucket=location["Bucket"], Key=location["ObjectKey"], Body=text.encode()
    )
    service.update_workflow(
        WorkflowArn=arns["nightly_sales_etl"], DefinitionS3Location=location, RoleArn=first["RoleArn"]
    )
    service.start_workflow_run(WorkflowArn=arns["nightly_sales_etl"])
    stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=4))
    stack.pump()
    stack.engine.advance(stack.engine.now + timedelta(hours=1))  # a reconciler's pass since: the versions read
    stack.pump()
    return {"arns": arns, "first_version": first["WorkflowVersion"]}


@pytest.fixture(scope="module")
def site(stack: localstack.LocalStack) -> Iterator[str]:
    settings = SettingsSource(localstack.client(stack.endpoint, "ssm"), stack.outputs["SettingsParameterName"])
    site = Site(stack.runs, stack.workflows, "us-east-1", localstack.STACK_NAME, lambda: stack.engine.now,
                stack.policies, team_of=lambda name: settings.get().route_for(name).team)  # fmt: skip
    server = UiServer(site)
    yield server.start().url
    server.stop()


def runs_of(service: Any, arn: str) -> list[dict[str, Any]]:
    return list(service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"])


def defined(service: Any, arn: str, version: str) -> dict[str, set[str]]:
    """task id -> its upstream tasks, as the simulator parses the version's definition."""
    text = service.get_workflow(WorkflowArn=arn, WorkflowVersion=version)["WorkflowDefinition"]
    return {task.task_id: set(task.dependencies) for task in parse_definition(text, "definition").tasks}


def states(service: Any, arn: str, run_id: str) -> dict[str, str]:
    """task id -> state of its latest attempt, for the tasks that reached one (SKIPPED has no event, no item)."""
    found = {}
    for summary in service.list_task_instances(WorkflowArn=arn, RunId=run_id)["TaskInstances"]:
        task = service.get_task_instance(WorkflowArn=arn, RunId=run_id, TaskInstanceId=summary["TaskInstanceId"])
        if task.get("Status", "NONE") != "NONE":
            found[task["TaskId"]] = task["Status"]
    return found


def drawn(page: Any) -> tuple[dict[str, set[str]], dict[str, str]]:
    """The graph as the browser shows it: task -> upstream tasks (from the edges), task -> state."""
    tasks: dict[str, set[str]] = {n.get_attribute("data-task"): set() for n in page.query_selector_all("div.node")}
    for edge in page.query_selector_all("path.edge"):
        tasks[edge.get_attribute("data-to")].add(edge.get_attribute("data-from"))
    shown = {
        n.get_attribute("data-task"): n.get_attribute("data-state")
        for n in page.query_selector_all("div.node")
        if n.get_attribute("data-state")
    }
    return tasks, shown


@pytest.mark.parametrize("workflow", ["nightly_sales_etl", "create_s3_objects"])
def test_the_graph_in_a_browser_is_the_definition_coloured_by_the_runs_states(
    site: str, service: Any, ran: dict[str, Any], workflow: str, stack: Any
) -> None:
    arn = ran["arns"][workflow]
    for run in runs_of(service, arn):
        with browser.chromium() as chromium:
            page = chromium.new_page()
            page.goto(f"{site}/view?view=graph&workflow={workflow}&runId={run['RunId']}")
            tasks, shown = drawn(page)
            assert tasks == defined(service, arn, run["WorkflowVersion"])
            assert shown == states(service, arn, run["RunId"])
            # layers left to right: every task's box starts right of each of its upstream tasks' boxes
            boxes = {n.get_attribute("data-task"): n.bounding_box() for n in page.query_selector_all("div.node")}
            for task, ups in tasks.items():
                for up in ups:
                    assert boxes[up]["x"] + boxes[up]["width"] < boxes[task]["x"]
            assert page.query_selector("span.version").get_attribute("data-version") == run["WorkflowVersion"]


def test_a_definition_change_shows_as_a_new_version(site: str, service: Any, ran: dict[str, Any]) -> None:
    arn = ran["arns"]["nightly_sales_etl"]
    runs = runs_of(service, arn)
    versions = {run["WorkflowVersion"] for run in runs}
    assert len(versions) == 2
    latest = service.get_workflow(WorkflowArn=arn)["WorkflowVersion"]
    old = next(run for run in runs if run["WorkflowVersion"] == ran["first_version"])
    new = next(run for run in runs if run["WorkflowVersion"] == latest)
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/view?view=graph&workflow=nightly_sales_etl&runId={old['RunId']}")
        assert page.query_selector("span.replaced").get_attribute("data-latest") == latest
        assert page.query_selector('div.node[data-task="archive_exports"]') is None
        page.goto(f"{site}/view?view=graph&workflow=nightly_sales_etl&runId={new['RunId']}")
        assert page.query_selector("span.replaced") is None
        assert page.query_selector('div.node[data-task="archive_exports"]') is not None


def test_the_widget_function_draws_the_latest_failed_runs_graph_in_four_reads(
    stack: localstack.LocalStack, service: Any, ran: dict[str, Any]
) -> None:
    end = stack.engine.now
    event = {"view": "graph", "workflow": "create_s3_objects", "widgetContext": {"theme": "dark", "timeRange": {
        "start": int((end - timedelta(days=1)).timestamp() * 1000), "end": int(end.timestamp() * 1000)}}}  # fmt: skip
    page = stack.widget(event)
    assert 'class="graph"' in page
    assert 'data-task="create_object_2" data-state="FAILED"' in page
    reader = ViewReader(stack.runs, stack.workflows)
    request = ViewRequest.of({"view": "graph", "workflow": "create_s3_objects"}, end - timedelta(days=1), end, "light")
    render(request, reader, LocalNavigation({}), Viewer("us-east-1", localstack.STACK_NAME), end)
    assert reader.reads == 4  # the workflow's ids, its runs, the chosen run's items, its version's graph


def test_each_version_is_read_from_the_api_once(stack: localstack.LocalStack, ran: dict[str, Any]) -> None:
    (workflow,) = stack.workflows.named("nightly_sales_etl")
    first = stack.workflows.version(workflow.workflow_id, ran["first_version"])
    assert first is not None
    assert first.described_at is not None
    stack.engine.advance(stack.engine.now + timedelta(hours=2))  # more reconciler passes: nothing new to read
    stack.pump()
    again = stack.workflows.version(workflow.workflow_id, ran["first_version"])
    assert again is not None
    assert again.described_at == first.described_at


def test_the_ui_pickers_graph_button_opens_the_workflows_graph(site: str, ran: dict[str, Any]) -> None:
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/")
        page.select_option("#picker select", "simple_s3_test")
        page.click('#picker button[value="graph"]')
        page.wait_for_selector("div.graph")
        assert page.query_selector("div.graph").get_attribute("data-workflow") == "simple_s3_test"
        assert {n.get_attribute("data-task") for n in page.query_selector_all("div.node")} == {
            "list_objects",
            "create_object_list",
        }


def matrix_rows(page: Any) -> dict[str, list[tuple[str, str]]]:
    """workflow -> its cells' (run id, state), left to right."""
    return {
        row.get_attribute("data-workflow"): [
            (cell.get_attribute("data-run"), cell.get_attribute("data-state"))
            for cell in row.query_selector_all("td.cell[data-run]")
        ]
        for row in page.query_selector_all("tr.workflow")
    }


def newest_runs(service: Any, arn: str, count: int) -> list[tuple[str, str]]:
    """The workflow's last runs as the simulator lists them, oldest first: (run id, state)."""
    runs = sorted(runs_of(service, arn), key=lambda run: run["RunDetailSummary"]["CreatedOn"])[-count:]
    return [(run["RunId"], run["RunDetailSummary"]["Status"]) for run in runs]


def test_the_matrix_in_a_browser_shows_every_workflows_last_runs_and_a_cell_opens_that_runs_gantt(
    site: str, service: Any, ran: dict[str, Any]
) -> None:
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/")
        page.click('#picker a[href="/view?view=matrix"]')
        page.wait_for_selector("table.matrix")
        rows = matrix_rows(page)
        assert rows == {name: newest_runs(service, arn, MATRIX_RUNS) for name, arn in ran["arns"].items()}
        assert [len(row.query_selector_all("td.cell")) for row in page.query_selector_all("tr.workflow")] == [
            MATRIX_RUNS
        ] * len(rows)  # short rows padded on the left: the newest runs line up at the right
        run_id, _ = rows["create_s3_objects"][-1]
        page.click(f'tr[data-workflow="create_s3_objects"] td[data-run="{run_id}"] a')
        page.wait_for_selector("table.gantt")
        assert page.query_selector("h4").get_attribute("data-run") == run_id


@pytest.mark.parametrize(
    ("query", "expected"),
    [("filter=S3", {"simple_s3_test", "create_s3_objects"}), ("team=sales", {"nightly_sales_etl"}),
     ("filter=s3&team=sales", set())],
)  # fmt: skip
def test_the_matrix_filters_by_name_and_by_the_settings_team(
    site: str, ran: dict[str, Any], query: str, expected: set[str]
) -> None:
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/view?view=matrix&{query}")
        assert set(matrix_rows(page)) == expected
        if not expected:
            assert "No workflow matches" in page.inner_text("div.mo")


def test_the_widget_function_draws_the_matrix_in_one_read_per_workflow_shown_and_one_for_the_list(
    stack: localstack.LocalStack, ran: dict[str, Any]
) -> None:
    page = stack.widget({"view": "matrix", "team": "sales"})  # the function reads the teams from the settings
    assert page.count('class="workflow"') == 1
    assert 'data-team="sales"' in page
    end = stack.engine.now
    reader = ViewReader(stack.runs, stack.workflows)
    request = ViewRequest.of({"view": "matrix"}, end - timedelta(days=1), end, "light")
    render(request, reader, LocalNavigation({}), Viewer("us-east-1", localstack.STACK_NAME), end)
    assert reader.reads == 1 + len(ran["arns"])


def seconds_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def test_the_charts_in_a_browser_draw_each_tasks_duration_per_run_and_each_scheduled_runs_landing_after_its_fire(
    site: str, service: Any, ran: dict[str, Any]
) -> None:
    arn = ran["arns"]["nightly_sales_etl"]
    runs = runs_of(service, arn)
    scheduled = [run for run in runs if run["RunType"] == "SCHEDULED"]
    assert scheduled  # its cron fired while the fixture's clock ran
    with browser.chromium() as chromium:
        page = chromium.new_page()
        # Asked as the trends view (issue 35) was, which the charts absorbed: a dashboard or link naming it still works
        page.goto(f"{site}/view?view=trends&workflow=nightly_sales_etl")
        assert page.query_selector('figure[data-chart="outcomes"]') is not None
        shown = {
            row.get_attribute("data-task"): {
                dot.get_attribute("data-run"): float(dot.get_attribute("data-seconds"))
                for dot in row.query_selector_all("circle")
            }
            for row in page.query_selector_all("tr.task-trend")
        }
        for run in runs:
            for summary in service.list_task_instances(WorkflowArn=arn, RunId=run["RunId"])["TaskInstances"]:
                task = service.get_task_instance(
                    WorkflowArn=arn, RunId=run["RunId"], TaskInstanceId=summary["TaskInstanceId"]
                )
                if task.get("StartedAt") and task.get("EndedAt"):
                    expected = seconds_between(task["StartedAt"], task["EndedAt"])
                    assert shown[task["TaskId"]][run["RunId"]] == pytest.approx(expected, abs=1)
        late = {
            row.get_attribute("data-run"): row.get_attribute("data-late-seconds")
            for row in page.query_selector_all("tr.landing")
        }
        assert set(late) == {run["RunId"] for run in runs}
        for run in runs:
            summary = run["RunDetailSummary"]
            if run["RunType"] != "SCHEDULED":
                assert late[run["RunId"]] == ""  # on demand: no schedule to be late for
                continue
            fire = summary["CreatedOn"].replace(minute=0, second=0, microsecond=0)  # "0 */4 * * *"
            assert fire.hour % 4 == 0
            assert float(late[run["RunId"]]) == pytest.approx(seconds_between(fire, summary["EndedAt"]), abs=1)
