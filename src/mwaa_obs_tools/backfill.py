"""`mwaa-obs backfill`: the history from before the pipeline existed, imported from the MWAA Serverless API.

Every run of every workflow (or of one, or since a date) becomes the events the service would have sent
(mwaa_obs.api_events), stored through the ingest path: the run's start and its state, each task instance's latest
attempt in its state (the API describes no earlier one, so none is made up). Every imported run is listed for the
reconciler like a run events brought, so an attempt the API still gives no end after its run ended is closed by the
stack's next pass. A state this version does not know is counted and sampled, not stored. Writes are the
pipeline's own idempotent transitions, so a backfill over runs that events already stored changes nothing, and
running it twice is harmless. Historic runs send no notices. With --metrics, the metrics the imported transitions
owe are published with their original timestamps, for the runs recent enough for CloudWatch to accept them (two
weeks).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

from mwaa_obs.api_events import run_event, task_history
from mwaa_obs.events import Place
from mwaa_obs.ingest import SampleSink, ingest_event
from mwaa_obs.metrics import WORKFLOW_DIMENSION, MetricPoint, Policies, SeriesPolicy, dimension_sets
from mwaa_obs.mwaa_api import MwaaApi
from mwaa_obs.notices import Notice
from mwaa_obs.repairs import UnknownStates
from mwaa_obs.states import RunState, TaskState
from mwaa_obs.store.transitions import Transitions, WriteOutcome
from mwaa_obs.telemetry import MetricSink
from mwaa_obs.text import counted
from mwaa_obs.times import parse_time

CLOUDWATCH_PAST_LIMIT: Final = timedelta(days=14)
METRIC_DATA_PER_CALL: Final = 1000


class NoNotices:
    """Historic failures were alerted on (or not) at the time: a backfill sends no messages."""

    def send(self, notice: Notice, delay_seconds: int | None = None) -> None:
        return None


@dataclass
class BackfillReport:
    workflows: int = 0
    runs: int = 0
    tasks: int = 0
    events: int = 0
    new: int = 0  # transitions not stored before (0 when everything was already there)
    metrics_published: int = 0
    metrics_too_old: int = 0
    unknown_states: int = 0  # API answers with a state this version does not know (sampled, not stored)


class Progress:
    """One line per workflow on a terminal, redrawn as its runs are imported; plain lines otherwise."""

    def __init__(self, out: TextIO | None = None) -> None:
        # Resolved now, not at import: a default bound at import keeps whatever sys.stderr was then (in the tests, a
        # capture that is closed by the time a later test runs backfill).
        self._out = out or sys.stderr
        self._live = self._out.isatty()

    def update(self, workflow: str, done: int, total: int) -> None:
        if self._live:
            width = 30
            filled = width * done // max(total, 1)
            self._out.write(f"\r{workflow[:30]:30} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} runs")
            self._out.flush()

    def finish(self, workflow: str, total: int) -> None:
        if self._live:
            self._out.write("\n")
        else:
            self._out.write(f"{workflow}: {counted(total, 'run')}\n")


def backfill(
    api: MwaaApi,
    store: Transitions,
    *,
    workflow: str | None = None,
    since: datetime | None = None,
    publish: Callable[[list[MetricPoint]], int] | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    report: BackfillReport | None = None,
    places: Sequence[Place | None] = (None,),
    samples: SampleSink | None = None,
    policies: Policies = lambda _: SeriesPolicy(),
) -> BackfillReport:
    """Import the runs of each place's workflows (default: home; another account and region through its reader
    role, see MwaaApi); `samples` keeps the answers with a state this version does not know. The metrics each run
    owes are those its workflow's settings ask for (`policies`; default: what is abnormal, no run judged too slow)."""
    now = now or datetime.now(UTC)
    report = report or BackfillReport()
    unknown = Unknowns(UnknownStates(samples), report)
    for summary in (summary for place in places for summary in api.workflows(place)):
        name = summary.name
        if workflow is not None and name != workflow:
            continue
        report.workflows += 1
        arn = summary.arn
        # A run the API gives no time for counts as recent: it is imported.
        runs = [run for run in api.runs(arn) if since is None or run.created_at is None or run.created_at >= since]
        for done, run in enumerate(runs, start=1):
            owed = _import_run(api, store, arn, run.run_id, now=now, report=report, unknown=unknown, policies=policies)
            if publish is not None:
                report.metrics_published += publish(owed)
            if progress is not None:
                progress.update(name, done, len(runs))
        if progress is not None:
            progress.finish(name, len(runs))
    return report


