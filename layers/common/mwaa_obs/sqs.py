"""SQS event source semantics with ReportBatchItemFailures: only the records that failed are retried.

Hand-written rather than Powertools' BatchProcessor, whose import (asyncio and every event data class) added a
fifth to the ingest function's cold start (make bench).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE

logger = Logger(service=SERVICE, child=True)


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


class EntireBatchFailed(RuntimeError):
    """Every record failed: raised so that the invocation counts as an error (and alarms) and SQS retries all."""


def process_partial_batch(
    event: Mapping[str, Any],
    handle: Callable[[str, str], None],
    max_receive_count: int | None = None,
    on_last_failure: Callable[[], None] = lambda: None,
) -> PartialBatchResponse:
    """Run `handle` on each record's body and message id (the same on each receive of a message); a record whose
    handling raises is reported for retry, alone.

    With `max_receive_count` (the queue's redrive setting), a record failing its last receive is logged as going
    to the DLQ and `on_last_failure` is called (to count it).
    """
    records = event.get("Records", [])
    failures: list[BatchItemFailure] = []
    for record in records:
        try:
            handle(record["body"], record["messageId"])
        except Exception:
            receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            last = max_receive_count is not None and receives >= max_receive_count
            message = (
                "record failed on its last receive and goes to the DLQ" if last else "record failed and will be retried"
            )
            logger.exception(message, extra={"message_id": record["messageId"], "receive_count": receives})
            if last:
                on_last_failure()
            failures.append({"itemIdentifier": record["messageId"]})
    if records and len(failures) == len(records):
        raise EntireBatchFailed(f"all {len(records)} records failed")
    return {"batchItemFailures": failures}
