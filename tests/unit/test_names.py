"""Every name the stack or the provision function builds is one AWS accepts, for the longest prefix the template
allows and any workflow name; account-global names carry the region. The emulator checks none of these limits."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.provisioning import KINDS, StackContext, alarm_names, desired_health, resource_name
from mwaa_obs.settings import Route
from mwaa_obs_tools import emulator

# The longest prefix ResourcePrefix's AllowedPattern (^[a-z][a-z0-9-]{1,30}$) lets through, and the longest region
# name in use (ap-southeast-N, us-isob-east-1: 14 characters).
LONGEST_PREFIX: Final = "a" + "b" * 30
LONGEST_REGION: Final = "ap-southeast-7"

# (resource type, name property) -> (longest, allowed characters, the API reference under https://docs.aws.amazon.com/)
NAME_RULES: Final[dict[tuple[str, str], tuple[int, str, str]]] = {
    ("AWS::Events::Rule", "Name"): (64, r"[.\-_A-Za-z0-9]+", "eventbridge/latest/APIReference/API_PutRule.html"),
    ("AWS::Events::EventBus", "Name"): (
        256,
        r"[/\.\-_A-Za-z0-9]+",
        "eventbridge/latest/APIReference/API_CreateEventBus.html",
    ),
    ("AWS::SQS::Queue", "QueueName"): (
        80,
        r"[A-Za-z0-9_-]+",
        "AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
    ),
    ("AWS::DynamoDB::Table", "TableName"): (
        255,
        r"[A-Za-z0-9_.-]{3,}",
        "amazondynamodb/latest/APIReference/API_CreateTable.html",
    ),
    ("AWS::Serverless::LayerVersion", "LayerName"): (
        140,
        r"[A-Za-z0-9_-]+",
        "lambda/latest/api/API_PublishLayerVersion.html",
    ),
    ("AWS::Logs::LogGroup", "LogGroupName"): (
        512,
        r"[.\-_/#A-Za-z0-9]+",
        "AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
    ),
    ("AWS::SNS::Topic", "TopicName"): (256, r"[A-Za-z0-9_-]+", "sns/latest/api/API_CreateTopic.html"),
    ("AWS::SSM::Parameter", "Name"): (
        1011,
        r"[A-Za-z0-9_.\-/]+",
        "systems-manager/latest/APIReference/API_PutParameter.html",
    ),
    ("AWS::Chatbot::SlackChannelConfiguration", "ConfigurationName"): (
        128,
        r"[A-Za-z0-9_-]+",
        "chatbot/latest/APIReference/API_CreateSlackChannelConfiguration.html",
    ),
    ("AWS::CloudWatch::Alarm", "AlarmName"): (
        255,
        r"[^\x00-\x1f]+",
        "AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    ),
    ("AWS::CloudWatch::Dashboard", "DashboardName"): (
        255,
        r"[A-Za-z0-9_-]+",
        "AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
    ),
}
NAME_PROPERTY: Final = dict(NAME_RULES.keys())
# Names unique per account, not per region: a second region's stack of the same prefix would collide without it.
ACCOUNT_GLOBAL: Final = {"AWS::CloudWatch::Dashboard", "AWS::Chatbot::SlackChannelConfiguration", "AWS::IAM::Role"}
ALARM_RULE_LIMIT: Final = 10240  # AlarmRule, API_PutCompositeAlarm.html


def _refs(template: dict[str, Any], prefix: str, region: str) -> dict[str, Any]:
    refs = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    return refs | {
        "ResourcePrefix": prefix,
        "AWS::Region": region,
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
    }


def _names(template: dict[str, Any], prefix: str, region: str) -> dict[str, tuple[str, str]]:
    """Logical id -> (type, name as deployed) of every resource whose name the template sets."""
    named = {}
    for logical_id, resource in template["Resources"].items():
        for key in ("Name", "QueueName", "TableName", "LayerName", "LogGroupName", "TopicName", "ConfigurationName",
                    "AlarmName", "DashboardName", "RoleName", "FunctionName"):  # fmt: skip
            if key in resource.get("Properties", {}):
                value = emulator.resolve(resource["Properties"][key], _refs(template, prefix, region), {})
                named[logical_id] = (resource["Type"], value)
    return named


def test_the_longest_prefix_is_one_the_template_accepts(template: dict[str, Any]) -> None:
    assert re.fullmatch(template["Parameters"]["ResourcePrefix"]["AllowedPattern"], LONGEST_PREFIX)


def test_every_name_the_template_sets_is_within_its_apis_rules(template: dict[str, Any]) -> None:
    names = _names(template, LONGEST_PREFIX, LONGEST_REGION)
    assert len(names) > 20
    for logical_id, (resource_type, name) in names.items():
        key = (resource_type, NAME_PROPERTY.get(resource_type, ""))
        assert key in NAME_RULES, f"{logical_id}: no naming rule recorded for {resource_type}"
        longest, allowed, source = NAME_RULES[key]
        assert len(name) <= longest, (logical_id, name, source)
        assert re.fullmatch(allowed, name), (logical_id, name, source)


def test_account_global_names_carry_the_region(template: dict[str, Any]) -> None:
    east, west = _names(template, "mwaa-obs", "us-east-1"), _names(template, "mwaa-obs", "eu-west-1")
    global_ids = [logical_id for logical_id, (kind, _) in east.items() if kind in ACCOUNT_GLOBAL]
    assert {"FleetDashboard", "WorkflowDashboard", "ChatbotChannel"} <= set(global_ids)
    for logical_id in global_ids:
        assert east[logical_id][1] != west[logical_id][1], logical_id


def test_the_provision_function_names_and_may_touch_only_its_regions_dashboards(template: dict[str, Any]) -> None:
    provision = template["Resources"]["ProvisionFunction"]["Properties"]["Environment"]["Variables"]
    refs = _refs(template, "mwaa-obs", "us-east-1")
    dashboard_prefix = emulator.resolve(provision["DASHBOARD_PREFIX"], refs, {})
    statements = template["Resources"]["ProvisionFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    (dashboards,) = [s for s in statements["Statement"] if "cloudwatch:PutDashboard" in s["Action"]]
    scope = emulator.resolve(dashboards["Resource"], refs, {}).rsplit(":dashboard/", 1)[1]
    ours = resource_name(dashboard_prefix, "sales.etl")
    other_region = resource_name(
        emulator.resolve(provision["DASHBOARD_PREFIX"], refs | {"AWS::Region": "eu-west-1"}, {}), "sales.etl"
    )
    assert fnmatchcase(ours, scope)
    assert not fnmatchcase(other_region, scope)
    assert fnmatchcase(
        emulator.resolve(template["Resources"]["WorkflowDashboard"]["Properties"]["DashboardName"], refs, {}), scope
    )


CONTEXT: Final = StackContext(
    LONGEST_PREFIX, "ns", "arn:aws:sns:us-east-1:1:t", 3600, 10, f"{LONGEST_PREFIX}-{LONGEST_REGION}"
)
# MWAA Serverless takes names of up to 255 characters; anything else a caller could send is here too.
WORKFLOW_NAMES: Final = st.text(min_size=1, max_size=255) | st.from_regex(r"[A-Za-z0-9_.\-]{1,255}", fullmatch=True)


@given(workflow=WORKFLOW_NAMES)
def test_dedicated_names_are_valid_for_any_workflow_name(workflow: str) -> None:
    for name in alarm_names(CONTEXT.prefix, workflow):
        assert 1 <= len(name) <= NAME_RULES[("AWS::CloudWatch::Alarm", "AlarmName")][0]
        assert re.fullmatch(r"[A-Za-z0-9_-]+", name), name
    dashboard = resource_name(CONTEXT.dashboard_prefix, workflow)
    longest, allowed, _ = NAME_RULES[("AWS::CloudWatch::Dashboard", "DashboardName")]
    assert len(dashboard) <= longest
    assert re.fullmatch(allowed, dashboard)
    assert len(desired_health(workflow, Route(), CONTEXT)["AlarmRule"]) <= ALARM_RULE_LIMIT


@given(first=WORKFLOW_NAMES, second=WORKFLOW_NAMES)
def test_two_workflows_never_share_a_dedicated_name(first: str, second: str) -> None:
    if first != second:
        assert not set(alarm_names(CONTEXT.prefix, first)) & set(alarm_names(CONTEXT.prefix, second))
        assert resource_name(CONTEXT.dashboard_prefix, first) != resource_name(CONTEXT.dashboard_prefix, second)


@pytest.mark.parametrize(("one", "other"), [("sales.etl", "sales-etl"), ("a" * 255, "a" * 254 + "b"), ("ü", "u")])
def test_names_made_safe_do_not_collide(one: str, other: str) -> None:
    assert resource_name("mwaa-obs", one) != resource_name("mwaa-obs", other)


@pytest.mark.parametrize("kind", [kind.suffix for kind in KINDS])
def test_a_plain_name_is_kept_as_it_is(kind: str) -> None:
    assert resource_name("mwaa-obs", "sales_etl", kind) == f"mwaa-obs-sales_etl-{kind}"
