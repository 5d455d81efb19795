"""Which metrics a recorded transition owes: pure logic, no AWS."""

from __future__ import annotations

from mwaa_obs.events import RunEvent, TaskEvent, parse_event
from mwaa_obs.ingest import metrics_owed
from mwaa_obs.metrics import CATALOG, RUN_OUTCOME_METRICS, TASK_OUTCOME_METRICS, MetricPoint
from mwaa_obs.store.transitions import Recorded, Timeline, WriteOutcome
from mwaa_obs_tools.factories import T0, minutes, run_event, task_event


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
    assert metrics_owed(a_run("Failed"), Recorded(WriteOutcome.DUPLICATE, Timeline())) == []


def test_the_start_transition_owes_run_started_even_when_late() -> None:
    late = Recorded(WriteOutcome.RECORDED, Timeline(ended_at=T0))
    assert owed(metrics_owed(a_run("Started"), late)) == {"RunStarted": 1}


def test_the_outcome_is_owed_only_by_the_transition_that_set_it() -> None:
    assert owed(metrics_owed(a_run("Failed"), Recorded(WriteOutcome.ADVANCED, Timeline()))) == {"RunFailed": 1}
    assert owed(metrics_owed(a_run("Timeout"), Recorded(WriteOutcome.RECORDED, Timeline(ended_at=T0)))) == {}


def test_duration_is_owed_by_whichever_transition_completes_the_pair() -> None:
    # Given the end is stored first
    ended = Recorded(WriteOutcome.ADVANCED, Timeline())
    assert owed(metrics_owed(a_run("Succeeded", 10), ended)) == {"RunSucceeded": 1}
    # When the late start arrives, it completes the pair
    late_start = Recorded(WriteOutcome.RECORDED, Timeline(queued_at=T0 + minutes(1), ended_at=T0 + minutes(10)))
    # Then it owes the duration and the queue delay, nothing else
    assert owed(metrics_owed(a_run("Running", 4), late_start)) == {"RunDuration": 360.0, "RunQueueDelay": 180.0}


def test_a_pair_already_complete_owes_nothing_again() -> None:
    complete = Recorded(WriteOutcome.RECORDED, Timeline(started_at=T0, ended_at=T0 + minutes(1)))
    assert owed(metrics_owed(a_run("Timeout", 2), complete)) == {}


def test_task_outcomes_and_duration() -> None:
    started = Recorded(WriteOutcome.ADVANCED, Timeline(started_at=T0))
    assert owed(metrics_owed(a_task("Up For Retry", 2), started)) == {"TaskUpForRetry": 1, "TaskDuration": 120.0}
    ended = Recorded(WriteOutcome.ADVANCED, Timeline(started_at=T0, ended_at=T0 + minutes(2)))
    assert owed(metrics_owed(a_task("Failed", 3), ended)) == {"TaskFailed": 1}


def test_a_retry_is_counted_even_when_its_attempt_already_failed_for_good() -> None:
    # A stopped run turns an up-for-retry attempt FAILED; the two events may arrive in either order
    after_failed = Recorded(WriteOutcome.RECORDED, Timeline(started_at=T0, ended_at=T0 + minutes(2)))
    assert owed(metrics_owed(a_task("Up For Retry", 2), after_failed)) == {"TaskUpForRetry": 1}


def test_clock_skew_never_gives_a_negative_duration() -> None:
    started_later = Recorded(WriteOutcome.ADVANCED, Timeline(started_at=T0 + minutes(5)))
    assert owed(metrics_owed(a_task("Succeeded", 0), started_later))["TaskDuration"] == 0.0


def test_every_outcome_metric_is_in_the_catalog() -> None:
    catalog = set(CATALOG)
    assert set(RUN_OUTCOME_METRICS.values()) <= catalog
    assert set(TASK_OUTCOME_METRICS.values()) <= catalog
    assert len({spec.name for spec in CATALOG}) == len(CATALOG)
