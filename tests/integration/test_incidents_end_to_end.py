"""One workflow's history replayed through the local stack in order, reversed and shuffled with duplicates: Slack
and email name every failed run exactly once, and a resolved message only ever tells the incident by end time."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from mwaa_obs_tools import localstack
from mwaa_obs_tools.factories import run_event, task_event, workflow_arn

# The replay: FAILED 02:02, SUCCESS 04:03, TIMEOUT 06:01, SUCCESS 08:02 (end times).
HISTORY = (("f1", "Failed", "02:02:10"), ("s1", "Succeeded", "04:03:00"), ("t1", "Timeout", "06:01:00"),
           ("s2", "Succeeded", "08:02:00"))  # fmt: skip
FAILED = {"f1", "t1"}
# The end-time truth: each success closes the failures right before it.
INCIDENTS = {"s1": ["f1"], "s2": ["t1"]}
NAMED_LINE = re.compile(r"^[•*] \[?([\w-]+?)\]? [A-Z]", re.MULTILINE)
LEAD_RUN = re.compile(r"\(run ([\w-]+)\)$")


def history(name: str) -> list[dict[str, Any]]:
    arn = workflow_arn(name, "Rep1ayXXXX")
    events = []
    for run_id, outcome, ended in HISTORY:
        end = datetime.fromisoformat(f"2026-11-24T{ended}+00:00")
        start, run = end - timedelta(minutes=40), f"{name}-{run_id}"
        events += [run_event("Started", run, start, arn=arn), run_event("Running", run, start, arn=arn)]
        state = "Failed" if outcome in ("Failed", "Timeout") else "Succeeded"
        events.append(task_event(state, run, "sync", end - timedelta(minutes=1), arn=arn, errorMessage="boom"))
        events.append(run_event(outcome, run, end, arn=arn))
    return events


def replay(stack: localstack.LocalStack, events: list[dict[str, Any]]) -> None:
    """Through the local bus as one backlog, then the grouping window waited out so that flushes come due."""
    bus = localstack.client(stack.endpoint, "events")
    for first in range(0, len(events), 10):
        entries = [
            {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]),
             "Resources": e["resources"], "Time": datetime.fromisoformat(e["time"]), "EventBusName": "default"}
            for e in events[first : first + 10]
        ]  # fmt: skip
        bus.put_events(Entries=entries)
    stack.pump()
    stack.engine.advance(stack.engine.now + timedelta(hours=2))
    stack.pump()


def slack_view(payloads: list[dict[str, Any]], name: str) -> tuple[Counter[str], list[tuple[str, str]]]:
    """Runs named per Slack message of this workflow, and each resolved message's (success, lead text)."""
    named: Counter[str] = Counter()
    resolved = []
    for payload in payloads:
        if f"{name}-" not in payload["text"]:
            continue
        lead = payload["blocks"][1]["text"]["text"]
        texts = [block["text"]["text"] for block in payload["blocks"][2:] if block.get("text")]
        if payload["text"].startswith("Resolved"):
            resolved.append((LEAD_RUN.findall(payload["text"])[0], lead))
        else:
            named[LEAD_RUN.findall(payload["text"])[0]] += 1
        named.update(NAMED_LINE.findall("\n".join(texts)))
    return named, resolved


def email_view(messages: list[dict[str, Any]], name: str) -> tuple[Counter[str], list[tuple[str, str]]]:
    named: Counter[str] = Counter()
    resolved = []
    for message in messages:
        if f" {name} " not in message["Subject"]:
            continue
        body = message["Message"]
        run = re.findall(r"^Run: +(\S+)$", body, re.MULTILINE)[0]
        if "RESOLVED" in message["Subject"]:
            resolved.append((run, body.split("\n\n")[1]))
        else:
            named[run] += 1
        section = body.split("not told before:", 1)[1] if "not told before:" in body else ""
        section = section or (body.split("Also held back", 1)[1] if "Also held back" in body else "")
        named.update(NAMED_LINE.findall(section.split("\n\n")[0]))
    return named, resolved


@pytest.mark.parametrize("order", ["in order", "reversed", "shuffled with duplicates"])
def test_every_failed_run_is_named_once_and_every_resolved_message_is_true(
    stack: localstack.LocalStack, order: str
) -> None:
    name = "hourly_sync_" + order.split(maxsplit=1)[0]
    events = history(name)
    if order == "reversed":
        events.reverse()
    elif order.startswith("shuffled"):
        randomly = random.Random(7)
        events = events + randomly.sample(events, len(events) // 2)
        randomly.shuffle(events)
    slack_before, email_before = len(stack.slack.delivered()), len(stack.alerts())  # type: ignore[union-attr]
    # When the whole history arrives at once, in that order
    replay(stack, events)
    payloads = stack.slack.delivered()[slack_before:]  # type: ignore[union-attr]
    views = {"slack": slack_view(payloads, name), "email": email_view(stack.alerts()[email_before:], name)}
    # The messages, for a person reading the test's output
    print(order, views)
    for channel, (named, resolved) in views.items():
        # Then each failed run is named in exactly one message, on each channel
        assert named == Counter(f"{name}-{run_id}" for run_id in FAILED), channel
        # And a resolved message names the incident its success closes by end time, since its first failure
        for success, text in resolved:
            incident = INCIDENTS[success.removeprefix(f"{name}-")]
            assert f"with {len(incident)} failed run" in text
            assert all(f"{name}-{run_id}" in text for run_id in incident)
            first = {run_id: ended for run_id, _, ended in HISTORY}[incident[0]]
            assert f"2026-11-24 {first} UTC" in text
