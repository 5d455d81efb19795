"""Which metrics a recorded transition owes: pure logic, no AWS."""

from __future__ import annotations

from mwaa_obs.events import RunEvent, TaskEvent, parse_event
from mwaa_obs.ingest import metrics_owed
from mwaa_obs.metrics import CATALOG, RUN_OUTCOME_METRICS, TASK_OUTCOME_METRICS, MetricPoint, Scope, SeriesPolicy
from mwaa_obs.store.transitions import Recorded, Timeline, WriteOutcome
from mwaa_obs_tools.factories import T0, minutes, run_event, task_event

FULL = SeriesPolicy(full=True)  # every point on the workflow's own series: what is owed, whatever it is published as


def owed(points: list[MetricPoint]) -> dict[str, float]:
    return {point.spec.name: point.value for point in points}


def a_run(state: str, minute: float = 0) -> RunEvent:
    parsed = parse_event(run_event(state, "r", T0 + minutes(minute)))
    assert isinstance(parsed, RunEvent)
    return parsed


def a_task(state: str, minute: float = 0) -> TaskEvent:
    parsed = parse_event(task_event(state, "r", "t", T0 + minutes(minute)))
    assert isinstance(parsed, TaskEvent)
    return parsed


def test_a_duplicate_owes_nothing() -> None:
    assert metrics_owed(a_run("Failed"), Recorded(WriteOutcome.DUPLICATE, Timeline()), FULL) == []


def test_the_start_transition_owes_run_started_even_when_late() -> None:
    late = Recorded(WriteOutcome.RECORDED, Timeline(ended_at=T0))
    assert owed(metrics_owed(a_run("Started"), late, FULL)) == {"RunStarted": 1}


def test_the_outcome_is_owed_only_by_the_transition_that_set_it() -> None:
    assert owed(metrics_owed(a_run("Failed"), Recorded(WriteOutcome.ADVANCED, Timeline()), FULL)) == {"RunFailed": 1}
    assert owed(metrics_owed(a_run("Timeout"), Recorded(WriteOutcome.RECORDED, Timeline(ended_at=T0)), FULL)) == {}


def test_duration_is_owed_by_whichever_transition_completes_the_pair() -> None:
    # Given the end is stored first
    ended = Recorded(WriteOutcome.ADVANCED, Timeline())
    assert owed(metrics_owed(a_run("Succeeded", 10), ended, FULL)) == {"RunSucceeded": 1}
    # When the late start arrives, it completes the pair
    late_start = Recorded(WriteOutcome.RECORDED, Timeline(queued_at=T0 + minutes(1), ended_at=T0 + minutes(10)))
    # Then it owes the duration and the queue delay, nothing else
    assert owed(metrics_owed(a_run("Running", 4), late_start, FULL)) == {"RunDuration": 360.0, "RunQueueDelay": 180.0}


def test_a_pair_already_complete_owes_nothing_again() -> None:
    complete = Recorded(WriteOutcome.RECORDED, Timeline(started_at=T0, ended_at=T0 + minutes(1)))
    assert owed(metrics_owed(a_run("Timeout", 2), complete, FULL)) == {}


def test_task_outcomes_and_duration() -> None:
    started = Recorded(WriteOutcome.ADVANCED, Timeline(started_at=T0))
    assert owed(metrics_owed(a_task("Up For Retry", 2), started, FULL)) == {"TaskUpForRetry": 1, "TaskDuration": 120.0}
    ended = Recorded(WriteOutcome.ADVANCED, Timeline(started_at=T0, ended_at=T0 + minutes(2)))
    assert owed(metrics_owed(a_task("Failed", 3), ended, FULL)) == {"TaskFailed": 1}


def test_a_retry_is_counted_even_when_its_attempt_already_failed_for_good() -> None:
    # A stopped run turns an up-for-retry attempt FAILED; the two events may arrive in either order
    after_failed = Recorded(WriteOutcome.RECORDED, Timeline(started_at=T0, ended_at=T0 + minutes(2)))
    assert owed(metrics_owed(a_task("Up For Retry", 2), after_failed, FULL)) == {"TaskUpForRetry": 1}


def test_clock_skew_never_gives_a_negative_duration() -> None:
    started_later = Recorded(WriteOutcome.ADVANCED, Timeline(started_at=T0 + minutes(5)))
    assert owed(metrics_owed(a_task("Succeeded", 0), started_later, FULL))["TaskDuration"] == 0.0


def test_every_outcome_metric_is_in_the_catalog() -> None:
    catalog = set(CATALOG)
    assert set(RUN_OUTCOME_METRICS.values()) <= catalog
    assert set(TASK_OUTCOME_METRICS.values()) <= catalog
    assert len({spec.name for spec in CATALOG}) == len(CATALOG)


