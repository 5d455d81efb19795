"""The grid and Gantt models, their HTML (escaping, accessibility) and the widget's request parsing: no AWS."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from mwaa_obs.metrics import SeriesPolicy
from mwaa_obs.states import RunState, TaskState
from mwaa_obs.store.schema import RunItem, TaskAttemptItem
from mwaa_obs.task_logs import LogTail
from mwaa_obs.view_html import (
    LOOKS,
    Viewer,
    heading_times,
    render_failures,
    render_gantt,
    render_grid,
    render_log,
)
from mwaa_obs.views import RunView, critical_path, gantt, grid, run_view
from mwaa_obs.widget import DESCRIPTION, WidgetNavigation, handle
from mwaa_obs.widget_request import RequestError, ViewRequest
from mwaa_obs_tools.cli.runs import _show_json

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
WORKFLOW_ID = "etl-AbCdEfGhIj"
PLACE = Viewer(region="eu-west-1", stack_name="mwaa-obs")


def no_settings(workflow: str) -> SeriesPolicy:  # the policies of a stack with no settings document
    return SeriesPolicy()


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def attempt(run_id: str, task: str, number: int, state: str, ready: float, start: float | None, end: float | None,
            error: str | None = None) -> TaskAttemptItem:  # fmt: skip
    item = TaskAttemptItem(
        pk=f"RUN#{WORKFLOW_ID}#{run_id}",
        sk=f"TASK#ex_1_{task}_1#{number:04d}",
        task_id=task,
        status=state,
        started_at=None if start is None else at(start),
        ended_at=None if end is None else at(end),
        error_message=error,
        log_stream=None
        if start is None
        else f"workflow_id={WORKFLOW_ID}/run_id={run_id}/task_id={task}/attempt={number}.log",
    )
    item.seen_scheduled = at(ready)
    return item


def run(run_id: str, state: str, created: float, attempts: list[TaskAttemptItem], error: str | None = None) -> RunView:
    item = RunItem(pk=f"RUN#{WORKFLOW_ID}#{run_id}", sk="RUN", status=state, started_at=at(created + 1),
                   ended_at=at(created + 60), error_message=error)  # fmt: skip
    item.seen_starting = at(created)
    return run_view(item, attempts)


# A diamond: extract -> (transform_long, transform_short) -> load; transform_long failed once and was retried.
DIAMOND = [
    attempt("r2", "extract", 1, TaskState.SUCCESS, 0, 1, 5),
    attempt("r2", "transform_long", 1, TaskState.UP_FOR_RETRY, 5, 6, 10, "boom"),
    attempt("r2", "transform_long", 2, TaskState.SUCCESS, 10, 15, 30),
    attempt("r2", "transform_short", 1, TaskState.SUCCESS, 5, 6, 8),
    attempt("r2", "load", 1, TaskState.SUCCESS, 30, 31, 40),
]


def test_the_grid_has_runs_oldest_first_tasks_in_the_order_they_ran_and_each_cell_its_last_attempt() -> None:
    older = run("r1", RunState.FAILED, -600, [
        attempt("r1", "extract", 1, TaskState.FAILED, -600, -599, -598, "AccessDenied"),
        attempt("r1", "transform_long", 1, TaskState.UPSTREAM_FAILED, -598, None, None),
    ])  # fmt: skip
    newer = run("r2", RunState.SUCCESS, 0, DIAMOND)
    view = grid([newer, older])
    assert [r.run_id for r in view.runs] == ["r1", "r2"]
    assert view.tasks == ("extract", "transform_long", "transform_short", "load")
    long = view.cells[("transform_long", "r2")]
    assert (long.state, long.attempts, long.started_at, long.ended_at) == (TaskState.SUCCESS, 2, at(6), at(30))
    assert long.error == "boom"  # the last error told, even when a later attempt succeeded
    assert view.cells[("transform_long", "r1")].attempts == 0  # upstream failed: it never ran
    assert ("load", "r1") not in view.cells


def test_the_critical_path_follows_the_task_that_held_each_next_one_up() -> None:
    assert critical_path(run("r2", RunState.SUCCESS, 0, DIAMOND).attempts) == {"extract", "transform_long", "load"}


def test_an_attempt_stored_twice_until_folded_is_shown_once_by_its_further_item() -> None:
    # Given load's attempt under the old key (its instance id), running, and under its task id, finished
    old_key = attempt("r2", "load", 1, TaskState.RUNNING, 30, 31, None)
    old_key.status_rank = 4
    own = attempt("r2", "load", 1, TaskState.SUCCESS, 30, 31, 40)
    own.sk, own.status_rank = "TASK#load#0001", 7
    for order in ([*DIAMOND[:4], old_key, own], [*DIAMOND[:4], own, old_key]):
        # Then the run shows the attempt once, finished
        view = run("r2", RunState.SUCCESS, 0, order)
        assert [(a.task_id, a.attempt, a.state) for a in view.attempts if a.task_id == "load"] == [
            ("load", 1, TaskState.SUCCESS)
        ]
        # And so does `mwaa-obs runs show`, a second attempt under the task id beside the first's old key
        second = attempt("r2", "load", 2, TaskState.FAILED, 45, 46, 50)
        second.sk = "TASK#load#0002"
        (shown,) = [task for task in _show_json(None, [*order, second], "r2")["tasks"] if task["task_id"] == "load"]
        assert [(a["attempt"], a["status"]) for a in shown["attempts"]] == [(1, "SUCCESS"), (2, "FAILED")]


def test_the_gantt_has_a_bar_per_attempt_in_row_order_and_a_running_attempt_ends_now() -> None:
    running = [*DIAMOND[:4], attempt("r2", "load", 1, TaskState.RUNNING, 30, 31, None)]
    chart = gantt(run("r2", RunState.RUNNING, 0, running), now=at(35))
    assert [(b.task_id, b.attempt, b.critical) for b in chart.bars] == [
        ("extract", 1, True),
        ("transform_long", 1, True),
        ("transform_long", 2, True),
        ("transform_short", 1, False),
        ("load", 1, True),
    ]
    assert chart.bars[-1].ended_at == at(35)


class Tags(HTMLParser):
    """Every tag and attribute of a page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "ü 文字 🚀 ' & \""]


