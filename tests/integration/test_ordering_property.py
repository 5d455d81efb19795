"""Property: realistic run histories, delivered shuffled and with duplicates, end in the true state and metrics.

The histories hold every state the API has: a run STOPPING before it is STOPPED, attempts deferred or rescheduled
and resumed (the same attempt: never a retry), restarted (a new attempt follows), CANCELLED and REMOVED."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mwaa_obs.events import TaskEvent, parse_event
from mwaa_obs.ingest import ingest, ingest_event
from mwaa_obs.metrics import SeriesPolicy
from mwaa_obs.mwaa_api import MwaaApi
from mwaa_obs.notices import Notice
from mwaa_obs.passes import Pass, PassReport
from mwaa_obs.repairs import UnknownStates, is_open
from mwaa_obs.run_check import RunCheck
from mwaa_obs.states import TASK_RANK, TERMINAL_RUN_STATES
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import task_sort_key
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.telemetry import MetricSink
from mwaa_obs_tools.factories import T0, iso, minutes, run_event, task_event, workflow_arn
from mwaa_obs_tools.simulator.api import ApiServer
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.faults import Faults
from tests.conftest import Printed
from tests.simulator.test_lifecycle import START, World, create

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
        (truth.run_id, task, attempt) for truth in truths for task, attempt in truth.retried
    }


# One attempt, one item, however its events name it (issue 37, item 9; docs/EVENTS.md, "Task attempt identity").
# The detail schema is unpublished: an event of an attempt may name its task id, its instance id or both, and two
# events of one attempt may name different instance ids. Real parts: the simulator's run sends the events and its
# API answers the reconciler; the table is the emulator's.
RETRIED = b"""retried:
  dag_id: retried
  schedule: null
  default_args: {retries: 1, retry_delay: 0}
  tasks:
    extract: {operator: airflow.providers.amazon.aws.operators.s3.S3ListOperator, bucket: b}
    load: {operator: airflow.providers.amazon.aws.operators.s3.S3ListOperator, bucket: b, dependencies: [extract]}
"""
SHAPES = ("both", "task id only", "instance id only", "another instance id")


class Simulated:
    """The simulator's engine, its API on loopback and a workflow whose `load` fails its first attempt."""

    def __init__(self, engine: Engine, world: World, client: Any, arn: str) -> None:
        self.engine, self.world, self.client, self.arn = engine, world, client, arn

    def __repr__(self) -> str:  # not its world's every event and log line, in a failure's report
        return f"Simulated({self.arn})"

    def finished_run(self) -> tuple[str, list[dict[str, Any]]]:
        """A new run, to its end: its id and the events it sent, as EventBridge delivers them."""
        run_id: str = self.client.start_workflow_run(WorkflowArn=self.arn)["RunId"]
        run = self.engine.runs[(self.arn, run_id)]
        while run.state not in TERMINAL_RUN_STATES:
            self.engine.advance(self.engine.now + timedelta(minutes=1))
        sent = [entry for entry in self.world.events if json.loads(entry["Detail"]).get("runId") == run_id]
        return run_id, [
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "time": iso(entry["Time"]),
                "resources": entry["Resources"],
                "detail": json.loads(entry["Detail"]),
            }
            for entry in sent
        ]


