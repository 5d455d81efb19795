"""Delivery channels: the alert SNS topic and Slack incoming webhooks (URLs from Secrets Manager).

A webhook URL is a credential: it is read from the secret, kept in memory only, and never written to a log or an
error message. A URL the HTTP client could not send to is refused when the secret is read, and whatever else the
client raises becomes a DeliveryError naming only the error's type (Python's own errors quote the URL). Slack is
retried in-process on 429 (for Retry-After seconds), on 5xx and on network errors, with exponential backoff; what
still fails raises DeliveryError, so that SQS retries the notice later.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ConnectTimeoutError, EndpointConnectionError

from mwaa_obs.aws import THROTTLING_CODES
from mwaa_obs.messages.email import subject
from mwaa_obs.messages.model import Alert
from mwaa_obs.messages.sns import sns_attributes, sns_message

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


class DeliveryError(RuntimeError):
    """A message did not reach its channel; the reason never contains the webhook URL."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason


# All the attempts of one message, reading Slack's answer included, end within this (and within what is left of the
# invocation: Notifier passes `within`). What is left is retried by SQS.
SLACK_BUDGET_SECONDS: Final = 30.0
# Connecting is the one step that can be retried without risk: nothing has been sent yet.
SLACK_CONNECT_SECONDS: Final = 5.0