class Links:
    def link(self, label_html: str, params: Mapping[str, str], title: str) -> str:
        return f'<a href="#" title="{title}">{label_html}</a>' if "<" not in title else "unsafe title"

    def action(self, label: str, params: Mapping[str, str], confirmation: str) -> str:
        return ""


@pytest.mark.parametrize("text", HOSTILE)
def test_text_from_a_workflow_never_becomes_markup(text: str) -> None:
    hostile = run("r9", RunState.FAILED, 0, [
        attempt("r9", "t1", 1, TaskState.FAILED, 0, 1, 2, error=f"{text}\nsecond line"),
    ], error=text)  # fmt: skip
    failure = RunItem(pk=f"RUN#{WORKFLOW_ID}#r9", sk="RUN", status=RunState.FAILED, error_message=text)
    hostile_task = attempt("r9", text, 1, TaskState.FAILED, 0, 1, 2, error=f"{text}\nsecond line")
    nav = WidgetNavigation("arn:aws:lambda:eu-west-1:123456789012:function:w")
    (failed_attempt,) = hostile.attempts
    pages = [
        render_grid(text, grid([hostile]), nav, PLACE),
        render_gantt(gantt(hostile, now=at(5)), PLACE),
        render_gantt(gantt(hostile, now=at(5)), PLACE, nav=nav),
        render_log(hostile, failed_attempt, LogTail((text, "</pre>" + text, "second")), nav, PLACE),
        render_log(hostile, failed_attempt, LogTail(note=text), nav, PLACE),
        render_failures([failure], {failure.pk: [hostile_task]}, nav, PLACE),
        render_failures([failure], {}, nav, PLACE),
    ]
    for page in pages:
        tags = parsed(page)
        assert {tag for tag, _ in tags.tags} <= {"div", "style", "table", "thead", "tbody", "tr", "th", "td", "a",
                                                 "span", "p", "b", "h4", "code", "cwdb-action", "pre"}  # fmt: skip
        assert not any(name.startswith("on") for _, attrs in tags.tags for name in attrs)
        assert any(text in value for _, attrs in tags.tags for value in attrs.values() if value) or any(
            text in chunk for chunk in tags.text
        )  # shown as text, whole