@pytest.fixture(scope="module")
def simulated() -> Iterator[Simulated]:
    world = World()
    engine = Engine(world, world.read, start=START)
    server = ApiServer(engine).start()
    client = boto3.client(
        "mwaa-serverless", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    arn = create(client, world, "retried", RETRIED)
    engine.set_faults("retried", Faults(fail_first={"load": 1}))
    yield Simulated(engine, world, client, arn)
    server.stop()


def named(event: dict[str, Any], shape: str) -> dict[str, Any]:
    """The event with its task named as `shape` says."""
    detail = dict(event["detail"])
    if "taskId" not in detail:
        return event  # a run's
    if shape == "task id only":
        del detail["taskInstanceId"]
    elif shape == "instance id only":
        del detail["taskId"]
    elif shape == "another instance id":
        detail["taskInstanceId"] = "other-" + detail["taskInstanceId"]
    return {**event, "detail": detail}


class KeyedByInstance:
    """The store as it keyed attempts before (a deployed table): by the instance id wherever an event gave one."""

    def __init__(self, store: Transitions) -> None:
        self._store = store
        self.home = store.home

    def record_task(self, event: TaskEvent, writer: str | None = None) -> Any:
        return self._store.record_task(replace(event, task_key=event.task_instance_id or event.task_key), writer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def true_attempts(events: list[dict[str, Any]]) -> dict[tuple[str, int], str]:
    """Each attempt's furthest state, as the run's own events tell it."""
    furthest: dict[tuple[str, int], str] = {}
    for event in events:
        parsed = parse_event(event)
        if isinstance(parsed, TaskEvent):
            key = (str(parsed.task_id), parsed.attempt)
            if TASK_RANK[parsed.status] > TASK_RANK.get(furthest.get(key, ""), -1):
                furthest[key] = parsed.status
    return furthest


def deliver(
    store: Transitions, delivered: list[dict[str, Any]], upgraded_at: int, sink: MetricSink | None = None
) -> None:
    """The events ingested in order, the first `upgraded_at` of them by the version that keyed attempts by instance
    id."""
    old = cast(Any, KeyedByInstance(store))
    for index, event in enumerate(delivered):
        target = old if index < upgraded_at else store
        ingest_event(event, target, sink or MetricSink(), cast(Any, _Discard()), policies=lambda _: SeriesPolicy())


class _Discard:
    def send(self, notice: Notice, delay_seconds: int | None = None) -> None:
        pass


def reconcile(simulated: Simulated, store: Transitions, runs: Runs, run_id: str) -> PassReport:
    """The reconciler's check of the ended run, its settle time past."""
    workflow_id = simulated.arn.rsplit("/", 1)[1]
    run, attempts = runs.load(workflow_id, run_id)
    assert run is not None
    settle = timedelta(minutes=30)
    step = Pass.begin(simulated.engine.now + 2 * settle, MetricSink(), None)
    check = RunCheck(
        MwaaApi(simulated.client), store, runs, _Discard(), UnknownStates(), settle=settle,
        policies=lambda _: SeriesPolicy(),
    )  # fmt: skip
    check.check(run, attempts, step, discovered=False)
    return step.report


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_attempt_is_one_item_however_its_events_name_it_and_the_reconciler_leaves_no_copy(
    simulated: Simulated, store: Transitions, runs: Runs, data: st.DataObject
) -> None:
    # Given a run's events, each task event naming its task by task id, instance id, both, or another instance id,
    # delivered in any order, some twice or thrice, the first of them by the version that keyed by instance id
    run_id, events = simulated.finished_run()
    # One seed whatever the simulator sent: draws whose number varied with it would be a flaky strategy
    chance = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    shaped = [named(event, chance.choice(SHAPES)) for event in events]
    delivered = chance.sample(shaped * 3, len(shaped) + chance.randint(0, len(shaped)))
    delivered += [event for event in shaped if event not in delivered]  # each at least once
    upgraded_at = chance.choice([0, 0, chance.randint(0, len(delivered))])
    sink = MetricSink()
    deliver(store, delivered, upgraded_at, sink)
    workflow_id = simulated.arn.rsplit("/", 1)[1]
    truth = true_attempts(events)
    _, attempts = runs.load(workflow_id, run_id)
    by_instance_only = any("taskId" not in event["detail"] for event in shaped if "runId" in event["detail"])
    old_keys = any("taskInstanceId" in event["detail"] for event in delivered[:upgraded_at])
    if not by_instance_only and not old_keys:
        # Then, as ingested, every attempt whose events name its task is one item, in its final state
        assert sorted((item.task_id, item.attempt) for item in attempts) == sorted(truth)
        assert {(str(item.task_id), item.attempt): item.status for item in attempts} == truth
    disagreed = sum(point.value for point in sink.points if point.spec.name == "TaskIdsDisagree")
    if not any(event["detail"].get("taskInstanceId", "").startswith("other-") for event in delivered):
        assert disagreed == 0  # told only where two events of one attempt named two instance ids
    # When the reconciler checks the run
    reconcile(simulated, store, runs, run_id)
    # Then each attempt is one item, in the state the run's events and the API give, and none is left open. (An
    # item the old version keyed by instance id stays so keyed when it is its attempt's only one.)
    _, attempts = runs.load(workflow_id, run_id)
    task_of = {e["detail"]["taskInstanceId"]: e["detail"]["taskId"] for e in events if "taskId" in e["detail"]}
    identities = [(item.task_id or task_of[item.task_key], item.attempt) for item in attempts]
    assert sorted(identities) == sorted(truth)
    assert {identity: item.status for identity, item in zip(identities, attempts, strict=True)} == truth
    assert not [item.sk for item in attempts if is_open(item.status)]
    assert all(item.started_at for item in attempts)  # what an item alone knew was kept


def test_two_instance_ids_for_one_attempt_make_one_item_and_are_told_once(
    simulated: Simulated, store: Transitions, runs: Runs, printed: Callable[[], Printed]
) -> None:
    # Given a run whose `extract` attempt is announced running under its instance id and succeeded under another
    run_id, events = simulated.finished_run()
    extract = [event for event in events if event["detail"].get("taskId") == "extract"]
    instance = extract[0]["detail"]["taskInstanceId"]
    running = next(event for event in extract if event["detail"]["status"] == "RUNNING")
    succeeded = named(next(event for event in extract if event["detail"]["status"] == "SUCCESS"), SHAPES[3])
    sink = MetricSink()
    printed()
    # When both are ingested, the disagreeing one twice
    deliver(store, [running, succeeded, succeeded], 0, sink)
    # Then the attempt is one item, finished, holding the first instance id
    _, attempts = runs.load(simulated.arn.rsplit("/", 1)[1], run_id)
    assert [(item.sk, item.status, item.task_instance_id) for item in attempts] == [
        (task_sort_key("extract", 1), "SUCCESS", instance)
    ]
    # And each delivery that named another instance id was told: one log line and one count each
    told = [line for line in printed().logs if line["message"] == "task instance ids disagree: one attempt kept"]
    assert [(line["task_instance_id"], line["stored_instance_id"]) for line in told] == [
        ("other-" + instance, instance)
    ] * 2
    assert sum(point.value for point in sink.points if point.spec.name == "TaskIdsDisagree") == 2


def test_an_open_item_stored_under_the_instance_id_key_is_folded_into_its_attempt_finished_under_the_task_id(
    simulated: Simulated, store: Transitions, runs: Runs
) -> None:
    # Given a table deployed before attempts were keyed by task id: `load`'s second attempt stored running under
    # its instance id; then, upgraded, every event of the run, but that attempt's running one lost
    run_id, events = simulated.finished_run()
    workflow_id = simulated.arn.rsplit("/", 1)[1]
    detail = [event["detail"] for event in events]
    second = [event for event in detail if (event.get("taskId"), event.get("attemptNumber")) == ("load", 2)]
    running = next(events[detail.index(event)] for event in second if event["status"] == "RUNNING")
    deliver(store, [running], upgraded_at=1)
    deliver(store, [event for event in events if event is not running], upgraded_at=0)
    _, attempts = runs.load(workflow_id, run_id)
    instance = running["detail"]["taskInstanceId"]
    copies = {item.sk: item.status for item in attempts if item.attempt == 2}
    assert copies == {task_sort_key(instance, 2): "RUNNING", task_sort_key("load", 2): "SUCCESS"}
    # When the reconciler checks the run
    report = reconcile(simulated, store, runs, run_id)
    # Then the open copy is folded into the attempt's own item (what it alone knew kept) and gone
    _, attempts = runs.load(workflow_id, run_id)
    (load,) = [item for item in attempts if item.attempt == 2]
    assert (load.sk, load.status, load.task_instance_id) == (task_sort_key("load", 2), "SUCCESS", instance)
    assert load.seen_running is not None
    assert report.attempts_folded == 1
    assert report.attempts_closed == 0


def test_a_copy_a_write_moved_since_it_was_read_is_not_deleted_by_its_fold(
    simulated: Simulated, store: Transitions, runs: Runs
) -> None:
    # Given `extract` running under the old key and finished under its task id, read as such
    run_id, events = simulated.finished_run()
    workflow_id = simulated.arn.rsplit("/", 1)[1]
    extract = [event for event in events if event["detail"].get("taskId") == "extract"]
    running = next(event for event in extract if event["detail"]["status"] == "RUNNING")
    succeeded = next(event for event in extract if event["detail"]["status"] == "SUCCESS")
    deliver(store, [running], upgraded_at=1)
    deliver(store, [succeeded], upgraded_at=0)
    _, attempts = runs.load(workflow_id, run_id)
    copy, into = sorted(attempts, key=lambda item: item.sk != task_sort_key(running["detail"]["taskInstanceId"], 1))
    # When a late event moves the copy on before the fold deletes it
    deliver(store, [succeeded], upgraded_at=1)
    # Then the fold leaves it (the run stays listed, the next pass folds it as it is now)
    assert not store.fold(copy, into)
    _, attempts = runs.load(workflow_id, run_id)
    assert sorted((item.sk, item.status) for item in attempts) == sorted([(copy.sk, "SUCCESS"), (into.sk, "SUCCESS")])
