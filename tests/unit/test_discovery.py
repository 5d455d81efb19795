"""Which listed runs the discovery pass imports, and when it says events stopped (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.mwaa_api import RunSummary
from mwaa_obs.reconcile import EventsWatch, missing_runs

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
SETTLED = NOW - timedelta(hours=1)


def run(run_id: str, hours_ago: float | None) -> RunSummary:
    return RunSummary(run_id, None if hours_ago is None else NOW - timedelta(hours=hours_ago))


def test_a_run_is_imported_only_when_nothing_stored_it_and_it_has_settled() -> None:
    listed = [run("stored", 5), run("lost", 5), run("too-new", 0.5), run("no-time", None), run("by-discovery", 4)]
    stored = {"stored": True, "by-discovery": False}
    assert [summary.run_id for summary in missing_runs(listed, stored, SETTLED)] == ["lost"]


def test_events_stopped_only_when_settled_runs_in_the_window_all_lack_events() -> None:
    watch = EventsWatch(since=NOW - timedelta(hours=3), settled_before=SETTLED)
    watch.add([run("old-by-events", 5), run("lost", 2), run("too-new", 0.2)], {"old-by-events": True})
    assert (watch.listed, watch.by_events, watch.stopped) == (1, 0, True)
    watch.add([run("by-events", 2)], {"by-events": True})
    assert not watch.stopped


def test_no_runs_in_the_window_is_not_events_stopped() -> None:
    watch = EventsWatch(since=NOW - timedelta(hours=3), settled_before=SETTLED)
    watch.add([run("old", 10)], {})
    assert not watch.stopped


@given(st.lists(st.tuples(st.floats(0, 30), st.booleans(), st.booleans()), max_size=30))
def test_every_listed_run_is_either_stored_or_imported_or_waiting(rows: list[tuple[float, bool, bool]]) -> None:
    listed = [run(f"run-{index}", hours) for index, (hours, _, _) in enumerate(rows)]
    stored = {f"run-{index}": by_events for index, (_, is_stored, by_events) in enumerate(rows) if is_stored}
    imported = {summary.run_id for summary in missing_runs(listed, stored, SETTLED)}
    for summary in listed:
        waiting = summary.created_at is not None and summary.created_at > SETTLED
        assert (summary.run_id in stored) + (summary.run_id in imported) + (
            waiting and summary.run_id not in stored
        ) == 1
