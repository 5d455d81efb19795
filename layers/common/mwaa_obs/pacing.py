"""Calls paced to the rates AWS allows an account and region, so that a long pass is not throttled.

CloudWatch's alarm and dashboard APIs allow a few requests a second per account and region ("Amazon CloudWatch
endpoints and quotas", docs.aws.amazon.com/general/latest/gr/cw_region.html, "Each supported Region"): a pass that
writes the alarms of hundreds of workflows would otherwise spend its time being refused ("Throttling: Rate exceeded")
and retried. A `Pacer` holds one token bucket per operation on a client and waits for a token before each request
leaves (every attempt, retries included). The local stack's throttle (mwaa_obs_tools.throttle) enforces the same
rates with the same buckets on the emulator's side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

# Default quotas, requests per second per account and region; DeleteAlarms, TagResource and UntagResource are not
# adjustable, the others are (Service Quotas). Only the operations the stack's functions call.
CLOUDWATCH_RATES: Final[Mapping[str, float]] = {
    "PutMetricAlarm": 3,
    "PutCompositeAlarm": 3,
    "DeleteAlarms": 3,
    "DescribeAlarms": 9,
    "GetDashboard": 10,
    "PutDashboard": 10,
    "DeleteDashboards": 10,
    "ListDashboards": 10,
    "ListTagsForResource": 10,
    "TagResource": 20,
    "UntagResource": 20,
}


_WHOLE: Final = 1 - 1e-9  # a token refilled in float arithmetic may fall short of 1 by a rounding error


class TokenBucket:
    """`rate` tokens a second, holding at most `rate` of them: one second of calls at once. AWS publishes the rate,
    not the burst; a second's worth is the strict reading."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self._tokens = float(rate)
        self._at = now

    def _refill(self, now: float) -> None:
        self._tokens = min(self.rate, self._tokens + max(0.0, now - self._at) * self.rate)
        self._at = max(self._at, now)

    def take(self, now: float) -> bool:
        """Spend a token if one is there."""
        self._refill(now)
        if self._tokens >= _WHOLE:
            self._tokens = max(0.0, self._tokens - 1)
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: now)."""
        self._refill(now)
        return 0.0 if self._tokens >= _WHOLE else (1 - self._tokens) / self.rate


class Pacer:
    """Waits before each request of a client until its operation's bucket has a token."""

    def __init__(
        self,
        rates: Mapping[str, float] = CLOUDWATCH_RATES,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rates = rates
        self.clock = clock  # public: the bench runs the function on a modelled clock
        self.sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}
        self.waited = 0.0  # seconds spent waiting, over the pacer's life

    def attach(self, client: Any) -> Any:
        """Pace every request `client` sends (botocore's before-send event: each attempt, retries included)."""
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-send.{service}", self._before_send)
        return client

    def pace(self, operation: str) -> None:
        """Wait for a token of `operation` (no wait for an operation without a rate)."""
        rate = self._rates.get(operation)
        if rate is None:
            return
        bucket = self._buckets.get(operation) or self._buckets.setdefault(operation, TokenBucket(rate, self.clock()))
        while not bucket.take(self.clock()):
            delay = bucket.wait(self.clock())
            self.sleep(delay)
            self.waited += delay

    def _before_send(self, event_name: str, **_: Any) -> None:
        self.pace(event_name.rsplit(".", 1)[1])
