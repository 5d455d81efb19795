"""One run checked against the MWAA Serverless API and repaired (the reconciler's second step, see reconcile.py).

A run the API says is still going stays listed (stored where the API says it is when the table is behind). A
finished one has its task instances compared and repaired (mwaa_obs.repairs), its attempts left open waited for
up to `settle` after the run's end and then closed, and its own missed events rebuilt. A run the API no longer has
was stopped by a deletion.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.api_events import closing_event, run_event
from mwaa_obs.ingest import NoticeSink, ingest_event
from mwaa_obs.metrics import ATTEMPTS_CLOSED, RUNS_REPAIRED, Policies
from mwaa_obs.mwaa_api import MwaaApi, RunAnswer
from mwaa_obs.passes import Pass
from mwaa_obs.repairs import (
    Repair,
    UnknownStates,
    WithoutRetries,
    folds,
    is_open,
    last_seen,
    left_open,
    repairs_for,
    run_end,
    tasks_to_read,
)
from mwaa_obs.states import RUN_RANK, TERMINAL_RANK, TERMINAL_RUN_STATES, RunState
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import RunItem, TaskAttemptItem
from mwaa_obs.store.transitions import Transitions

logger = Logger(service=SERVICE, child=True)


class RunCheck:
    def __init__(
        self,
        api: MwaaApi,
        transitions: Transitions,
        runs: Runs,
        notices: NoticeSink,
        unknown: UnknownStates,
        *,
        settle: timedelta,
        policies: Policies,
    ) -> None:
        self._api = api
        self._policies = policies
        self._transitions = transitions
        self._runs = runs
        self._notices = notices
        self._task_notices = WithoutRetries(notices)  # a finished run's repairs
        self._unknown = unknown
        self._settle = settle

    def check(self, run: RunItem, attempts: list[TaskAttemptItem], step: Pass, *, discovered: bool) -> None:
        workflow_id, run_id = run.workflow_id, run.run_id
        arn = str(run.workflow_arn)
        final = (run.status_rank or 0) >= TERMINAL_RANK
        answer = None
        if not final or run.seen_starting is None:
            answer = self._api.run(arn, run_id)
            if answer is None:
                self._forgotten(run, attempts, step)
                return
            known = self._unknown.run_known(answer.state, step.sink, "GetWorkflowRun", answer)
            if not known or answer.state not in TERMINAL_RUN_STATES:
                if known and RUN_RANK[str(answer.state)] > (run.status_rank or 0):
                    # The table is behind (lost events, a discovered run): it shows where the run is, STOPPING
                    # included, not where its last event left it
                    self._ingest_run_events(arn, run, answer, step, current=True)
                step.report.runs_still_open += 1
                return
        repaired, links = self._repair_tasks(arn, run_id, attempts, step)
        if repaired or folds(attempts, links):
            attempts = self._folded(run, step, links)  # as the repairs left them, one item per attempt
        ended = run_end(run, answer.ended_at if answer else None) or step.now
        waiting = left_open(attempts, links)
        if waiting and step.now >= ended + self._settle:
            self._close_open_attempts(run, ended, step)
        if answer is not None:
            self._ingest_run_events(arn, run, answer, step, current=not final)
            if not discovered:
                step.report.runs_repaired += 1
                step.sink.count(RUNS_REPAIRED)
                logger.info(
                    "run repaired from the API",
                    extra={"workflow": run.workflow_name, "run_id": run_id, "stored": run.status, "api": answer.state},
                )
        # Listed a while more: its attempts get the settle time to end in the API too, and a copy that a write moved
        # while it was being folded is folded by the next pass
        if (waiting and step.now < ended + self._settle) or folds(attempts, links):
            step.report.runs_waiting += 1
            return
        self._transitions.mark_verified(workflow_id, run_id)

    def _forgotten(self, run: RunItem, attempts: list[TaskAttemptItem], step: Pass) -> None:
        """A run the API no longer has. The one way the API documents for a run to go is a deletion: DeleteWorkflow
        (of the workflow, or of the run's version) "including stopping any running executions ... and cleaning up
        execution history". A run not stored as ended is stored STOPPED at the last time anything of it was seen (no
        later time is known to have seen it running); its open attempts are CANCELLED at the run's end, and its
        missed Started event is given the first time it was seen."""
        if folds(attempts):
            attempts = self._folded(run, step)
        last = last_seen(run, attempts)
        if last is not None:
            final = (run.status_rank or 0) >= TERMINAL_RANK
            ended = (run.ended_at if final else None) or last
            if any(is_open(attempt.status) for attempt in attempts):
                self._close_open_attempts(run, ended, step)
            answer = RunAnswer(
                run.run_id,
                run.status if final else RunState.STOPPED,
                run_type=run.run_type,
                workflow_version=run.workflow_version,
                created_at=min(run.seen().values(), default=None),
                started_at=run.started_at,
                ended_at=ended,
            )
            self._ingest_run_events(str(run.workflow_arn), run, answer, step, current=not final)
        logger.warning(
            "run gone from the API (its workflow or version deleted): stored as ended, no longer checked",
            extra={"workflow": run.workflow_name, "run_id": run.run_id, "stored": run.status},
        )
        self._transitions.mark_verified(run.workflow_id, run.run_id)

    def _ingest_run_events(self, arn: str, run: RunItem, answer: RunAnswer, step: Pass, *, current: bool) -> None:
        """The run's missed Started (it owes RunStarted) first, then its `current` state (a final one owes the
        outcome and the notice)."""
        missed = [run_event(arn, answer, step.now, state=RunState.STARTING)] if run.seen_starting is None else []
        missed += [run_event(arn, answer, step.now)] if current else []
        for event in filter(None, missed):
            ingest_event(event, self._transitions, step.sink, self._notices, policies=self._policies)

    def _folded(self, run: RunItem, step: Pass, links: dict[str, str] | None = None) -> list[TaskAttemptItem]:
        """The run's attempts read again, each stored as more than one item folded into one (mwaa_obs.repairs;
        `links`: instance id -> task id, as the API answered)."""
        _, attempts = self._runs.load(run.workflow_id, run.run_id)
        found = folds(attempts, links)
        for fold in found:
            gone = self._transitions.fold(fold.copy, fold.into)
            step.report.attempts_folded += gone
            logger.warning(
                "one task attempt stored as two items: folded into one" if gone else "attempt copy moved: left",
                extra={
                    "workflow": run.workflow_name,
                    "run_id": run.run_id,
                    "item": fold.copy.sk,
                    "into": fold.into.sk,
                    "stored": fold.copy.status,
                    "attempt_status": fold.into.status,
                },
            )
        return self._runs.load(run.workflow_id, run.run_id)[1] if found else attempts

    def _repair_tasks(
        self, arn: str, run_id: str, attempts: list[TaskAttemptItem], step: Pass
    ) -> tuple[list[Repair], dict[str, str]]:
        """Each task instance that differs, read and stored in its API state; returns the repairs made, and the task
        id of each instance read (what links an item that only instance ids named to its attempt)."""
        reads = tasks_to_read(attempts, self._api.tasks(arn, run_id))
        for summary in reads.unknown:
            self._unknown.task_known(summary.status, step.sink, "ListTaskInstances", summary)
        repaired, links = [], {}
        for instance in reads.instances:
            found = self._api.task(arn, run_id, instance)
            if found is not None and found.task_id:
                links[instance] = found.task_id
            if found is None or not self._unknown.task_known(found.status, step.sink, "GetTaskInstance", found):
                continue
            for repair in repairs_for(arn, found, attempts, step.now):
                ingest_event(repair.event, self._transitions, step.sink, self._task_notices, policies=self._policies)
                step.report.tasks_repaired += 1
                repaired.append(repair)
        return repaired, links

    def _close_open_attempts(self, run: RunItem, ended: datetime, step: Pass) -> None:
        """The attempts still unfinished a settle time after their run ended, closed at the run's end."""
        _, attempts = self._runs.load(run.workflow_id, run.run_id)
        for attempt in attempts:
            if not is_open(attempt.status):
                continue
            at = max(ended, attempt.started_at or ended)
            closing = closing_event(str(run.workflow_arn), attempt, at)
            ingest_event(closing, self._transitions, step.sink, self._task_notices, policies=self._policies)
            step.report.attempts_closed += 1
            step.sink.count(ATTEMPTS_CLOSED)
            logger.warning(
                "attempt closed with its run: the API gave it no end",
                extra={
                    "workflow": run.workflow_name,
                    "run_id": run.run_id,
                    "task": attempt.task_id or attempt.task_key,
                    "attempt": attempt.attempt,
                    "stored": attempt.status,
                },
            )
