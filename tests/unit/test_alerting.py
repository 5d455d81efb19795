"""Alert decisions over a workflow's history by end time: incidents, storm control, late failures and successes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.alerting import (
    MAX_NAMED,
    AlertKind,
    Health,
    Named,
    Outcome,
    closes_nothing,
    decide_failure,
    decide_flush,
    decide_success,
    incident_of,
)
from mwaa_obs_tools.factories import T0, minutes

WINDOW = timedelta(minutes=60)
NOW = T0 + timedelta(hours=12)


def fail(run_id: str, hour: float, **fields: object) -> Outcome:
    return replace(Outcome(run_id, T0 + timedelta(hours=hour), failed=True), **fields)  # type: ignore[arg-type]


def ok(run_id: str, hour: float) -> Outcome:
    return Outcome(run_id, T0 + timedelta(hours=hour), failed=False)


def named(history: list[Outcome], names: tuple[Named, ...], lead: str) -> list[Outcome]:
    """The history after a message led by `lead` named those failures."""
    by_id = {name.run_id: name for name in names}
    return [
        replace(o, named_in=lead, told_open=not by_id[o.run_id].recovered) if o.run_id in by_id else o for o in history
    ]


def test_an_incident_is_the_run_of_failures_between_successes_by_end_time() -> None:
    history = [ok("s0", 0), fail("f1", 1), fail("f2", 2), ok("s1", 3), fail("f3", 4)]
    assert [o.run_id for o in incident_of(list(reversed(history)), "f2")] == ["f1", "f2"]
    assert [o.run_id for o in incident_of(history, "s1")] == ["f1", "f2"]
    assert [o.run_id for o in incident_of(history, "f3")] == ["f3"]
    assert incident_of(history, "s0") == []


def test_the_first_failure_of_an_incident_is_told_at_once_even_within_the_window() -> None:
    # Given a message about an earlier, resolved incident a minute ago
    history = [fail("f0", 0, named_in="f0", told_open=True), ok("s0", 1), fail("f1", 2)]
    plan = decide_failure(history, "f1", Health(last_alert_at=NOW - minutes(1)), NOW, WINDOW)
    assert plan.decision.kind is AlertKind.FAILURE
    assert (plan.decision.failed_runs, plan.decision.failing_since) == (1, T0 + timedelta(hours=2))
    assert plan.names == (Named("f1", recovered=False),)
    assert plan.health.last_alert_at == NOW


def test_later_failures_of_a_told_incident_are_held_then_named_by_one_summary() -> None:
    history = [fail("f1", 1, named_in="f1", told_open=True), fail("f2", 2), fail("f3", 3)]
    health = Health(last_alert_at=NOW - minutes(10))
    # When f2 and f3 come within the window, they are held, with a flush due when it ends
    held = decide_failure(history, "f2", health, NOW, WINDOW)
    assert held.decision.kind is AlertKind.SUPPRESSED
    assert held.names == ()
    assert held.flush == ("f2", NOW + minutes(50))
    # And the flush, after the window, names both in one summary led by its anchor
    flush = decide_flush(history, "f2", health, NOW + minutes(51), WINDOW)
    assert flush.decision.kind is AlertKind.SUMMARY
    assert flush.names == (Named("f2", False), Named("f3", False))
    assert (flush.decision.failed_runs, flush.decision.failing_since) == (3, T0 + timedelta(hours=1))
    # But a flush inside the window waits for its end
    early = decide_flush(history, "f2", health, NOW + minutes(20), WINDOW)
    assert early.decision.kind is AlertKind.NONE
    assert early.flush == ("f2", NOW + minutes(50))


def test_a_failure_names_the_failures_nobody_was_told_about_and_marks_the_recovered_ones() -> None:
    history = [fail("f1", 1), ok("s1", 2), fail("f2", 3), fail("f3", 4)]
    plan = decide_failure(history, "f3", Health(), NOW, WINDOW)
    assert plan.decision.kind is AlertKind.FAILURE
    assert plan.names == (Named("f3", False), Named("f1", True), Named("f2", False))
    assert (plan.decision.failed_runs, plan.decision.grouped) == (2, 2)


def test_a_zero_window_tells_every_failure_on_its_own() -> None:
    history = [fail("f1", 1, named_in="f1", told_open=True), fail("f2", 2), fail("f3", 3)]
    plan = decide_failure(history, "f2", Health(last_alert_at=NOW), NOW, timedelta(0))
    assert plan.decision.kind is AlertKind.FAILURE
    assert plan.names == (Named("f2", False),)


def test_a_failure_named_by_another_message_sends_nothing() -> None:
    history = [fail("f1", 1, named_in="f2"), fail("f2", 2, named_in="f2")]
    assert decide_failure(history, "f1", Health(), NOW, WINDOW).decision.kind is AlertKind.GROUPED


def test_the_issues_replay_tells_two_incidents_whatever_the_order() -> None:
    # FAILED 02:02, SUCCESS 04:03, TIMEOUT 06:01, SUCCESS 08:02, decided in order
    f1, s1, t1, s2 = fail("f1", 2.03), ok("s1", 4.05), fail("t1", 6.02), ok("s2", 8.03)
    history = [f1]
    plan = decide_failure(history, "f1", Health(), NOW, WINDOW)
    assert plan.decision.kind is AlertKind.FAILURE
    history = [*named(history, plan.names, "f1"), s1]
    recovery = decide_success(history, "s1", plan.health, NOW + minutes(1), WINDOW)
    assert recovery.decision.kind is AlertKind.RECOVERY
    assert (recovery.decision.failed_runs, recovery.decision.failing_since) == (1, f1.ended_at)
    history = [*history, t1]
    again = decide_failure(history, "t1", recovery.health, NOW + minutes(2), WINDOW)
    assert again.decision.kind is AlertKind.FAILURE  # a new incident is told at once
    assert again.decision.failed_runs == 1
    history = [*named(history, again.names, "t1"), s2]
    second = decide_success(history, "s2", again.health, NOW + minutes(3), WINDOW)
    assert (second.decision.kind, second.decision.failed_runs, second.decision.failing_since) == (
        AlertKind.RECOVERY,
        1,
        t1.ended_at,
    )


def test_a_success_older_than_a_failure_resolves_nothing() -> None:
    history = [fail("f1", 1, named_in="f1", told_open=True), ok("s1", 2), fail("f2", 3, named_in="f2", told_open=True)]
    assert decide_success(history, "s1", Health(), NOW, WINDOW).decision.kind is AlertKind.NONE


def test_a_failure_older_than_a_success_is_told_as_recovered_and_nothing_is_resolved_after_it() -> None:
    history = [fail("f1", 1), ok("s1", 2)]
    plan = decide_failure(history, "f1", Health(), NOW, WINDOW)
    assert plan.decision.kind is AlertKind.FAILURE
    assert plan.decision.superseded
    assert plan.names == (Named("f1", recovered=True),)
    history = named(history, plan.names, "f1")
    assert decide_success(history, "s1", plan.health, NOW, WINDOW).decision.kind is AlertKind.NONE


def test_a_backlog_of_recovered_failures_is_summarised_not_sent_run_by_run() -> None:
    # Given 30 failures, each followed by a success, all stored before any is decided
    history = [o for n in range(30) for o in (fail(f"f{n}", 2 * n), ok(f"s{n}", 2 * n + 1))]
    first = decide_failure(history, "f0", Health(), NOW, WINDOW)
    assert first.decision.kind is AlertKind.FAILURE
    assert len(first.names) == MAX_NAMED
    # Then the ones it had no room for are flushed after the window, not told one by one
    assert first.flush is not None
    history = named(history, first.names, "f0")
    held = decide_failure(history, "f29", first.health, NOW + minutes(1), WINDOW)
    assert held.decision.kind is AlertKind.SUPPRESSED


def test_a_success_resolves_an_incident_once_and_names_what_nobody_was_told() -> None:
    history = [fail("f1", 1, named_in="f1", told_open=True), fail("f2", 2), ok("s1", 3), ok("s2", 4)]
    plan = decide_success(history, "s2", Health(), NOW, WINDOW)
    assert plan.decision.kind is AlertKind.NONE  # s1 closes the incident, not s2
    plan = decide_success(history, "s1", Health(), NOW, WINDOW)
    assert plan.decision.kind is AlertKind.RECOVERY
    assert plan.names == (Named("f2", recovered=True),)
    assert plan.health.resolved_through == T0 + timedelta(hours=2)
    # And a success the late history puts before it resolves the same incident no more
    late = [fail("f1", 1), fail("f2", 2), ok("s0", 2.5)]
    assert decide_success(late, "s0", plan.health, NOW, WINDOW).decision.kind is AlertKind.NONE


@given(
    before=st.lists(st.tuples(st.floats(0, 9.9), st.booleans(), st.booleans()), max_size=12),
    last_success=st.floats(10, 19.9),
    current=st.floats(20, 30),
    told=st.booleans(),
    resolved=st.one_of(st.none(), st.floats(0, 9.9)),
)
def test_a_success_that_closes_nothing_is_decided_the_same_without_the_history(
    before: list[tuple[float, bool, bool]],
    last_success: float,
    current: float,
    told: bool,
    resolved: float | None,
) -> None:
    """closes_nothing's premises: every run that ended other than SUCCESS ended before the latest success decided
    (failed_through < last_success_at), which ended before this one. The decision from this run alone (what the
    notifier reads then) is the one from any history those premises allow."""
    history = [
        replace(
            Outcome(f"r{index}", T0 + timedelta(hours=hour), failed=failed),
            named_in="x" if named_ else None,
            told_open=told and named_,
        )
        for index, (hour, failed, named_) in enumerate(before)
    ]
    history += [ok("s_last", last_success), ok("now", current)]
    failures = [outcome.ended_at for outcome in history if outcome.failed]
    health = Health(
        last_alert_at=NOW - minutes(5) if told else None,
        resolved_through=None if resolved is None else T0 + timedelta(hours=resolved),
        last_success_at=T0 + timedelta(hours=last_success),
    )
    failed_through = max(failures, default=datetime.fromtimestamp(0, UTC))
    assert closes_nothing(T0 + timedelta(hours=current), health, failed_through)
    full = decide_success(history, "now", health, NOW, WINDOW)
    alone = decide_success([ok("now", current)], "now", health, NOW, WINDOW)
    assert (full.decision.kind, full.names, full.health) == (alone.decision.kind, alone.names, alone.health)
    assert full.decision.kind is AlertKind.NONE


def test_a_success_may_close_something_unless_the_item_shows_otherwise() -> None:
    last = Health(last_success_at=T0 + timedelta(hours=2))
    at = T0 + timedelta(hours=3)
    assert closes_nothing(at, last, T0 + timedelta(hours=1))
    assert not closes_nothing(at, last, None)  # the workflow item does not know yet: read the history
    assert not closes_nothing(at, last, T0 + timedelta(hours=2))  # a failure as late as the latest success
    assert not closes_nothing(at, last, T0 + timedelta(hours=2, minutes=30))  # a failure after it
    assert not closes_nothing(T0 + timedelta(hours=1), last, T0)  # a success older than the latest decided
    assert not closes_nothing(at, Health(), T0)  # no success decided yet
