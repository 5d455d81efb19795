"""Property: realistic run histories, delivered shuffled and with duplicates, end in the true state and metrics.

The histories hold every state the API has: a run STOPPING before it is STOPPED, attempts deferred or rescheduled
and resumed (the same attempt: never a retry), restarted (a new attempt follows), CANCELLED and REMOVED."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mwaa_obs.ingest import ingest
from mwaa_obs.metrics import SeriesPolicy
from mwaa_obs.notices import Notice
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.telemetry import MetricSink
from mwaa_obs_tools.factories import T0, iso, minutes, run_event, task_event, workflow_arn

RUN_OUTCOMES = {"Succeeded": "SUCCESS", "Failed": "FAILED", "Timeout": "TIMEOUT", "Stopped": "STOPPED"}
TASK_OUTCOMES = {
    "Succeeded": "SUCCESS",
    "Failed": "FAILED",
    "Timeout": "TIMEOUT",
    "Cancelled": "CANCELLED",
    "Removed": "REMOVED",
}
# A pause the attempt resumes from, as the same attempt (Airflow keeps its try number and its start).
PAUSES = ("Deferred", "Up For Reschedule")
RUN_METRIC = {"SUCCESS": "RunSucceeded", "FAILED": "RunFailed", "TIMEOUT": "RunTimedOut", "STOPPED": "RunStopped"}
TASK_METRIC = {
    "SUCCESS": "TaskSucceeded",
    "FAILED": "TaskFailed",
    "TIMEOUT": "TaskTimedOut",
    "UP_FOR_RETRY": "TaskUpForRetry",
    "UPSTREAM_FAILED": "TaskUpstreamFailed",
    "CANCELLED": "TaskCancelled",
    "REMOVED": "TaskRemoved",
}


@dataclass
class Truth:
    """What really happened to one run: the events it sent and the state and metrics they must produce."""

    workflow_id: str
    run_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    run_status: str = ""
    attempts: dict[tuple[str, int], str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    durations: dict[str, list[float]] = field(default_factory=dict)
    retried: set[tuple[str, int]] = field(default_factory=set)  # attempts that went up for retry

    def duration(self, metric: str, start: datetime, end: datetime) -> None:
        self.durations.setdefault(metric, []).append((end - start).total_seconds())


@st.composite
def run_histories(draw: st.DrawFn, workflow: str) -> Truth:
    suffix = draw(st.text("ABCDEFGHJK0123456789", min_size=10, max_size=10))
    arn = workflow_arn(workflow, suffix)
    truth = Truth(f"{workflow}-{suffix}", f"run-{uuid.uuid4()}")
    clock = iter(T0 + minutes(n) for n in range(10_000))

    def run(state: str) -> datetime:
        at = next(clock)
        truth.events.append(run_event(state, truth.run_id, at, arn=arn))
        return at

    def task(state: str, task_id: str, attempt: int, **detail: Any) -> datetime:
        at = next(clock)
        truth.events.append(task_event(state, truth.run_id, task_id, at, attempt=attempt, arn=arn, **detail))
        return at

    run("Started")
    queued = run("Queued")
    started = run("Running")
    stopped_while_retrying = False
    for index in range(draw(st.integers(1, 4))):
        task_id = f"task_{index}"
        if index > 0 and draw(st.integers(0, 3)) == 0:
            task("Upstream Failed", task_id, 1)
            truth.attempts[(task_id, 1)] = "UPSTREAM_FAILED"
            truth.counts["TaskUpstreamFailed"] += 1
            continue
        tries = draw(st.integers(1, 3))
        for attempt in range(1, tries + 1):
            task("Scheduled", task_id, attempt)
            task("Queued", task_id, attempt)
            begin = task("Running", task_id, attempt)
            for pause in draw(st.lists(st.sampled_from(PAUSES), max_size=1)):
                # Airflow stamps an end on each pause and keeps the start when the attempt resumes
                task(pause, task_id, attempt, endedAt=iso(next(clock)))
                task("Scheduled", task_id, attempt)
                task("Queued", task_id, attempt)
                task("Running", task_id, attempt, startedAt=iso(begin))
            last = attempt == tries
            if not last and draw(st.booleans()):
                task("Restarting", task_id, attempt)  # cleared while running: the next try follows
            state = draw(st.sampled_from(sorted(TASK_OUTCOMES))) if last else "Up For Retry"
            end = task(state, task_id, attempt)
            status = TASK_OUTCOMES.get(state, "UP_FOR_RETRY")
            truth.attempts[(task_id, attempt)] = status
            if status == "UP_FOR_RETRY":
                truth.retried.add((task_id, attempt))
            truth.counts[TASK_METRIC[status]] += 1
            truth.duration("TaskDuration", begin, end)
            if status == "UP_FOR_RETRY" and draw(st.integers(0, 4)) == 0:
                # The run is stopped before the next try: the same attempt goes on to FAILED, with its own times.
                times = {"startedAt": iso(begin), "endedAt": iso(end)}
                truth.events.append(
                    task_event("Failed", truth.run_id, task_id, next(clock), attempt=attempt, arn=arn, **times)
                )
                truth.attempts[(task_id, attempt)] = "FAILED"
                truth.counts["TaskFailed"] += 1
                stopped_while_retrying = True
                break
        if stopped_while_retrying:
            break
    outcome = "Stopped" if stopped_while_retrying else draw(st.sampled_from(sorted(RUN_OUTCOMES)))
    if outcome == "Stopped" and draw(st.booleans()):
        run("Stopping")  # not an end: the run ends when it is STOPPED
    ended = run(outcome)
    truth.run_status = RUN_OUTCOMES[outcome]
    truth.counts.update({"RunStarted": 1, RUN_METRIC[truth.run_status]: 1})
    truth.duration("RunDuration", started, ended)
    truth.duration("RunQueueDelay", queued, started)
    return truth


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Truth], list[dict[str, Any]]]:
    """One or two runs' events, at least once each and some twice or thrice, in any order."""
    truths = [draw(run_histories("etl_daily")) for _ in range(draw(st.integers(1, 2)))]
    events = [event for truth in truths for event in truth.events]
    repeats = draw(st.lists(st.integers(0, 2), min_size=len(events), max_size=len(events)))
    delivered = [event for event, extra in zip(events, repeats, strict=True) for _ in range(1 + extra)]
    return truths, draw(st.permutations(delivered))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=deliveries())
