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


def process_partial_batch(event: Mapping[str, Any], handle: Callable[[str], None]) -> PartialBatchResponse:
    """Run `handle` on each record's body; a record whose handling raises is reported for retry, alone."""
    records = event.get("Records", [])
    failures: list[BatchItemFailure] = []
    for record in records:
        try:
            handle(record["body"])
        except Exception:
            logger.exception("record failed and will be retried", extra={"message_id": record["messageId"]})
            failures.append({"itemIdentifier": record["messageId"]})
    if records and len(failures) == len(records):
        raise EntireBatchFailed(f"all {len(records)} records failed")
    return {"batchItemFailures": failures}
