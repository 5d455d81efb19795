"""A workflow's charts from its stored runs (mwaa_obs.charts) and their SVG (mwaa_obs.view_charts): no AWS. They
include what the trends view (issue 35) drew: each task's duration per run, the latest runs' landing vs their fire."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.charts import MAX_BUCKETS, bucket_starts, scheduled_at, task_durations, task_trends, workflow_charts
from mwaa_obs.cron import Cron
from mwaa_obs.states import RunState, RunType, TaskState
from mwaa_obs.store.schema import RunItem
from mwaa_obs.view_charts import render_charts
from mwaa_obs.view_html import Viewer
from mwaa_obs.views import AttemptView, RunView, run_view
from mwaa_obs.widget import WidgetNavigation
from tests.unit.test_views import DIAMOND
from tests.unit.test_views import attempt as stored_attempt
from tests.unit.test_views import run as run_with

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
VIEWER = Viewer("us-east-1", "mwaa-obs")
NAV = WidgetNavigation("arn:aws:lambda:eu-west-1:123456789012:function:w")


def run(number: int, status: str, *, seen: float, queued: float, started: float, ended: float | None,
        run_type: str = RunType.SCHEDULED) -> RunItem:  # fmt: skip
    """A run first seen `seen` minutes after T0, queued, started and ended (minutes after T0)."""

    def at(minutes: float | None) -> datetime | None:
        return None if minutes is None else T0 + timedelta(minutes=minutes)

    return RunItem(
        pk=f"RUN#etl-AbCdEfGhIj#r{number}", sk="RUN", status=status, run_type=run_type, seen_starting=at(seen),
        queued_at=at(queued), started_at=at(started), ended_at=at(ended),
    )  # fmt: skip


def attempt(task: str, start: float, end: float) -> AttemptView:
    return AttemptView(task, 1, "SUCCESS", T0 + timedelta(minutes=start), T0 + timedelta(minutes=start),
                       T0 + timedelta(minutes=end), None, None)  # fmt: skip


@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
    span=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=400)),
)
def test_buckets_cover_any_range_in_at_most_max_buckets_aligned_to_their_width(
    start: datetime, span: timedelta
) -> None:
    starts, size = bucket_starts(start, start + span)
    assert starts[0] <= start < starts[0] + size
    assert starts[-1] < start + span <= starts[-1] + size
    assert all(b - a == size for a, b in itertools.pairwise(starts))
    assert len(starts) <= MAX_BUCKETS or size == timedelta(days=28)
    assert (starts[0] - datetime(2000, 1, 3, tzinfo=UTC)) % size == timedelta(0)  # aligned: the same every render


def test_a_scheduled_run_is_due_at_its_schedules_last_fire_and_an_on_demand_run_when_seen() -> None:
    hourly, weekly = Cron.parse("15 * * * *"), Cron.parse("0 6 * * 1")
    late = run(1, RunState.SUCCESS, seen=135, queued=136, started=137, ended=150)  # seen 02:15
    assert scheduled_at(late, hourly) == T0 + timedelta(hours=2, minutes=15)
    assert scheduled_at(run(2, RunState.SUCCESS, seen=179, queued=179, started=180, ended=190), hourly) == (
        T0 + timedelta(hours=2, minutes=15)
    )
    # 2026-12-01 is a Tuesday: the weekly fire before it was Monday 06:00
    assert scheduled_at(late, weekly) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    by_hand = run(3, RunState.SUCCESS, seen=100, queued=101, started=102, ended=110, run_type=RunType.ON_DEMAND)
    assert scheduled_at(by_hand, hourly) == T0 + timedelta(minutes=100)
    assert scheduled_at(late, None) == T0 + timedelta(minutes=135)


def test_the_charts_count_outcomes_rates_and_percentiles_per_bucket() -> None:
    runs = [
        run(1, RunState.SUCCESS, seen=5, queued=5, started=6, ended=16),  # 10 min
        run(2, RunState.FAILED, seen=20, queued=20, started=22, ended=52),  # 30 min
        run(3, RunState.SUCCESS, seen=70, queued=70, started=70, ended=90),  # the next hour: 20 min
        run(4, RunState.STOPPED, seen=75, queued=75, started=76, ended=77),
        run(5, RunState.RUNNING, seen=80, queued=80, started=81, ended=None),
        run(6, RunState.SUCCESS, seen=400, queued=400, started=401, ended=402),  # outside the range: not drawn
    ]
    charts = workflow_charts("etl", runs, [], start=T0, end=T0 + timedelta(hours=3), schedule="0 * * * *",
                             too_slow_seconds=1500)  # fmt: skip
    assert charts.size == timedelta(hours=1)
    assert charts.runs == 5
    assert charts.outcomes[RunState.SUCCESS] == (1, 1, 0)
    assert charts.outcomes[RunState.FAILED] == (1, 0, 0)
    assert charts.outcomes[RunState.STOPPED] == (0, 1, 0)
    assert charts.outcomes[RunState.RUNNING] == (0, 1, 0)
    # A stopped run or one not ended yet counts neither for nor against the success rate
    assert charts.success_rate == (50.0, 100.0, None)
    # Every run that ended, stopped ones too (as RunDuration counted them); nearest rank: p50 the lower of two
    assert charts.duration_p50 == (600.0, 60.0, None)
    assert charts.duration_p95 == (1800.0, 1200.0, None)
    assert charts.queue_max == (120.0, 60.0, None)
    # Landing: from the hourly fire before each was seen to its end
    assert [(due.hour, seconds) for due, seconds, _ in charts.landing] == [
        (0, 960.0), (0, 3120.0), (1, 1020.0), (1, 1800.0)
    ]  # fmt: skip


def test_task_durations_per_task_in_the_order_they_ran() -> None:
    def view(number: int, durations: dict[str, tuple[float, float]]) -> RunView:
        attempts = tuple(attempt(task, start, end) for task, (start, end) in durations.items())
        return RunView("etl-AbCdEfGhIj", f"r{number}", RunState.SUCCESS, None, T0, T0, T0, None, attempts, "g")

    runs = [view(1, {"load": (5, 9), "extract": (0, 5)}), view(2, {"extract": (0, 1), "load": (1, 11)})]
    found = {task.task_id: (task.attempts, task.p50, task.p95, task.longest) for task in task_durations(runs)}
    assert [task.task_id for task in task_durations(runs)] == ["extract", "load"]
    assert found == {"extract": (2, 60.0, 300.0, 300.0), "load": (2, 240.0, 600.0, 600.0)}


def test_each_tasks_trend_has_a_point_per_run_with_its_first_start_to_last_end() -> None:
    first = run_with("r1", RunState.SUCCESS, 0, DIAMOND)
    second = run_with("r2", RunState.FAILED, 100, [stored_attempt("r2", "extract", 1, TaskState.FAILED, 100, 101, 103)])
    by_task = {trend.task_id: trend for trend in task_trends([second, first])}
    assert [point.run_id for point in by_task["extract"].points] == ["r1", "r2"]  # oldest first
    assert [point.seconds for point in by_task["extract"].points] == [240.0, 120.0]  # minutes 1-5 and 101-103
    assert [point.seconds for point in by_task["transform_long"].points] == [1440.0, None]  # retried: minutes 6 to 30


def test_the_latest_runs_land_after_their_fire_and_one_run_on_demand_has_no_schedule_to_be_late_for() -> None:
    scheduled = run(1, RunState.SUCCESS, seen=135.05, queued=136, started=137, ended=150)  # seen 02:15:03
    by_hand = run(2, RunState.FAILED, seen=140, queued=140, started=141, ended=145, run_type=RunType.ON_DEMAND)
    older = run(3, RunState.SUCCESS, seen=15, queued=15, started=16, ended=20)  # not among the latest two
    runs = [by_hand, scheduled, older]  # newest first, as the table answers
    charts = workflow_charts("etl", runs, [run_view(item, []) for item in runs[:2]], start=T0,
                             end=T0 + timedelta(hours=3), schedule="15 * * * *", too_slow_seconds=None)  # fmt: skip
    assert [(landing.run_id, landing.late_seconds) for landing in charts.landings] == [("r1", 900.0), ("r2", None)]
    assert [landing.on_demand for landing in charts.landings] == [False, True]
    assert len(charts.landing) == 3  # the landing chart keeps every run of the range, on demand from when seen
    page = render_charts(charts, NAV, VIEWER)
    assert 'data-run="r1" data-late-seconds="900"' in page
    assert 'data-run="r2" data-late-seconds=""' in page
    assert "landed a median 15m after its fire" in page


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_svg_escapes_task_ids_and_draws_the_threshold_only_where_it_fits() -> None:
    hostile = '<script>alert("x")</script>&'
    runs = [run(1, RunState.SUCCESS, seen=5, queued=5, started=6, ended=16)]
    latest = [RunView("etl-AbCdEfGhIj", "r1", RunState.SUCCESS, None, T0, T0, T0, None,
                      (attempt(hostile, 6, 16),), "g")]  # fmt: skip
    near = workflow_charts("etl", runs, latest, start=T0, end=T0 + timedelta(hours=2), schedule=None,
                           too_slow_seconds=900)  # fmt: skip
    page = render_charts(near, NAV, VIEWER)
    assert "<script>" not in page
    parsed = _Collect()
    parsed.feed(page)
    assert ("script", {}) not in parsed.tags
    assert hostile[:22] in "".join(parsed.text)  # shown as text, cut to fit
    (group,) = [attrs for tag, attrs in parsed.tags if tag == "g"]
    assert group["data-task"] == hostile
    (trend,) = [attrs for tag, attrs in parsed.tags if tag == "tr" and attrs.get("class") == "task-trend"]
    assert trend["data-task"] == hostile
    thresholds = [attrs for tag, attrs in parsed.tags if tag == "line" and "data-threshold" in attrs]
    assert [attrs["data-threshold"] for attrs in thresholds] == ["900"]
    # A threshold far above the runs is named in the caption instead of flattening them under it
    far = workflow_charts("etl", runs, latest, start=T0, end=T0 + timedelta(hours=2), schedule=None,
                          too_slow_seconds=3600)  # fmt: skip
    page = render_charts(far, NAV, VIEWER)
    assert "data-threshold" not in page
    assert "too-slow threshold 1h: above the chart" in page


def test_no_runs_in_the_range_says_so() -> None:
    empty = workflow_charts("etl", [], [], start=T0, end=T0 + timedelta(hours=2), schedule=None, too_slow_seconds=None)
    assert "No runs of etl in this time range." in render_charts(empty, NAV, VIEWER)
