"""Notify logic: one notice in, at most one message per channel out, whatever the duplicates and the order.

For a run's notice, the run (with all its task attempts) is read, and the workflow's recent history; the decision
(mwaa_obs.alerting, by end time) is recorded on the run together with a mark on each failure its message names
and the workflow's new health, in one transaction that fails if another notifier got there first (then it decides
again). Failures held by storm control come back as a delayed flush notice, which names them in one summary. The
message a decision owes is composed here and delivered by mwaa_obs.delivery: under the lead's delivery lease (taken
with the decision), to each channel not yet marked on the lead. A channel that took the message without its taking
being known (a crash before the mark, an answer lost) is the one case that sends a message twice
(docs/NOTIFICATIONS.md); nothing is ever dropped: a notice that cannot be delivered is retried and ends in the
notices DLQ.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from mwaa_obs import DEFAULT_STACK_NAME, SERVICE
from mwaa_obs.alerting import (
    AlertKind,
    Decision,
    Health,
    Outcome,
    Plan,
    closes_nothing,
    decide_failure,
    decide_flush,
    decide_quiet,
    decide_success,
    held_for_account,
    incident_figures,
    incident_of,
)
from mwaa_obs.changes import change_note_for
from mwaa_obs.delivery import Courier, Delivery
from mwaa_obs.enrich import Enricher
from mwaa_obs.events import PLACE_SEPARATOR
from mwaa_obs.failures import failed_tasks, task_name
from mwaa_obs.ingest import UNSUCCESSFUL, NoticeSink
from mwaa_obs.messages.content import attempt_log, build_alert
from mwaa_obs.messages.masking import mask_secrets
from mwaa_obs.messages.model import Alert, NamedRun
from mwaa_obs.metrics import ALERTS_GROUPED, INVALID_NOTICES, NOTIFICATIONS_DEAD_LETTERED
from mwaa_obs.notices import InvalidNotice, Notice
from mwaa_obs.settings import Route, SettingsSource
from mwaa_obs.sqs import PartialBatchResponse, process_partial_batch
from mwaa_obs.states import (
    FAILED_RUN_STATES,
    TERMINAL_RANK,
    RunState,
    seen_attribute,
)
from mwaa_obs.store.alerts import (
    AccountBudget,
    Alerts,
    AlreadyDecided,
    DecisionConflict,
    Lease,
    OverBudget,
    account_budget,
    decision_of,
)
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import RunItem, StateItem, TaskAttemptItem
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)

DECISION_ATTEMPTS = 5
EPOCH = datetime.fromtimestamp(0, UTC)  # "no unsuccessful end" as the workflow item keeps it
MIN_FLUSH_WINDOW = timedelta(seconds=1)
HISTORY_RUNS = 100  # a decision weighs the workflow's last runs: an incident longer than that is counted from there


@dataclass
class Notifier:
    runs: Runs
    alerts: Alerts
    workflows: Workflows
    settings: SettingsSource
    courier: Courier  # delivers the messages decided here
    notices: NoticeSink  # where the notifier sends itself delayed flush notices
    stack_name: str = DEFAULT_STACK_NAME
    enricher: Enricher | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Central mode: failure and summary messages a source account may have in a UTC hour (the stack's own account
    # and region have no bound); its failures beyond them wait, held, for a summary in a later hour (None: no bound)
    account_alerts_per_hour: int | None = None

    def handle(self, body: str, sink: MetricSink, remaining: Callable[[], float] | None = None) -> None:
        """Decide and deliver the message one notice owes; the metrics it owes go to the sink. `remaining`: the
        seconds left to the invocation (Lambda's context), which bound its lease and its Slack deadline."""
        delivery = self.courier.start(remaining)
        try:
            notice = Notice.from_body(body)
        except InvalidNotice as error:
            logger.warning("invalid notice dropped", extra={"reason": str(error), "body_prefix": body[:200]})
            sink.count(INVALID_NOTICES)
            return
        run, attempts = self.runs.load(notice.workflow_id, notice.run_id)
        item: StateItem | None = run if notice.kind != "retry" else _attempt(attempts, notice)
        if run is None or item is None:
            # Only possible when the item expired (TTL) or was deleted before the notice came due.
            logger.warning("notice names nothing stored; dropped", extra={"notice": body[:200]})
            sink.count(INVALID_NOTICES)
            return
        if notice.kind == "flush":
            self._flush(run, sink, delivery)
            return
        if self.enricher is not None:
            self.enricher.complete(run, [run, *attempts] if item is run else [item], sink)
        route = self.settings.get(sink).route_for(run.workflow_name)
        decided = decision_of(item)
        decision, history = (
            (decided, None) if decided is not None else self._decide(item, run, route, sink, delivery.lease)
        )
        if decision is None:
            return
        fields = {"workflow": run.workflow_name, "run_id": run.run_id, "alert": decision.kind.value}
        if not decision.kind.sends or not route.alerts:
            logger.info("no message owed", extra=fields)
            return
        if self._send(item, run, attempts, decision, route=route, sink=sink, delivery=delivery, history=history):
            logger.info("message delivered", extra=fields)

    def _decide(
        self, item: StateItem, run: RunItem, route: Route, sink: MetricSink, lease: Lease
    ) -> tuple[Decision | None, dict[str, RunItem] | None]:
        """The decision, with the history it was made from (the names it wrote applied), when it read one. A
        decision that sends takes the delivery lease with it (when the workflow's messages are on)."""
        lease_if_sent = lease if route.alerts else None
        if isinstance(item, TaskAttemptItem):
            # NONE is recorded too: it tells ingest that duplicates of this event owe no further notice.
            kind = AlertKind.RETRY if route.retry_alerts else AlertKind.NONE
            return self._save(item, Decision(kind, self.clock()), lease_if_sent), None
        if run.status_rank is None or run.status_rank < TERMINAL_RANK:
            logger.warning("run notice before a final state; ignored", extra={"run_id": run.run_id})
            return None, None
        failing = _counts_as_failure(run, route)
        if not failing and run.status != RunState.SUCCESS:
            return self._save(run, decide_quiet(self.clock()), None), None
        over_budget = False
        for _ in range(DECISION_ATTEMPTS):
            now = self.clock()
            health, version, failed_through = self.alerts.health_of(run.workflow_id)
            history = self._history_for(run, failing, health, failed_through)
            decide = decide_failure if failing else decide_success
            plan = decide(_outcomes(history, route, now), run.run_id, health, now, route.group_window)
            budget = self._budget(run.workflow_id, plan, now)
            if budget is not None and over_budget:
                plan, budget = held_for_account(plan, run.run_id, health, budget.resets_at), None
                logger.info("account over its alert bound; failure held", extra=_held_fields(run, plan))
            try:
                self.alerts.save_plan(
                    run.workflow_id, plan, version, item=run, lead=run.run_id, lease=lease_if_sent, budget=budget
                )
            except OverBudget:
                over_budget = True
                continue
            except DecisionConflict:
                logger.info("workflow health changed meanwhile; deciding again", extra={"run_id": run.run_id})
                run = self.runs.reread(run)
                continue
            except AlreadyDecided:
                return self._decided_by_other(run), None
            if plan.decision.kind is AlertKind.SUPPRESSED:  # counted by the delivery that decided it, only
                sink.count(ALERTS_GROUPED, run.workflow_name)
            self._schedule_flush(run.workflow_id, plan, now)
            return plan.decision, _named(history, plan, run.run_id)
        raise DecisionConflict(f"health of {run.workflow_id} kept changing; the notice will be retried")

    def _flush(self, anchor: RunItem, sink: MetricSink, delivery: Delivery) -> None:
        """A flush notice: the summary message the anchor leads, decided now if the grouping window is over."""
        route = self.settings.get(sink).route_for(anchor.workflow_name)
        history: dict[str, RunItem] | None = None
        for _ in range(DECISION_ATTEMPTS):
            if anchor.named_in is not None:
                if not _leads_summary(anchor):
                    return  # named by another message meanwhile
                break  # decided before: deliver what a channel may still lack
            now = self.clock()
            health, version = self.alerts.health(anchor.workflow_id)
            history = self._history(anchor)
            # at least a moment: failures held for their account's bound are flushed with grouping off too
            window = max(route.group_window, MIN_FLUSH_WINDOW)
            plan = decide_flush(_outcomes(history, route, now), anchor.run_id, health, now, window)
            if plan.decision.kind is AlertKind.NONE:
                self._schedule_flush(anchor.workflow_id, plan, now)
                return
            budget = self._budget(anchor.workflow_id, plan, now)
            try:
                self.alerts.save_plan(anchor.workflow_id, plan, version, item=None, lead=anchor.run_id, budget=budget)
            except OverBudget as refused:
                self._schedule_flush(anchor.workflow_id, replace(plan, flush=(anchor.run_id, refused.resets_at)), now)
                logger.info("account over its alert bound; summary waits", extra=_held_fields(anchor, plan))
                return
            except DecisionConflict:
                anchor = self.runs.reread(anchor)
                continue
            self._schedule_flush(anchor.workflow_id, plan, now)
            history = _named(history, plan, anchor.run_id)
            break
        else:
            raise DecisionConflict(f"health of {anchor.workflow_id} kept changing; the flush will be retried")
        if route.alerts:
            _, attempts = self.runs.load(anchor.workflow_id, anchor.run_id)
            summary = Decision(AlertKind.SUMMARY, self.clock())
            sent = self._send(
                anchor, anchor, attempts, summary, route=route, sink=sink, delivery=delivery, history=history
            )
            if sent:
                logger.info("summary delivered", extra={"workflow": anchor.workflow_name, "run_id": anchor.run_id})

    def _history_for(
        self, run: RunItem, failing: bool, health: Health, failed_through: datetime | None
    ) -> dict[str, RunItem]:
        """What a decision reads: none of the history for a success that surely closes nothing (most of them: a
        healthy workflow's), else the workflow's recent runs; from the first history read, the workflow item keeps
        the latest unsuccessful end (ingest raises it from there)."""
        if not failing and closes_nothing(run.ended_at, health, failed_through):
            return {run.run_id: run}
        history = self._history(run)
        if failed_through is None:
            ends = [found.ended_at for found in history.values() if found.status in UNSUCCESSFUL and found.ended_at]
            self.alerts.keep_failed_through(run.workflow_id, max(ends, default=EPOCH))
        return history

    def _history(self, run: RunItem) -> dict[str, RunItem]:
        """The workflow's recent runs by run id, with `run` as read consistently."""
        recent = {found.run_id: found for found in self.runs.recent(run.workflow_id, limit=HISTORY_RUNS)}
        return recent | {run.run_id: run}

    def _budget(self, workflow_id: str, plan: Plan, now: datetime) -> AccountBudget | None:
        """The account slot a failure or summary message of another account's workflow takes (central mode)."""
        bounded = plan.decision.kind in (AlertKind.FAILURE, AlertKind.SUMMARY)
        if self.account_alerts_per_hour is None or not bounded or PLACE_SEPARATOR not in workflow_id:
            return None
        return account_budget(workflow_id.split(PLACE_SEPARATOR, 1)[0], now, self.account_alerts_per_hour)

    def _schedule_flush(self, workflow_id: str, plan: Plan, now: datetime) -> None:
        if plan.flush is not None:
            anchor, due = plan.flush
            delay = math.ceil((due - now).total_seconds()) + 1  # a flush that comes early sends itself again
            self.notices.send(Notice("flush", workflow_id, anchor), delay_seconds=delay)

    def _save(self, item: StateItem, decision: Decision, lease: Lease | None) -> Decision | None:
        try:
            self.alerts.save_decision(item, decision, lease)
        except AlreadyDecided:
            return self._decided_by_other(item)
        return decision

    def _decided_by_other(self, item: StateItem) -> Decision | None:
        """The decision another delivery of this notice recorded first (read back with the item's channel marks)."""
        fresh = self.runs.reread(item)
        item.alert = fresh.alert
        item.notified_email, item.notified_slack = fresh.notified_email, fresh.notified_slack
        return decision_of(item)

    def _send(
        self,
        lead: StateItem,
        run: RunItem,
        attempts: list[TaskAttemptItem],
        decision: Decision,
        *,
        route: Route,
        sink: MetricSink,
        delivery: Delivery,
        history: dict[str, RunItem] | None = None,
    ) -> bool:
        """Deliver the message `lead` leads (a run's, or a retried attempt's) to each channel that lacks it; False
        when another notifier holds its delivery lease (the message is left to it)."""

        def compose() -> Alert:
            return self._compose(lead, run, attempts, decision, route=route, history=history)

        return self.courier.send(lead, route, sink, delivery, compose)

    def _compose(
        self,
        lead: StateItem,
        run: RunItem,
        attempts: list[TaskAttemptItem],
        decision: Decision,
        *,
        route: Route,
        history: dict[str, RunItem] | None,
    ) -> Alert:
        """The message, as the decision tells it. `history`: the one the decision was just made from, with its names
        applied; a retried delivery reads it again (the index it comes from is eventually consistent: reading it
        right after the write could miss the names just written)."""
        log_group = self.workflows.log_group(run.workflow_id)
        named: tuple[NamedRun, ...] = ()
        incident: tuple[str, ...] = ()
        if isinstance(lead, RunItem):
            history = history if history is not None else self._history(run)
            incident_runs = incident_of(_outcomes(history, route, self.clock()), run.run_id)
            if decision.kind is AlertKind.SUMMARY:
                failed_runs, since = incident_figures(incident_runs)
                decision = replace(decision, failed_runs=failed_runs, failing_since=since)
            named = self._named_runs(run, history, log_group)
            if decision.kind is AlertKind.RECOVERY:
                incident = tuple(outcome.run_id for outcome in incident_runs)
        alert = build_alert(
            run,
            attempts,
            decision,
            route,
            stack_name=self.stack_name,
            item=lead,
            log_group=log_group,
            named=named,
            incident_runs=incident,
        )
        if decision.kind is AlertKind.FAILURE and isinstance(lead, RunItem):  # the definition change before it
            alert = replace(alert, change=change_note_for(self.runs, run, (history or {}).values()))
        return alert

    def _named_runs(self, lead: RunItem, history: dict[str, RunItem], log_group: str | None) -> tuple[NamedRun, ...]:
        """The other failures the lead's message names, oldest first, each with its failed tasks."""
        others = sorted(
            (found for found in history.values() if found.named_in == lead.run_id and found.run_id != lead.run_id),
            key=lambda found: (found.ended_at or datetime.max.replace(tzinfo=UTC), found.run_id),
        )
        named = []
        for other in others:
            _, attempts = self.runs.load(other.workflow_id, other.run_id)
            failed = failed_tasks(attempts)
            error = (failed[0].error_message if failed else None) or other.error_message
            named.append(
                NamedRun(
                    run_id=other.run_id,
                    status=other.status or "UNKNOWN",
                    ended_at=other.ended_at,
                    recovered=not other.named_open,
                    failed_tasks=tuple(task_name(attempt) for attempt in failed),
                    error=mask_secrets(error) if error else None,
                    log_attempt=(task_name(failed[0]), failed[0].attempt) if failed else None,
                    log=attempt_log(other, failed[0], log_group) if failed else None,
                )
            )
        return tuple(named)


def _counts_as_failure(run: RunItem, route: Route) -> bool:
    return run.status in FAILED_RUN_STATES or (run.status == RunState.STOPPED and route.alert_on_stopped)


def _outcomes(history: dict[str, RunItem], route: Route, now: datetime) -> list[Outcome]:
    """The finished runs that the decisions weigh: failures (as the route counts them) and successes. No end is
    later than now (ingest refuses times far ahead; one a little ahead must not become the health's last success)."""
    outcomes = []
    for run in history.values():
        failed = _counts_as_failure(run, route)
        ended = run.ended_at or getattr(run, seen_attribute(run.status or ""), None)
        if ended is None or not (failed or run.status == RunState.SUCCESS):
            continue
        ended = min(ended, now)
        named_in, told_open = run.named_in, bool(run.named_open)
        if named_in is None and run.alert is not None and not run.alert.by_end_time:
            # Decided by an earlier version (before named_in): it was told then, by itself or by count.
            named_in = run.run_id
            told_open = run.alert.kind == AlertKind.FAILURE.value and not run.alert.superseded
        outcomes.append(Outcome(run.run_id, ended, failed, named_in, told_open))
    return outcomes


def _held_fields(run: RunItem, plan: Plan) -> dict[str, Any]:
    due = plan.flush[1].isoformat() if plan.flush else None
    return {"workflow": run.workflow_name, "run_id": run.run_id, "account": run.workflow_id.split(PLACE_SEPARATOR)[0],
            "summary_due": due}  # fmt: skip


def _leads_summary(run: RunItem) -> bool:
    """The run leads a summary message: it named itself without a failure message of its own."""
    return run.named_in == run.run_id and (run.alert is None or run.alert.kind != AlertKind.FAILURE.value)


def _named(history: dict[str, RunItem], plan: Plan, lead: str) -> dict[str, RunItem]:
    """The history as the plan's transaction left it: each failure it named, marked."""
    for name in plan.names:
        found = history.get(name.run_id)
        if found is not None:
            found.named_in, found.named_open = lead, not name.recovered
    return history


def notify_batch(
    event: Mapping[str, Any],
    notifier: Notifier,
    sink: MetricSink,
    *,
    max_receive_count: int,
    remaining: Callable[[], float] | None = None,
) -> PartialBatchResponse:
    """The notices of one SQS batch, each on its own: a notice that fails is retried alone (and dead-lettered, and
    counted, on its last receive). `remaining`: seconds left to the invocation."""
    return process_partial_batch(
        event,
        lambda body, _: notifier.handle(body, sink, remaining),
        max_receive_count=max_receive_count,
        on_last_failure=lambda: sink.count(NOTIFICATIONS_DEAD_LETTERED),
    )


def _attempt(attempts: list[TaskAttemptItem], notice: Notice) -> TaskAttemptItem | None:
    for attempt in attempts:
        if attempt.task_key == notice.task_key and attempt.attempt == notice.attempt:
            return attempt
    return None
