"""Section "calls": AWS API calls per event for a simulated day of the example workflows, counted on every botocore
client against the emulator, plus the cost of replaying the whole day again (duplicates); then the notify handler's
calls for the notices that day owed, and the freshness check's. Also events/s through the ingest handler against
moto server, which is bounded by the emulator (reported only)."""

from __future__ import annotations

import random
import time
from typing import Any

import botocore.session
from harness import (
    FUNCTIONS,
    ROOT,
    CallCounter,
    Options,
    Row,
    empty_emulator,
    ingest_function,
)

from mwaa_obs_tools import emulator, sample_events
from mwaa_obs_tools.factories import sqs_event
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext, load_handler, poll_sqs_once

TARGET_WRITES_PER_EVENT = 2.0


def run(options: Options) -> dict[str, Any]:
    with ingest_function() as ingest, empty_emulator() as endpoint:
        session: Any = botocore.session.get_session()
        sqs: Any = session.create_client("sqs", endpoint_url=endpoint)
        notices_url = sqs.get_queue_url(QueueName=FUNCTIONS.notices_queue)["QueueUrl"]
        notices_arn = sqs.get_queue_attributes(QueueUrl=notices_url, AttributeNames=["QueueArn"])["Attributes"]
        session.create_client("sns", endpoint_url=endpoint).create_topic(Name=FUNCTIONS.alert_topic)
        session.create_client("ssm", endpoint_url=endpoint).put_parameter(
            Name=FUNCTIONS.settings_parameter, Value="{}", Type="String"
        )
        notify = load_handler(emulator.load_template(), "NotifyFunction", ROOT)
        freshness = load_handler(emulator.load_template(), "FreshnessFunction", ROOT)
        day = sample_events.day_of_events()
        context = FakeLambdaContext()

        def deliver(events: list[dict[str, Any]]) -> float:
            started = time.perf_counter()
            for start in range(0, len(events), 10):
                ingest.lambda_handler(sqs_event(events[start : start + 10]), context)
            return time.perf_counter() - started

        with CallCounter() as counter:
            seconds = deliver(day)
            first = counter.take()
            notices = sqs.get_queue_attributes(QueueUrl=notices_url, AttributeNames=["ApproximateNumberOfMessages"])
            counter.take()
            while poll_sqs_once(sqs, notices_url, notices_arn["QueueArn"], notify, 1).received:
                pass
            notified = {op: n for op, n in counter.take().items() if not op.startswith("sqs:ReceiveMessage")}
            freshness({"time": "2026-11-25T12:00:00+00:00"}, context)
            checked = counter.take()
            replay = list(day)
            random.Random(1).shuffle(replay)
            deliver(replay)
            duplicate = counter.take()
    writes = sum(first.get(f"dynamodb:{op}", 0) for op in ("UpdateItem", "PutItem", "BatchWriteItem"))
    reads = sum(first.get(f"dynamodb:{op}", 0) for op in ("GetItem", "Query", "Scan", "BatchGetItem"))
    notice_count = int(notices["Attributes"]["ApproximateNumberOfMessages"])
    # The mapping's own receive/delete calls are not the function's (and are not billed per call to it).
    handled = {op: n for op, n in notified.items() if not op.startswith("sqs:")}
    return {
        "events": len(day),
        "calls_by_operation": first,
        "writes_per_event": round(writes / len(day), 3),
        "reads_per_event": reads / len(day),
        "cloudwatch_calls": sum(n for op, n in first.items() if op.startswith(("monitoring:", "cloudwatch:"))),
        "notices": notice_count,
        "notices_per_event": round(notice_count / len(day), 3),
        "notify_calls_by_operation": handled,
        "notify_calls_per_notice": round(sum(handled.values()) / notice_count, 2),
        "freshness_calls_by_operation": checked,
        "workflows": len({event["resources"][0] for event in day}),
        "duplicate_calls_by_operation": duplicate,
        "calls_per_duplicate": round(sum(duplicate.values()) / len(day), 3),
        "events_per_second_against_moto": round(len(day) / seconds, 1),
    }


def rows(calls: dict[str, Any]) -> list[Row]:
    return [
        ("DynamoDB writes per event (simulated day)", f"{calls['writes_per_event']}", f"<= {TARGET_WRITES_PER_EVENT}"),
        ("DynamoDB reads per event", f"{calls['reads_per_event']}", "0"),
        ("CloudWatch API calls", f"{calls['cloudwatch_calls']}", "0 (EMF)"),
        ("calls per duplicate event (day replayed)", f"{calls['calls_per_duplicate']}", "<= 1"),
        ("notices per event (finished runs, retries)", f"{calls['notices_per_event']}", "reported"),
        ("notify AWS calls per notice", f"{calls['notify_calls_per_notice']}", "reported"),
        (
            "freshness check: AWS calls per run",
            f"{sum(calls['freshness_calls_by_operation'].values())} for {calls['workflows']} workflows",
            "1 + 1 per workflow",
        ),
        ("events/s through handler vs moto", f"{calls['events_per_second_against_moto']}", "emulator-bound"),
    ]
