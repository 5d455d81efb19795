"""What the runs widget shows for one request: the grid, a Gantt chart, the charts or the failures table, read from
the table.

The reads are bounded and counted (`ViewReader.reads`): a grid is one Query for the workflow's ids, one for its
runs in the time range and one per run for its task attempts (run in parallel); the charts the same, the runs of
the range up to MAX_CHART_RUNS and the task attempts of the latest `runs` of them; a Gantt and a graph three or four
(with its version's stored definition: the graph's layout, the Gantt's rows of tasks that never ran); a log view
two or three, and one GetLogEvents; the failures table one per UTC day of the range from its last (at most
FAILURE_DAYS), each for the rows still missing: FAILURE_ROWS items in all, however many runs failed, and one per
failed run shown (its failed tasks). With no workflow named, or a name no workflow has, the workflows whose names
begin with it are listed (one Query, at most PICK_ROWS).
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mwaa_obs.charts import Charts, workflow_charts
from mwaa_obs.events import Place
from mwaa_obs.failures import failed_tasks
from mwaa_obs.graph import WorkflowGraph, graph_run, layout
from mwaa_obs.graph_html import VersionShown, render_graph
from mwaa_obs.matrix import MatrixPage, MatrixRow, chosen_workflows, matrix_run, page_of, render_matrix
from mwaa_obs.metrics import Policies, SeriesPolicy
from mwaa_obs.states import FAILED_RUN_STATES
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import RunItem, TaskAttemptItem, WorkflowItem
from mwaa_obs.store.workflows import Workflows, stored_graph
from mwaa_obs.task_logs import LogTail, TaskLogReader
from mwaa_obs.view_charts import render_charts
from mwaa_obs.view_html import (
    Navigation,
    Viewer,
    page,
    render_failures,
    render_gantt,
    render_grid,
    render_log,
    run_buttons,
)
from mwaa_obs.views import AttemptView, RunView, gantt, grid, log_ref, run_view
from mwaa_obs.widget_request import DEFAULT_RUNS, WORKFLOWLESS_VIEWS, RequestError, ViewRequest, theme_of

FAILURE_DAYS = 7
FAILURE_ROWS = 25
PARALLEL_READS = 8
MAX_CHART_RUNS = 1000  # the runs the charts draw: the newest of the range (an hourly workflow's 41 days)
PICK_ROWS = 100
# A log view's tail (a pop-up has room for more than a message) and how long it may wait for CloudWatch Logs
LOG_VIEW_EVENTS = 100
LOG_VIEW_LINES = 60
LOG_VIEW_BYTES = 8192
LOG_VIEW_SECONDS = 5.0


class QueryCount:
    """The Query requests a DynamoDB client sent (each page of a long answer is one), counted from its own event
    hook: what a render read, measured rather than assumed."""

    def __init__(self, client: Any) -> None:
        self._lock = threading.Lock()
        self.value = 0
        client.meta.events.register("before-call.dynamodb.Query", self._count)

    def _count(self, **_: Any) -> None:
        with self._lock:
            self.value += 1


class ViewReader:
    """The table reads the views make, counted."""

    def __init__(
        self,
        runs: Runs,
        workflows: Workflows,
        logs: TaskLogReader | None = None,
        home: Place | None = None,
        *,
        team_of: Callable[[str], str] | None = None,
    ) -> None:
        """`logs`: reads an attempt's log tail (None: the log view links to CloudWatch only); `home`: the account
        and region whose logs it may read (None: any; a run elsewhere gets the link); `team_of`: a workflow name's
        team, as the settings say (not a read; None: no teams)."""
        self._runs = runs
        self._workflows = workflows
        self._logs = logs
        self._home = home
        self.team_of = team_of or (lambda name: "")
        self._lock = threading.Lock()
        self._log_groups: dict[str, str | None] = {}
        self._latest_versions: dict[str, str | None] = {}
        self._schedules: dict[str, str | None] = {}  # workflow id -> its cron schedule (None: on demand or unknown)
        self.reads = 0

    def _counted(self, count: int = 1) -> None:
        with self._lock:
            self.reads += count

    def workflow_ids(self, name: str) -> list[str]:
        self._counted()
        found = self._workflows.named(name)
        self._log_groups.update((item.workflow_id, item.log_group) for item in found)
        self._latest_versions.update((item.workflow_id, item.workflow_version) for item in found)
        self._schedules.update((item.workflow_id, item.schedule) for item in found)
        return [item.workflow_id for item in found]

    def schedule(self, workflow_ids: list[str]) -> str | None:
        """The cron schedule of the workflow's live id (the newest, when a name was deleted and made again)."""
        return next((self._schedules[i] for i in reversed(workflow_ids) if self._schedules.get(i)), None)

    def names_starting(self, prefix: str) -> list[str]:
        self._counted()
        return sorted({item.workflow_name for item in self._workflows.starting_with(prefix, PICK_ROWS)})

    def graph(self, run: RunView) -> tuple[WorkflowGraph, VersionShown]:
        """The graph of the version the run ran (the workflow's latest when the run's is not recorded)."""
        latest = self._latest_versions.get(run.workflow_id)
        version = run.workflow_version or latest
        item = None
        if version is not None:
            self._counted()
            item = self._workflows.version(run.workflow_id, version)
        shown = VersionShown(
            version=run.workflow_version,
            latest=latest,
            created_at=item.created_at if item else None,
            stored=item is not None,
            unreadable=item.unreadable if item else None,
        )
        return (stored_graph(item) if item else WorkflowGraph(())), shown

    def runs_between(self, workflow_ids: list[str], start: datetime, end: datetime, limit: int) -> list[RunItem]:
        found: list[RunItem] = []
        for workflow_id in workflow_ids:
            self._counted()
            found += self._runs.between(workflow_id, start, end, limit)
        found.sort(key=lambda run: run.gsi1sk or "", reverse=True)
        return found[:limit]

    def load(self, runs: list[RunItem]) -> list[RunView]:
        def one(run: RunItem) -> RunView:
            self._counted()
            _, attempts = self._runs.load(run.workflow_id, run.run_id, consistent=False)
            return run_view(run, attempts, self._log_groups.get(run.workflow_id))

        if len(runs) <= 1:
            return [one(run) for run in runs]
        with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
            return list(pool.map(one, runs))

    def run(self, workflow_ids: list[str], run_id: str) -> RunView | None:
        for workflow_id in workflow_ids:
            self._counted()
            run, attempts = self._runs.load(workflow_id, run_id, consistent=False)
            if run is not None:
                return run_view(run, attempts, self._log_groups.get(workflow_id))
        return None

    def log_tail(self, run: RunView, attempt: AttemptView) -> LogTail:
        """The attempt's last log lines (one GetLogEvents, bounded in time), or why there are none."""
        if self._logs is None:
            return LogTail(note="not read here")
        if self._home is not None and run.place is not None and run.place != self._home:
            return LogTail(note=f"kept in account {run.place.account}, {run.place.region}")
        return self._logs.tails([log_ref(run, attempt)], LOG_VIEW_SECONDS)[0]

    def matrix(self, request: ViewRequest) -> MatrixPage:
        """One page of the fleet matrix: the workflow list (one Query), then each shown workflow's newest runs (one
        Query each, in parallel)."""
        self._counted()
        chosen = chosen_workflows(self._workflows.all(), request.name_filter, request.team, self.team_of)
        shown, pages = page_of(chosen, request.page)

        def one(item: WorkflowItem) -> MatrixRow:
            self._counted()
            runs = self._runs.recent(item.workflow_id, request.runs)
            return MatrixRow(item.workflow_id, item.workflow_name, self.team_of(item.workflow_name),
                             tuple(matrix_run(run) for run in reversed(runs)))  # fmt: skip

        with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
            rows = tuple(pool.map(one, shown))
        return MatrixPage(rows, len(chosen), min(max(1, request.page), pages), pages, request.runs)

    def failures(self, start: datetime, end: datetime) -> list[RunItem]:
        """The latest FAILURE_ROWS failures that ended in the range (its last FAILURE_DAYS days at most): one
        Query a day from the last, each for the rows still missing, so an outage day of any size reads FAILURE_ROWS
        items."""
        first = max(start.astimezone(UTC).date(), end.astimezone(UTC).date() - timedelta(days=FAILURE_DAYS - 1))
        found: list[RunItem] = []
        day = end.astimezone(UTC).date()
        while day >= first and len(found) < FAILURE_ROWS:
            self._counted()
            found += self._runs.failures_on(day, start, end, FAILURE_ROWS - len(found))
            day -= timedelta(days=1)
        return found

    def failed_tasks(self, runs: list[RunItem]) -> dict[str, list[TaskAttemptItem]]:
        """Each run's failed tasks, the first to fail first (mwaa_obs.failures), by the run's table key: one Query
        of its partition each, run in parallel."""

        def one(run: RunItem) -> tuple[str, list[TaskAttemptItem]]:
            self._counted()
            _, attempts = self._runs.load(run.workflow_id, run.run_id, consistent=False)
            return run.pk, failed_tasks(attempts)

        with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
            return dict(pool.map(one, runs))


