"""Reconciliation: the stored state checked against the MWAA Serverless API, and repaired where they differ.

One pass (scheduled, every ReconcileIntervalMinutes):
1. Workflows: ListWorkflows. A workflow the table knows that the API no longer lists is marked deleted (its
   dedicated alarms and dashboard go after the retention, see provisioning); one that is new or changed since it
   was last read (ModifiedAt) has its metadata read again with GetWorkflow: schedule, trigger mode, log group.
2. Runs: every run listed as unverified since at least `settle` ago. A run stored as not final is asked for
   (GetWorkflowRun); if the API says it is still going, it stays listed for the next pass. Once the run is final,
   its task instances are compared with the stored attempts (ListTaskInstances), each that differs is read
   (GetTaskInstance) and repaired, then the run itself, and the run leaves the list.

A discovery pass (every DiscoveryIntervalMinutes) first lists each workflow's recent runs (ListWorkflowRuns, at
most DISCOVERY_PAGES pages, runs created in the last DISCOVERY_LOOKBACK and since the workflow was first seen) and
compares them with the runs stored (one Query of the workflow-runs index). A run no event brought, created at
least `settle` ago, is imported: its Started event rebuilt from the listing, then reconciled as above, so its final
state, metrics and notice are the ones its lost events owed. Each counts in RunsDiscovered. When, over
`events_stopped_after`, the API showed runs and no event brought any of them, the pass says so (EventsStopped): the
pipeline has stopped seeing events, which is not the same as a workflow being overdue.

Repairs are the events the service would have sent (mwaa_obs.api_events) fed through ingest, so a repaired run owes
exactly the metrics and the notice its missed events owed, and a repair that races a late event is a duplicate.
Tasks are repaired before their run so that the run's notice finds them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mwaa_obs import SERVICE
from mwaa_obs.api_events import run_event, task_history
from mwaa_obs.events import Place, place_of
from mwaa_obs.ingest import NoticeSink, ingest_event
from mwaa_obs.metrics import EVENTS_STOPPED, PLACES_UNREACHABLE, RUNS_DISCOVERED, RUNS_REPAIRED
from mwaa_obs.mwaa_api import MwaaApi, RunSummary, TaskAnswer, TaskSummary
from mwaa_obs.states import ENDED_RANK, TASK_RANK, TERMINAL_RANK, TERMINAL_RUN_STATES, RunState
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import RunItem, TaskAttemptItem, WorkflowItem
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)

# A pass lists at most this many workflows: one ListWorkflowRuns and one Query each, ~60 ms with the API's latency
# assumed at 50 ms, plus the workflow list, fits half the function's 240 s timeout (make bench, "scale": 2,000 of
# 10,000 took 127 s modeled). A larger fleet is listed in turns, one a UTC hour, every workflow within
# ceil(n / DISCOVERY_PER_PASS) hours, well inside DISCOVERY_LOOKBACK.
DISCOVERY_PER_PASS: Final = 1_800
DISCOVERY_LOOKBACK: Final = timedelta(hours=24)
DISCOVERY_PAGES: Final = 2  # 200 runs of one workflow within the lookback (a run every 7 minutes)
# A run's first event can be stamped a little before the API's CreatedOn (clocks): the stored runs are read from
# this much earlier than the listing's start.
STORED_MARGIN: Final = timedelta(hours=1)


@dataclass
class PassReport:
    workflows_read: int = 0
    workflows_deleted: int = 0
    runs_checked: int = 0
    runs_still_open: int = 0
    runs_repaired: int = 0
    tasks_repaired: int = 0
    runs_left: int = 0  # not reached before the deadline; the next pass takes them
    workflows_listed: int = 0  # discovery: workflows whose recent runs were listed
    workflows_left: int = 0  # discovery: not reached before the deadline
    runs_discovered: int = 0
    events_stopped: bool = False
    places_unreachable: list[str] = field(default_factory=list)  # other accounts/regions whose API failed


class Places:
    """Failure isolation per account and region in one pass: the first failure of another place's API (its reader
    role, its endpoint) is logged and counted, and that place is left alone until the next pass; the other places
    go on. A failure at home propagates, as in a single-account stack."""

    def __init__(self, home: Place | None, sink: MetricSink, report: PassReport) -> None:
        self._home = home
        self._sink = sink
        self._report = report
        self._failed: set[Place] = set()

    def call[T](self, arn_or_place: str | Place | None, work: Callable[[], T]) -> T | None:
        place = place_of(arn_or_place) if isinstance(arn_or_place, str) else arn_or_place
        if self._home is None or place is None or place == self._home:
            return work()
        if place in self._failed:
            return None
        try:
            return work()
        except (ClientError, BotoCoreError) as error:
            self._failed.add(place)
            self._report.places_unreachable.append(str(place))
            self._sink.count(PLACES_UNREACHABLE)
            logger.error(
                "account unreachable: its runs wait for the next pass",
                extra={"account": place.account, "region": place.region, "error": str(error)[:300]},
            )
            return None


@dataclass
class EventsWatch:
    """Over the settled runs the API showed within the events-stopped window: how many came by events."""

    since: datetime
    settled_before: datetime
    listed: int = 0
    by_events: int = 0

    def add(self, listed: Iterable[RunSummary], stored: dict[str, bool]) -> None:
        for summary in listed:
            if summary.created_at is not None and self.since <= summary.created_at <= self.settled_before:
                self.listed += 1
                self.by_events += stored.get(summary.run_id, False)

    @property
    def stopped(self) -> bool:
        return self.listed > 0 and self.by_events == 0


def missing_runs(listed: Iterable[RunSummary], stored: dict[str, bool], settled_before: datetime) -> list[RunSummary]:
    """The runs the API lists that the table does not hold, created long enough ago for their events to be in."""
    return [
        summary
        for summary in listed
        if summary.run_id not in stored and summary.created_at is not None and summary.created_at <= settled_before
    ]


def tasks_to_read(attempts: Iterable[TaskAttemptItem], summaries: Iterable[TaskSummary]) -> list[str]:
    """The task instances whose API status differs from the stored one (ListTaskInstances summaries)."""
    stored: dict[str, tuple[int, str | None]] = {}
    for attempt in attempts:
        key = attempt.task_instance_id or attempt.task_key
        if key not in stored or attempt.attempt > stored[key][0]:
            stored[key] = (attempt.attempt, attempt.status)
    unfinished = {
        attempt.task_instance_id or attempt.task_key
        for attempt in attempts
        if TASK_RANK.get(attempt.status or "", 0) < ENDED_RANK
    }
    differing = []
    for summary in summaries:
        instance, status = summary.task_instance_id, summary.status
        if not instance or status not in TASK_RANK:
            continue  # NONE and other states no event names: never scheduled, nothing to store
        if instance not in stored or stored[instance][1] != status or instance in unfinished:
            differing.append(instance)
    return differing


class Reconciler:
    def __init__(
        self,
        api: MwaaApi,
        transitions: Transitions,
        runs: Runs,
        workflows: Workflows,
        notices: NoticeSink,
        *,
        settle: timedelta,
        events_stopped_after: timedelta = timedelta(hours=3),
    ) -> None:
        self._api = api
        self._transitions = transitions
        self._runs = runs
        self._workflows = workflows
        self._notices = notices
        self._settle = settle
        self._events_stopped_after = events_stopped_after

    def run_pass(
        self,
        now: datetime,
        sink: MetricSink,
        out_of_time: Callable[[], bool] = lambda: False,
        *,
        discover: bool = False,
    ) -> PassReport:
        report = PassReport()
        places = Places(self._api.home, sink, report)
        self.refresh_workflows(now, report, places)
        if discover:
            self.discover(now, sink, report, out_of_time, places)
        pending = self._transitions.unverified_runs(listed_before=now - self._settle)
        for index, (workflow_id, run_id) in enumerate(pending):
            if out_of_time():
                report.runs_left = len(pending) - index
                break
            self.reconcile_run(workflow_id, run_id, now, sink, report, places=places)
        return report

    def refresh_workflows(self, now: datetime, report: PassReport, places: Places) -> None:
        """Each place's workflows (home, and every other place a workflow has been seen in) against the stored ones."""
        known_by_place: dict[Place | None, dict[str, WorkflowItem]] = {None: {}}  # None: home
        for item in self._workflows.all():
            if item.workflow_arn:
                known_by_place.setdefault(self._away(item.workflow_arn), {})[item.workflow_arn] = item
        for place, known in known_by_place.items():
            places.call(place, partial(self._refresh_place, place, known, now, report))

    def _away(self, arn: str) -> Place | None:
        """The place of a workflow other than home; None at home (or when the API knows a single place)."""
        place = place_of(arn)
        return None if self._api.home is None or place == self._api.home else place

    def _refresh_place(
        self, place: Place | None, known: dict[str, WorkflowItem], now: datetime, report: PassReport
    ) -> None:
        live = {summary.arn: summary for summary in self._api.workflows(place)}
        for arn, summary in live.items():
            item = known.get(arn)
            if item and item.described_at and item.deleted_at is None and item.modified_at == summary.modified_at:
                continue  # described since its last change
            found = self._api.workflow(arn)
            if found is not None:
                self._workflows.save_description(found, now)
                report.workflows_read += 1
        for arn, item in known.items():
            if arn not in live and item.deleted_at is None:
                self._workflows.mark_deleted(item, now)
                report.workflows_deleted += 1
                logger.info("workflow deleted", extra={"workflow": item.workflow_name, "workflow_arn": arn})

    def discover(
        self,
        now: datetime,
        sink: MetricSink,
        report: PassReport,
        out_of_time: Callable[[], bool],
        places: Places,
    ) -> None:
        """Import the runs the API shows and no event brought; say when no event brought any (events stopped), for
        each account and region apart: one place's forwarder failing is not hidden by the others' events."""
        watches: dict[Place | None, EventsWatch] = {}
        workflows = [item for item in self._workflows.all() if item.deleted_at is None and item.workflow_arn]
        workflows = discovery_turn(workflows, now)
        for index, workflow in enumerate(workflows):
            if out_of_time():
                report.workflows_left = len(workflows) - index
                break
            since = max(workflow.first_seen_at or now, now - DISCOVERY_LOOKBACK)
            arn = str(workflow.workflow_arn)
            recent = places.call(arn, partial(self._api.recent_runs, arn, since, DISCOVERY_PAGES))
            if recent is None:
                continue
            report.workflows_listed += 1
            if not recent.newest_first or not recent.complete:
                logger.warning(
                    "recent runs not fully listed",
                    extra={
                        "workflow": workflow.workflow_name,
                        "newest_first": recent.newest_first,
                        "runs_listed": len(recent.runs),
                        "pages": DISCOVERY_PAGES,
                    },
                )
            stored = self._runs.seen_since(workflow.workflow_id, since - STORED_MARGIN)
            watch = watches.setdefault(
                place_of(arn), EventsWatch(since=now - self._events_stopped_after, settled_before=now - self._settle)
            )
            watch.add(recent.runs, stored)
            for summary in missing_runs(recent.runs, stored, watch.settled_before):
                self._import_run(workflow, summary, now, sink=sink, report=report, places=places)
        stopped = {place: watch for place, watch in watches.items() if watch.stopped}
        if stopped:
            report.events_stopped = True
            sink.count(EVENTS_STOPPED)
        for place, watch in stopped.items():
            logger.error(
                "events stopped: the API shows runs that no event brought",
                extra={
                    "account": place.account if place else None,
                    "region": place.region if place else None,
                    "runs_listed": watch.listed,
                    "hours": self._events_stopped_after.total_seconds() / 3600,
                },
            )

    def _import_run(
        self,
        workflow: WorkflowItem,
        summary: RunSummary,
        now: datetime,
        *,
        sink: MetricSink,
        report: PassReport,
        places: Places,
    ) -> None:
        arn = str(workflow.workflow_arn)
        started = run_event(arn, summary.as_answer(), now, state=RunState.STARTING)
        if started is None or ingest_event(started, self._transitions, sink, self._notices) is None:
            return
        self._transitions.mark_discovered(workflow.workflow_id, summary.run_id, now)
        report.runs_discovered += 1
        sink.count(RUNS_DISCOVERED)
        logger.warning(
            "run discovered: no event brought it",
            extra={"workflow": workflow.workflow_name, "run_id": summary.run_id, "api": summary.status},
        )
        self.reconcile_run(workflow.workflow_id, summary.run_id, now, sink, report, discovered=True, places=places)

    def reconcile_run(
        self,
        workflow_id: str,
        run_id: str,
        now: datetime,
        sink: MetricSink,
        report: PassReport,
        *,
        discovered: bool = False,
        places: Places,
    ) -> None:
        """Check one run against the API and repair it (a discovered run is counted as discovered, not repaired).
        A run of a place whose API cannot be read stays unverified for the next pass."""
        run, attempts = self._runs.load(workflow_id, run_id)
        report.runs_checked += 1
        if run is None or not run.workflow_arn:
            self._transitions.mark_verified(workflow_id, run_id)
            return
        places.call(
            run.workflow_arn,
            partial(self._check_run, run, attempts, now, sink=sink, report=report, discovered=discovered),
        )

    def _check_run(
        self,
        run: RunItem,
        attempts: list[TaskAttemptItem],
        now: datetime,
        *,
        sink: MetricSink,
        report: PassReport,
        discovered: bool,
    ) -> None:
        workflow_id, run_id = run.workflow_id, run.run_id
        arn = str(run.workflow_arn)
        final = (run.status_rank or 0) >= TERMINAL_RANK
        answer = None
        if not final or run.seen_starting is None:
            answer = self._api.run(arn, run_id)
            if answer is None:
                logger.warning("run unknown to the API; no longer checked", extra={"run_id": run_id})
                self._transitions.mark_verified(workflow_id, run_id)
                return
            if answer.state not in TERMINAL_RUN_STATES:
                report.runs_still_open += 1
                return
        for instance in tasks_to_read(attempts, self._api.tasks(arn, run_id)):
            found = self._api.task(arn, run_id, instance)
            for event in self._task_events(arn, found, attempts, now) if found else []:
                ingest_event(event, self._transitions, sink, self._notices)
                report.tasks_repaired += 1
        if answer is not None:
            # Started first (it owes RunStarted), the final state last (it owes the outcome and the notice).
            missed = [run_event(arn, answer, now, state=RunState.STARTING)] if run.seen_starting is None else []
            missed += [run_event(arn, answer, now)] if not final else []
            for event in filter(None, missed):
                ingest_event(event, self._transitions, sink, self._notices)
            if not discovered:
                report.runs_repaired += 1
                sink.count(RUNS_REPAIRED)
                logger.info(
                    "run repaired from the API",
                    extra={"workflow": run.workflow_name, "run_id": run_id, "stored": run.status, "api": answer.state},
                )
        self._transitions.mark_verified(workflow_id, run_id)

    @staticmethod
    def _task_events(
        arn: str, found: TaskAnswer, attempts: list[TaskAttemptItem], now: datetime
    ) -> list[dict[str, Any]]:
        """The current attempt's event, after an Up For Retry for each earlier attempt stored as unfinished."""
        finished = {
            attempt.attempt
            for attempt in attempts
            if (attempt.task_instance_id or attempt.task_key) == found.task_instance_id
            and TASK_RANK.get(attempt.status or "", 0) >= ENDED_RANK
        }
        history = task_history(arn, found, now)
        return [event for event in history[:-1] if event["detail"]["attemptNumber"] not in finished] + history[-1:]


def discovery_turn(workflows: list[WorkflowItem], now: datetime) -> list[WorkflowItem]:
    """The workflows this pass lists: all of a fleet that fits a pass; else every k-th one (k = the turns needed),
    starting at the turn of the pass's UTC hour, so that the turns of k consecutive hours cover the fleet."""
    turns = max(1, math.ceil(len(workflows) / DISCOVERY_PER_PASS))
    return workflows[int(now.timestamp()) // 3600 % turns :: turns]