class Unknowns:
    """The states this version does not know, noted (logged once, sampled) and counted in the report."""

    def __init__(self, states: UnknownStates, report: BackfillReport) -> None:
        self._states = states
        self._report = report
        self._sink = MetricSink()

    def run_known(self, state: str | None, operation: str, answer: object) -> bool:
        return self._counted(self._states.run_known(state, self._sink, operation, answer))

    def task_known(self, state: str | None, operation: str, answer: object) -> bool:
        return self._counted(self._states.task_known(state, self._sink, operation, answer))

    def _counted(self, known: bool) -> bool:
        self._report.unknown_states += not known
        return known


def _import_run(
    api: MwaaApi,
    store: Transitions,
    arn: str,
    run_id: str,
    *,
    now: datetime,
    report: BackfillReport,
    unknown: Unknowns,
    policies: Policies,
) -> list[MetricPoint]:
    answer = api.run(arn, run_id)
    if answer is None:
        return []
    report.runs += 1
    events = [run_event(arn, answer, now, state=RunState.STARTING)]
    for summary in api.tasks(arn, run_id):
        if summary.task_instance_id is None or summary.status in (None, TaskState.NONE):
            continue  # never scheduled
        if not unknown.task_known(summary.status, "ListTaskInstances", summary):
            continue
        found = api.task(arn, run_id, summary.task_instance_id)
        if found is not None and unknown.task_known(found.status, "GetTaskInstance", found):
            report.tasks += 1
            events.extend(task_history(arn, found, now))
    if answer.state != RunState.STARTING and unknown.run_known(answer.state, "GetWorkflowRun", answer):
        events.append(run_event(arn, answer, now))
    owed: list[MetricPoint] = []
    notices = NoNotices()
    for event in filter(None, events):
        sink = MetricSink()
        outcome = ingest_event(event, store, sink, notices, policies=policies)
        report.events += 1
        report.new += outcome is not None and outcome is not WriteOutcome.DUPLICATE
        at = parse_time(event["time"]) or now
        owed.extend(point if point.at else dataclasses.replace(point, at=at) for point in sink.points)
    return owed


def metric_publisher(
    cloudwatch: Any, namespace: str, now: datetime, report: BackfillReport
) -> Callable[[list[MetricPoint]], int]:
    """PutMetricData with each point's original timestamp; points older than CloudWatch takes are counted, not sent."""

    def publish(points: list[MetricPoint]) -> int:
        data = []
        for point in points:
            at = point.at or now  # every point _import_run returns has its event's time
            if at < now - CLOUDWATCH_PAST_LIMIT:
                report.metrics_too_old += 1
                continue
            for dimensions in dimension_sets(point.spec):
                datum: dict[str, Any] = {
                    "MetricName": point.spec.name,
                    "Timestamp": at,
                    "Value": point.value,
                    "Unit": point.spec.unit,
                }
                if dimensions and point.workflow is not None:
                    datum["Dimensions"] = [{"Name": WORKFLOW_DIMENSION, "Value": point.workflow}]
                elif dimensions:
                    continue
                data.append(datum)
        for chunk in _chunks(data, METRIC_DATA_PER_CALL):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
        return len(data)

    return publish


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
