"""Messages: one alert, rendered for each channel (Slack Block Kit, email text, SNS subject and attributes, and
the Amazon Q Developer / AWS Chatbot custom-notification format).

Every piece of text that comes from a workflow (names, run ids, error messages) is untrusted: in Slack mrkdwn it
is escaped (`&`, `<`, `>`), `@here`-style words are broken and text objects are `verbatim`, so a message can
neither ping a channel nor carry a link of its author's making; code blocks cannot be closed from inside. Length
limits are Slack's (150 characters in a header, 3,000 in a text block, 2,000 in a field, 50 blocks) and SNS's
(100 ASCII characters in a subject); text that does not fit is cut with a visible mark.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from mwaa_obs import DEFAULT_STACK_NAME
from mwaa_obs.alerting import AlertKind
from mwaa_obs.links import log_group_url, runs_show_command, task_log_group, workflows_console_url
from mwaa_obs.states import RUN_OUTCOME_WORDS, RunState
from mwaa_obs.text import TRUNCATION_MARK, counted, first_line, truncate
from mwaa_obs.times import human_duration, readable_time

HEADER_LIMIT: Final = 150
TEXT_LIMIT: Final = 3000
FIELD_LIMIT: Final = 2000
BUTTON_TEXT_LIMIT: Final = 75
SUBJECT_LIMIT: Final = 100
FALLBACK_LIMIT: Final = 1000
MAX_TASKS_SHOWN: Final = 10
MAX_INCIDENT_RUNS_LISTED: Final = 10
MAX_NAMED_TASKS: Final = 3  # failed tasks listed for each other run a message names
NAMED_PER_BLOCK: Final = 8
TASK_ERROR_LIMIT: Final = 1200
EMAIL_ERROR_LIMIT: Final = 2000
INLINE_BACKTICK: Final = "\u02cb"  # stands for a backtick inside an inline code span

_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class FailedTask:
    task_id: str
    attempt: int
    status: str
    operator: str | None
    error_message: str | None
    log_url: str


@dataclass(frozen=True, slots=True)
class NamedRun:
    """Another failed run a message names (one it had not been told before), with its failed tasks."""

    run_id: str
    status: str
    ended_at: datetime | None
    recovered: bool  # a later run of the workflow had already succeeded
    failed_tasks: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything a message says, whatever the channel."""

    kind: AlertKind
    workflow_name: str
    workflow_id: str
    workflow_arn: str
    region: str
    run_id: str
    status: str
    run_type: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error_message: str | None = None
    failed_tasks: tuple[FailedTask, ...] = ()
    upstream_failed: int = 0
    failed_runs: int = 0
    failing_since: datetime | None = None
    grouped: int = 0
    superseded: bool = False
    team: str = ""
    severity: str = "high"
    mention: str = ""
    stack_name: str = DEFAULT_STACK_NAME
    retry_task: FailedTask | None = None
    log_group: str = ""  # where the workflow's task logs go (its own, or the service's default)
    named: tuple[NamedRun, ...] = ()  # the other failures this message names
    incident_runs: tuple[str, ...] = ()  # a resolved message: the runs of the incident it closes, by end time

    @property
    def duration(self) -> str | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return human_duration((self.ended_at - self.started_at).total_seconds())

    @property
    def headline(self) -> str:
        if self.kind is AlertKind.RECOVERY:
            return f"Resolved: {self.workflow_name} is succeeding again"
        if self.kind is AlertKind.SUMMARY:
            runs = 1 + len(self.named)
            return f"{runs} failed run{'s' if runs != 1 else ''} held back: {self.workflow_name}"
        if self.kind is AlertKind.RETRY and self.retry_task is not None:
            return f"Retrying: {self.workflow_name} task {self.retry_task.task_id} (attempt {self.retry_task.attempt})"
        word = RUN_OUTCOME_WORDS.get(self.status, self.status)
        return f"Run {word}: {self.workflow_name}"

    @property
    def console_url(self) -> str:
        return workflows_console_url(self.region)

    @property
    def log_group_url(self) -> str:
        return log_group_url(self.region, self.log_group or task_log_group(self.workflow_id))

    @property
    def cli_command(self) -> str:
        return runs_show_command(self.run_id, self.workflow_name, self.stack_name)

    @property
    def message_severity(self) -> str:
        return {AlertKind.RECOVERY: "info", AlertKind.RETRY: "warning"}.get(self.kind, self.severity)


