"""An alert's content, from the stored run, its task attempts and the decision made for it; and the last log
lines of the tasks it shows, read when it is sent."""

from __future__ import annotations

from dataclasses import replace

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.alerting import Decision
from mwaa_obs.events import place_of
from mwaa_obs.failures import failed_tasks, latest_attempts, task_name
from mwaa_obs.links import log_stream_url, stream_name, task_log_group, task_log_stream
from mwaa_obs.messages.masking import mask_secrets
from mwaa_obs.messages.model import Alert, FailedTask, NamedRun
from mwaa_obs.settings import Route
from mwaa_obs.states import TASK_CUT_SHORT_WORDS
from mwaa_obs.store.schema import RunItem, StateItem, TaskAttemptItem
from mwaa_obs.task_logs import LogRef, TaskLogReader

logger = Logger(service=SERVICE, child=True)


def build_alert(
    run: RunItem,
    attempts: list[TaskAttemptItem],
    decision: Decision,
    route: Route,
    *,
    stack_name: str,
    item: StateItem | None = None,
    log_group: str | None = None,
    named: tuple[NamedRun, ...] = (),
    incident_runs: tuple[str, ...] = (),
) -> Alert:
    """The alert's content, from the stored run, its task attempts and the decision made for it.

    `log_group`: the workflow's task log group, when it names its own (default: the service's); `named`: the
    other failures the message names; `incident_runs`: the runs of the incident a resolved message closes.
    """
    log_group = log_group or task_log_group(run.workflow_id)
    arn = run.workflow_arn or ""
    region = arn.split(":")[3] if arn.count(":") >= 5 else "us-east-1"
    latest = latest_attempts(attempts)
    failed = [_failed_task(run, attempt, region, log_group) for attempt in failed_tasks(attempts)]
    retry_task = _failed_task(run, item, region, log_group) if isinstance(item, TaskAttemptItem) else None
    return Alert(
        kind=decision.kind,
        workflow_name=run.workflow_name,
        workflow_id=run.workflow_id,
        workflow_arn=arn,
        region=region,
        run_id=run.run_id,
        status=run.status or "UNKNOWN",
        run_type=run.run_type,
        started_at=run.started_at,
        ended_at=run.ended_at,
        error_message=mask_secrets(run.error_message) if run.error_message else None,
        failed_tasks=tuple(failed),
        cut_short=tuple(
            (state, count)
            for state in TASK_CUT_SHORT_WORDS
            if (count := sum(1 for attempt in latest if attempt.status == state))
        ),
        failed_runs=decision.failed_runs,
        failing_since=decision.failing_since,
        grouped=decision.grouped,
        superseded=decision.superseded,
        team=route.team,
        severity=route.severity,
        mention=route.mention,
        stack_name=stack_name,
        retry_task=retry_task,
        log_group=log_group,
        named=named,
        incident_runs=incident_runs,
    )


def attempt_log(run: RunItem, attempt: TaskAttemptItem, log_group: str | None) -> LogRef:
    """Where an attempt's log is: the stream its events named (else the service's naming), in the workflow's group."""
    stored = attempt.log_stream
    task_id = task_name(attempt)
    stream = stream_name(stored) if stored else task_log_stream(run.workflow_id, run.run_id, task_id, attempt.attempt)
    return LogRef(log_group or task_log_group(run.workflow_id), stream, place_of(run.workflow_arn or ""))


def _failed_task(run: RunItem, attempt: TaskAttemptItem, region: str, log_group: str) -> FailedTask:
    task_id = task_name(attempt)
    log = attempt_log(run, attempt, log_group)
    stream = log.stream
    return FailedTask(
        task_id=task_id,
        attempt=attempt.attempt,
        status=attempt.status or "UNKNOWN",
        operator=attempt.operator,
        error_message=mask_secrets(attempt.error_message) if attempt.error_message else None,
        log_url=log_stream_url(region, log_group, stream),
        log=log,
    )


def with_log_tails(alert: Alert, reader: TaskLogReader, within: float) -> Alert:
    """The alert with the last log lines of the tasks it shows (and of the task that broke each of the first other
    failures it names), read at once in at most `within` seconds; a log not written yet, unreadable or slow is left
    out with its reason (the message keeps the link)."""
    wanted = [(f"{task.task_id}#{task.attempt}", task.log) for task in alert.tasks_with_logs if task.log is not None]
    wanted += [(f"{named.run_id}#{named.log_attempt}", named.log) for named in alert.named_with_logs if named.log]
    refs = list(dict.fromkeys(ref for _, ref in wanted))
    tails = dict(zip(refs, reader.tails(refs, within), strict=True))
    unread = {key: tails[ref].note for key, ref in wanted if tails[ref].note is not None}
    if unread:
        logger.info("task logs not shown; their links are", extra={"run_id": alert.run_id, "unread": unread})

    def shown(task: FailedTask) -> FailedTask:
        return replace(task, log_tail=tails[task.log]) if task.log is not None and task.log in tails else task

    def named_shown(named: NamedRun) -> NamedRun:
        return replace(named, log_tail=tails[named.log]) if named.log is not None and named.log in tails else named

    retry = shown(alert.retry_task) if alert.retry_task is not None else None
    failed = tuple(map(shown, alert.failed_tasks))
    return replace(alert, failed_tasks=failed, retry_task=retry, named=tuple(map(named_shown, alert.named)))
