"""Delivery of a decided message: one notifier at a time sends it to each channel that lacks it, and marks each.

What to tell, and in what words, is mwaa_obs.notify's; this module only delivers it. The lead item's delivery lease
is taken with the decision or claimed here before sending: a duplicate notice that finds it held leaves the message
to its holder, whose own notice SQS retries if it dies. The message is composed under the lease, its task logs read
in a bounded share of the time the invocation has left; each channel that takes it is marked on the lead, so a
retried notice sends only what is missing; the lease is given back at the end, or expires by itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mwaa_obs import SERVICE
from mwaa_obs.channels import AlertTopic, DeliveryError, SlackWebhook, SlackWebhooks
from mwaa_obs.messages.content import with_log_tails
from mwaa_obs.messages.model import Alert
from mwaa_obs.messages.slack import slack_message
from mwaa_obs.metrics import NOTIFICATION_FAILURES, NOTIFICATIONS_SENT
from mwaa_obs.settings import Route
from mwaa_obs.store.alerts import Alerts, Lease, notified_at
from mwaa_obs.store.schema import StateItem
from mwaa_obs.task_logs import TaskLogReader
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)

# A lease lasts what is left of the invocation plus this (clocks of two Lambda hosts differ by far less), so that
# it outlives its holder only when the holder died, and never by more than this.
LEASE_MARGIN_SECONDS = 10.0
# What a delivery leaves itself after the last channel, to write the marks and give the lease back.
MARK_RESERVE_SECONDS = 5.0
DEFAULT_REMAINING_SECONDS = 60.0  # the notify function's timeout (template.yaml), when no Lambda context says
# A message's task logs are read in at most this long, and in at most this share of what the invocation has left
# after the marks' reserve: the rest is the channels'. A log not read by then is left out (the link stays).
LOG_READ_SECONDS = 4.0
LOG_READ_SHARE = 0.25


class DeliveryIncomplete(RuntimeError):
    """At least one channel did not take the message; the notice is retried for those channels only."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one invocation delivers with: its lease, and the seconds it has left."""

    lease: Lease
    remaining: Callable[[], float]


@dataclass
class Courier:
    """Sends decided messages over SNS email and Slack, one notifier at a time per message."""

    alerts: Alerts
    topic: AlertTopic | None
    webhooks: SlackWebhooks | None
    slack: Callable[[str], SlackWebhook] = SlackWebhook
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # when a channel took a message, as marked
    wall: Callable[[], float] = time.time  # leases are about processes ending: real time, even on the local stack
    task_logs: TaskLogReader | None = None  # reads the failed tasks' last log lines; None: links only
    log_read_seconds: float = LOG_READ_SECONDS

    def start(self, remaining: Callable[[], float] | None = None) -> Delivery:
        """One invocation's delivery: a lease of its own, bounded by `remaining` (Lambda's context's seconds)."""
        left = remaining or (lambda: DEFAULT_REMAINING_SECONDS)
        return Delivery(Lease(uuid.uuid4().hex, self.wall() + left() + LEASE_MARGIN_SECONDS), left)

    def send(
        self, lead: StateItem, route: Route, sink: MetricSink, delivery: Delivery, compose: Callable[[], Alert]
    ) -> bool:
        """Deliver the message `lead` leads (a run's, or a retried attempt's), composed only when a channel of the
        route lacks it and under its lease; False when another notifier holds the lease (the message is left to
        it)."""
        if all(notified_at(lead, channel) is not None for channel in self._senders(route)):
            return True  # a duplicate notice after the delivery
        if lead.sending_by != delivery.lease.owner and not self.alerts.claim(lead, delivery.lease, self.wall()):
            logger.info("another notifier is delivering this message; left to it", extra={"item": lead.sk})
            return False
        try:
            if any(notified_at(lead, channel) is None for channel in self._senders(route)):
                self._deliver(lead, self._with_logs(compose(), delivery), route, sink, delivery)
        finally:
            self._release(lead, delivery.lease)
        return True

    def _with_logs(self, alert: Alert, delivery: Delivery) -> Alert:
        """The message with its failed tasks' last log lines, read in a bounded share of the time left."""
        if self.task_logs is None or not (alert.tasks_with_logs or alert.named_with_logs):
            return alert
        within = min(self.log_read_seconds, LOG_READ_SHARE * (delivery.remaining() - MARK_RESERVE_SECONDS))
        return with_log_tails(alert, self.task_logs, within)

    def _release(self, lead: StateItem, lease: Lease) -> None:
        """Give the lease back; if that fails it expires by itself, long before SQS gives a failed notice again
        (the queue's visibility timeout is longer than the function's timeout plus LEASE_MARGIN_SECONDS)."""
        try:
            self.alerts.release(lead, lease)
        except (BotoCoreError, ClientError) as error:
            logger.warning("delivery lease not given back; it expires", extra={"reason": type(error).__name__})

    def _senders(self, route: Route) -> dict[str, Callable[[Alert, Delivery], None]]:
        """How to send a message of this route, by channel."""
        senders: dict[str, Callable[[Alert, Delivery], None]] = {}
        if route.email and self.topic is not None:
            topic = self.topic
            senders["email"] = lambda alert, _: topic.publish(alert)
        if route.slack_webhook and self.webhooks is not None:
            webhooks, name = self.webhooks, route.slack_webhook
            senders["slack"] = lambda alert, delivery: self.slack(webhooks.url(name)).post(
                slack_message(alert), within=delivery.remaining() - MARK_RESERVE_SECONDS
            )
        return senders

    def _deliver(self, item: StateItem, alert: Alert, route: Route, sink: MetricSink, delivery: Delivery) -> None:
        failed = []
        for channel, send in self._senders(route).items():
            if notified_at(item, channel) is not None:
                continue
            try:
                send(alert, delivery)
            except (DeliveryError, BotoCoreError, ClientError) as error:
                reason = error.reason if isinstance(error, DeliveryError) else type(error).__name__
                logger.error("channel did not take the message", extra={"channel": channel, "reason": reason})
                sink.count(NOTIFICATION_FAILURES)
                failed.append(channel)
                continue
            self.alerts.mark_notified(item, channel, self.clock())
            sink.count(NOTIFICATIONS_SENT, alert.workflow_name)
        if failed:
            raise DeliveryIncomplete(f"not delivered to {', '.join(failed)}; retried with the notice")