def test_every_state_has_a_symbol_and_a_word_beside_its_colour() -> None:
    assert all(look.symbol and look.word and look.colour.startswith("#") for look in LOOKS.values())
    symbols = {look.symbol for state, look in LOOKS.items() if state in TaskState.__members__.values()}
    assert len(symbols) >= 7  # SCHEDULED and QUEUED share "…": both are waiting

    page = render_grid("etl", grid([run("r2", RunState.SUCCESS, 0, DIAMOND)]), Links(), PLACE)
    cells = [attrs for tag, attrs in parsed(page).tags if tag == "td"]
    assert all(attrs.get("aria-label") and attrs.get("title") for attrs in cells if "none" not in str(attrs["class"]))


def test_a_column_opens_the_runs_gantt_in_a_pop_up_through_the_widget_itself() -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:w"
    page = render_grid("etl", grid([run("r2", RunState.SUCCESS, 0, DIAMOND)]), WidgetNavigation(arn), PLACE)
    (action,) = [attrs for tag, attrs in parsed(page).tags if tag == "cwdb-action"]
    assert action == {"action": "call", "display": "popup", "endpoint": arn}
    body = page.split('endpoint="' + arn + '">', 1)[1].split("</cwdb-action>", 1)[0]
    assert json.loads(body) == {"view": "gantt", "workflow": "etl", "runId": "r2"}


def widget_event(**params: Any) -> dict[str, Any]:
    return {
        **params,
        "widgetContext": {
            "theme": "dark",
            "params": {"view": "grid", "workflow": "__workflow__"},
            "timeRange": {"mode": "relative", "start": 1764000000000, "end": 1764086400000,
                          "zoom": {"start": 1764043200000, "end": 1764046800000}},
        },
    }  # fmt: skip


def test_the_widget_reads_its_parameters_and_the_zoomed_time_range() -> None:
    request = ViewRequest.from_widget_event(widget_event(workflow="etl", runs=10), now=T0)
    assert (request.view, request.workflow, request.runs, request.theme) == ("grid", "etl", 10, "dark")
    # The trends view (issue 35) merged into the charts: dashboards and links that ask for it get the charts
    assert ViewRequest.from_widget_event(widget_event(workflow="etl", view="trends"), now=T0).view == "charts"
    assert (request.start, request.end) == (
        datetime(2025, 11, 25, 4, 0, tzinfo=UTC),
        datetime(2025, 11, 25, 5, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (
            {"workflow": "etl", "view": "tree"},
            "view 'tree' is not one of grid, gantt, graph, charts, log, failures, matrix",
        ),
        ({"workflow": "etl", "view": "charts", "threshold": "slow"}, "threshold 'slow' is not a number of seconds"),
        ({"workflow": "etl", "runs": "0"}, "runs must be from 1 to 100, not 0"),
        ({"workflow": "etl", "runs": "many"}, "runs 'many' is not a whole number"),
    ],
)
def test_a_request_the_widget_cannot_show_says_why_in_the_widget(params: dict[str, Any], reason: str) -> None:
    with pytest.raises(RequestError, match=reason):
        ViewRequest.from_widget_event(widget_event(**params), now=T0)
    nowhere: Any = None  # no table: a request refused reads nothing
    page = handle(widget_event(**params), nowhere, lambda theme: PLACE, "arn", T0, policies=no_settings)
    assert reason.split("'", maxsplit=1)[0] in page


