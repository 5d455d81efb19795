"""A workflow's graph as Airflow's graph view draws it: its tasks and their dependencies, read from the definition
GetWorkflow returns (events carry no dependencies), laid out in layers left to right, each task coloured by the
state it reached in one run.

The definition is DAG-factory YAML (docs.aws.amazon.com/mwaa/latest/mwaa-serverless-userguide/
workflow-definitions.html: `<name>: {tasks: {<task id>: {operator: ..., dependencies: [...]}}}`, `tasks` also a list
of mappings with a `task_id`). Only the tasks, their upstream tasks and the operator's class name are kept: the
graph is stored once per version (mwaa_obs.store.workflows) and read by the widget, which never calls the API.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RESERVED_TOP_LEVEL = frozenset({"default"})  # DAG-factory's shared defaults, not a workflow


class DefinitionUnreadable(ValueError):
    """A definition whose tasks cannot be read: the reason is stored in place of the graph."""


@dataclass(frozen=True, slots=True)
class GraphTask:
    task_id: str
    upstream: tuple[str, ...]  # the tasks it depends on, as the definition lists them
    operator: str | None = None  # the operator's class name (S3ListOperator)


@dataclass(frozen=True, slots=True)
class WorkflowGraph:
    tasks: tuple[GraphTask, ...]  # in the definition's order

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        """(upstream, downstream) for each dependency between two tasks of the graph."""
        known = {task.task_id for task in self.tasks}
        return tuple((up, task.task_id) for task in self.tasks for up in task.upstream if up in known)


def graph_of_definition(text: str) -> WorkflowGraph:
    """The tasks and dependencies of a DAG-factory definition; DefinitionUnreadable if it has none to show."""
    # Imported here: only the reconciler reads definitions, and only for a version it has not stored yet.
    import yaml  # noqa: PLC0415

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader: plain data only)
    except yaml.YAMLError as error:
        raise DefinitionUnreadable(f"invalid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(document, dict):
        raise DefinitionUnreadable("the definition is not a mapping of workflow name to workflow")
    bodies = [body for key, body in document.items() if key not in RESERVED_TOP_LEVEL]
    if len(bodies) != 1 or not isinstance(bodies[0], dict):
        raise DefinitionUnreadable(f"expected one workflow, found {len(bodies)}")
    tasks: dict[str, GraphTask] = {}
    for task in _tasks(bodies[0].get("tasks")):
        tasks.setdefault(task.task_id, task)  # a task id twice: the service refuses it; the first is drawn
    return WorkflowGraph(tuple(tasks.values()))


def _tasks(specs: Any) -> Iterable[GraphTask]:
    if isinstance(specs, dict):
        items = list(specs.items())
    elif isinstance(specs, list):
        items = [(spec.get("task_id"), spec) for spec in specs if isinstance(spec, dict)]
    else:
        raise DefinitionUnreadable("the workflow has no tasks")
    for task_id, spec in items:
        if not isinstance(task_id, str) or not isinstance(spec, dict):
            raise DefinitionUnreadable(f"task {task_id!r} has no name or no settings")
        upstream = spec.get("dependencies") or []
        if not isinstance(upstream, list):
            upstream = [upstream]
        operator = spec.get("operator")
        yield GraphTask(
            task_id=task_id,
            upstream=tuple(str(name) for name in upstream),
            operator=str(operator).rsplit(".", 1)[-1] if operator else None,
        )


# --- Layout ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placed:
    task: GraphTask
    layer: int  # column, left to right: 0 for a task with no upstream task, else one after its latest upstream
    row: int  # position in its column, top to bottom


def layout(graph: WorkflowGraph) -> tuple[Placed, ...]:
    """Layers left to right, as Airflow's graph view (rankdir LR): each task one column after its furthest
    upstream task. Within a column, tasks sit near their upstream tasks (mean row of the upstream tasks, then the
    definition's order), which keeps most edges from crossing. A cycle (a definition the service refuses) does not
    loop: its tasks go one column after the rest."""
    by_id = {task.task_id: task for task in graph.tasks}
    ups_of = {task.task_id: {up for up in task.upstream if up in by_id and up != task.task_id} for task in graph.tasks}
    downstream: dict[str, list[str]] = {task_id: [] for task_id in by_id}
    for task_id, ups in ups_of.items():
        for up in ups:
            downstream[up].append(task_id)
    waiting = {task_id: len(ups) for task_id, ups in ups_of.items()}
    ready = deque(task.task_id for task in graph.tasks if not waiting[task.task_id])
    layers: dict[str, int] = {}
    while ready:  # Kahn's order: a task once all its upstream tasks have their column
        task_id = ready.popleft()
        layers[task_id] = 1 + max((layers[up] for up in ups_of[task_id]), default=-1)
        for down in downstream[task_id]:
            waiting[down] -= 1
            if not waiting[down]:
                ready.append(down)
    beyond = max(layers.values(), default=-1) + 1
    for task in graph.tasks:  # left on a cycle
        layers.setdefault(task.task_id, beyond)
    order = {task.task_id: index for index, task in enumerate(graph.tasks)}
    rows: dict[str, int] = {}
    placed: list[Placed] = []
    for layer in sorted(set(layers.values())):
        column = [task for task in graph.tasks if layers[task.task_id] == layer]

        def weight(task: GraphTask) -> tuple[float, int]:
            ups = [rows[up] for up in task.upstream if up in rows]
            return (sum(ups) / len(ups) if ups else float(order[task.task_id]), order[task.task_id])

        for row, task in enumerate(sorted(column, key=weight)):
            rows[task.task_id] = row
            placed.append(Placed(task, layer, row))
    return tuple(placed)


# --- One run on the graph ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GraphRun:
    """The graph of the version a run ran, each task with the state its latest attempt reached in that run."""

    placed: tuple[Placed, ...]
    edges: tuple[tuple[str, str], ...]
    states: Mapping[str, str]  # task id -> state; absent: no attempt in the run
    attempts: Mapping[str, int]  # task id -> attempts that ran
    outside: tuple[str, ...]  # tasks the run ran that this version's definition does not have


def graph_run(graph: WorkflowGraph, latest: Sequence[tuple[str, str, int]]) -> GraphRun:
    """`latest`: each task of the run as (task id, latest attempt's state, attempts that ran)."""
    states = {task_id: state for task_id, state, _ in latest}
    attempts = {task_id: count for task_id, _, count in latest}
    known = {task.task_id for task in graph.tasks}
    return GraphRun(
        placed=layout(graph),
        edges=graph.edges,
        states=states,
        attempts=attempts,
        outside=tuple(sorted(task for task in states if task not in known)),
    )
