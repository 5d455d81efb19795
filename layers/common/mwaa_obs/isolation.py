"""One bad item never stops a pass: the reconcile, discovery and provision passes handle each workflow and run apart.

An item fault is an error that comes from the item itself: a value the code does not expect (an ARN of another
shape, a field missing from an answer), a request AWS refuses for its parameters (botocore's ParamValidationError,
a ValidationException). It is logged with the item and the reason, counted (ItemsSkipped), and the pass goes on
with the next item; the item is tried again by the next pass. Every other AWS error (throttling after the client's
retries, access denied, a service down) concerns the whole pass and propagates, as before, to the function's error
metric and its alarm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from mwaa_obs import SERVICE
from mwaa_obs.metrics import ITEMS_SKIPPED
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)

# Error codes by which AWS refuses a request for what it holds, not for the state of the service or the caller.
ITEM_ERROR_CODES: Final = frozenset({"ValidationException"})


def is_item_fault(error: BaseException) -> bool:
    """Whether the error is the item's own (skip it) rather than the pass's (propagate)."""
    if isinstance(error, ParamValidationError):
        return True
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in ITEM_ERROR_CODES
    return isinstance(error, Exception) and not isinstance(error, BotoCoreError)


class Isolation:
    """Runs each item's work apart within one pass, and counts the items it skipped."""

    def __init__(self, sink: MetricSink) -> None:
        self._sink = sink
        self.skipped = 0

    def run[T](self, what: Mapping[str, Any], work: Callable[[], T]) -> T | None:
        """`work()`, or None when it failed by an item fault (logged once, `what` naming the item; counted)."""
        try:
            return work()
        except Exception as error:
            if not is_item_fault(error):
                raise
            logger.exception(
                "item skipped: the pass goes on without it",
                extra={**what, "error": f"{type(error).__name__}: {str(error)[:300]}"},
            )
            self._sink.count(ITEMS_SKIPPED)
            self.skipped += 1
            return None
