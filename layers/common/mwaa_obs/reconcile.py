"""Reconciliation: the stored state checked against the MWAA Serverless API, and repaired where they differ.

One pass (scheduled, every ReconcileIntervalMinutes):
1. Workflows: ListWorkflows. A workflow the table knows that the API no longer lists is marked deleted (its
   dedicated alarms and dashboard go after the retention, see provisioning); one that is new or changed since it
   was last read (ModifiedAt) has its metadata read again with GetWorkflow: schedule, trigger mode, log group.
2. Runs: every run listed as unverified since at least `settle` ago. A run stored as not final is asked for
   (GetWorkflowRun); if the API says it is still going, it stays listed for the next pass. Once the run is final,
   its task instances are compared with the stored attempts (ListTaskInstances), each that differs is read
   (GetTaskInstance) and repaired, then the run itself, and the run leaves the list.

Repairs are the events the service would have sent (mwaa_obs.api_events) fed through ingest, so a repaired run owes
exactly the metrics and the notice its missed events owed, and a repair that races a late event is a duplicate.
Tasks are repaired before their run so that the run's notice finds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.api_events import run_event, task_history
from mwaa_obs.ingest import NoticeSink, ingest_event
from mwaa_obs.metrics import RUNS_REPAIRED
from mwaa_obs.mwaa_api import MwaaApi, TaskAnswer, TaskSummary
from mwaa_obs.states import ENDED_RANK, TASK_RANK, TERMINAL_RANK, TERMINAL_RUN_STATES, RunState
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import TaskAttemptItem
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)


@dataclass
class PassReport:
    workflows_read: int = 0
    workflows_deleted: int = 0
    runs_checked: int = 0
    runs_still_open: int = 0
    runs_repaired: int = 0
    tasks_repaired: int = 0
    runs_left: int = 0  # not reached before the deadline; the next pass takes them


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
    ) -> None:
        self._api = api
        self._transitions = transitions
        self._runs = runs
        self._workflows = workflows
        self._notices = notices
        self._settle = settle

    def run_pass(self, now: datetime, sink: MetricSink, out_of_time: Callable[[], bool] = lambda: False) -> PassReport:
        report = PassReport()
        self.refresh_workflows(now, report)
        pending = self._transitions.unverified_runs(listed_before=now - self._settle)
        for index, (workflow_id, run_id) in enumerate(pending):
            if out_of_time():
                report.runs_left = len(pending) - index
                break
            self.reconcile_run(workflow_id, run_id, now, sink, report)
        return report

    def refresh_workflows(self, now: datetime, report: PassReport) -> None:
        live = {summary.arn: summary for summary in self._api.workflows()}
        known = {item.workflow_arn: item for item in self._workflows.all() if item.workflow_arn}
        for arn, summary in live.items():
            item = known.get(arn)
            if item is not None and item.deleted_at is None and item.modified_at == summary.modified_at:
                continue
            found = self._api.workflow(arn)
            if found is not None:
                self._workflows.save_description(found, first_seen=now)
                report.workflows_read += 1
        for arn, item in known.items():
            if arn not in live and item.deleted_at is None:
                self._workflows.mark_deleted(item, now)
                report.workflows_deleted += 1
                logger.info("workflow deleted", extra={"workflow": item.workflow_name, "workflow_arn": arn})

    def reconcile_run(self, workflow_id: str, run_id: str, now: datetime, sink: MetricSink, report: PassReport) -> None:
        run, attempts = self._runs.load(workflow_id, run_id)
        report.runs_checked += 1
        if run is None or not run.workflow_arn:
            self._transitions.mark_verified(workflow_id, run_id)
            return
        arn = run.workflow_arn
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