# --- Text helpers ------------------------------------------------------------------------------------------------


def plain(text: str) -> str:
    """Untrusted text made safe for plain-text channels: no control characters except newlines and tabs."""
    return _UNPRINTABLE.sub("?", text)


def escape_mrkdwn(text: str) -> str:
    """Untrusted text made inert in Slack mrkdwn: entities for & < >, broadcast words broken with a zero-width space."""
    escaped = plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda match: "@\u200b" + match.group(1), escaped)


def fit_mrkdwn(text: str, limit: int, code: bool = False) -> str:
    """Escape, and cut so that the escaped text (with its code fence) fits the limit; never splits an entity."""
    if code:
        # Three backticks inside a code block would close it: each gets a zero-width joiner.
        return f"```\n{_fit(text, limit - 8, lambda raw: escape_mrkdwn(raw).replace('`', '`\u200d'))}\n```"
    return _fit(text, limit, escape_mrkdwn)


def inline_code(text: str, limit: int) -> str:
    """Untrusted text as an inline code span: any backtick in it would end the span, so it is shown as U+02CB (a
    grave accent that does not)."""
    return f"`{_fit(text, limit - 2, lambda raw: escape_mrkdwn(raw).replace('`', INLINE_BACKTICK))}`"


def _fit(text: str, budget: int, render: Callable[[str], str]) -> str:
    escaped = render(text)
    if len(escaped) > budget:
        room = budget - len(TRUNCATION_MARK)
        raw = text
        # Each raw character escapes to at least one character: dropping the overflow converges in a few steps.
        while raw and len(render(raw)) > room:
            raw = raw[: len(raw) - max(1, len(render(raw)) - room)]
        escaped = render(raw) + TRUNCATION_MARK
    return escaped


# --- Slack -------------------------------------------------------------------------------------------------------

_EMOJI: Final = {
    AlertKind.FAILURE: ":red_circle:",
    AlertKind.SUMMARY: ":red_circle:",
    AlertKind.RECOVERY: ":large_green_circle:",
    AlertKind.RETRY: ":large_yellow_circle:",
}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _button(text: str, url: str) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": truncate(text, BUTTON_TEXT_LIMIT)}, "url": url}


def slack_message(alert: Alert) -> dict[str, Any]:
    """The incoming-webhook payload: Block Kit blocks plus a plain fallback `text` for notifications."""
    name = escape_mrkdwn(alert.workflow_name)
    header = f"{_EMOJI.get(alert.kind, '')} {alert.headline}".strip()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(plain(header), HEADER_LIMIT), "emoji": True}}
    ]
    lead = _slack_lead(alert, name)
    mention = f"{alert.mention} " if alert.mention and alert.kind is AlertKind.FAILURE else ""
    blocks.append({"type": "section", "text": _mrkdwn(truncate(mention + lead, TEXT_LIMIT))})
    blocks.append({"type": "section", "fields": [_mrkdwn(text) for text in _slack_fields(alert)]})

    if alert.kind in (AlertKind.FAILURE, AlertKind.SUMMARY):
        if alert.error_message:
            error = fit_mrkdwn(alert.error_message, TEXT_LIMIT - 20, code=True)
            blocks.append({"type": "section", "text": _mrkdwn(f"*Run error*\n{error}")})
        blocks.extend(_task_section(task) for task in alert.failed_tasks[:MAX_TASKS_SHOWN])
        notes = _slack_notes(alert)
        if notes:
            blocks.append({"type": "context", "elements": [_mrkdwn(truncate(" · ".join(notes), TEXT_LIMIT))]})
    elif alert.kind is AlertKind.RETRY and alert.retry_task is not None:
        blocks.append(_task_section(alert.retry_task))
    blocks.extend(_named_sections(alert))

    blocks.append(
        {
            "type": "actions",
            "elements": [
                _button("MWAA Serverless console", alert.console_url),
                _button("Workflow logs", alert.log_group_url),
            ],
        }
    )
    blocks.append({"type": "context", "elements": [_mrkdwn(inline_code(alert.cli_command, TEXT_LIMIT))]})
    fallback = truncate(escape_mrkdwn(f"{alert.headline} (run {alert.run_id})"), FALLBACK_LIMIT)
    return {"text": fallback, "blocks": blocks}


