"""A workflow's charts from its stored runs (mwaa_obs.charts) and their SVG (mwaa_obs.view_charts): no AWS."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.charts import MAX_BUCKETS, bucket_starts, scheduled_at, task_durations, workflow_charts
from mwaa_obs.cron import Cron
from mwaa_obs.states import RunState, RunType
from mwaa_obs.store.schema import RunItem
from mwaa_obs.view_charts import render_charts
from mwaa_obs.view_html import Viewer
from mwaa_obs.views import AttemptView, RunView

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
VIEWER = Viewer("us-east-1", "mwaa-obs")


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
    page = render_charts(near, VIEWER)
    assert "<script>" not in page
    parsed = _Collect()
    parsed.feed(page)
    assert ("script", {}) not in parsed.tags
    assert hostile[:22] in "".join(parsed.text)  # shown as text, cut to fit
    (group,) = [attrs for tag, attrs in parsed.tags if tag == "g"]
    assert group["data-task"] == hostile
    thresholds = [attrs for tag, attrs in parsed.tags if tag == "line" and "data-threshold" in attrs]
    assert [attrs["data-threshold"] for attrs in thresholds] == ["900"]
    # A threshold far above the runs is named in the caption instead of flattening them under it
    far = workflow_charts("etl", runs, latest, start=T0, end=T0 + timedelta(hours=2), schedule=None,
                          too_slow_seconds=3600)  # fmt: skip
    page = render_charts(far, VIEWER)
    assert "data-threshold" not in page
    assert "too-slow threshold 1h: above the chart" in page


def test_no_runs_in_the_range_says_so() -> None:
    empty = workflow_charts("etl", [], [], start=T0, end=T0 + timedelta(hours=2), schedule=None, too_slow_seconds=None)
    assert "No runs of etl in this time range." in render_charts(empty, VIEWER)