def own(points: list[MetricPoint]) -> dict[str, float]:
    """What the workflow's own series get (the rest feeds the fleet rollup only)."""
    return {point.spec.name: point.value for point in points if point.workflow is not None}


def test_by_default_a_healthy_run_feeds_the_fleet_series_only() -> None:
    by_default = SeriesPolicy(too_slow_seconds=3600)
    ended = Recorded(WriteOutcome.ADVANCED, Timeline(queued_at=T0, started_at=T0 + minutes(1)))
    points = metrics_owed(a_run("Succeeded", 10), ended, by_default)
    # The fleet still counts the run and its duration
    assert owed(points) == {"RunSucceeded": 1, "RunDuration": 540.0}
    # And the workflow's own series get nothing: a healthy hour costs it no metric
    assert own(points) == {}
    task = metrics_owed(a_task("Succeeded", 3), Recorded(WriteOutcome.ADVANCED, Timeline(started_at=T0)), by_default)
    assert owed(task) == {"TaskDuration": 180.0, "TaskSucceeded": 1}
    assert own(task) == {}


def test_what_is_abnormal_is_on_the_workflows_own_series_whatever_its_policy() -> None:
    by_default = SeriesPolicy()
    failed = metrics_owed(a_run("Failed", 5), Recorded(WriteOutcome.ADVANCED, Timeline(started_at=T0)), by_default)
    assert own(failed) == {"RunFailed": 1}
    assert owed(failed) == {"RunFailed": 1, "RunDuration": 300.0}
    # A retry is not abnormal by itself: the fleet's series counts it, a storm of them is RetryStorm (ingest)
    retried = metrics_owed(a_task("Up For Retry", 2), Recorded(WriteOutcome.ADVANCED, Timeline()), by_default)
    assert (owed(retried), own(retried)) == ({"TaskUpForRetry": 1}, {})


def test_a_run_longer_than_its_workflows_threshold_owes_run_too_slow_on_its_own_series() -> None:
    ended = Recorded(WriteOutcome.ADVANCED, Timeline(started_at=T0))
    slow = metrics_owed(a_run("Succeeded", 10), ended, SeriesPolicy(too_slow_seconds=599))
    assert own(slow) == {"RunTooSlow": 1}
    # The same run under a threshold it stays within, or exactly at it, or with none: not too slow
    for policy in (SeriesPolicy(too_slow_seconds=600), SeriesPolicy(too_slow_seconds=3600), SeriesPolicy()):
        assert "RunTooSlow" not in owed(metrics_owed(a_run("Succeeded", 10), ended, policy))
    # A task's duration is never judged
    task = Recorded(WriteOutcome.ADVANCED, Timeline(started_at=T0))
    assert "RunTooSlow" not in owed(metrics_owed(a_task("Succeeded", 10), task, SeriesPolicy(too_slow_seconds=1)))


def test_too_slow_is_owed_once_by_whichever_transition_completes_the_duration() -> None:
    policy = SeriesPolicy(too_slow_seconds=60)
    # The end arrives first: no start, no duration, not judged yet
    assert "RunTooSlow" not in owed(
        metrics_owed(a_run("Succeeded", 10), Recorded(WriteOutcome.ADVANCED, Timeline()), policy)
    )
    late_start = Recorded(WriteOutcome.RECORDED, Timeline(ended_at=T0 + minutes(10)))
    assert own(metrics_owed(a_run("Running", 0), late_start, policy)) == {"RunTooSlow": 1}
    complete = Recorded(WriteOutcome.RECORDED, Timeline(started_at=T0, ended_at=T0 + minutes(10)))
    assert owed(metrics_owed(a_run("Timeout", 10), complete, policy)) == {}


def test_full_metrics_put_every_healthy_metric_on_the_workflows_own_series() -> None:
    ended = Recorded(WriteOutcome.ADVANCED, Timeline(queued_at=T0, started_at=T0 + minutes(1)))
    assert own(metrics_owed(a_run("Succeeded", 10), ended, FULL)) == {"RunSucceeded": 1, "RunDuration": 540.0}


def test_every_per_workflow_metric_of_a_healthy_run_is_opt_in() -> None:
    """The scope of each metric a healthy run owes is FULL (a cost per workflow per hour), and of a task retry (a
    workflow's own series get RetryStorm instead: only in a storm); of each failure EXCEPTION."""
    healthy = {"RunStarted", "RunSucceeded", "RunDuration", "RunQueueDelay", "TaskSucceeded", "TaskDuration"}
    healthy |= {"TaskUpForRetry"}
    assert {spec.name for spec in CATALOG if spec.scope is Scope.FULL} == healthy