def widget_with(**context: Any) -> dict[str, Any]:
    """A widget event whose widgetContext has `context` in place of its own parts."""
    event = widget_event(workflow="etl")
    event["widgetContext"] = {**event["widgetContext"], **context}
    return event


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("grid", "the widget's event is not a JSON object"),
        ([{"view": "grid"}], "the widget's event is not a JSON object"),
        ({"workflow": "etl", "widgetContext": "dark"}, "widgetContext is not a JSON object"),
        (widget_with(params=["etl"]), "params is not a JSON object"),
        (widget_with(timeRange=[1764000000000, 1764086400000]), "timeRange is not a JSON object"),
        (widget_with(timeRange={"start": 0, "zoom": "1h"}), "timeRange.zoom is not a JSON object"),
        (widget_with(timeRange={"start": 1e20}), "timeRange start 1e+20 is not a time"),
        (widget_with(timeRange={"start": float("nan")}), "timeRange start nan is not a time"),
        (widget_with(timeRange={"end": float("-inf")}), "timeRange end -inf is not a time"),
        (widget_with(timeRange={"start": -1}), "timeRange start -1 is not a time"),
        (widget_with(timeRange={"start": 1764086400000, "end": 1764000000000}), "the time range ends before"),
        ({**widget_event(workflow="etl"), "runs": float("inf")}, "runs inf is not a whole number"),
        (widget_event(workflow="e" * 256), "workflow is longer than 255 characters"),
        (widget_event(workflow="etl", view="gantt", runId="r" * 256), "runId is longer than 255 characters"),
        (widget_event(workflow="etl", view="log", runId="r", task="t" * 256, attempt=1), "task is longer than 255"),
        (widget_event(workflow="etl", view="log", runId="r", task="t", attempt=float("inf")), "attempt inf is not a"),
    ],
)
def test_a_malformed_widget_event_gets_its_reason_in_the_widget(event: Any, reason: str) -> None:
    # The widget's answer is its page, in the dashboard's theme where it has one; never an error of the function
    viewer = lambda theme: Viewer("eu-west-1", "s", theme)  # noqa: E731
    page = handle(event, reader=None, viewer=viewer, arn="arn", now=T0, policies=no_settings)  # type: ignore[arg-type]
    assert f"<p>{html.escape(reason)}" in page


def test_cloudwatch_asking_for_the_documentation_gets_markdown() -> None:
    nowhere: Any = None
    answer = handle({"describe": True}, nowhere, lambda theme: PLACE, "arn", T0, policies=no_settings)
    assert answer == DESCRIPTION  # the markdown itself, as AWS's samples answer `describe`