def _fleet_view(request: ViewRequest, reader: ViewReader, nav: Navigation, viewer: Viewer) -> str:
    if request.view == "matrix":
        filters = {"filter": request.name_filter or "", "team": request.team or ""}
        return render_matrix(reader.matrix(request), filters, nav, viewer)
    failures = reader.failures(request.start, request.end)
    return render_failures(failures, reader.failed_tasks(failures), nav, viewer)


def render(
    request: ViewRequest,
    reader: ViewReader,
    nav: Navigation,
    viewer: Viewer,
    now: datetime,
    *,
    policies: Policies = lambda _: SeriesPolicy(),
) -> str:
    """The page of one request; `policies` gives the charts each workflow's too-slow threshold."""
    if request.view in WORKFLOWLESS_VIEWS:
        return _fleet_view(request, reader, nav, viewer)
    ids = reader.workflow_ids(request.workflow) if request.workflow is not None else []
    if not ids:
        return render_picker(request, reader.names_starting(request.workflow or ""), nav, viewer)
    assert request.workflow is not None
    if request.view == "grid":
        runs = reader.load(reader.runs_between(ids, request.start, request.end, request.runs))
        return render_grid(request.workflow, grid(runs), nav, viewer)
    if request.view == "charts":
        threshold = request.threshold or policies(request.workflow).too_slow_seconds
        charts = _charts(
            reader, request.workflow, ids, request.start, request.end, latest=request.runs, too_slow_seconds=threshold
        )
        return render_charts(charts, nav, viewer)
    return _run_view(request, reader, ids, nav, viewer, now=now)


