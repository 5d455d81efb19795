"""Failure and recovery messages true under any arrival order, on the emulator: random workflow histories, their
events shuffled and repeated through ingest, then their notices shuffled and repeated through the notifier, with
delayed flushes on a simulated clock. Checked against the truth by end time."""

from __future__ import annotations

import heapq
import itertools
import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as statistic
from hypothesis import strategies as st

from mwaa_obs.alerting import AlertKind
from mwaa_obs.aws import client
from mwaa_obs.channels import AlertTopic
from mwaa_obs.delivery import Courier
from mwaa_obs.ingest import ingest
from mwaa_obs.messages.model import Alert
from mwaa_obs.metrics import SeriesPolicy
from mwaa_obs.notices import Notice
from mwaa_obs.notify import Notifier
from mwaa_obs.settings import SettingsSource
from mwaa_obs.store.alerts import Alerts
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.telemetry import MetricSink
from mwaa_obs_tools.factories import T0, minutes, run_event, task_event, workflow_arn
from tests.conftest import SETTINGS_PARAMETER

OUTCOMES = {"Succeeded": "SUCCESS", "Failed": "FAILED", "Timeout": "TIMEOUT", "Stopped": "STOPPED"}
_workflows = itertools.count()


@dataclass(frozen=True)
class Run:
    run_id: str
    outcome: str  # detail-type suffix
    ended_at: datetime

    @property
    def failed(self) -> bool:
        return self.outcome in ("Failed", "Timeout")

    @property
    def succeeded(self) -> bool:
        return self.outcome == "Succeeded"


class RecordingTopic(AlertTopic):
    """The alert topic's seam: every alert the notifier publishes, as built (the channel itself is tested apart),
    with the runs whose final state was stored when it was published."""

    def __init__(self, stored: dict[str, Run]) -> None:
        super().__init__(None, "")
        self._stored = stored
        self.sent: list[tuple[Alert, list[Run]]] = []

    def publish(self, alert: Alert) -> None:
        self.sent.append((alert, list(self._stored.values())))


class DelayedQueue:
    """The notices queue on the simulated clock: each notice is due at its send time plus its delay."""

    def __init__(self, clock: list[datetime], delay: timedelta) -> None:
        self._clock = clock
        self._delay = delay  # the queue's own: AlertDelaySeconds
        self._order = itertools.count()
        self.due: list[tuple[datetime, int, str]] = []

    def send(self, notice: Notice, delay_seconds: int | None = None) -> None:
        at = self._clock[0] + (self._delay if delay_seconds is None else timedelta(seconds=delay_seconds))
        heapq.heappush(self.due, (at, next(self._order), notice.to_body()))


# How late deliveries come: at once, shuffled over hours, or the whole history as one backlog (a paused pipeline).
LAGS = {"real time": timedelta(minutes=2), "shuffled": timedelta(hours=6), "backlog": None}
ALERT_DELAY = timedelta(minutes=2)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Run], list[dict[str, Any]], int, str, int]:
    arn = workflow_arn(f"wf{next(_workflows)}", "Pr0pertyXX")  # a workflow of its own for each example
    count = draw(st.integers(min_value=1, max_value=9))
    kinds = draw(st.lists(st.sampled_from(list(OUTCOMES)), min_size=count, max_size=count))
    runs, events = [], []
    for index, kind in enumerate(kinds):
        start = T0 + minutes(20 * index)  # closer than the grouping window: storms happen in real time too
        run = Run(f"r{index}", kind, start + minutes(10))
        runs.append(run)
        events += [run_event("Started", run.run_id, start, arn=arn), run_event("Running", run.run_id, start, arn=arn)]
        task = f"t{index}"
        if run.failed and draw(st.booleans()):  # a retry before the final failure
            events.append(task_event("Up For Retry", run.run_id, task, start + minutes(10), attempt=1, arn=arn))
        task_state = "Failed" if run.failed else "Succeeded"
        events.append(task_event(task_state, run.run_id, task, run.ended_at, attempt=2 if run.failed else 1, arn=arn))
        events.append(run_event(kind, run.run_id, run.ended_at, arn=arn))
    window = draw(st.sampled_from([0, 60]))
    return runs, events, window, draw(st.sampled_from(sorted(LAGS))), draw(st.integers(min_value=0, max_value=10_000))


