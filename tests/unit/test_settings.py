"""Per-workflow settings: first matching rule over the defaults; bad documents are refused with the reason."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mwaa_obs.metrics import INVALID_SETTINGS, SeriesPolicy
from mwaa_obs.settings import (
    InvalidSettings,
    Route,
    SeriesPolicies,
    Settings,
    SettingsSource,
    parse_settings,
    series_policy,
)
from mwaa_obs.telemetry import MetricSink

EXAMPLE = {
    "defaults": {"team": "data-platform", "group_window_minutes": 30},
    "workflows": [
        {"match": "sales_*", "team": "sales", "slack_webhook": "sales", "mention": "<!subteam^S0123>"},
        {"match": "sales_tmp_*", "alerts": False},
        {"match": "scratch_*", "alerts": False, "email": False, "slack_webhook": None},
    ],
}


def test_the_first_matching_rule_overrides_the_defaults() -> None:
    settings = parse_settings(json.dumps(EXAMPLE))
    sales = settings.route_for("sales_daily")
    assert (sales.team, sales.slack_webhook, sales.mention, sales.group_window_minutes) == (
        "sales",
        "sales",
        "<!subteam^S0123>",
        30,
    )
    # The first match wins: sales_tmp_x matches sales_* before sales_tmp_*
    assert settings.route_for("sales_tmp_x").alerts is True
    scratch = settings.route_for("scratch_1")
    assert (scratch.alerts, scratch.email, scratch.slack_webhook) == (False, False, None)
    other = settings.route_for("finance")
    assert other == Route(team="data-platform", group_window_minutes=30)


def test_an_empty_document_gives_the_built_in_defaults() -> None:
    assert parse_settings("") == Settings()
    assert parse_settings('{"defaults": {}, "workflows": []}').route_for("any") == Route()


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{", "not JSON"),
        ("[]", "must be a JSON object"),
        ('{"workflows": {}}', "workflows must be a list"),
        ('{"workflows": [{"team": "x"}]}', 'workflows[0] needs a non-empty "match"'),
        ('{"defaults": {"alerts": "yes"}}', "defaults.alerts has the wrong type"),
        ('{"defaults": {"group_window_minutes": true}}', "defaults.group_window_minutes has the wrong type"),
        ('{"defaults": {"group_window_minutes": -1}}', "must not be negative"),
        ('{"defaults": {"mention": "@channel <https://x|y>"}}', "mention must be Slack mention markup"),
        ('{"defaults": {"slack_webhook": "https://hooks.slack.com/x"}}', "must be a webhook name"),
        ('{"workflows": [{"match": "x", "metrics": "all"}]}', "workflows[0].metrics must be one of exceptions, full"),
        ('{"defaults": {"duration_threshold_seconds": 0}}', "defaults.duration_threshold_seconds must be at least 1"),
    ],
)
def test_bad_documents_are_refused_with_the_reason(document: str, reason: str) -> None:
    with pytest.raises(InvalidSettings, match=re.escape(reason)):
        parse_settings(document)


class FakeParameterStore:
    """Stands in for the SSM client in a unit test: the document, and how often it was read."""

    class exceptions:
        ParameterNotFound = KeyError

    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0

    def get_parameter(self, Name: str) -> dict[str, Any]:
        self.reads += 1
        return {"Parameter": {"Name": Name, "Value": self.value}}


def test_the_source_caches_and_keeps_the_last_good_settings_when_the_document_breaks() -> None:
    store = FakeParameterStore(json.dumps(EXAMPLE))
    now = [0.0]
    sink = MetricSink()
    source = SettingsSource(store, "/p", ttl_seconds=60, clock=lambda: now[0])
    assert source.get(sink).route_for("sales_x").team == "sales"
    now[0] = 30
    source.get(sink)
    assert store.reads == 1
    # When the document is broken by an edit
    store.value = '{"defaults": {"alerts": "no"}}'
    now[0] = 61
    # Then the previous settings stay in use and the refusal is reported once per read
    assert source.get(sink).route_for("sales_x").team == "sales"
    assert store.reads == 2
    assert [point.spec for point in sink.points] == [INVALID_SETTINGS]


def test_a_rule_can_route_a_whole_account_or_one_name_in_every_place() -> None:
    settings = parse_settings(
        json.dumps(
            {
                "workflows": [
                    {"match": "210987654321/*", "team": "prod"},
                    {"match": "*orders_etl", "team": "orders"},
                ]
            }
        )
    )
    assert settings.route_for("210987654321/eu-west-1/orders_etl").team == "prod"  # central mode's qualified name
    assert settings.route_for("123456789012/eu-west-1/orders_etl").team == "orders"
    assert settings.route_for("orders_etl").team == "orders"  # the stack's own account and region
    assert settings.route_for("billing").team == Route().team


def test_each_workflows_series_policy_comes_from_its_rule() -> None:
    document = {
        "workflows": [
            {"match": "sla_*", "duration_threshold_seconds": 900},
            {"match": "ml_*", "metrics": "full"},
            {"match": "critical_*", "alarms": "dedicated"},
        ]
    }
    policies = SeriesPolicies(SettingsSource(FakeParameterStore(json.dumps(document)), "/p"), 3600)
    assert policies("nightly") == SeriesPolicy(full=False, too_slow_seconds=3600)  # the stack's DurationAlarmSeconds
    assert policies("sla_orders") == SeriesPolicy(full=False, too_slow_seconds=900)
    assert policies("ml_train") == SeriesPolicy(full=True, too_slow_seconds=3600)
    # A dedicated workflow's own too-slow alarm and dashboard read its RunDuration: it has full metrics
    assert policies("critical_billing").full
    assert series_policy(Route(metrics="full", duration_threshold_seconds=60), 3600) == SeriesPolicy(True, 60)


def test_each_workflows_retry_storm_threshold_is_its_own_else_the_stacks() -> None:
    document = {"workflows": [{"match": "flaky_*", "retry_threshold": 30}]}
    policies = SeriesPolicies(SettingsSource(FakeParameterStore(json.dumps(document)), "/p"), 3600, 10)
    assert policies("flaky_scraper").retry_threshold == 30
    assert policies("nightly").retry_threshold == 10  # the stack's RetryStormThreshold
    # A reader that records no transition (widget, notify) is given no threshold: it judges no storm
    assert series_policy(Route(retry_threshold=30), 3600).retry_threshold is None


def test_a_settings_read_that_fails_keeps_the_last_series_policies_and_fails_no_event() -> None:
    # SSM throttled or down: which series a workflow's metrics go to is not worth failing the events that owe them
    store = FakeParameterStore(json.dumps({"workflows": [{"match": "ml_*", "metrics": "full"}]}))
    now = [0.0]
    policies = SeriesPolicies(SettingsSource(store, "/p", ttl_seconds=60, clock=lambda: now[0]), 3600)
    assert policies("ml_train").full

    def throttled(Name: str) -> dict[str, Any]:
        store.reads += 1
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetParameter")

    store.get_parameter = throttled  # type: ignore[method-assign]
    now[0] = 61
    assert policies("ml_train").full  # the last document read still decides
    assert policies("nightly") == SeriesPolicy(full=False, too_slow_seconds=3600)
    assert store.reads == 2  # and the failed read is not retried at every event: once a minute
