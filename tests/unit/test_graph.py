"""The graph view's data: tasks and dependencies read from a definition, laid out in layers left to right."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.graph import DefinitionUnreadable, GraphTask, WorkflowGraph, graph_of_definition, graph_run, layout
from mwaa_obs.graph_html import VersionShown, render_graph
from mwaa_obs.states import RunState, TaskState
from mwaa_obs.widget import WidgetNavigation
from mwaa_obs_tools.simulator.definition import parse_definition
from tests.unit.test_views import HOSTILE, PLACE, Links, attempt, parsed, run

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "workflows").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_the_graph_has_the_tasks_and_dependencies_the_simulator_runs(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    graph = graph_of_definition(text)
    truth = parse_definition(text, path.name)
    assert {task.task_id: set(task.upstream) for task in graph.tasks} == {
        task.task_id: set(task.dependencies) for task in truth.tasks
    }


def test_a_list_of_tasks_and_the_operators_class_name() -> None:
    graph = graph_of_definition(
        "etl:\n  default: {}\n  tasks:\n"
        "    - {task_id: extract, operator: airflow.providers.amazon.aws.operators.s3.S3ListOperator}\n"
        "    - {task_id: load, operator: x.y.LoadOperator, dependencies: extract}\n"
    )
    assert graph.tasks == (
        GraphTask("extract", (), "S3ListOperator"),
        GraphTask("load", ("extract",), "LoadOperator"),
    )
    assert graph.edges == (("extract", "load"),)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: [unclosed", "invalid YAML"),
        ("- just a list", "not a mapping"),
        ("a: {tasks: {}}\nb: {tasks: {}}", "expected one workflow, found 2"),
        ("a: {schedule: '0 0 * * *'}", "no tasks"),
        ("a: {tasks: {t: 3}}", "no name or no settings"),
    ],
)
def test_a_definition_without_readable_tasks_says_why(text: str, reason: str) -> None:
    with pytest.raises(DefinitionUnreadable, match=reason):
        graph_of_definition(text)


def test_the_fan_out_and_fan_in_example_in_columns() -> None:
    graph = graph_of_definition((EXAMPLES[[p.stem for p in EXAMPLES].index("nightly_sales_etl")]).read_text())
    columns: dict[int, list[str]] = {}
    for placed in layout(graph):
        columns.setdefault(placed.layer, []).append(placed.task.task_id)
    assert columns == {
        0: ["wait_for_exports"],
        1: ["crawl_raw"],
        2: ["transform_orders", "transform_refunds", "transform_customers"],
        3: ["check_totals"],
        4: ["load_warehouse"],
        5: ["notify"],
    }


@st.composite
def dags(draw: st.DrawFn) -> WorkflowGraph:
    """Random acyclic graphs: each task may depend on any task defined before it; listed in a random order."""
    count = draw(st.integers(1, 25))
    tasks = [GraphTask("t0", ())] + [
        GraphTask(f"t{i}", tuple(f"t{j}" for j in draw(st.sets(st.integers(0, i - 1), max_size=4))))
        for i in range(1, count)
    ]
    return WorkflowGraph(tuple(draw(st.permutations(tasks))))


@given(dags())
def test_every_task_is_one_column_after_its_furthest_upstream_task(graph: WorkflowGraph) -> None:
    placed = {p.task.task_id: p for p in layout(graph)}
    assert set(placed) == {task.task_id for task in graph.tasks}
    for task in graph.tasks:
        expected = 1 + max((placed[up].layer for up in task.upstream), default=-1)
        assert placed[task.task_id].layer == expected
    cells = [(p.layer, p.row) for p in placed.values()]
    assert len(cells) == len(set(cells))  # no two tasks in one place
    for layer in {p.layer for p in placed.values()}:  # rows of a column are 0..n-1
        rows = sorted(p.row for p in placed.values() if p.layer == layer)
        assert rows == list(range(len(rows)))


def test_a_cycle_is_drawn_after_the_rest_instead_of_looping() -> None:
    graph = WorkflowGraph((GraphTask("a", ()), GraphTask("b", ("a", "c")), GraphTask("c", ("b",))))
    layers = {p.task.task_id: p.layer for p in layout(graph)}
    assert layers == {"a": 0, "b": 1, "c": 1}


def test_a_long_chain_does_not_recurse() -> None:
    graph = WorkflowGraph(tuple(GraphTask(f"t{i}", (f"t{i - 1}",) if i else ()) for i in range(5000)))
    assert max(p.layer for p in layout(graph)) == 4999


def test_each_task_takes_its_runs_state_and_tasks_outside_the_version_are_named() -> None:
    graph = WorkflowGraph((GraphTask("a", ()), GraphTask("b", ("a",))))
    drawn = graph_run(graph, [("a", "SUCCESS", 2), ("old_task", "FAILED", 1)])
    assert drawn.states == {"a": "SUCCESS", "old_task": "FAILED"}
    assert drawn.attempts["a"] == 2
    assert drawn.outside == ("old_task",)
    assert drawn.edges == (("a", "b"),)


@pytest.mark.parametrize("text", HOSTILE)
def test_text_from_a_workflow_never_becomes_markup_in_the_graph(text: str) -> None:
    hostile = run("r9", RunState.FAILED, 0, [attempt("r9", text, 1, TaskState.FAILED, 0, 1, 2, error=text)])
    graph = WorkflowGraph((GraphTask(text, (), text), GraphTask("after", (text,))))
    drawn = graph_run(graph, [(text, TaskState.FAILED, 1), ("gone" + text, TaskState.SUCCESS, 1)])
    shown = VersionShown(version=text, latest="v2" + text, created_at=None, stored=True)
    tags = parsed(render_graph(hostile, drawn, shown, WidgetNavigation("arn:aws:lambda:eu-west-1:1:function:w"), PLACE))
    assert {tag for tag, _ in tags.tags} <= {"div", "style", "svg", "defs", "marker", "path", "h4", "p", "span", "a",
                                             "b", "cwdb-action"}  # fmt: skip
    assert not any(name.startswith("on") for _, attrs in tags.tags for name in attrs)
    assert any(attrs.get("data-task") == text for tag, attrs in tags.tags if tag == "div")
    assert any(attrs.get("data-from") == text for tag, attrs in tags.tags if tag == "path")


def test_a_version_not_read_yet_says_so_instead_of_an_empty_graph() -> None:
    shown = VersionShown(version="a" * 32, latest="a" * 32, created_at=None, stored=False)
    page = render_graph(run("r1", RunState.SUCCESS, 0, []), graph_run(WorkflowGraph(()), []), shown, Links(), PLACE)
    assert "has not been read yet" in page
    assert 'class="graph"' not in page