def test_any_order_and_duplicates_end_in_the_true_state_with_exact_metrics_and_notices(
    store: Transitions, runs: Runs, case: tuple[list[Truth], list[dict[str, Any]]]
) -> None:
    truths, delivered = case
    metrics = MetricSink()
    notices: list[Notice] = []
    notice_queue = type("NoticeQueue", (), {"send": staticmethod(notices.append)})()
    # When every delivery is ingested, in the drawn order
    for event in delivered:
        ingest(json.dumps(event), store, metrics, notice_queue, policies=lambda _: SeriesPolicy())
    # Then each run and attempt holds its true final state
    for truth in truths:
        run, attempts = runs.load(truth.workflow_id, truth.run_id)
        assert run is not None
        assert run.status == truth.run_status
        assert {(item.task_id, item.attempt): item.status for item in attempts} == truth.attempts
    # And the metrics were counted exactly once per transition, with the true durations
    counts: Counter[str] = Counter()
    durations: dict[str, list[float]] = {}
    for point in metrics.points:
        if point.spec.unit == "Count":
            counts[point.spec.name] += int(point.value)
        else:
            durations.setdefault(point.spec.name, []).append(point.value)
    expected_counts: Counter[str] = sum((truth.counts for truth in truths), Counter())
    assert counts == expected_counts
    expected_durations: dict[str, list[float]] = {}
    for truth in truths:
        for name, values in truth.durations.items():
            expected_durations.setdefault(name, []).extend(values)
    assert {name: sorted(values) for name, values in durations.items()} == {
        name: sorted(values) for name, values in expected_durations.items()
    }
    # And every finished run, and every attempt that went up for retry, was handed to the notifier
    assert {(n.run_id, n.task_key, n.attempt) for n in notices} == {(truth.run_id, None, None) for truth in truths} | {
        (truth.run_id, f"ti-{truth.run_id}-{task}", attempt) for truth in truths for task, attempt in truth.retried
    }
