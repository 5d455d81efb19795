"""Per-workflow settings: who is told about a workflow, how, and how often, and when it counts as overdue.

One JSON document in SSM Parameter Store (`/<prefix>/settings`), editable without a deployment; the notifier
reads it at most once a minute. Rules are matched against the workflow name in order, the first match wins, and
its keys override the defaults (docs/NOTIFICATIONS.md has the reference and an example):

    {"defaults": {"team": "data-platform", "slack_webhook": "default"},
     "workflows": [{"match": "sales_*", "team": "sales", "slack_webhook": "sales", "mention": "<!subteam^S0123>"},
                   {"match": "scratch_*", "alerts": false}]}
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from fnmatch import fnmatchcase
from types import UnionType
from typing import Any, Final, get_args, get_type_hints

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mwaa_obs import SERVICE
from mwaa_obs.metrics import INVALID_SETTINGS, SeriesPolicy
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)

# Slack mention markup only (<@U…>, <!subteam^S…>, <!here>, <#C…>): the one trusted piece of mrkdwn in a message.
_MENTIONS = re.compile(r"^(\s*<(@[A-Z0-9]+|!subteam\^[A-Z0-9]+|!here|!channel|#[A-Z0-9]+)>)*\s*$")
_WEBHOOK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class InvalidSettings(ValueError):
    """The settings document is malformed; the message says where."""


@dataclass(frozen=True, slots=True)
class Route:
    """How one workflow's messages are delivered."""

    alerts: bool = True  # False: decisions are still kept (incidents, counts), nothing is sent
    team: str = ""
    severity: str = "high"  # of failure messages; recovery is "info", retry "warning"
    email: bool = True  # publish to the alert topic (email and any other subscribers)
    slack_webhook: str | None = "default"  # name of a webhook in the Slack secret; None: no Slack
    mention: str = ""  # Slack mention markup put in failure messages, e.g. <!subteam^S0123>
    alert_on_stopped: bool = False
    retry_alerts: bool = False
    group_window_minutes: int = 60
    freshness_check: bool = True  # False: never reported overdue (e.g. workflows run by hand)
    freshness_grace_minutes: int = 60  # how long after its scheduled time a run may take to succeed
    alarms: str = "shared"  # "dedicated": its own alarms, composite health alarm and dashboard (docs/ALARMS.md)
    # A run longer than this is too slow (RunTooSlow, the shared too-slow alarm; and the dedicated one's threshold).
    # None: the stack's DurationAlarmSeconds, and for a dedicated alarm a threshold learned from its runs.
    duration_threshold_seconds: int | None = None
    metrics: str = "exceptions"  # "full": its own series carry every healthy run's metrics too (docs/METRICS.md)
    # More task retries than this in a clock hour is a retry storm (RetryStorm, the shared retry-storm alarm; and the
    # dedicated one's threshold). None: the stack's RetryStormThreshold.
    retry_threshold: int | None = None

    @property
    def group_window(self) -> timedelta:
        return timedelta(minutes=self.group_window_minutes)


def _accepted_types(hint: Any) -> tuple[type, ...]:
    return tuple(get_args(hint)) if isinstance(hint, UnionType) else (hint,)


# The JSON types each settings key accepts: those of Route's fields.
_TYPES: Final[dict[str, tuple[type, ...]]] = {
    name: _accepted_types(hint)
    for name, hint in get_type_hints(Route).items()
    if name in {f.name for f in fields(Route)}
}
ALARM_MODES: Final = ("shared", "dedicated")
METRIC_MODES: Final = ("exceptions", "full")
# Keys that are not settings of a route.
_OTHER_KEYS: Final = frozenset({"match"})


@dataclass(frozen=True, slots=True)
class Settings:
    defaults: Route = Route()
    rules: tuple[tuple[str, Mapping[str, Any]], ...] = ()

    def route_for(self, workflow_name: str) -> Route:
        for pattern, overrides in self.rules:
            if fnmatchcase(workflow_name, pattern):
                return replace(self.defaults, **overrides)
        return self.defaults


