"""The queue-policy rule doctor applies (moto stores queue policies but never enforces them): EventBridge sending
for our rule is let through only by a matching Allow, and any matching Deny wins."""

from __future__ import annotations

from typing import Any

import pytest

from mwaa_obs_tools.doctor import why_rule_cannot_send

QUEUE = "arn:aws:sqs:eu-west-1:123456789012:mwaa-obs-events"
RULE = "arn:aws:events:eu-west-1:123456789012:rule/mwaa-obs-events"


def statement(**overrides: Any) -> dict[str, Any]:
    """The template's statement (EventsQueuePolicy), with overrides."""
    return {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": [QUEUE, QUEUE + "-dlq"],
        "Condition": {"ArnEquals": {"aws:SourceArn": RULE}},
    } | overrides


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    "allowing",
    [
        statement(),
        statement(Action=["sqs:GetQueueUrl", "sqs:SendMessage"]),
        statement(Action="sqs:*"),
        statement(Principal="*"),
        statement(Resource="*"),
        statement(Condition={"ArnLike": {"aws:SourceArn": [RULE, RULE + "-other"]}}),
        statement(Condition={}),
    ],
)
def test_a_matching_allow_lets_the_rule_send(allowing: dict[str, Any]) -> None:
    assert why_rule_cannot_send(policy(allowing), QUEUE, RULE) is None


@pytest.mark.parametrize(
    "not_matching",
    [
        statement(Principal={"Service": "sns.amazonaws.com"}),
        statement(Principal={"AWS": "arn:aws:iam::123456789012:root"}),
        statement(Action="sqs:ReceiveMessage"),
        statement(Resource=QUEUE + "-dlq"),
        statement(Condition={"ArnEquals": {"aws:SourceArn": RULE + "-old"}}),
    ],
)
def test_an_allow_for_something_else_does_not(not_matching: dict[str, Any]) -> None:
    refused = why_rule_cannot_send(policy(not_matching), QUEUE, RULE)
    assert refused == "no statement allows events.amazonaws.com to sqs:SendMessage for rule mwaa-obs-events"


def test_a_matching_deny_wins_over_the_allow() -> None:
    refused = why_rule_cannot_send(policy(statement(), statement(Effect="Deny")), QUEUE, RULE)
    assert refused == "a Deny statement refuses sqs:SendMessage to EventBridge"


def test_no_policy_refuses() -> None:
    assert why_rule_cannot_send(None, QUEUE, RULE) == "no queue policy: EventBridge may not send to it"
    assert why_rule_cannot_send(policy(), QUEUE, RULE) is not None