def _slack_lead(alert: Alert, name: str) -> str:
    run = inline_code(alert.run_id, 602)
    if alert.kind is AlertKind.RECOVERY:
        broken = _broken_for(alert)
        return (
            f"*{name}* succeeded with run {run}. It had been failing since {readable_time(alert.failing_since)}"
            f"{broken}, with {alert.failed_runs} failed run{'s' if alert.failed_runs != 1 else ''}: "
            f"{_incident_list(alert, lambda run_id: inline_code(run_id, 202))}."
        )
    if alert.kind is AlertKind.SUMMARY:
        return (
            f"These failed runs of *{name}* were held back while it was being reported (one message per grouping "
            f"window). First: run {run}, which ended in *{alert.status}*{_recovered_note(alert.superseded)}."
        )
    if alert.kind is AlertKind.RETRY:
        return f"A task of *{name}* run {run} failed and will be retried."
    lead = f"*{name}* run {run} ended in *{alert.status}*."
    if alert.superseded:
        lead += " A later run of this workflow has already succeeded."
    elif alert.failed_runs > 1:
        lead += f" {alert.failed_runs} failed runs since {readable_time(alert.failing_since)}."
    return lead


def _broken_for(alert: Alert) -> str:
    if alert.failing_since is None or alert.ended_at is None:
        return ""
    return f" ({human_duration((alert.ended_at - alert.failing_since).total_seconds())})"


def _slack_fields(alert: Alert) -> list[str]:
    rows = [
        ("Workflow", escape_mrkdwn(alert.workflow_name)),
        ("State", alert.status),
        ("Run type", escape_mrkdwn(alert.run_type or "unknown")),
        ("Started", readable_time(alert.started_at)),
        ("Ended", readable_time(alert.ended_at)),
        ("Duration", alert.duration or "unknown"),
    ]
    if alert.team:
        rows.append(("Team", escape_mrkdwn(alert.team)))
    return [truncate(f"*{label}*\n{value}", FIELD_LIMIT) for label, value in rows]


def _task_section(task: FailedTask) -> dict[str, Any]:
    title = f"*{escape_mrkdwn(task.task_id)}* · attempt {task.attempt} · {task.status}"
    if task.operator:
        title += f" · {inline_code(task.operator, TEXT_LIMIT)}"
    title = truncate(title, 600)
    error = fit_mrkdwn(task.error_message, TASK_ERROR_LIMIT, code=True) if task.error_message else "_no error message_"
    return {
        "type": "section",
        "text": _mrkdwn(f"{title}\n{error}"),
        "accessory": _button("Task log", task.log_url),
    }


def _slack_notes(alert: Alert) -> list[str]:
    notes = []
    hidden = len(alert.failed_tasks) - MAX_TASKS_SHOWN
    if hidden > 0:
        notes.append(f"{counted(hidden, 'more failed task')} not shown")
    if alert.upstream_failed:
        notes.append(f"{counted(alert.upstream_failed, 'task')} skipped (upstream failed)")
    if not alert.failed_tasks and alert.status != RunState.STOPPED:
        notes.append("no failed task recorded for this run")
    return notes


