"""Reconciliation: the stored state checked against the MWAA Serverless API, and repaired where they differ.

One pass (scheduled, every ReconcileIntervalMinutes):
1. Workflows: ListWorkflows. A workflow the table knows that the API no longer lists is marked deleted (its
   dedicated alarms and dashboard go after the retention, see provisioning); one that is new or changed since it
   was last read (ModifiedAt) has its metadata read again with GetWorkflow: schedule, trigger mode, log group.
2. Runs: every run listed as unverified since at least `settle` ago. A run stored as not final is asked for
   (GetWorkflowRun); if the API says it is still going, it stays listed for the next pass (stored where the API
   says it is when the table is behind: a discovered run that is STOPPING shows STOPPING). Once the run is final,
   its task instances are compared with the stored attempts (ListTaskInstances), each that differs is read
   (GetTaskInstance) and repaired (mwaa_obs.repairs: every state, terminal or not), then the run itself, and the
   run leaves the list. A run whose attempts are not all ended stays listed until they are, for `settle` after the
   run's end; then the ones still open are closed at the run's end (CANCELLED, AttemptsClosed): no attempt stays
   open after its run.

A discovery pass (every DiscoveryIntervalMinutes) first lists each workflow's recent runs (ListWorkflowRuns, at
most DISCOVERY_PAGES pages, runs created in the last DISCOVERY_LOOKBACK and since the workflow was first seen) and
compares them with the runs stored (one Query of the workflow-runs index). A run no event brought, created at
least `settle` ago, is imported: its Started event rebuilt from the listing, then reconciled as above, so its final
state, metrics and notice are the ones its lost events owed. Each counts in RunsDiscovered. When, over
`events_stopped_after`, the API showed runs and no event brought any of them, the pass says so (EventsStopped): the
pipeline has stopped seeing events, which is not the same as a workflow being overdue.

Repairs are the events the service would have sent (mwaa_obs.api_events) fed through ingest, so a repaired run owes
exactly the metrics and the notice its missed events owed, and a repair that races a late event is a duplicate.
Tasks are repaired before their run so that the run's notice finds them. A state the API answers that this version
does not know is logged, counted and sampled (UnknownStates), never stored; one workflow or run the pass cannot
handle is logged, counted and skipped (mwaa_obs.isolation), never the end of the pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Final

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.api_events import run_event
from mwaa_obs.events import Place, place_of
from mwaa_obs.ingest import NoticeSink, SampleSink, ingest_event
from mwaa_obs.metrics import EVENTS_STOPPED, RUNS_DISCOVERED, Policies
from mwaa_obs.mwaa_api import MwaaApi, RunSummary
from mwaa_obs.passes import Pass, PassReport, Places
from mwaa_obs.repairs import UnknownStates
from mwaa_obs.run_check import RunCheck
from mwaa_obs.states import RunState
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import WorkflowItem
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.telemetry import MetricSink

__all__ = ["Pass", "PassReport", "Places", "Reconciler"]  # the pass's parts, as the tests and the bench use them

# Versions read a pass for one workflow: a workflow with more versions missing gets the rest once it changes again.
VERSIONS_READ = 10
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
        policies: Policies,
        events_stopped_after: timedelta = timedelta(hours=3),
        samples: SampleSink | None = None,
    ) -> None:
        self._api = api
        self._policies = policies
        self._transitions = transitions
        self._runs = runs
        self._workflows = workflows
        self._notices = notices
        self._settle = settle
        self._events_stopped_after = events_stopped_after
        self._unknown = UnknownStates(samples)  # for the function instance's life: each state logged once
        self._check = RunCheck(api, transitions, runs, notices, self._unknown, settle=settle, policies=policies)

    def run_pass(
        self,
        now: datetime,
        sink: MetricSink,
        out_of_time: Callable[[], bool] = lambda: False,
        *,
        discover: bool = False,
    ) -> PassReport:
        step = Pass.begin(now, sink, self._api.home)
        workflows = self.refresh_workflows(step)
        if discover:
            self.discover(step, out_of_time, workflows)
        pending = self._transitions.unverified_runs(listed_before=now - self._settle)
        for index, (workflow_id, run_id) in enumerate(pending):
            if out_of_time():
                step.report.runs_left = len(pending) - index
                break
            what = {"workflow_id": workflow_id, "run_id": run_id}
            step.items.run(what, partial(self.reconcile_run, workflow_id, run_id, step))
        step.report.items_skipped = step.items.skipped
        return step.report

    def refresh_workflows(self, step: Pass) -> list[WorkflowItem]:
        """Each place's workflows (home, and every other place a workflow has been seen in) against the stored ones;
        returns them as the refresh left them (new ones in, deleted ones marked): the pass reads the list once."""
        stored = self._workflows.all()
        known_by_place: dict[Place | None, dict[str, WorkflowItem]] = {None: {}}  # None: home
        for item in stored:
            if item.workflow_arn:
                known_by_place.setdefault(self._away(item.workflow_arn), {})[item.workflow_arn] = item
        for place, known in known_by_place.items():
            step.places.call(place, partial(self._refresh_place, place, known, step))
        return [item for known in known_by_place.values() for item in known.values()] + [
            item for item in stored if not item.workflow_arn
        ]

    def _away(self, arn: str) -> Place | None:
        """The place of a workflow other than home; None at home (or when the API knows a single place)."""
        place = place_of(arn)
        return None if self._api.home is None or place == self._api.home else place

    def _refresh_place(self, place: Place | None, known: dict[str, WorkflowItem], step: Pass) -> None:
        live = {summary.arn: summary for summary in self._api.workflows(place)}
        for arn, summary in live.items():
            item = known.get(arn)
            if (
                item
                and item.described_at
                and item.deleted_at is None
                and item.modified_at == summary.modified_at
                and item.workflow_version is not None  # its version's graph stored (items described before had none)
            ):
                continue  # described since its last change
            step.items.run({"workflow_arn": arn}, partial(self._describe, arn, known, step))
        for arn, item in list(known.items()):
            if arn not in live and item.deleted_at is None:
                self._workflows.mark_deleted(item, step.now)
                step.report.workflows_deleted += 1
                logger.info("workflow deleted", extra={"workflow": item.workflow_name, "workflow_arn": arn})

    def _describe(self, arn: str, known: dict[str, WorkflowItem], step: Pass) -> None:
        found = self._api.workflow(arn)
        if found is not None:
            saved = self._workflows.save_description(found, step.now)
            step.report.workflows_read += 1
            if arn in known:  # as stored, with what the description changed
                for name in (
                    "described_at",
                    "schedule",
                    "trigger_mode",
                    "log_group",
                    "workflow_status",
                    "modified_at",
                    "workflow_version",
                ):
                    setattr(known[arn], name, getattr(saved, name))
                known[arn].deleted_at = None
            else:
                known[arn] = saved
            self._read_versions(arn, found.version, step)

    def _read_versions(self, arn: str, latest: str | None, step: Pass) -> None:
        """The graph of each version the workflow has and the table lacks (one replaced between two passes, or made
        before the graph was stored), up to VERSIONS_READ of them a pass: each read once, as versions never change."""
        workflow_id = self._workflows.workflow_id(arn)
        stored = self._workflows.stored_versions(workflow_id) | {latest}
        missing = [version for version in self._api.versions(arn) if version not in stored][:VERSIONS_READ]
        for version in missing:
            found = self._api.workflow(arn, version)
            if found is not None and found.version == version:
                self._workflows.save_version(workflow_id, found, step.now)

    def discover(self, step: Pass, out_of_time: Callable[[], bool], listed: list[WorkflowItem]) -> None:
        """Import the runs the API shows and no event brought; say when no event brought any (events stopped), for
        each account and region apart: one place's forwarder failing is not hidden by the others' events. `listed`:
        the workflows as the pass's refresh left them."""
        watches: dict[Place | None, EventsWatch] = {}
        workflows = sorted(
            (item for item in listed if item.deleted_at is None and item.workflow_arn),
            key=lambda item: item.gsi1sk or "",
        )
        workflows = discovery_turn(workflows, step.now)
        for index, workflow in enumerate(workflows):
            if out_of_time():
                step.report.workflows_left = len(workflows) - index
                break
            what = {"workflow": workflow.workflow_name, "workflow_arn": workflow.workflow_arn}
            step.items.run(what, partial(self._discover_workflow, workflow, watches, step))
        stopped = {place: watch for place, watch in watches.items() if watch.stopped}
        if stopped:
            step.report.events_stopped = True
            step.sink.count(EVENTS_STOPPED)
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

    def _discover_workflow(self, workflow: WorkflowItem, watches: dict[Place | None, EventsWatch], step: Pass) -> None:
        now = step.now
        since = max(workflow.first_seen_at or now, now - DISCOVERY_LOOKBACK)
        arn = str(workflow.workflow_arn)
        recent = step.places.call(arn, partial(self._api.recent_runs, arn, since, DISCOVERY_PAGES))
        if recent is None:
            return
        step.report.workflows_listed += 1
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
            what = {"workflow": workflow.workflow_name, "run_id": summary.run_id}
            step.items.run(what, partial(self._import_run, workflow, summary, step))

    def _import_run(self, workflow: WorkflowItem, summary: RunSummary, step: Pass) -> None:
        arn = str(workflow.workflow_arn)
        if summary.status is not None:
            self._unknown.run_known(summary.status, step.sink, "ListWorkflowRuns", summary)
        started = run_event(arn, summary.as_answer(), step.now, state=RunState.STARTING)
        if (
            started is None
            or ingest_event(started, self._transitions, step.sink, self._notices, policies=self._policies) is None
        ):
            return
        self._transitions.mark_discovered(workflow.workflow_id, summary.run_id, step.now)
        step.report.runs_discovered += 1
        step.sink.count(RUNS_DISCOVERED)
        logger.warning(
            "run discovered: no event brought it",
            extra={"workflow": workflow.workflow_name, "run_id": summary.run_id, "api": summary.status},
        )
        self.reconcile_run(workflow.workflow_id, summary.run_id, step, discovered=True)

    def reconcile_run(self, workflow_id: str, run_id: str, step: Pass, *, discovered: bool = False) -> None:
        """Check one run against the API and repair it (a discovered run is counted as discovered, not repaired).
        A run of a place whose API cannot be read stays unverified for the next pass."""
        run, attempts = self._runs.load(workflow_id, run_id)
        step.report.runs_checked += 1
        if run is None or not run.workflow_arn:
            self._transitions.mark_verified(workflow_id, run_id)
            return
        step.places.call(run.workflow_arn, partial(self._check.check, run, attempts, step, discovered=discovered))


def discovery_turn(workflows: list[WorkflowItem], now: datetime) -> list[WorkflowItem]:
    """The workflows this pass lists: all of a fleet that fits a pass; else every k-th one (k = the turns needed),
    starting at the turn of the pass's UTC hour, so that the turns of k consecutive hours cover the fleet."""
    turns = max(1, math.ceil(len(workflows) / DISCOVERY_PER_PASS))
    return workflows[int(now.timestamp()) // 3600 % turns :: turns]