def parse_settings(text: str) -> Settings:
    """Parse and check the settings document; raises InvalidSettings naming the first problem."""
    try:
        document = json.loads(text) if text.strip() else {}
    except ValueError as error:
        raise InvalidSettings(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidSettings("the document must be a JSON object")
    defaults = replace(Route(), **_route_fields(document.get("defaults", {}), "defaults"))
    rules = []
    workflows = document.get("workflows", [])
    if not isinstance(workflows, list):
        raise InvalidSettings("workflows must be a list of rules")
    for index, rule in enumerate(workflows):
        where = f"workflows[{index}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("match"), str) or not rule["match"]:
            raise InvalidSettings(f'{where} needs a non-empty "match" pattern')
        rules.append((rule["match"], _route_fields(rule, where)))
    return Settings(defaults, tuple(rules))


def _route_fields(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidSettings(f"{where} must be an object")
    unknown = sorted(set(raw) - set(_TYPES) - _OTHER_KEYS)
    if unknown:
        logger.warning("unknown settings keys ignored", extra={"where": where, "keys": unknown})
    chosen = {key: value for key, value in raw.items() if key in _TYPES}
    for key, value in chosen.items():
        if (isinstance(value, bool) and bool not in _TYPES[key]) or not isinstance(value, _TYPES[key]):
            raise InvalidSettings(f"{where}.{key} has the wrong type ({type(value).__name__})")
    if "mention" in chosen and not _MENTIONS.match(chosen["mention"]):
        raise InvalidSettings(f"{where}.mention must be Slack mention markup such as <!subteam^S0123> or <@U0123>")
    if chosen.get("slack_webhook") is not None and not _WEBHOOK_NAME.match(chosen["slack_webhook"]):
        raise InvalidSettings(f"{where}.slack_webhook must be a webhook name (letters, digits, _ . -)")
    _check_values(chosen, where)
    if chosen.get("slack_webhook") == "":
        chosen["slack_webhook"] = None
    return chosen


def _check_values(chosen: Mapping[str, Any], where: str) -> None:
    """The numbers in range and the modes known."""
    for key in ("group_window_minutes", "freshness_grace_minutes"):
        if chosen.get(key, 0) < 0:
            raise InvalidSettings(f"{where}.{key} must not be negative")
    for key in ("duration_threshold_seconds", "retry_threshold"):
        if chosen.get(key) is not None and chosen[key] < 1:
            raise InvalidSettings(f"{where}.{key} must be at least 1")
    for key, modes in (("alarms", ALARM_MODES), ("metrics", METRIC_MODES)):
        if chosen.get(key, modes[0]) not in modes:
            raise InvalidSettings(f"{where}.{key} must be one of {', '.join(modes)}")


def series_policy(
    route: Route, default_duration_seconds: int, default_retry_threshold: int | None = None
) -> SeriesPolicy:
    """What a workflow's own metric series carry. A dedicated workflow has full metrics: its own too-slow and
    retry-storm alarms and its dashboard read its RunDuration and TaskUpForRetry. `default_retry_threshold`: the
    stack's RetryStormThreshold, for whoever records retries (ingest, the reconciler, backfill); None: no storm is
    judged (readers that record no transition)."""
    return SeriesPolicy(
        full=route.metrics == "full" or route.alarms == "dedicated",
        too_slow_seconds=route.duration_threshold_seconds or default_duration_seconds,
        retry_threshold=None if default_retry_threshold is None else route.retry_threshold or default_retry_threshold,
    )


class SettingsSource:
    """The settings document from SSM Parameter Store, cached for `ttl_seconds`.

    A document that cannot be read or parsed never stops the messages: the last good settings (or the built-in
    defaults) stay in use and the problem is logged and counted (InvalidSettings) once per read.
    """

    def __init__(
        self,
        ssm: Any,
        parameter_name: str,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ssm = ssm
        self._name = parameter_name
        self._ttl = ttl_seconds
        self._clock = clock
        self._cached = Settings()
        self._read_at: float | None = None

    def get(self, sink: MetricSink | None = None) -> Settings:
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self._ttl:
            return self._cached
        self._read_at = now
        try:
            text = self._ssm.get_parameter(Name=self._name)["Parameter"]["Value"]
            self._cached = parse_settings(text)
        except InvalidSettings as error:
            logger.error("settings document rejected; previous settings kept", extra={"reason": str(error)})
            _count_invalid(sink)
        except self._ssm.exceptions.ParameterNotFound:
            logger.error("settings parameter not found; previous settings kept", extra={"parameter": self._name})
            _count_invalid(sink)
        return self._cached


class SeriesPolicies:
    """Each workflow's SeriesPolicy from the settings document (read through the source: at most once a minute).

    A document that cannot be read (SSM throttled or down) leaves the last settings read in use until the next read
    a minute later: which series a workflow's metrics go to is not worth failing the events that owe them.
    """

    def __init__(
        self, settings: SettingsSource, default_duration_seconds: int, default_retry_threshold: int | None = None
    ) -> None:
        self._settings = settings
        self._default_duration = default_duration_seconds
        self._default_retry_threshold = default_retry_threshold
        self._last = Settings()

    def __call__(self, workflow_name: str) -> SeriesPolicy:
        try:
            self._last = self._settings.get()
        except (BotoCoreError, ClientError) as error:
            logger.warning("settings not read; metric series as the last ones read", extra={"error": str(error)[:200]})
        route = self._last.route_for(workflow_name)
        return series_policy(route, self._default_duration, self._default_retry_threshold)


def _count_invalid(sink: MetricSink | None) -> None:
    if sink is not None:
        sink.count(INVALID_SETTINGS)
