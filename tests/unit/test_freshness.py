"""Missed-schedule verdicts: cadence learned from run starts, overdue after cadence plus grace."""

from __future__ import annotations

from datetime import timedelta

from mwaa_obs.freshness import judge, observed_cadence
from mwaa_obs_tools.factories import T0, minutes

HOURLY = [T0 + timedelta(hours=n, minutes=jitter) for n, jitter in enumerate([0, 2, -1, 3, 0, 1])]


def test_a_regular_schedule_gives_its_cadence_whatever_the_order_and_the_jitter() -> None:
    cadence = observed_cadence(list(reversed(HOURLY)))
    assert cadence is not None
    assert abs(cadence - timedelta(hours=1)) <= timedelta(minutes=3)


def test_too_few_or_irregular_runs_have_no_cadence() -> None:
    assert observed_cadence(HOURLY[:3]) is None
    by_hand = [T0, T0 + minutes(5), T0 + minutes(190), T0 + minutes(200), T0 + minutes(900)]
    assert observed_cadence(by_hand) is None


def test_overdue_once_the_cadence_and_grace_have_passed_since_the_last_success() -> None:
    last_success = HOURLY[-1] + minutes(10)
    grace = timedelta(minutes=30)
    on_time = judge("etl", run_starts=HOURLY, last_success=last_success, first_seen=T0, grace=grace,
                    now=last_success + minutes(89))  # fmt: skip
    assert not on_time.overdue
    late = judge("etl", run_starts=HOURLY, last_success=last_success, first_seen=T0, grace=grace,
                 now=last_success + minutes(95))  # fmt: skip
    assert late.overdue
    assert late.due_by is not None
    assert late.cadence is not None
    assert late.due_by == last_success + late.cadence + grace


def test_a_workflow_that_never_succeeded_counts_from_when_it_was_first_seen() -> None:
    verdict = judge("etl", run_starts=HOURLY, last_success=None, first_seen=T0, grace=timedelta(0),
                    now=T0 + minutes(50))  # fmt: skip
    assert not verdict.overdue
    assert judge("etl", run_starts=HOURLY, last_success=None, first_seen=T0, grace=timedelta(0),
                 now=T0 + minutes(70)).overdue  # fmt: skip
