"""Alert decisions: one alert per incident at once, the rest grouped per window, one recovery, order by end time."""

from __future__ import annotations

from datetime import timedelta

from mwaa_obs.alerting import AlertKind, Health, decide_failure, decide_success
from mwaa_obs_tools.factories import T0, minutes

WINDOW = timedelta(minutes=60)


def test_the_first_failure_of_a_healthy_workflow_is_alerted_at_once() -> None:
    # Given a healthy workflow that was alerted a minute ago about an earlier, resolved incident
    health = Health(last_alert_at=T0 - minutes(1), last_success_at=T0 - minutes(2), last_failure_at=T0 - minutes(5))
    # When a run fails
    decision, after = decide_failure(health, ended_at=T0, now=T0 + minutes(1), window=WINDOW)
    # Then it is alerted although the window is not over: a change of health is always told
    assert decision.kind is AlertKind.FAILURE
    assert (decision.failed_runs, decision.failing_since, decision.grouped) == (1, T0, 0)
    assert after.failing_since == T0
    assert after.last_alert_at == T0 + minutes(1)


def test_failures_within_the_window_are_grouped_into_the_next_alert() -> None:
    health = Health()
    decision, health = decide_failure(health, T0, T0, WINDOW)
    assert decision.kind is AlertKind.FAILURE
    # When two more runs fail within the window
    for offset in (10, 20):
        decision, health = decide_failure(health, T0 + minutes(offset), T0 + minutes(offset), WINDOW)
        assert decision.kind is AlertKind.SUPPRESSED
    # Then the next failure after the window is alerted and says how many were grouped
    decision, health = decide_failure(health, T0 + minutes(70), T0 + minutes(70), WINDOW)
    assert decision.kind is AlertKind.FAILURE
    assert (decision.failed_runs, decision.grouped, decision.failing_since) == (4, 2, T0)
    assert health.unalerted == 0


def test_a_zero_window_alerts_every_failure() -> None:
    health = Health()
    for offset in range(3):
        decision, health = decide_failure(health, T0 + minutes(offset), T0 + minutes(offset), timedelta(0))
        assert decision.kind is AlertKind.FAILURE


def test_the_first_success_after_failures_resolves_the_incident_with_its_figures() -> None:
    health = Health()
    for offset in (0, 5, 10):
        _, health = decide_failure(health, T0 + minutes(offset), T0 + minutes(offset), WINDOW)
    # When a later run succeeds
    decision, after = decide_success(health, ended_at=T0 + minutes(30), now=T0 + minutes(31))
    # Then one recovery says since when and how many runs failed, and the workflow is healthy again
    assert decision.kind is AlertKind.RECOVERY
    assert (decision.failed_runs, decision.failing_since) == (3, T0)
    assert after.failing_since is None
    assert after.failed_runs == 0
    assert after.last_success_at == T0 + minutes(30)
    # And a second success tells nothing
    again, _ = decide_success(after, T0 + minutes(40), T0 + minutes(41))
    assert again.kind is AlertKind.NONE


def test_a_success_that_ended_before_the_latest_failure_does_not_resolve() -> None:
    # Given failures that ended at T0 and T0+20, stored in that order
    health = Health()
    _, health = decide_failure(health, T0, T0, WINDOW)
    _, health = decide_failure(health, T0 + minutes(20), T0 + minutes(21), WINDOW)
    # When a success that ended at T0+10 arrives late
    decision, after = decide_success(health, T0 + minutes(10), T0 + minutes(22))
    # Then the workflow is still failing
    assert decision.kind is AlertKind.NONE
    assert after.failing_since == T0


def test_a_failure_older_than_the_latest_success_is_told_without_reopening_an_incident() -> None:
    health = Health(last_success_at=T0 + minutes(30))
    decision, after = decide_failure(health, ended_at=T0, now=T0 + minutes(31), window=WINDOW)
    assert decision.kind is AlertKind.FAILURE
    assert decision.superseded
    assert after.failing_since is None
    # And a later success has nothing to resolve
    resolved, _ = decide_success(after, T0 + minutes(40), T0 + minutes(41))
    assert resolved.kind is AlertKind.NONE