def _run_view(
    request: ViewRequest, reader: ViewReader, ids: list[str], nav: Navigation, viewer: Viewer, *, now: datetime
) -> str:
    """One run's Gantt chart or graph: the run asked for, else the latest failed run in the range, else the latest."""
    assert request.workflow is not None
    if request.run_id is not None:
        chosen = reader.run(ids, request.run_id)
    else:
        runs = reader.runs_between(ids, request.start, request.end, request.runs)
        latest = next((run for run in runs if run.status in FAILED_RUN_STATES), runs[0] if runs else None)
        chosen = reader.load([latest])[0] if latest is not None else None
    if chosen is None:
        return page(f"<p>No such run of {_quoted(request.workflow)} in this time range.</p>", viewer)
    if request.view in ("log", "graph"):
        return (_log_page if request.view == "log" else _graph_page)(request, reader, chosen, nav, viewer)
    definition, _ = reader.graph(chosen)  # where the rows of tasks that never ran go
    layers = {placed.task.task_id: placed.layer for placed in layout(definition)}
    return render_gantt(gantt(chosen, now, layers), viewer, run_buttons(chosen, nav), nav)


def _graph_page(request: ViewRequest, reader: ViewReader, run: RunView, nav: Navigation, viewer: Viewer) -> str:
    definition, shown = reader.graph(run)
    cells = grid([run]).cells
    latest_states = [(task, cell.state, cell.attempts) for (task, _), cell in cells.items()]
    return render_graph(run, graph_run(definition, latest_states), shown, nav, viewer)


def _log_page(request: ViewRequest, reader: ViewReader, run: RunView, nav: Navigation, viewer: Viewer) -> str:
    if request.task is None or request.attempt is None:  # ViewRequest.of refuses a log view without them
        raise RequestError("a log view needs runId, task and attempt")
    attempt = run.attempt(request.task, request.attempt)
    if attempt is None or (attempt.log_stream is None and attempt.started_at is None):
        return page(f"<p>No attempt {request.attempt} of {_quoted(request.task)} ran in this run.</p>", viewer)
    return render_log(run, attempt, reader.log_tail(run, attempt), nav, viewer)


def read_charts(
    reader: ViewReader, workflow: str, start: datetime, end: datetime, *, too_slow_seconds: float | None
) -> Charts | None:
    """A workflow's charts over [start, end), as the widget draws them (None: no workflow of that name)."""
    ids = reader.workflow_ids(workflow)
    if not ids:
        return None
    return _charts(reader, workflow, ids, start, end, latest=DEFAULT_RUNS, too_slow_seconds=too_slow_seconds)


def _charts(
    reader: ViewReader,
    workflow: str,
    ids: list[str],
    start: datetime,
    end: datetime,
    *,
    latest: int,
    too_slow_seconds: float | None,
) -> Charts:
    runs = reader.runs_between(ids, start, end, MAX_CHART_RUNS)
    return workflow_charts(
        workflow,
        runs,
        reader.load(runs[:latest]),
        start=start,
        end=end,
        schedule=reader.schedule(ids),
        too_slow_seconds=too_slow_seconds,
        capped=len(runs) >= MAX_CHART_RUNS,
    )


def _quoted(text: str) -> str:
    return html.escape(repr(text))


