"""Slack: the incoming-webhook payload, Block Kit blocks and a plain fallback text.

Slack's limits hold whatever the input: 150 characters in a header, 3,000 in a text block, 2,000 in a field, 75 in
a button, 50 blocks; text that does not fit is cut with a visible mark. Every text object is mrkdwn `verbatim` and
every untrusted part escaped (see `untrusted`).
"""

from __future__ import annotations

from typing import Any, Final

from mwaa_obs.alerting import AlertKind
from mwaa_obs.messages.model import (
    MAX_TASKS_SHOWN,
    TASK_ERROR_LIMIT,
    Alert,
    FailedTask,
    broken_for,
    incident_list,
    log_tail_note,
    log_tail_title,
    named_line,
    named_log_title,
    named_title,
    notes,
    recovered_note,
)
from mwaa_obs.messages.untrusted import escape_mrkdwn, fit_mrkdwn, inline_code, plain_inert
from mwaa_obs.text import truncate
from mwaa_obs.times import readable_time

HEADER_LIMIT: Final = 150
TEXT_LIMIT: Final = 3000
FIELD_LIMIT: Final = 2000
BUTTON_TEXT_LIMIT: Final = 75
FALLBACK_LIMIT: Final = 1000
NAMED_PER_BLOCK: Final = 8

EMOJI: Final = {
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
    header = f"{EMOJI.get(alert.kind, '')} {alert.headline}".strip()
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(plain_inert(header), HEADER_LIMIT), "emoji": True},
        }
    ]
    lead_text = lead(alert, name)
    mention = f"{alert.mention} " if alert.mention and alert.kind is AlertKind.FAILURE else ""
    blocks.append({"type": "section", "text": _mrkdwn(truncate(mention + lead_text, TEXT_LIMIT))})
    blocks.append({"type": "section", "fields": [_mrkdwn(text) for text in _fields(alert)]})

    if alert.kind in (AlertKind.FAILURE, AlertKind.SUMMARY):
        if alert.error_message:
            error = fit_mrkdwn(alert.error_message, TEXT_LIMIT - 20, code=True)
            blocks.append({"type": "section", "text": _mrkdwn(f"*Run error*\n{error}")})
        for task in alert.failed_tasks[:MAX_TASKS_SHOWN]:
            blocks += [_task_section(task), *_log_tail_blocks(task)]
        # escaped: the change note names a caller (a role session name is the caller's to choose)
        shown_notes = [escape_mrkdwn(note) for note in notes(alert)]
        if shown_notes:
            blocks.append({"type": "context", "elements": [_mrkdwn(truncate(" · ".join(shown_notes), TEXT_LIMIT))]})
    elif alert.kind is AlertKind.RETRY and alert.retry_task is not None:
        blocks += [_task_section(alert.retry_task), *_log_tail_blocks(alert.retry_task)]
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


def lead(alert: Alert, name: str) -> str:
    """The message's first sentences in mrkdwn (`name`: the workflow's name, escaped); Amazon Q's too."""
    run = inline_code(alert.run_id, 602)
    if alert.kind is AlertKind.RECOVERY:
        return (
            f"*{name}* succeeded with run {run}. It had been failing since {readable_time(alert.failing_since)}"
            f"{broken_for(alert)}, with {alert.failed_runs} failed run{'s' if alert.failed_runs != 1 else ''}: "
            f"{incident_list(alert, lambda run_id: inline_code(run_id, 202))}."
        )
    if alert.kind is AlertKind.SUMMARY:
        return (
            f"These failed runs of *{name}* were held back while it was being reported (one message per grouping "
            f"window). First: run {run}, which ended in *{alert.status}*{recovered_note(alert.superseded)}."
        )
    if alert.kind is AlertKind.RETRY:
        return f"A task of *{name}* run {run} failed and will be retried."
    text = f"*{name}* run {run} ended in *{alert.status}*."
    if alert.superseded:
        text += " A later run of this workflow has already succeeded."
    elif alert.failed_runs > 1:
        text += f" {alert.failed_runs} failed runs since {readable_time(alert.failing_since)}."
    return text


def _fields(alert: Alert) -> list[str]:
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


def _log_tail_blocks(task: FailedTask) -> list[dict[str, Any]]:
    """The task's last log lines as a code block under it; or, when they could not be read, why (the task's
    button links to the log)."""
    tail = task.log_tail
    if tail is None:
        return []
    if not tail.lines:
        return [{"type": "context", "elements": [_mrkdwn(escape_mrkdwn(log_tail_note(tail)))]}]
    title = f"*{escape_mrkdwn(log_tail_title(task))}*\n"
    title = truncate(title, 300)
    return [{"type": "section", "text": _mrkdwn(title + fit_mrkdwn(tail.text, TEXT_LIMIT - len(title), code=True))}]


def _named_sections(alert: Alert) -> list[dict[str, Any]]:
    """Every other failure the message names, by run id with its first failed tasks, a few to a block."""
    sections = []
    for first in range(0, len(alert.named), NAMED_PER_BLOCK):
        lines = [
            "• " + escape_mrkdwn(named_line(named, lambda text: f"[{text}]"))
            for named in alert.named[first : first + NAMED_PER_BLOCK]
        ]
        title = named_title(alert) + "\n" if first == 0 else ""
        sections.append({"type": "section", "text": _mrkdwn(truncate(title + "\n".join(lines), TEXT_LIMIT))})
    for named in alert.named_with_logs:  # the task that broke each of the first ones: its last log lines
        if named.log_tail is not None and named.log_tail.lines:
            heading = truncate(f"*{escape_mrkdwn(named_log_title(named))}*\n", 300)
            tail = fit_mrkdwn(named.log_tail.text, TEXT_LIMIT - len(heading), code=True)
            sections.append({"type": "section", "text": _mrkdwn(heading + tail)})
    return sections
