"""The graph view as HTML: the tasks of the version a run ran, in layers left to right, each coloured by its state.

No JavaScript (CloudWatch custom widgets run none): the tasks are boxes placed by the layout (mwaa_obs.graph), the
dependencies an SVG under them. Every text from a workflow is escaped by view_html's `_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mwaa_obs.graph import GraphRun, Placed
from mwaa_obs.links import runs_show_command
from mwaa_obs.states import TaskState
from mwaa_obs.view_html import Navigation, Viewer, _fill, _legend, _text, _when, look, page
from mwaa_obs.views import RunView

NODE_WIDTH, NODE_HEIGHT = 180, 28  # px
COLUMN_PITCH, ROW_PITCH = 240, 42  # px: a column's width with the gap its edges cross, a row's height with its gap
GRAPH_LEGEND = (TaskState.SUCCESS, TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.RUNNING, TaskState.NONE)
SHORT_VERSION = 8  # characters of a 32-character version id shown; the whole id is in the tooltip

_GRAPH_STYLE = """<style>
.mo .graph{position:relative;margin:6px 0}
.mo .graph svg{position:absolute;left:0;top:0;overflow:visible}
.mo .graph path{fill:none;stroke:var(--muted);stroke-width:1.2}
.mo .node{position:absolute;box-sizing:border-box;border-radius:4px;color:#fff;padding:0 6px;overflow:hidden;
 text-overflow:ellipsis;white-space:nowrap;font-weight:bold}
.mo .node.none{background:var(--track);color:var(--fg);border:1px dashed var(--line);font-weight:normal}
</style>"""


@dataclass(frozen=True, slots=True)
class VersionShown:
    """Which definition the graph is drawn from, and what a reader should know about it."""

    version: str | None  # the run's version (None: the run's version is not recorded)
    latest: str | None  # the workflow's latest version, as last described
    created_at: datetime | None  # when the version drawn was made
    stored: bool  # its definition has been read and stored
    unreadable: str | None = None  # why its tasks could not be read


def _short(version: str) -> str:
    return version[:SHORT_VERSION]


def _version_note(shown: VersionShown) -> str:
    if shown.version is None:
        return "version not recorded"
    note = (
        f'version <span class="version" data-version="{_text(shown.version)}" title="{_text(shown.version)}">'
        f"{_text(_short(shown.version))}</span>"
    )
    if shown.created_at is not None:
        note += f" (made {_text(_when(shown.created_at))})"
    if shown.latest is not None and shown.latest != shown.version:
        note += (
            f' · <span class="replaced" data-latest="{_text(shown.latest)}">replaced by version '
            f"{_text(_short(shown.latest))}</span>"
        )
    return note


def _node(placed: Placed, drawn: GraphRun) -> str:
    task = placed.task
    state = drawn.states.get(task.task_id)
    mark = look(state or TaskState.NONE)
    attempts = drawn.attempts.get(task.task_id, 0)
    lines = [
        f"{task.task_id}: {mark.word if state else 'no status in this run'}"
        + (f", {attempts} attempts" if attempts > 1 else ""),
    ]
    if task.operator:
        lines.append(task.operator)
    if task.upstream:
        lines.append("after " + ", ".join(task.upstream))
    left, top = placed.layer * COLUMN_PITCH, placed.row * ROW_PITCH
    fill = _fill(state) if state else "none"
    return (
        f'<div class="node {fill}" style="left:{left}px;top:{top}px;width:{NODE_WIDTH}px;height:{NODE_HEIGHT}px;'
        f'line-height:{NODE_HEIGHT}px" data-task="{_text(task.task_id)}" data-state="{_text(state or "")}" '
        f'data-layer="{placed.layer}" data-row="{placed.row}" title="{_text(chr(10).join(lines))}" '
        f'aria-label="{_text(task.task_id)}: {_text(mark.word if state else "no status")}">'
        f"{mark.symbol if state else '·'} {_text(task.task_id)}</div>"
    )


def _edge(up: Placed, down: Placed) -> str:
    x1, y1 = up.layer * COLUMN_PITCH + NODE_WIDTH, up.row * ROW_PITCH + NODE_HEIGHT / 2
    x2, y2 = down.layer * COLUMN_PITCH, down.row * ROW_PITCH + NODE_HEIGHT / 2
    bend = (x2 - x1) / 2
    return (
        f'<path class="edge" data-from="{_text(up.task.task_id)}" data-to="{_text(down.task.task_id)}" '
        f'd="M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2 - 4},{y2}" marker-end="url(#mo-arrow)"></path>'
    )


def render_graph(run: RunView, drawn: GraphRun, shown: VersionShown, nav: Navigation, viewer: Viewer) -> str:
    mark = look(run.state)
    gantt = nav.link(
        "Gantt",
        {"view": "gantt", "workflow": run.workflow_name, "runId": run.run_id},
        runs_show_command(run.run_id, run.workflow_name, viewer.stack_name),
    )
    head = (
        f'<h4 data-run="{_text(run.run_id)}" data-state="{_text(run.state)}">{_text(run.workflow_name)} run '
        f'{_text(run.run_id)}: <span style="color:{mark.colour}">{mark.symbol}</span> {_text(mark.word)}</h4>'
        f'<p class="muted">{_version_note(shown)} · {_text(_when(run.started_at))} → {_text(_when(run.ended_at))}'
        f" · {gantt}</p>"
    )
    if not shown.stored:
        return page(
            head + "<p>This version's definition has not been read yet: the reconciler reads each new version "
            "(GetWorkflow) on its next pass.</p>",
            viewer,
        )
    if not drawn.placed:
        reason = f": {shown.unreadable}" if shown.unreadable else ""
        return page(head + f"<p>No tasks could be read from this version's definition{_text(reason)}.</p>", viewer)
    where = {placed.task.task_id: placed for placed in drawn.placed}
    width = (max(p.layer for p in drawn.placed) * COLUMN_PITCH) + NODE_WIDTH
    height = (max(p.row for p in drawn.placed) * ROW_PITCH) + NODE_HEIGHT
    edges = "".join(_edge(where[up], where[down]) for up, down in drawn.edges)
    arrow = (
        '<defs><marker id="mo-arrow" viewBox="0 0 8 8" refX="4" refY="4" markerWidth="8" markerHeight="8" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" style="fill:var(--muted);stroke:none"></path></marker></defs>'
    )
    svg = f'<svg width="{width}" height="{height}" aria-hidden="true">{arrow}{edges}</svg>'
    nodes = "".join(_node(placed, drawn) for placed in drawn.placed)
    body = (
        f'<div class="graph" data-workflow="{_text(run.workflow_name)}" '
        f'style="width:{width}px;height:{height}px">{svg}{nodes}</div>'
    )
    if drawn.outside:
        body += (
            '<p class="muted outside">Ran but not in this version: '
            + ", ".join(f'<span data-task="{_text(task)}">{_text(task)}</span>' for task in drawn.outside)
            + "</p>"
        )
    return page(_GRAPH_STYLE + head + body + _legend(GRAPH_LEGEND, drawn.states.values()), viewer)