def _recovered_note(recovered: bool) -> str:
    return " (already recovered: a later run succeeded)" if recovered else ""


def _incident_list(alert: Alert, show: Callable[[str], str]) -> str:
    listed = ", ".join(show(run_id) for run_id in alert.incident_runs[:MAX_INCIDENT_RUNS_LISTED])
    beyond = len(alert.incident_runs) - MAX_INCIDENT_RUNS_LISTED
    return listed + (f" and {beyond} more" if beyond > 0 else "")


def _named_line(named: NamedRun, code: Callable[[str], str]) -> str:
    tasks = ", ".join(code(task) for task in named.failed_tasks[:MAX_NAMED_TASKS])
    hidden = len(named.failed_tasks) - MAX_NAMED_TASKS
    tasks += f" and {hidden} more" if hidden > 0 else ""
    line = f"{code(named.run_id)} {named.status} at {readable_time(named.ended_at)}{_recovered_note(named.recovered)}"
    line += f": {tasks}" if tasks else ""
    if named.error:
        line += f" ({first_line(named.error, 200)})"
    return line


def _named_title(alert: Alert) -> str:
    count = len(alert.named)
    if alert.kind is AlertKind.SUMMARY:
        return f"*Also held back ({count}):*"
    return f"*{count} more failed run{'s' if count != 1 else ''}, not told before:*"


def _named_sections(alert: Alert) -> list[dict[str, Any]]:
    """Every other failure the message names, by run id with its first failed tasks, a few to a block."""
    sections = []
    for first in range(0, len(alert.named), NAMED_PER_BLOCK):
        lines = [
            "• " + escape_mrkdwn(_named_line(named, lambda text: f"[{text}]"))
            for named in alert.named[first : first + NAMED_PER_BLOCK]
        ]
        title = _named_title(alert) + "\n" if first == 0 else ""
        sections.append({"type": "section", "text": _mrkdwn(truncate(title + "\n".join(lines), TEXT_LIMIT))})
    return sections


# --- Email and SNS -----------------------------------------------------------------------------------------------


def subject(alert: Alert) -> str:
    """SNS subject: ASCII, no line breaks, at most 100 characters."""
    tag = {AlertKind.RECOVERY: "RESOLVED", AlertKind.RETRY: "RETRY"}.get(alert.kind, alert.status)
    runs = f"{1 + len(alert.named)} runs" if alert.kind is AlertKind.SUMMARY else f"run {alert.run_id}"
    text = f"[mwaa-obs] {tag} {alert.workflow_name} {runs}"
    ascii_only = "".join(char if " " <= char <= "~" else "?" for char in text)
    return truncate(ascii_only, SUBJECT_LIMIT).replace(TRUNCATION_MARK, "...")[:SUBJECT_LIMIT]


