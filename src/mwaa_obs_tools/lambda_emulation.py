"""Running Lambda handlers in-process the way the Lambda service would (there is no Docker engine here).

An SQS event source mapping receives up to BatchSize messages, shapes them as a Lambda SQS event and, with
ReportBatchItemFailures, deletes every message except those the function reports as failed; an invocation that
raises deletes none. Messages not deleted become visible again and, after maxReceiveCount receives, SQS moves them
to the dead-letter queue.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class FakeLambdaContext:
    function_name: str = "mwaa-obs-ingest"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:mwaa-obs-ingest"
    aws_request_id: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass(frozen=True)
class PollResult:
    received: int
    failed: int  # reported in batchItemFailures, or the whole batch when the invocation raised
    invocation_error: str | None = None


def poll_sqs_once(sqs: Any, queue_url: str, queue_arn: str, handler: Handler, batch_size: int = 10) -> PollResult:
    """One receive-invoke-delete cycle of an SQS event source mapping with ReportBatchItemFailures."""
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=min(batch_size, 10),
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    if not messages:
        return PollResult(0, 0)
    event = {"Records": [_record(message, queue_arn) for message in messages]}
    context = FakeLambdaContext(aws_request_id=str(uuid.uuid4()))
    try:
        response = handler(event, context) or {}
    except Exception as error:  # as Lambda does: any error fails the whole batch, which is retried
        _make_visible(sqs, queue_url, messages)
        return PollResult(len(messages), len(messages), f"{type(error).__name__}: {error}")
    failed_ids = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
    done = [message for message in messages if message["MessageId"] not in failed_ids]
    retry = [message for message in messages if message["MessageId"] in failed_ids]
    if done:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    _make_visible(sqs, queue_url, retry)
    return PollResult(len(messages), len(retry))


def _make_visible(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Skip the visibility timeout a real mapping would wait out, so that retries happen now."""
    if messages:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(messages)
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def _record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def load_handler(template: Mapping[str, Any], logical_id: str, root: Path) -> Handler:
    """Import a function's handler from its CodeUri, as the Lambda runtime would (after its env is set)."""
    properties = template["Resources"][logical_id]["Properties"]
    module_name, function_name = properties["Handler"].rsplit(".", 1)
    path = root / properties["CodeUri"] / f"{module_name.replace('.', '/')}.py"
    spec = importlib.util.spec_from_file_location(f"mwaa_obs_functions.{logical_id}.{module_name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, function_name)
    return handler


class CurrentStdout:
    """A stream that writes to whatever sys.stdout is at the time: Lambda captures a function's stdout per
    invocation, and so do the local stack and the tests, by swapping sys.stdout."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def follow_stdout(logger_name: str) -> None:
    """Point a logger's stream handlers (bound to the sys.stdout of import time) at the current sys.stdout."""
    for handler in logging.getLogger(logger_name).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(CurrentStdout())


def matches_filter(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """An event source mapping's FilterCriteria pattern (exact values only) applied to one record, as Lambda does."""
    for key, wanted in pattern.items():
        value = record.get(key) if isinstance(record, Mapping) else None
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches_filter(wanted, value):
                return False
        elif value not in wanted:
            return False
    return True