class SlackWebhook:
    """POSTs one payload to one incoming webhook, with retries, all within one total deadline.

    The deadline covers connecting, sending, and reading the status and the body: a watchdog closes the socket when
    it passes, so a Slack that trickles its answer cannot hold the notifier past it (a socket timeout applies per
    read and never fires on a byte every few seconds). A post is repeated only when Slack refused it (429, 5xx) or
    it was never sent (no connection). A post sent and never answered may have been shown: it is not repeated in
    process, and goes back to SQS (docs/NOTIFICATIONS.md, "the remaining window"). Incoming webhooks take no
    idempotency key.
    """

    def __init__(
        self,
        url: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = SLACK_CONNECT_SECONDS,
        attempts: int = 4,
        backoff: float = 1.0,
        max_retry_after: float = 20.0,
        budget: float = SLACK_BUDGET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._sleep = sleep
        self._connect_timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        self._budget = budget
        self._clock = clock

    def post(self, payload: dict[str, Any], *, within: float | None = None) -> None:
        """Deliver, or raise DeliveryError; `within`: seconds the caller can wait at most (else the budget)."""
        data = json.dumps(payload).encode()
        deadline = self._clock() + min(self._budget, self._budget if within is None else within)
        for attempt in range(1, self._attempts + 1):
            try:
                refused = self._try(data, deadline)
            except DeliveryError:
                raise
            except Exception as error:  # anything else the HTTP client raises may quote the URL
                raise DeliveryError("slack", f"the HTTP client failed ({type(error).__name__})") from None
            if refused is None:
                return
            reason, retry_after = refused
            if attempt == self._attempts:
                raise DeliveryError("slack", f"{reason}; gave up after {attempt} attempts")
            backoff = self._backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
            wait = retry_after if retry_after is not None else backoff
            if self._clock() + wait >= deadline:
                raise DeliveryError("slack", f"{reason}; no time left for another attempt: retried later")
            self._sleep(wait)

    def _try(self, data: bytes, deadline: float) -> tuple[str, float | None] | None:
        """None when delivered; else why it may be tried again, and the Retry-After Slack asked for (None: back
        off). Raises DeliveryError when it must not be tried again in process."""
        left = deadline - self._clock()
        if left <= 0:
            raise DeliveryError("slack", "no time left before the deadline: retried later")
        parts = urlsplit(self._url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname or "", parts.port, timeout=min(left, self._connect_timeout))
        status: int | None = None
        watchdog: threading.Timer | None = None
        try:
            try:
                connection.connect()
            except OSError as error:
                return f"network error ({type(error).__name__})", None
            # The socket itself: http.client lets go of it once the answer says the connection will close, while
            # its body is still being read.
            sock = connection.sock
            sock.settimeout(left)  # the watchdog ends the wait at the deadline
            watchdog = threading.Timer(max(0.0, deadline - self._clock()), _abandon, (sock,))
            watchdog.daemon = True
            watchdog.start()
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            try:
                connection.request("POST", target, body=data, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                status = response.status
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                if status is not None and 200 <= status < 300:
                    return None  # Slack answered 200: the message is in; only the rest of its body was missing
                raise DeliveryError(
                    "slack", f"sent, but no answer before the deadline ({type(error).__name__}): retried later"
                ) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()
            connection.close()
        return _judge(status, response.getheader("Retry-After"), body, self._backoff, self._max_retry_after)


def _abandon(sock: socket.socket) -> None:
    """The deadline passed: end whatever read or write is waiting on the socket."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _judge(
    status: int, retry_after: str | None, body: bytes, backoff: float, max_retry_after: float
) -> tuple[str, float | None] | None:
    if 200 <= status < 300:
        return None
    if status == 429:
        wait = _seconds(retry_after, default=backoff)
        if wait > max_retry_after:
            raise DeliveryError("slack", f"HTTP 429 with Retry-After {wait:.0f}s: retried later")
        return "HTTP 429", wait
    if status >= 500:
        return f"HTTP {status}", None
    text = body[:200].decode(errors="replace")
    raise DeliveryError("slack", f"HTTP {status} {text!r}: the request itself was refused")


def _seconds(header: str | None, default: float) -> float:
    try:
        return max(0.0, float(header)) if header is not None else default
    except ValueError:
        return default


class SlackWebhooks:
    """Webhook URLs by name, from one Secrets Manager secret, cached for `ttl_seconds` (rotation is picked up).

    The secret holds either one URL (the webhook named "default") or a JSON object of name → URL.
    """

    def __init__(
        self,
        secrets: Any,
        secret_arn: str,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secrets = secrets
        self._secret_arn = secret_arn
        self._ttl = ttl_seconds
        self._clock = clock
        self._urls: dict[str, str] = {}
        self._read_at: float | None = None

    def url(self, name: str) -> str:
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._ttl:
            self._urls = _parse_webhooks(self._read())
            self._read_at = now
        if name not in self._urls:
            raise DeliveryError("slack", f"no webhook named {name!r} in the Slack secret")
        return self._urls[name]

    def _read(self) -> str:
        try:
            value: str = self._secrets.get_secret_value(SecretId=self._secret_arn)["SecretString"]
        except self._secrets.exceptions.ClientError as error:
            raise DeliveryError("slack", f"cannot read the Slack secret: {error.response['Error']['Code']}") from None
        return value


def _parse_webhooks(value: str) -> dict[str, str]:
    text = value.strip()
    if text.startswith(("https://", "http://")):
        urls = {"default": text}
    else:
        try:
            urls = json.loads(text)
        except ValueError:
            raise DeliveryError("slack", "the Slack secret is neither a URL nor a JSON object of URLs") from None
        if not isinstance(urls, dict) or not all(isinstance(url, str) for url in urls.values()):
            raise DeliveryError("slack", "the Slack secret's JSON must map webhook names to URLs")
    for name, url in urls.items():
        _check_webhook(name, url)
    return urls


# What an HTTP client sends as it is: printable ASCII, no space (http.client refuses the rest with an error that
# quotes the URL, token included).
_SENDABLE: Final = re.compile(r"[!-~]+")


def _check_webhook(name: str, url: str) -> None:
    """Refuse, when the secret is read, a URL the HTTP client could not send to; the reason never quotes it."""
    if not _SENDABLE.fullmatch(url):
        raise DeliveryError("slack", f"webhook {name!r} is not a well-formed URL (a space, control or non-ASCII)")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise DeliveryError("slack", f"webhook {name!r} is not a well-formed URL (its host or port)") from None
    if not parts.hostname:
        raise DeliveryError("slack", f"webhook {name!r} is not a well-formed URL (no host)")
    if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)):
        raise DeliveryError("slack", f"webhook {name!r} is not an https URL")


class AlertTopic:
    """Publishes alerts to the SNS topic: plain text to email subscribers, the custom-notification JSON to others.

    The client must send each request once (mwaa_obs.aws.once_client): a Publish whose answer was lost may have
    been delivered, and botocore would send it again. Here it is repeated only when SNS refused it (throttling,
    5xx) or it was never sent (no connection); one sent and not answered goes back to SQS, as Slack's does.
    """

    def __init__(
        self, sns: Any, topic_arn: str, *, attempts: int = 3, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._attempts = attempts
        self._sleep = sleep

    def publish(self, alert: Alert) -> None:
        request = {
            "TopicArn": self._topic_arn,
            "Subject": subject(alert),
            "Message": sns_message(alert),
            "MessageStructure": "json",
            "MessageAttributes": sns_attributes(alert),
        }
        for attempt in range(1, self._attempts + 1):
            try:
                self._sns.publish(**request)
                return
            except self._sns.exceptions.ClientError as error:
                code = error.response["Error"]["Code"]
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if (status < 500 and code not in THROTTLING_CODES) or attempt == self._attempts:
                    raise DeliveryError("email", f"SNS Publish failed: {code}") from None
            except (ConnectTimeoutError, EndpointConnectionError) as error:
                if attempt == self._attempts:
                    raise DeliveryError("email", f"SNS unreachable ({type(error).__name__})") from None
            except BotoCoreError as error:
                raise DeliveryError(
                    "email", f"sent, but no answer from SNS ({type(error).__name__}): retried later"
                ) from None
            self._sleep(0.5 * 2 ** (attempt - 1) * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not crypto