def email_text(alert: Alert) -> str:
    lines = [alert.headline, "=" * min(len(alert.headline), 72), ""]
    if alert.kind is AlertKind.RECOVERY:
        lines += [
            f"Workflow {alert.workflow_name} succeeded with run {alert.run_id}. It had been failing since "
            f"{readable_time(alert.failing_since)}{_broken_for(alert)}, with {alert.failed_runs} failed run(s): "
            f"{_incident_list(alert, str)}.",
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
        f"Workflow:  {alert.workflow_name}",
        f"Run:       {alert.run_id}",
        f"State:     {alert.status}",
        f"Run type:  {alert.run_type or 'unknown'}",
        f"Started:   {readable_time(alert.started_at)}",
        f"Ended:     {readable_time(alert.ended_at)}",
        f"Duration:  {alert.duration or 'unknown'}",
    ]
    if alert.team:
        lines.append(f"Team:      {alert.team}")
    if alert.kind in (AlertKind.FAILURE, AlertKind.SUMMARY):
        if alert.error_message:
            lines += ["", "Run error:", _indent(truncate(alert.error_message, EMAIL_ERROR_LIMIT))]
        if alert.failed_tasks:
            lines += ["", "Failed tasks:"]
        for task in alert.failed_tasks[:MAX_TASKS_SHOWN]:
            lines += _email_task(task)
        lines += [f"- {note}" for note in _slack_notes(alert)]
    if alert.kind is AlertKind.RETRY and alert.retry_task is not None:
        lines += ["", "Task:", *_email_task(alert.retry_task)]
    if alert.named:
        lines += ["", _named_title(alert).strip("*"), *(f"* {_named_line(named, str)}" for named in alert.named)]
    lines += [
        "",
        f"MWAA Serverless console: {alert.console_url}",
        f"Workflow logs: {alert.log_group_url}",
        f"Details: {alert.cli_command}",
    ]
    return plain("\n".join(lines)) + "\n"


def _email_task(task: FailedTask) -> list[str]:
    operator = f", {task.operator}" if task.operator else ""
    lines = [f"* {task.task_id} (attempt {task.attempt}, {task.status}{operator})"]
    if task.error_message:
        lines.append(_indent(truncate(task.error_message, TASK_ERROR_LIMIT)))
    lines.append(f"  Log: {task.log_url}")
    return lines


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines() or [""])


def sns_attributes(alert: Alert) -> dict[str, dict[str, str]]:
    """Message attributes for subscription filter policies (e.g. one email list per team)."""
    values = {
        "workflow": alert.workflow_name,
        "state": alert.status,
        "severity": alert.message_severity,
        "kind": alert.kind.value,
        "team": alert.team or "none",
    }
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def chatbot_notification(alert: Alert) -> dict[str, Any]:
    """Amazon Q Developer in chat applications (AWS Chatbot) custom notification: version 1.0, source custom."""
    description = _slack_lead(alert, escape_mrkdwn(alert.workflow_name))
    if alert.kind in (AlertKind.FAILURE, AlertKind.SUMMARY):
        if alert.error_message:
            description += "\n" + fit_mrkdwn(alert.error_message, 1000, code=True)
        for task in alert.failed_tasks[:3]:
            description += f"\n• *{escape_mrkdwn(task.task_id)}* attempt {task.attempt}: <{task.log_url}|task log>"
    if alert.named:
        description += "\n" + _named_title(alert)
        description += "".join("\n• " + escape_mrkdwn(_named_line(named, str)) for named in alert.named)
    return {
        "version": "1.0",
        "source": "custom",
        "id": f"{alert.workflow_id}/{alert.run_id}/{alert.kind.value}",
        "content": {
            "textType": "client-markdown",
            "title": truncate(escape_mrkdwn(f"{_EMOJI.get(alert.kind, '')} {alert.headline}".strip()), 250),
            "description": truncate(description, 8000),
            "nextSteps": [inline_code(alert.cli_command, 502), f"<{alert.console_url}|MWAA Serverless console>"],
        },
        "metadata": {
            "threadId": alert.workflow_id,
            "summary": truncate(plain(alert.headline), 250),
            "eventType": f"MWAAServerless{alert.kind.value.capitalize()}",
            "relatedResources": [alert.workflow_arn],
            "additionalContext": {"workflow": alert.workflow_name, "run_id": alert.run_id, "state": alert.status},
        },
    }


def sns_message(alert: Alert) -> str:
    """The Message of a MessageStructure=json publish: the plain-text body by default (email, SQS, Lambda), the
    custom-notification JSON for HTTPS subscribers, which is how Amazon Q Developer (AWS Chatbot) subscribes."""
    text = email_text(alert)
    return json.dumps({"default": text, "email": text, "https": json.dumps(chatbot_notification(alert))})
