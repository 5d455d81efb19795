"""The retry storm decided at ingest (mwaa_obs.store.retries): a workflow's retries counted per UTC clock hour in the
table, RetryStorm owed once when they pass its threshold, whatever the order, the duplicates and the retried
messages; every retry feeds the fleet's TaskUpForRetry only."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mwaa_obs.ingest import ingest
from mwaa_obs.metrics import MetricPoint, SeriesPolicy
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.telemetry import MetricSink
from mwaa_obs_tools.factories import T0, task_event, workflow_arn

HOUR = T0 + timedelta(hours=10)


class Notices:
    def send(self, notice: Any, delay_seconds: int | None = None) -> None:
        pass


def retry(arn: str, attempt: int, minute: int, run_id: str = "r1") -> dict[str, Any]:
    return task_event("Up For Retry", run_id, "flaky", HOUR + timedelta(minutes=minute), attempt=attempt, arn=arn)


def deliver(store: Transitions, event: dict[str, Any], threshold: int | None = 10, writer: str | None = None) -> Any:
    sink = MetricSink()
    policy = SeriesPolicy(retry_threshold=threshold)
    ingest(json.dumps(event), store, sink, Notices(), policies=lambda _: policy, writer=writer or uuid.uuid4().hex)
    return sink.points


def storms(points: list[MetricPoint]) -> list[str | None]:
    return [point.workflow for point in points if point.spec.name == "RetryStorm"]


def test_eleven_retries_in_an_hour_are_one_storm_and_ten_are_none(store: Transitions) -> None:
    eleven, ten = workflow_arn("eleven"), workflow_arn("ten")
    points = [p for attempt in range(1, 12) for p in deliver(store, retry(eleven, attempt, 4 * attempt))]
    points += [p for attempt in range(1, 11) for p in deliver(store, retry(ten, attempt, 5 * attempt))]
    assert storms(points) == ["eleven"]
    # Every retry is counted in the fleet's series, none in a workflow's own
    retried = [p for p in points if p.spec.name == "TaskUpForRetry"]
    assert len(retried) == 21
    assert {p.workflow for p in retried} == {None}
    # Once decided, the hour's later retries owe nothing more
    assert storms(deliver(store, retry(eleven, 12, 59))) == []


def test_retries_spread_over_two_workflows_or_two_clock_hours_are_no_storm(store: Transitions) -> None:
    one, two, straddling = workflow_arn("one"), workflow_arn("two"), workflow_arn("straddling")
    points = [p for attempt in range(1, 7) for arn in (one, two) for p in deliver(store, retry(arn, attempt, attempt))]
    # 12 retries within 20 minutes, across the top of an hour: 6 in each clock hour (the count is per clock hour)
    points += [p for attempt in range(1, 13) for p in deliver(store, retry(straddling, attempt, 50 + attempt))]
    assert storms(points) == []


def test_a_workflows_own_threshold_decides_its_storm(store: Transitions) -> None:
    arn = workflow_arn("strict")
    points = [p for attempt in range(1, 5) for p in deliver(store, retry(arn, attempt, attempt), threshold=3)]
    assert storms(points) == ["strict"]
    # No threshold (a reader that judges no storm): counted in the fleet only
    assert storms(deliver(store, retry(workflow_arn("unjudged"), 1, 1), threshold=None)) == []


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, str]]]:
    """A threshold, a number of distinct retries in one clock hour, and their deliveries in any order: each one's
    message may come again (a retry of the same message: the same writer, whose first try failed before its
    metrics were published) and the event may come in other messages too (duplicates)."""
    threshold = draw(st.integers(min_value=1, max_value=4))
    attempts = draw(st.integers(min_value=0, max_value=threshold + 2))
    sent = []
    for attempt in range(1, attempts + 1):
        writers = [f"m{attempt}-{n}" for n in range(draw(st.integers(min_value=1, max_value=2)))]
        for writer in writers:
            sent += [(attempt, writer)] * draw(st.integers(min_value=1, max_value=2))
    return threshold, attempts, draw(st.permutations(sent))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=deliveries())
def test_redelivered_and_retried_retries_count_once(
    store: Transitions, case: tuple[int, int, list[tuple[int, str]]]
) -> None:
    threshold, attempts, sent = case
    arn = workflow_arn(f"wf_{uuid.uuid4().hex[:8]}")
    published: dict[str, list[MetricPoint]] = {}  # per message: what its last try published
    for attempt, writer in sent:
        # A try of a message again means the one before it failed: its metrics were never published
        published[writer] = deliver(store, retry(arn, attempt, attempt), threshold=threshold, writer=writer)
    counts = Counter(p.spec.name for points in published.values() for p in points)
    assert counts["TaskUpForRetry"] == attempts
    assert counts["RetryStorm"] == (1 if attempts > threshold else 0)
