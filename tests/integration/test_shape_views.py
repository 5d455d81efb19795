"""The graph view (and the fleet's views) on the local stack: the widget function as a dashboard calls it, and
`mwaa-obs ui` in a real headless Chromium, checked against the simulator's definitions and runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from mwaa_obs.view_html import Viewer
from mwaa_obs.widget import ViewReader, ViewRequest, render
from mwaa_obs_tools import browser, localstack
from mwaa_obs_tools.simulator.definition import parse_definition
from mwaa_obs_tools.simulator.faults import Faults
from mwaa_obs_tools.ui import LocalNavigation, Site, UiServer
from tests.integration.test_end_to_end import create_example_workflows

RUNS_EACH = 2
# nightly_sales_etl's second version: a task added after the fan-in, and one dropped
SECOND_VERSION = "nightly_sales_etl_v2.yaml"


@pytest.fixture(scope="module")
def ran(stack: localstack.LocalStack, service: Any) -> dict[str, Any]:
    """Every example run twice (create_object_2 failing), then nightly_sales_etl updated and run on its new
    version; the reconciler's passes read each version's definition."""
    arns = create_example_workflows(stack, {"defaults": {"group_window_minutes": 0}})
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
    server = UiServer(Site(stack.runs, stack.workflows, "us-east-1", localstack.STACK_NAME, lambda: stack.engine.now))
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
