"""Typed settings read once from the function's environment (set by template.yaml)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from mwaa_obs import DEFAULT_STACK_NAME
from mwaa_obs.events import Place


class ConfigError(RuntimeError):
    """The function's environment is incomplete or wrong: a deployment problem, reported at start-up."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def _whole_number(env: Mapping[str, str], name: str, default: str) -> int:
    value = env.get(name, default)
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


def _switch(env: Mapping[str, str], name: str, default: str) -> bool:
    value = env.get(name, default).lower()
    if value not in {"true", "false"}:
        raise ConfigError(f"{name} must be true or false, not {value!r}")
    return value == "true"


# What several functions read, each name and default written once.
def _table_name(env: Mapping[str, str]) -> str:
    return _required(env, "TABLE_NAME")


def _history_ttl(env: Mapping[str, str]) -> timedelta:
    return timedelta(days=_whole_number(env, "HISTORY_TTL_DAYS", "90"))


def _home(env: Mapping[str, str]) -> Place:
    """The stack's own account (template.yaml sets ACCOUNT_ID) and region (Lambda sets AWS_REGION): workflows of any
    other place get qualified ids (mwaa_obs.events.WorkflowRef) and are read through the reader role there."""
    return Place(_required(env, "ACCOUNT_ID"), _required(env, "AWS_REGION"))


def _reader_role(env: Mapping[str, str]) -> ReaderRole:
    return ReaderRole(_required(env, "READER_ROLE_NAME"), _required(env, "READER_EXTERNAL_ID"))


def _notices_queue_url(env: Mapping[str, str]) -> str:
    return _required(env, "NOTICES_QUEUE_URL")


def _settings_parameter(env: Mapping[str, str]) -> str:
    return _required(env, "SETTINGS_PARAMETER")


def _duration_alarm_seconds(env: Mapping[str, str]) -> int:
    """The default too-slow threshold (template.yaml's DurationAlarmSeconds)."""
    return _whole_number(env, "DURATION_ALARM_SECONDS", "3600")


def _retry_storm_threshold(env: Mapping[str, str]) -> int:
    """The default retry-storm threshold (template.yaml's RetryStormThreshold)."""
    return _whole_number(env, "RETRY_STORM_THRESHOLD", "10")


@dataclass(frozen=True, slots=True)
class ReaderRole:
    """The read-only role a forwarder stack creates in another account (forwarder/template.yaml), one per region,
    named `<name>-<region>`, assumed with the external id."""

    name: str
    external_id: str


@dataclass(frozen=True, slots=True)
class IngestConfig:
    table_name: str
    home: Place
    history_ttl: timedelta
    notices_queue_url: str
    max_receive_count: int  # the events queue's redrive setting: the receive after which a record is dead-lettered
    future_tolerance: timedelta  # how far ahead of its receipt an event may be dated (clocks differ, a little)
    settings_parameter: str  # per workflow: full metrics or not, its too-slow threshold
    duration_alarm_seconds: int
    retry_storm_threshold: int  # more retries of a workflow in a clock hour: RetryStorm

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> IngestConfig:
        return cls(
            table_name=_table_name(env),
            home=_home(env),
            history_ttl=_history_ttl(env),
            notices_queue_url=_notices_queue_url(env),
            max_receive_count=_whole_number(env, "EVENTS_MAX_RECEIVE_COUNT", "5"),
            future_tolerance=timedelta(hours=_whole_number(env, "FUTURE_EVENT_HOURS", "1")),
            settings_parameter=_settings_parameter(env),
            duration_alarm_seconds=_duration_alarm_seconds(env),
            retry_storm_threshold=_retry_storm_threshold(env),
        )


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    table_name: str
    notices_queue_url: str  # the notifier's own queue: it sends itself delayed flush notices
    alert_topic_arn: str
    settings_parameter: str
    slack_secret_arn: str | None  # None: Slack is not set up
    max_receive_count: int
    stack_name: str
    history_ttl: timedelta
    enrich: bool  # ask the MWAA Serverless API for what stored items lack
    home: Place
    reader_role: ReaderRole
    duration_alarm_seconds: int  # for the durations enrichment completes (RunTooSlow)
    account_alerts_per_hour: int  # central mode: a source account's failure and summary messages an hour

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> NotifyConfig:
        return cls(
            table_name=_table_name(env),
            notices_queue_url=_notices_queue_url(env),
            alert_topic_arn=_required(env, "ALERT_TOPIC_ARN"),
            settings_parameter=_settings_parameter(env),
            slack_secret_arn=env.get("SLACK_WEBHOOK_SECRET_ARN") or None,
            max_receive_count=_whole_number(env, "NOTICES_MAX_RECEIVE_COUNT", "5"),
            stack_name=env.get("STACK_NAME", DEFAULT_STACK_NAME),
            history_ttl=_history_ttl(env),
            enrich=_switch(env, "ENRICH_FROM_API", "true"),
            home=_home(env),
            reader_role=_reader_role(env),
            duration_alarm_seconds=_duration_alarm_seconds(env),
            account_alerts_per_hour=_whole_number(env, "ACCOUNT_ALERTS_PER_HOUR", "20"),
        )


