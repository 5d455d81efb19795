"""Amazon Q Developer in chat applications (AWS Chatbot): the custom notification an HTTPS subscriber of the topic
gets, in client-markdown (Slack's mrkdwn, escaped the same way)."""

from __future__ import annotations

from typing import Any, Final

from mwaa_obs.alerting import AlertKind
from mwaa_obs.messages.model import Alert, named_line, named_title
from mwaa_obs.messages.slack import EMOJI, lead
from mwaa_obs.messages.untrusted import escape_mrkdwn, fit_mrkdwn, inline_code, plain
from mwaa_obs.text import truncate

# The first failed task's last log lines, escaped (the description holds 8,000 characters in all)
CHATBOT_TAIL_LIMIT: Final = 2200


def chatbot_notification(alert: Alert) -> dict[str, Any]:
    """Amazon Q Developer in chat applications (AWS Chatbot) custom notification: version 1.0, source custom."""
    description = lead(alert, escape_mrkdwn(alert.workflow_name))
    if alert.kind in (AlertKind.FAILURE, AlertKind.SUMMARY):
        if alert.error_message:
            description += "\n" + fit_mrkdwn(alert.error_message, 1000, code=True)
        for number, task in enumerate(alert.failed_tasks[:3]):
            description += f"\n• *{escape_mrkdwn(task.task_id)}* attempt {task.attempt}: <{task.log_url}|task log>"
            if number == 0 and task.log_tail is not None and task.log_tail.lines:
                description += "\n" + fit_mrkdwn(task.log_tail.text, CHATBOT_TAIL_LIMIT, code=True)
    if alert.named:
        description += "\n" + named_title(alert)
        description += "".join("\n• " + escape_mrkdwn(named_line(named, str)) for named in alert.named)
    return {
        "version": "1.0",
        "source": "custom",
        "id": f"{alert.workflow_id}/{alert.run_id}/{alert.kind.value}",
        "content": {
            "textType": "client-markdown",
            "title": truncate(escape_mrkdwn(f"{EMOJI.get(alert.kind, '')} {alert.headline}".strip()), 250),
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