def contrast(colour: str) -> float:
    """WCAG 2 contrast ratio of white text on the colour (www.w3.org/TR/WCAG21/#dfn-contrast-ratio)."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


def test_white_symbols_are_readable_on_every_state_colour() -> None:
    # WCAG AA for normal text: 4.5:1 (www.w3.org/TR/WCAG21/#contrast-minimum)
    assert {
        state: round(contrast(look.colour), 1) for state, look in LOOKS.items() if contrast(look.colour) < 4.5
    } == {}


def test_runs_started_in_the_same_minute_have_headings_that_tell_them_apart() -> None:
    # issue 36: three runs in one minute all read "12-05 20:04"
    same_minute = [run(f"r{n}", RunState.SUCCESS, n * 0.25, DIAMOND) for n in range(3)]
    headings = heading_times(same_minute)
    assert len(set(headings)) == 3
    assert all(heading.startswith(at(0).strftime("%m-%d %H:%M:")) for heading in headings)
    page = render_grid("etl", grid(same_minute), WidgetNavigation("arn:aws:lambda:eu-west-1:1:function:w"), PLACE)
    assert all(heading in page for heading in headings)
    # Runs minutes apart keep the short form
    apart = [run(f"r{n}", RunState.SUCCESS, n * 5.0, DIAMOND) for n in range(3)]
    assert heading_times(apart) == [at(n * 5.0).strftime("%m-%d %H:%M") for n in range(3)]


def test_every_state_of_the_api_has_its_own_look() -> None:
    assert set(LOOKS) == set(RunState) | set(TaskState)
    # Only the waiting states share a symbol, and a run stopping or stopped: the word and colour tell them apart
    shared = {state for state, look in LOOKS.items() if [o.symbol for o in LOOKS.values()].count(look.symbol) > 1}
    assert shared == {"SCHEDULED", "QUEUED", "STARTING", "STOPPING", "STOPPED"}
    assert len({look.word for look in LOOKS.values()}) == len(LOOKS)


def test_a_stopped_run_shows_its_cancelled_and_removed_tasks_and_a_deferred_one_in_grid_gantt_and_legend() -> None:
    # Given a run stopped while a sensor was deferred (closed as cancelled), a task queued (cancelled before it
    # ran) and a task an update removed
    tasks = [
        attempt("r3", "extract", 1, TaskState.SUCCESS, 0, 1, 5),
        attempt("r3", "wait_for_file", 1, TaskState.CANCELLED, 5, 6, 20),
        attempt("r3", "load", 1, TaskState.CANCELLED, 5, None, None),
        attempt("r3", "old_step", 1, TaskState.REMOVED, 5, None, None),
    ]
    stopped = run("r3", RunState.STOPPED, 0, tasks)
    waiting = run("r4", RunState.RUNNING, 30, [attempt("r4", "wait_for_file", 1, TaskState.DEFERRED, 31, 32, None)])
    page = render_grid("etl", grid([stopped, waiting]), Links(), PLACE)
    cells = {(attrs["data-task"], attrs["data-run"]): attrs for tag, attrs in parsed(page).tags if tag == "td"
             and "data-run" in attrs}  # fmt: skip
    assert cells[("wait_for_file", "r3")]["aria-label"] == "cancelled"
    assert cells[("old_step", "r3")]["aria-label"] == "removed"
    assert cells[("wait_for_file", "r4")]["aria-label"] == "deferred"
    legend = page.split('class="legend', 1)[1]
    assert all(word in legend for word in ("cancelled", "removed", "deferred"))
    # And the Gantt draws the cancelled sensor's bar to its end, and says that the others never ran
    chart = render_gantt(gantt(stopped, now=at(90)), PLACE)
    bars = [attrs for tag, attrs in parsed(chart).tags if tag == "div" and attrs.get("data-task")]
    assert [(bar["data-task"], bar["data-state"]) for bar in bars] == [
        ("extract", "SUCCESS"),
        ("wait_for_file", "CANCELLED"),
    ]
    assert "⊘ cancelled" in chart
    assert "− removed" in chart


class Recorded:
    """A navigation that says where each link goes, as data attributes (what a click would ask for)."""

    def link(self, label_html: str, params: Mapping[str, str], title: str) -> str:
        return f"<a data-params='{json.dumps(dict(params))}'>{label_html}</a>"

    def action(self, label: str, params: Mapping[str, str], confirmation: str) -> str:
        return ""


def links_of(page: str) -> list[dict[str, str]]:
    return [json.loads(attrs["data-params"] or "") for tag, attrs in parsed(page).tags if "data-params" in attrs]


def test_a_failed_cell_and_every_bar_open_the_attempts_log_where_they_are_shown() -> None:
    retried = run("r2", RunState.SUCCESS, 0, DIAMOND)
    cells = [link for link in links_of(render_grid("etl", grid([retried]), Recorded(), PLACE)) if "task" in link]
    # the grid's cells show each task's latest attempt: all succeeded, so none opens a log there
    assert cells == []
    failed = run("r3", RunState.FAILED, 0, [
        attempt("r3", "extract", 1, TaskState.SUCCESS, 0, 1, 5),
        attempt("r3", "load", 1, TaskState.UP_FOR_RETRY, 5, 6, 10, "boom"),
        attempt("r3", "load", 2, TaskState.FAILED, 11, 12, 20, "boom again"),
    ])  # fmt: skip
    cells = [link for link in links_of(render_grid("etl", grid([failed]), Recorded(), PLACE)) if "task" in link]
    assert cells == [{"view": "log", "workflow": "etl", "runId": "r3", "task": "load", "attempt": "2"}]
    bars = links_of(render_gantt(gantt(failed, now=at(30)), PLACE, nav=Recorded()))
    assert [(bar["task"], bar["attempt"]) for bar in bars] == [("extract", "1"), ("load", "1"), ("load", "2")]
    assert {bar["view"] for bar in bars} == {"log"}


def test_a_gantt_has_a_time_axis_and_each_bar_its_duration() -> None:
    chart = gantt(run("r2", RunState.SUCCESS, 0, DIAMOND), now=at(90))
    tags = parsed(render_gantt(chart, PLACE)).tags
    ticks = [str(attrs["data-at"]) for tag, attrs in tags if "tick" in str(attrs.get("class")).split()]
    assert chart.begin is not None
    assert chart.end is not None
    assert ticks[0] == chart.begin.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert ticks[-1] == chart.end.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert ticks == sorted(ticks)
    assert len(ticks) == 5
    bars = {(attrs["data-task"], attrs["data-attempt"]): attrs["data-seconds"] for tag, attrs in tags if
            "bar" in str(attrs.get("class")).split()}  # fmt: skip
    assert bars[("transform_long", "2")] == str(15 * 60)  # 15 min
    durations = [attrs for tag, attrs in tags if "dur" in str(attrs.get("class")).split()]
    assert len(durations) == len(bars) == len(DIAMOND)


def test_a_log_view_shows_the_tail_or_why_not_and_the_way_to_the_whole_log() -> None:
    failed = run("r3", RunState.FAILED, 0, [attempt("r3", "load", 1, TaskState.FAILED, 0, 1, 9, "KeyError: 'id'")])
    (load,) = failed.attempts
    shown = render_log(failed, load, LogTail(("INFO - start", "KeyError: 'id'")), Recorded(), PLACE)
    assert '<pre class="log" data-lines="2">INFO - start\nKeyError: &#x27;id&#x27;</pre>' in shown
    assert "mwaa-obs logs r3 load --attempt 1 --workflow etl" in shown
    assert (
        "log-events/workflow_id$253Detl-AbCdEfGhIj$252Frun_id$253Dr3$252Ftask_id$253Dload$252Fattempt$253D1.log"
        in shown
    )
    assert links_of(shown) == [{"view": "gantt", "workflow": "etl", "runId": "r3"}]
    unread = render_log(failed, load, LogTail(note="not written yet"), Recorded(), PLACE)
    assert "Log not shown (not written yet): open it in CloudWatch." in unread
    assert "<pre" not in unread


def test_a_log_view_needs_its_run_task_and_attempt() -> None:
    with pytest.raises(RequestError, match="runId, task and attempt"):
        ViewRequest.of({"view": "log", "workflow": "etl", "runId": "r1", "task": "load"}, T0, at(60), "light")
    with pytest.raises(RequestError, match="attempt must be 1 or more"):
        ViewRequest.of({"view": "log", "workflow": "etl", "runId": "r1", "task": "t", "attempt": "0"}, T0, T0, "")
    asked = ViewRequest.of({"view": "log", "workflow": "etl", "runId": "r1", "task": "t", "attempt": "2"}, T0, T0, "")
    assert (asked.run_id, asked.task, asked.attempt) == ("r1", "t", 2)


def never_scheduled(item: TaskAttemptItem) -> TaskAttemptItem:
    """An upstream-failed attempt as stored: no Scheduled, only its end state."""
    item.seen_scheduled = None
    item.seen_upstream_failed = item.started_at or T0
    return item


def test_a_gantts_rows_of_tasks_that_never_ran_sit_after_their_upstream_tasks_as_in_the_grid() -> None:
    # extract -> load -> report (upstream failed); extract -> backup -> archive -> publish
    failed = run("r4", RunState.FAILED, 0, [
        attempt("r4", "extract", 1, TaskState.SUCCESS, 0, 1, 5),
        attempt("r4", "load", 1, TaskState.FAILED, 5, 6, 9, "boom"),
        attempt("r4", "backup", 1, TaskState.SUCCESS, 5, 6, 20),
        never_scheduled(attempt("r4", "report", 1, TaskState.UPSTREAM_FAILED, 9, None, None)),
        attempt("r4", "archive", 1, TaskState.SUCCESS, 20, 21, 30),
        attempt("r4", "publish", 1, TaskState.SUCCESS, 30, 31, 40),
    ])  # fmt: skip
    layers = {"extract": 0, "load": 1, "backup": 1, "report": 2, "archive": 2, "publish": 3}
    assert gantt(failed, now=at(50)).tasks[-1] == "report"  # without the graph: last
    rows = gantt(failed, now=at(50), layers=layers).tasks  # (backup and load became ready together: by name)
    assert rows == ("extract", "backup", "load", "archive", "report", "publish")
    # and the same order as a grid that has a run where report ran
    ran = run("r5", RunState.SUCCESS, 100, [
        attempt("r5", "extract", 1, TaskState.SUCCESS, 100, 101, 105),
        attempt("r5", "load", 1, TaskState.SUCCESS, 105, 106, 109),
        attempt("r5", "backup", 1, TaskState.SUCCESS, 105, 106, 120),
        attempt("r5", "report", 1, TaskState.SUCCESS, 109, 110, 111),
        attempt("r5", "archive", 1, TaskState.SUCCESS, 120, 121, 130),
        attempt("r5", "publish", 1, TaskState.SUCCESS, 130, 131, 140),
    ])  # fmt: skip
    assert grid([failed, ran]).tasks.index("report") < grid([failed, ran]).tasks.index("publish")