@dataclass(frozen=True, slots=True)
class FreshnessConfig:
    table_name: str
    settings_parameter: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> FreshnessConfig:
        return cls(table_name=_table_name(env), settings_parameter=_settings_parameter(env))


@dataclass(frozen=True, slots=True)
class ProvisionConfig:
    table_name: str
    settings_parameter: str
    resource_prefix: str
    metric_namespace: str
    alarm_topic_arn: str
    dashboard_prefix: str
    workflow_dashboard: str
    duration_alarm_seconds: int
    retry_storm_threshold: int
    deleted_retention: timedelta

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ProvisionConfig:
        return cls(
            table_name=_table_name(env),
            settings_parameter=_settings_parameter(env),
            resource_prefix=_required(env, "RESOURCE_PREFIX"),
            metric_namespace=_required(env, "POWERTOOLS_METRICS_NAMESPACE"),
            alarm_topic_arn=_required(env, "ALARM_TOPIC_ARN"),
            dashboard_prefix=_required(env, "DASHBOARD_PREFIX"),
            workflow_dashboard=_required(env, "WORKFLOW_DASHBOARD"),
            duration_alarm_seconds=_duration_alarm_seconds(env),
            retry_storm_threshold=_retry_storm_threshold(env),
            deleted_retention=timedelta(days=_whole_number(env, "DELETED_WORKFLOW_RETENTION_DAYS", "14")),
        )


@dataclass(frozen=True, slots=True)
class ReconcileConfig:
    table_name: str
    home: Place
    reader_role: ReaderRole
    history_ttl: timedelta
    notices_queue_url: str
    settle: timedelta  # a run is checked once it has been listed this long
    events_stopped_after: timedelta  # API runs and no events for this long: events stopped
    settings_parameter: str  # for the metrics a run it imports owes
    duration_alarm_seconds: int
    retry_storm_threshold: int  # more retries of a workflow in a clock hour: RetryStorm

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ReconcileConfig:
        return cls(
            table_name=_table_name(env),
            home=_home(env),
            reader_role=_reader_role(env),
            history_ttl=_history_ttl(env),
            notices_queue_url=_notices_queue_url(env),
            settle=timedelta(minutes=_whole_number(env, "RECONCILE_AFTER_MINUTES", "60")),
            events_stopped_after=timedelta(hours=_whole_number(env, "EVENTS_STOPPED_HOURS", "3")),
            settings_parameter=_settings_parameter(env),
            duration_alarm_seconds=_duration_alarm_seconds(env),
            retry_storm_threshold=_retry_storm_threshold(env),
        )


@dataclass(frozen=True, slots=True)
class WidgetConfig:
    table_name: str
    stack_name: str
    actions_function_arn: str | None  # the Re-run and Stop buttons call it; None: no buttons
    settings_parameter: str  # each workflow's too-slow threshold (drawn on its charts) and team (the matrix's)
    duration_alarm_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WidgetConfig:
        return cls(
            table_name=_table_name(env),
            stack_name=env.get("STACK_NAME", DEFAULT_STACK_NAME),
            actions_function_arn=env.get("ACTIONS_FUNCTION_ARN") or None,
            settings_parameter=_settings_parameter(env),
            duration_alarm_seconds=_duration_alarm_seconds(env),
        )
