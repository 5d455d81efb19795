"""The alert topic's publish: one message per protocol (MessageStructure=json) and the attributes subscription
filter policies match on."""

from __future__ import annotations

import json

from mwaa_obs.messages.chatbot import chatbot_notification
from mwaa_obs.messages.email import email_text
from mwaa_obs.messages.model import Alert


def sns_message(alert: Alert) -> str:
    """The Message of a MessageStructure=json publish: the plain-text body by default (email, SQS, Lambda), the
    custom-notification JSON for HTTPS subscribers, which is how Amazon Q Developer (AWS Chatbot) subscribes."""
    text = email_text(alert)
    return json.dumps({"default": text, "email": text, "https": json.dumps(chatbot_notification(alert))})


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
