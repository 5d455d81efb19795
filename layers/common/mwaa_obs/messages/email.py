"""Email (the SNS subject and plain-text body, which SQS and Lambda subscribers get too).

The subject is SNS's: ASCII, no line breaks, at most 100 characters. The body is plain text with no control
characters but newlines and tabs; untrusted multi-line text (errors) is indented under its label.
"""

from __future__ import annotations

from typing import Final

from mwaa_obs.alerting import AlertKind
from mwaa_obs.messages.model import (
    MAX_TASKS_SHOWN,
    TASK_ERROR_LIMIT,
    Alert,
    FailedTask,
    NamedRun,
    broken_for,
    incident_list,
    log_tail_note,
    log_tail_title,
    named_line,
    named_log_title,
    named_title,
    notes,
)
from mwaa_obs.messages.untrusted import one_line, plain
from mwaa_obs.text import TRUNCATION_MARK, truncate
from mwaa_obs.times import readable_time

SUBJECT_LIMIT: Final = 100
# Before each line of a task's log: a log line can never pass for a line of the message itself
LOG_GUTTER: Final = "    | "
EMAIL_ERROR_LIMIT: Final = 2000


def subject(alert: Alert) -> str:
    """SNS subject: ASCII, no line breaks, at most 100 characters. A failure that names its failed task says it
    as the headline does, its run after it ("orders_etl failed at load: KeyError 'id' (run r1)"); any other message
    by its tag, workflow and run."""
    if alert.names_failed_task:
        run = f" (run {alert.run_id})"
        if len(run) > SUBJECT_LIMIT // 2:
            run = ""  # a run id that long would leave no room for the failure: the body has it
        text = _ascii(f"[mwaa-obs] {alert.headline}")
        return _fit(text, SUBJECT_LIMIT - len(run)) + _ascii(run)
    tag = {AlertKind.RECOVERY: "RESOLVED", AlertKind.RETRY: "RETRY"}.get(alert.kind, alert.status)
    runs = f"{1 + len(alert.named)} runs" if alert.kind is AlertKind.SUMMARY else f"run {alert.run_id}"
    return _fit(_ascii(f"[mwaa-obs] {tag} {alert.workflow_name} {runs}"), SUBJECT_LIMIT)


def _ascii(text: str) -> str:
    return "".join(char if " " <= char <= "~" else "?" for char in text)


def _fit(text: str, limit: int) -> str:
    return truncate(text, limit).replace(TRUNCATION_MARK, "...")[:limit]


def email_text(alert: Alert) -> str:
    lines = [alert.headline, "=" * min(len(alert.headline), 72), ""]
    if alert.kind is AlertKind.RECOVERY:
        lines += [
            f"Workflow {alert.workflow_name} succeeded with run {alert.run_id}. It had been failing since "
            f"{readable_time(alert.failing_since)}{broken_for(alert)}, with {alert.failed_runs} failed run(s): "
            f"{incident_list(alert, str)}.",
            "",
        ]
    elif alert.kind is AlertKind.SUMMARY:
        lines += [
            "These failed runs were held back while the workflow was being reported (one message per grouping window).",
            "",
        ]
    elif alert.superseded:
        lines += ["A later run of this workflow has already succeeded.", ""]
    elif alert.failed_runs > 1:
        lines += [f"{alert.failed_runs} failed runs since {readable_time(alert.failing_since)}.", ""]
    lines += [
        f"Workflow:  {one_line(alert.workflow_name)}",
        f"Run:       {one_line(alert.run_id)}",
        f"State:     {alert.status}",
        f"Run type:  {one_line(alert.run_type or 'unknown')}",
        f"Started:   {readable_time(alert.started_at)}",
        f"Ended:     {readable_time(alert.ended_at)}",
        f"Duration:  {alert.duration or 'unknown'}",
    ]
    if alert.team:
        lines.append(f"Team:      {one_line(alert.team)}")
    if alert.kind in (AlertKind.FAILURE, AlertKind.SUMMARY):
        if alert.error_message:
            lines += ["", "Run error:", _indent(truncate(alert.error_message, EMAIL_ERROR_LIMIT))]
        if alert.failed_tasks:
            lines += ["", "Failed tasks:"]
        for task in alert.failed_tasks[:MAX_TASKS_SHOWN]:
            lines += _task_lines(task)
        lines += [f"- {note}" for note in notes(alert)]
    if alert.kind is AlertKind.RETRY and alert.retry_task is not None:
        lines += ["", "Task:", *_task_lines(alert.retry_task)]
    if alert.named:
        lines += ["", named_title(alert).strip("*")]
        for named in alert.named:
            lines += [f"* {named_line(named, str)}", *_named_log_lines(named)]
    lines += [
        "",
        f"MWAA Serverless console: {alert.console_url}",
        f"Workflow logs: {alert.log_group_url}",
        f"Details: {alert.cli_command}",
    ]
    return plain("\n".join(lines)) + "\n"


def _task_lines(task: FailedTask) -> list[str]:
    operator = f", {one_line(task.operator)}" if task.operator else ""
    lines = [f"* {one_line(task.task_id)} (attempt {task.attempt}, {task.status}{operator})"]
    if task.error_message:
        lines.append(_indent(truncate(task.error_message, TASK_ERROR_LIMIT)))
    if task.log_tail is not None and task.log_tail.lines:
        lines += [f"  {log_tail_title(task)}:", _indent(task.log_tail.text, LOG_GUTTER)]
    elif task.log_tail is not None:
        lines.append(f"  {log_tail_note(task.log_tail)}")
    lines.append(f"  Log: {task.log_url}")
    return lines


def _named_log_lines(named: NamedRun) -> list[str]:
    tail = named.log_tail
    if tail is None:
        return []
    if not tail.lines:
        return [f"  {log_tail_note(tail)}"]
    return [f"  {named_log_title(named)}:", _indent(tail.text, LOG_GUTTER)]


def _indent(text: str, gutter: str = "    ") -> str:
    return "\n".join(gutter + line for line in text.splitlines() or [""])
