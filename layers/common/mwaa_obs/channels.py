"""Delivery channels: the alert SNS topic and Slack incoming webhooks (URLs from Secrets Manager).

A webhook URL is a credential: it is read from the secret, kept in memory only, and never written to a log or an
error message. Slack is retried in-process on 429 (for Retry-After seconds), on 5xx and on network errors, with
exponential backoff; what still fails raises DeliveryError, so that SQS retries the notice later.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

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


# All the retries of one message end within this, plus one request's timeout: 30 + 5 s, well inside the notify
# function's 60 s timeout (template.yaml; a test holds them together). What is left is retried by SQS.
SLACK_BUDGET_SECONDS: Final = 30.0
SLACK_TIMEOUT_SECONDS: Final = 5.0


class SlackWebhook:
    """POSTs one payload to one incoming webhook, with retries, all within a time budget."""

    def __init__(
        self,
        url: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = SLACK_TIMEOUT_SECONDS,
        attempts: int = 4,
        backoff: float = 1.0,
        max_retry_after: float = 20.0,
        budget: float = SLACK_BUDGET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._sleep = sleep
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        self._budget = budget
        self._clock = clock

    def post(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        started = self._clock()
        for attempt in range(1, self._attempts + 1):
            refused = self._try(data)
            if refused is None:
                return
            reason, retry_after = refused
            if attempt == self._attempts:
                raise DeliveryError("slack", f"{reason}; gave up after {attempt} attempts")
            backoff = self._backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
            wait = retry_after if retry_after is not None else backoff
            if self._clock() - started + wait > self._budget:
                raise DeliveryError("slack", f"{reason}; no time left for another attempt: retried later")
            self._sleep(wait)

    def _try(self, data: bytes) -> tuple[str, float | None] | None:
        """None when delivered; else why, and the Retry-After Slack asked for (None: back off)."""
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked when the URL is read (https or loopback)
            self._url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 - see above
                response.read()
                return None
        except urllib.error.HTTPError as error:
            if error.code == 429:
                wait = _seconds(error.headers.get("Retry-After"), default=self._backoff)
                if wait > self._max_retry_after:
                    raise DeliveryError("slack", f"HTTP 429 with Retry-After {wait:.0f}s: retried later") from None
                return "HTTP 429", wait
            if error.code >= 500:
                return f"HTTP {error.code}", None
            body = error.read(200).decode(errors="replace")
            raise DeliveryError("slack", f"HTTP {error.code} {body!r}: the request itself was refused") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            return f"network error ({type(reason).__name__})", None


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
        parts = urlsplit(url)
        if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)):
            raise DeliveryError("slack", f"webhook {name!r} is not an https URL")
    return urls


class AlertTopic:
    """Publishes alerts to the SNS topic: plain text to email subscribers, the custom-notification JSON to others."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, alert: Alert) -> None:
        try:
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=subject(alert),
                Message=sns_message(alert),
                MessageStructure="json",
                MessageAttributes=sns_attributes(alert),
            )
        except self._sns.exceptions.ClientError as error:
            raise DeliveryError("email", f"SNS Publish failed: {error.response['Error']['Code']}") from None