def clocked_notifier(
    dynamodb: Any, table: str, ssm: Any, topic: AlertTopic, queue: DelayedQueue, clock: list[datetime], **options: Any
) -> Notifier:
    """The notifier on the test's clock, its email topic `topic`, no Slack, its flush notices to `queue`."""
    return Notifier(
        runs=Runs(dynamodb, table),
        alerts=Alerts(dynamodb, table),
        workflows=Workflows(dynamodb, table),
        settings=SettingsSource(ssm, SETTINGS_PARAMETER, ttl_seconds=0),
        courier=Courier(Alerts(dynamodb, table), topic=topic, webhooks=None, clock=lambda: clock[0]),
        notices=queue,
        clock=lambda: clock[0],
        **options,
    )


def truth_incident(runs: list[Run], success: Run) -> list[Run]:
    """The failures right before a success by end time (stopped runs are neither)."""
    incident: list[Run] = []
    for run in sorted(runs, key=lambda run: run.ended_at):
        if run is success:
            return incident
        if run.failed:
            incident.append(run)
        elif run.succeeded:
            incident = []
    return incident


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=histories())
def test_every_failure_is_named_once_and_every_resolved_message_tells_the_end_time_truth(
    store: Transitions, dynamodb: Any, state_table: str, case: tuple[list[Run], list[dict[str, Any]], int, str, int]
) -> None:
    runs, events, window, lag, seed = case
    shuffle = random.Random(seed)
    ssm = client("ssm")
    ssm.put_parameter(
        Name=SETTINGS_PARAMETER,
        Value=json.dumps({"defaults": {"group_window_minutes": window, "slack_webhook": None}}),
        Type="String",
        Overwrite=True,
    )
    clock = [T0]
    queue = DelayedQueue(clock, ALERT_DELAY)
    stored: dict[str, Run] = {}
    topic = RecordingTopic(stored)
    notifier = clocked_notifier(dynamodb, state_table, ssm, topic, queue, clock)
    by_id = {run.run_id: run for run in runs}
    # Given the events delivered at least once, each as late as the lag makes it, in that order
    delivered = events + shuffle.sample(events, len(events) // 3)
    last = max(datetime.fromisoformat(event["time"]) for event in events)
    most = LAGS[lag]
    arrivals = sorted(
        (
            (datetime.fromisoformat(event["time"]) + shuffle.random() * most)
            if most is not None
            else last + timedelta(seconds=shuffle.random() * 60),
            index,
            event,
        )
        for index, event in enumerate(delivered)
    )
    sink = MetricSink()

    def notify_until(until: datetime) -> None:
        """Every notice due by then, the ones due together in any order and some twice."""
        while queue.due and queue.due[0][0] <= until:
            clock[0] = max(clock[0], queue.due[0][0])
            ready = []
            while queue.due and queue.due[0][0] <= clock[0]:
                ready.append(heapq.heappop(queue.due)[2])
            shuffle.shuffle(ready)
            for notice in ready + shuffle.sample(ready, len(ready) // 2):
                clock[0] += timedelta(seconds=1)
                notifier.handle(notice, sink)

    for at, _, event in arrivals:
        notify_until(at)
        clock[0] = max(clock[0], at)
        ingest(json.dumps(event), store, sink, queue, policies=lambda _: SeriesPolicy())
        if event["detail-type"].removeprefix("MWAA Serverless Workflow Run ") in OUTCOMES:
            stored.setdefault(event["detail"]["runId"], by_id[event["detail"]["runId"]])
    # When the notices, and the flushes they ask for, are handled as they come due
    for _ in range(200):
        if not queue.due:
            break
        notify_until(queue.due[0][0])
    assert not queue.due, "flush notices kept coming"
    for kind in sorted({alert.kind.value for alert, _ in topic.sent}):
        statistic(f"{lag}, window {window}: {kind}")
    # Then every failed or timed-out run is named in exactly one message
    named: Counter[str] = Counter()
    for alert, _ in topic.sent:
        if alert.kind in (AlertKind.FAILURE, AlertKind.SUMMARY):
            named[alert.run_id] += 1
        named.update(other.run_id for other in alert.named)
    assert named == Counter(run.run_id for run in runs if run.failed)
    for alert, known in topic.sent:
        # And each failure named is told as recovered exactly when a later success was known then
        for other in alert.named:
            later = any(run.succeeded and run.ended_at > by_id[other.run_id].ended_at for run in known)
            assert other.recovered is later, other
        if alert.kind is not AlertKind.RECOVERY:
            continue
        # And each resolved message closes the incident right before its success, as known, with its figures
        success = by_id[alert.run_id]
        incident = truth_incident(known, success)
        assert incident, "a resolved message for no incident"
        assert alert.incident_runs == tuple(run.run_id for run in incident)
        assert (alert.failed_runs, alert.failing_since) == (len(incident), incident[0].ended_at)
        # And no failure known then ended after the success: the workflow was not failing again
        assert not any(run.failed and run.ended_at > success.ended_at for run in known)
        # And when every run was known, that is the end-time truth
        if lag == "backlog":
            assert incident == truth_incident(runs, success)
    # And no incident is resolved twice, and no success resolves twice
    resolved = [alert for alert, _ in topic.sent if alert.kind is AlertKind.RECOVERY]
    assert len({alert.run_id for alert in resolved}) == len(resolved)
    closed = [failure for alert in resolved for failure in alert.incident_runs]
    assert len(closed) == len(set(closed))


_accounts = itertools.count(900_000_000_000)  # a source account of its own for each example: its own hourly slots


class ClockedTopic(AlertTopic):
    """The alert topic's seam: every alert published, with the simulated time it was published at."""

    def __init__(self, clock: list[datetime]) -> None:
        super().__init__(None, "")
        self._clock = clock
        self.sent: list[tuple[Alert, datetime]] = []

    def publish(self, alert: Alert) -> None:
        self.sent.append((alert, self._clock[0]))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bound=st.integers(1, 2), more=st.integers(1, 2), failures=st.integers(1, 2), window=st.sampled_from([0, 60]))
def test_a_flooding_account_gets_at_most_its_bound_of_messages_an_hour_and_every_failure_named_once(
    store: Transitions, dynamodb: Any, state_table: str, bound: int, more: int, failures: int, window: int
) -> None:
    # Given, in central mode, a source account whose `bound + more` workflows each fail `failures` times within an
    # hour, and another source account with one failure in the middle of that flood
    flooding, other = f"{next(_accounts)}", f"{next(_accounts)}"
    ssm = client("ssm")
    document = {"defaults": {"group_window_minutes": window, "slack_webhook": None}}
    ssm.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps(document), Type="String", Overwrite=True)
    clock = [T0]
    queue = DelayedQueue(clock, ALERT_DELAY)
    topic = ClockedTopic(clock)
    notifier = clocked_notifier(dynamodb, state_table, ssm, topic, queue, clock, account_alerts_per_hour=bound)
    events, failed = [], {}
    for index in range(bound + more):
        arn = f"arn:aws:airflow-serverless:eu-west-1:{flooding}:workflow/flood{index}-Fl00dXXXXX"
        for attempt in range(failures):
            run_id, ended = f"f{index}-{attempt}", T0 + minutes(2 + 10 * attempt + index)
            events += [
                run_event("Started", run_id, ended - minutes(1), arn=arn),
                run_event("Failed", run_id, ended, arn=arn),
            ]
            failed[run_id] = flooding
    arn = f"arn:aws:airflow-serverless:eu-west-1:{other}:workflow/calm-Ca1mXXXXXX"
    events += [
        run_event("Started", "calm", T0 + minutes(29), arn=arn),
        run_event("Failed", "calm", T0 + minutes(30), arn=arn),
    ]
    failed["calm"] = other
    sink = MetricSink()
    # When they are ingested as they happen, and every notice and flush handled when it comes due
    for event in sorted(events, key=lambda event: event["time"]):
        at = datetime.fromisoformat(event["time"])
        while queue.due and queue.due[0][0] <= at:
            clock[0] = max(clock[0], queue.due[0][0])
            notifier.handle(heapq.heappop(queue.due)[2], sink)
        clock[0] = max(clock[0], at)
        ingest(json.dumps(event), store, sink, queue, policies=lambda _: SeriesPolicy())
    for _ in range(500):
        if not queue.due:
            break
        clock[0] = max(clock[0], queue.due[0][0])
        notifier.handle(heapq.heappop(queue.due)[2], sink)
    assert not queue.due, "flush notices kept coming"
    # Then every failure is named in exactly one message
    named: Counter[str] = Counter()
    for alert, _ in topic.sent:
        named[alert.run_id] += 1
        named.update(named_run.run_id for named_run in alert.named)
    assert named == Counter(failed.keys())
    # And no account had more than its bound of messages in any UTC hour
    per_hour = Counter(
        (failed[alert.run_id], at.replace(minute=0, second=0, microsecond=0)) for alert, at in topic.sent
    )
    assert max(per_hour.values()) <= bound, per_hour
    # And the flood held the other account's failure back by nothing: its own message, within minutes
    (calm,) = [(alert, at) for alert, at in topic.sent if alert.run_id == "calm"]
    assert calm[0].kind is AlertKind.FAILURE
    assert calm[1] - (T0 + minutes(30)) < minutes(10)
    # And the flooding account's held failures were all summarised within the hours its bound allows
    assert max(at for _, at in topic.sent) < T0 + timedelta(hours=len(failed))
