"""The fleet matrix: every workflow (filtered by name or team) by its last runs, each cell a run's state linking to
its Gantt chart.

Reads are bounded whatever the fleet's size: the workflow list (one Query of its partition; a page per MB of
workflow items) and one Query per workflow shown, its newest runs only (`Limit`), at most MATRIX_ROWS workflows a
page: at 1,000 workflows a page costs 1 + 50 Queries (bench/sections/matrix.py measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mwaa_obs.links import runs_show_command
from mwaa_obs.states import RunState
from mwaa_obs.store.schema import RunItem, WorkflowItem
from mwaa_obs.view_html import Navigation, Viewer, _fill, _text, _when, look, page

MATRIX_ROWS = 50  # workflows a page
MATRIX_RUNS = 10  # runs a row, unless asked for more
MATRIX_LEGEND = (RunState.SUCCESS, RunState.FAILED, RunState.TIMEOUT, RunState.RUNNING, RunState.STOPPED)


@dataclass(frozen=True, slots=True)
class MatrixRun:
    run_id: str
    state: str
    created_at: datetime | None  # first word of the run
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class MatrixRow:
    workflow_id: str
    workflow_name: str
    team: str
    runs: tuple[MatrixRun, ...]  # oldest first, the newest at the right as in the grid


@dataclass(frozen=True, slots=True)
class MatrixPage:
    rows: tuple[MatrixRow, ...]
    matching: int  # workflows the filters let through, on every page
    page: int  # 1-based
    pages: int
    columns: int  # the runs asked for


def matrix_run(run: RunItem) -> MatrixRun:
    return MatrixRun(run.run_id, run.status or "", min(run.seen().values(), default=run.started_at), run.ended_at)


def chosen_workflows(
    workflows: Sequence[WorkflowItem], name_filter: str | None, team: str | None, team_of: Callable[[str], str]
) -> list[WorkflowItem]:
    """The live workflows whose name contains `name_filter` (any case) and whose team is `team`, by name."""
    wanted = (name_filter or "").casefold()
    found = [
        item
        for item in workflows
        if item.deleted_at is None
        and wanted in item.workflow_name.casefold()
        and (not team or team_of(item.workflow_name) == team)
    ]
    return sorted(found, key=lambda item: (item.workflow_name, item.workflow_id))


def page_of(chosen: Sequence[WorkflowItem], page: int) -> tuple[list[WorkflowItem], int]:
    """The workflows of one page (past the last page: the last one) and how many pages there are."""
    pages = max(1, -(-len(chosen) // MATRIX_ROWS))
    page = min(max(1, page), pages)
    return list(chosen[(page - 1) * MATRIX_ROWS : page * MATRIX_ROWS]), pages


def _cell(row: MatrixRow, run: MatrixRun, nav: Navigation, viewer: Viewer) -> str:
    mark = look(run.state)
    command = runs_show_command(run.run_id, row.workflow_name, viewer.stack_name)
    title = (
        f"{row.workflow_name} run {run.run_id}: {mark.word}; first seen {_when(run.created_at)}, ended "
        f"{_when(run.ended_at)}. Gantt: click. CLI: {command}"
    )
    params = {"view": "gantt", "workflow": row.workflow_name, "runId": run.run_id}
    return (
        f'<td class="cell {_fill(run.state)}" data-run="{_text(run.run_id)}" data-state="{_text(run.state)}" '
        f'aria-label="{_text(mark.word)}">{nav.link(mark.symbol, params, title)}</td>'
    )


def _pager(matrix: MatrixPage, params: dict[str, str], nav: Navigation) -> str:
    def to(number: int, label: str) -> str:
        return nav.link(label, {**params, "page": str(number)}, f"page {number} of {matrix.pages}")

    before = to(matrix.page - 1, "← previous") if matrix.page > 1 else ""
    after = to(matrix.page + 1, "next →") if matrix.page < matrix.pages else ""
    return (
        f'<p class="muted pager" data-page="{matrix.page}" data-pages="{matrix.pages}">{before} '
        f"workflows {(matrix.page - 1) * MATRIX_ROWS + 1 if matrix.rows else 0}-"
        f"{(matrix.page - 1) * MATRIX_ROWS + len(matrix.rows)} of {matrix.matching} · page {matrix.page} of "
        f"{matrix.pages} {after}</p>"
    )


def render_matrix(matrix: MatrixPage, filters: dict[str, str], nav: Navigation, viewer: Viewer) -> str:
    """`filters`: the request's own filter parameters, carried by the page links."""
    said = " and ".join(f"{key} {value!r}" for key, value in filters.items() if value)
    if not matrix.rows:
        return page(f"<p>No workflow{' matches ' + _text(said) if said else ' has been seen'}.</p>", viewer)
    teams = any(row.team for row in matrix.rows)
    rows = []
    for row in matrix.rows:
        grid = nav.link(
            _text(row.workflow_name),
            {"view": "grid", "workflow": row.workflow_name},
            f"{row.workflow_name}: its runs grid",
        )
        empty = '<td class="cell none" data-state="">–</td>' * (matrix.columns - len(row.runs))
        cells = "".join(_cell(row, run, nav, viewer) for run in row.runs)
        team = f"<td>{_text(row.team)}</td>" if teams else ""
        rows.append(
            f'<tr class="workflow" data-workflow="{_text(row.workflow_name)}" data-team="{_text(row.team)}">'
            f"<th>{grid}</th>{team}{empty}{cells}</tr>"
        )
    head = (
        f"<tr><th>workflow</th>{'<th>team</th>' if teams else ''}"
        f'<th colspan="{matrix.columns}">last {matrix.columns} runs, newest at the right</th></tr>'
    )
    table = f'<table class="matrix">{head}{"".join(rows)}</table>'
    params = {"view": "matrix", "runs": str(matrix.columns), **{key: value for key, value in filters.items() if value}}
    shown = {run.state for row in matrix.rows for run in row.runs} - set(MATRIX_LEGEND)
    legend = "".join(
        f'<span><b style="background:{look(state).colour}">{look(state).symbol}</b> {look(state).word}</span>'
        for state in (*MATRIX_LEGEND, *sorted(shown))
    )
    return page(table + _pager(matrix, params, nav) + f'<p class="legend muted">{legend}</p>', viewer)