def render_picker(request: ViewRequest, names: list[str], nav: Navigation, viewer: Viewer) -> str:
    """No workflow of the name asked: the workflows whose names begin with it, each a link to this view of it."""
    asked = request.workflow or ""
    head = (
        f"<p>No workflow named {_quoted(asked)} has been seen. " if asked else "<p>No workflow picked. "
    ) + "Type a workflow's name, or its beginning, in the dashboard's <b>Workflow</b> box.</p>"
    if not names:
        return page(head + "<p>No workflow's name begins with it.</p>", viewer)
    more = f" (the first {PICK_ROWS})" if len(names) >= PICK_ROWS else ""
    links = "".join(
        f'<li data-workflow="{html.escape(name)}">'
        f"{nav.link(html.escape(name), {'view': request.view, 'workflow': name}, f'{request.view} of {name}')}</li>"
        for name in names
    )
    which = f" beginning {_quoted(asked)}" if asked else ""
    return page(f'{head}<p>Workflows{which}{more}:</p><ul class="picker">{links}</ul>', viewer)


@dataclass(frozen=True, slots=True)
class WidgetNavigation:
    """In CloudWatch: a click calls this function again and shows the answer in a pop-up (`<cwdb-action>`,
    docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/add_custom_widget_dashboard_interactivity.html)."""

    function_arn: str
    actions_arn: str | None = None  # the actions function: the Re-run and Stop buttons, none without it

    def link(self, label_html: str, params: Mapping[str, str], title: str) -> str:
        body = html.escape(json.dumps(dict(params)), quote=False)
        return (
            f'<a class="btn btn-link" title="{html.escape(title)}">{label_html}</a>'
            f'<cwdb-action action="call" display="popup" endpoint="{html.escape(self.function_arn)}">'
            f"{body}</cwdb-action>"
        )

    def action(self, label: str, params: Mapping[str, str], confirmation: str) -> str:
        """A button calling the actions function, which CloudWatch invokes with the viewer's credentials only once
        the viewer has confirmed (`confirmation`), and whose answer it shows in a pop-up."""
        if self.actions_arn is None:
            return ""
        body = html.escape(json.dumps(dict(params)), quote=False)
        return (
            f'<a class="btn" data-action="{html.escape(params.get("action", ""))}">{html.escape(label)}</a>'
            f'<cwdb-action action="call" display="popup" confirmation="{html.escape(confirmation)}" '
            f'endpoint="{html.escape(self.actions_arn)}">{body}</cwdb-action>'
        )


DESCRIPTION = """## mwaa-obs runs widget
Airflow's views for MWAA Serverless, from the mwaa-obs table.

Parameters (JSON):
- `view`: `grid` (default), `gantt`, `graph`, `charts` (the per-workflow graphs from the table; under them each
  task's duration per run and the latest runs' landing vs their schedule; `trends` is answered with it), `failures`
  or `matrix` (every workflow by its last runs)
- `workflow`: a workflow name; the dashboards pass their **Workflow** variable (`__workflow__`); none, or a name no
  workflow has: the workflows whose names begin with it
- `runs`: how many runs the grid shows, and the charts read task durations and landings from, 1-100 (default 25)
- `threshold`: the too-slow threshold (seconds) the charts draw (default: the workflow's, from the settings)
- `runId`: the run a Gantt chart or graph shows (default: the latest failed run in the time range, else the latest)
- `view` `log` with `runId`, `task` and `attempt`: that attempt's last log lines (a failed cell of the grid and a
  bar of the Gantt chart open it)
- `filter`, `team`, `page`: the matrix's workflows: a part of their names, their team (the settings'), which page
  of 50

Viewers need `lambda:InvokeFunction` on this function (docs/VIEWS.md, "Who can see it"). A run's Gantt chart has a
Re-run or Stop button calling the stack's actions function: pressing it needs `lambda:InvokeFunction` on that one.
"""


def handle(
    event: Any,
    reader: ViewReader,
    viewer: Callable[[str], Viewer],
    arn: str,
    now: datetime,
    *,
    policies: Policies,
    actions_arn: str | None = None,
) -> Any:
    """One widget call: its documentation when CloudWatch asks (`describe`), else the HTML of the view asked.

    The documentation is the markdown string itself, as AWS's custom widget samples answer `describe`
    (aws-samples/cloudwatch-custom-widgets-samples, samples/helloWorld/helloWorld.py: `return DOCS`); the
    `{"markdown": ...}` form is for a widget's content."""
    if isinstance(event, Mapping) and event.get("describe"):
        return DESCRIPTION
    try:
        request = ViewRequest.from_widget_event(event, now)
    except RequestError as error:
        return page(f"<p>{html.escape(str(error))}</p>", viewer(theme_of(event)))
    return render(request, reader, WidgetNavigation(arn, actions_arn), viewer(request.theme), now, policies=policies)
