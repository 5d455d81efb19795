"""Central mode in template.yaml and the forwarder template agree with each other and with the code, and grant
least privilege: what moto cannot check (bus policies, trust conditions, cross-account targets) checked against
AWS's documented rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from mwaa_obs.config import ReaderRole
from mwaa_obs.events import Place
from mwaa_obs.mwaa_api import reader_role_arn
from mwaa_obs_tools import emulator

FORWARDER = emulator.REPO_ROOT / "forwarder" / "template.yaml"


@pytest.fixture(scope="module")
def forwarder() -> dict[str, Any]:
    return emulator.load_template(FORWARDER)


@pytest.fixture(scope="module")
def central(template: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = template["Resources"]
    return resources


def _statements(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        documents += [properties[key] for key in ("PolicyDocument", "AssumeRolePolicyDocument") if key in properties]
        for document in documents:
            for statement in document["Statement"]:
                branches = statement["Fn::If"][1:] if "Fn::If" in statement else [statement]
                found += [(name, branch) for branch in branches if branch != {"Ref": "AWS::NoValue"}]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_forwarder_grants_no_wildcard_action_and_reads_only_its_own_workflows(forwarder: dict[str, Any]) -> None:
    statements = _statements(forwarder["Resources"])
    assert statements
    for name, statement in statements:
        actions = _as_list(statement["Action"])
        assert not any("*" in action for action in actions), (name, statement)
        if "*" in _as_list(statement.get("Resource", [])):
            # ListWorkflows has no resource type (Service Authorization Reference, AWS MWAA Serverless).
            assert actions == ["airflow-serverless:ListWorkflows"], (name, statement)
        for action in actions:
            if action.startswith("airflow-serverless:") and action != "airflow-serverless:ListWorkflows":
                assert action.split(":")[1].startswith(("Get", "List")), action
                assert statement["Resource"]["Fn::Sub"].endswith(":${AWS::Region}:${AWS::AccountId}:workflow/*")


def test_the_reader_role_trusts_only_the_central_roles_with_the_external_id(forwarder: dict[str, Any]) -> None:
    role = forwarder["Resources"]["ReaderRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    principal = trust["Principal"]["AWS"]["Fn::Sub"]
    # The central account (from the bus ARN), never "*"; then narrowed to its two function roles and the id
    # (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
    assert principal[0] == "arn:${AWS::Partition}:iam::${CentralAccount}:root"
    assert principal[1]["CentralAccount"] == {"Fn::Select": [4, {"Fn::Split": [":", {"Ref": "CentralEventBusArn"}]}]}
    assert trust["Condition"]["StringEquals"] == {"sts:ExternalId": {"Ref": "ExternalId"}}
    assert trust["Condition"]["ArnEquals"] == {"aws:PrincipalArn": {"Ref": "CentralPrincipalArns"}}
    assert trust["Action"] == "sts:AssumeRole"


def test_the_forward_role_is_eventbridges_in_this_account_and_puts_only_on_the_central_bus(
    forwarder: dict[str, Any],
) -> None:
    role = forwarder["Resources"]["ForwardRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (put,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert (put["Action"], put["Resource"]) == ("events:PutEvents", {"Ref": "CentralEventBusArn"})


def test_the_forwarder_rule_matches_what_the_central_rules_take_and_keeps_what_it_cannot_send(
    forwarder: dict[str, Any], central: dict[str, Any]
) -> None:
    rule = forwarder["Resources"]["ForwardRule"]["Properties"]
    assert rule["EventPattern"] == central["EventRule"]["Properties"]["EventPattern"]
    assert rule["EventPattern"] == central["CentralEventRule"]["Properties"]["EventPattern"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "CentralEventBusArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ForwardRole", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["ForwardDeadLetterQueue", "Arn"]}


def test_the_reader_role_is_named_as_the_central_functions_assume_it(
    forwarder: dict[str, Any], template: dict[str, Any], central: dict[str, Any]
) -> None:
    name = forwarder["Resources"]["ReaderRole"]["Properties"]["RoleName"]["Fn::Sub"]
    assert name == "${ReaderRoleName}-${AWS::Region}"
    default = forwarder["Parameters"]["ReaderRoleName"]["Default"]
    assert default == template["Parameters"]["ReaderRoleName"]["Default"]
    assumed = reader_role_arn(ReaderRole(default, "x"), Place("210987654321", "eu-west-1"))
    assert assumed == f"arn:aws:iam::210987654321:role/{default}-eu-west-1"
    # What the functions may assume covers exactly the roles named so.
    (grant,) = [s for name, s in _statements(central) if s.get("Action") == "sts:AssumeRole" and "Sid" in s][:1]
    assert grant["Resource"]["Fn::Sub"] == "arn:${AWS::Partition}:iam::*:role/${ReaderRoleName}-*"
    # Role names are at most 64 characters (docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html):
    # the longest name parameter plus "-" and the longest region name fits.
    assert 40 + 1 + len("ap-southeast-7") <= 64
    assert forwarder["Parameters"]["ReaderRoleName"]["AllowedPattern"].endswith("{1,40}$")


def test_the_central_bus_admits_only_the_organisation_or_the_listed_accounts(central: dict[str, Any]) -> None:
    organisation = central["CentralEventBusOrganizationPolicy"]
    assert organisation["Condition"] == "HasSourceOrganization"
    statement = organisation["Properties"]["Statement"]
    assert statement["Principal"] == "*"  # only with the organisation condition (eb-event-bus-perms.html)
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "SourceOrganizationId"}}}
    accounts = central["CentralEventBusAccountsPolicy"]["Properties"]["Statement"]
    assert accounts["Principal"] == {"AWS": {"Ref": "SourceAccountIds"}}
    for policy in (statement, accounts):
        assert policy["Action"] == "events:PutEvents"
        assert policy["Resource"] == {"Fn::GetAtt": ["CentralEventBus", "Arn"]}


def test_central_mode_sends_the_central_rules_events_to_the_same_queue(central: dict[str, Any]) -> None:
    rule = central["CentralEventRule"]
    assert rule["Condition"] == "IsCentral"
    assert rule["Properties"]["EventBusName"] == {"Fn::GetAtt": ["CentralEventBus", "Name"]}
    assert rule["Properties"]["Targets"] == central["EventRule"]["Properties"]["Targets"]
    (statement,) = central["EventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::If"]
    assert sources[0] == "IsCentral"
    assert {"Fn::GetAtt": ["CentralEventRule", "Arn"]} in sources[1]
    assert sources[2] == [{"Fn::GetAtt": ["EventRule", "Arn"]}, {"Fn::GetAtt": ["ApiCallRule", "Arn"]}]


def test_every_central_resource_exists_only_in_central_mode(template: dict[str, Any], central: dict[str, Any]) -> None:
    for name in ("CentralEventBus", "CentralEventRule", "PlacesUnreachableAlarm"):
        assert central[name]["Condition"] == "IsCentral", name
    assert template["Conditions"]["IsCentral"] == {
        "Fn::Or": [{"Condition": "HasSourceOrganization"}, {"Condition": "HasSourceAccounts"}]
    }


ALARM_STATE_CHANGE = {
    "version": "0", "id": "e1", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
    "account": "210987654321", "time": "2026-12-01T00:00:00Z", "region": "eu-west-1",
    "resources": ["arn:aws:cloudwatch:eu-west-1:210987654321:alarm:mwaa-obs-forwarder-dead-letters"],
    "detail": {"alarmName": "mwaa-obs-forwarder-dead-letters", "state": {"value": "ALARM"}},
}  # fmt: skip


def _pattern(properties: dict[str, Any]) -> Any:
    """A rule's EventPattern as EventBridge reads it, the forwarder's alarm ARN resolved for its stack."""
    refs = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "210987654321"}
    refs |= {"AWS::StackName": "mwaa-obs-forwarder"}
    return EventPattern.load(json.dumps(emulator.resolve(properties["EventPattern"], refs, {})))


def test_the_forwarders_dead_letters_reach_the_central_alarm_topic(
    forwarder: dict[str, Any], central: dict[str, Any]
) -> None:
    resources = forwarder["Resources"]
    # The forwarder's DLQ is kept with its messages, and watched: missing data (an idle queue) keeps the alarm's state
    assert resources["ForwardDeadLetterQueue"]["DeletionPolicy"] == "Retain"
    alarm = resources["ForwardDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ForwardDeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["MetricName"], alarm["TreatMissingData"]) == ("ApproximateNumberOfMessagesVisible", "ignore")
    # Its state changes go to the central bus, and there to the alarm topic (not to ingest)
    forwarded = resources["ForwardAlarmRule"]["Properties"]
    assert _pattern(forwarded).matches_event(ALARM_STATE_CHANGE)
    assert not _pattern(forwarded).matches_event(
        {**ALARM_STATE_CHANGE, "resources": ["arn:aws:cloudwatch:eu-west-1:210987654321:alarm:other"]}
    )
    assert [target["Arn"] for target in forwarded["Targets"]] == [{"Ref": "CentralEventBusArn"}]
    central_rule = central["CentralAlarmRule"]
    assert central_rule["Condition"] == "IsCentral"
    assert _pattern(central_rule["Properties"]).matches_event(ALARM_STATE_CHANGE)
    assert not _pattern(central["CentralEventRule"]["Properties"]).matches_event(ALARM_STATE_CHANGE)
    assert [target["Arn"] for target in central_rule["Properties"]["Targets"]] == [{"Ref": "AlarmTopic"}]
    # And EventBridge may publish to the encrypted topic, for that rule only
    (topic_grant,) = [
        s
        for name, s in _statements(central)
        if name == "AlarmTopicPolicy" and s["Principal"] == {"Service": "events.amazonaws.com"}
    ]
    assert topic_grant["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["CentralAlarmRule", "Arn"]}}}
    key_statements = central["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    key_grants = [s["Fn::If"][1] for s in key_statements if "Fn::If" in s]
    assert [(grant["Principal"], grant["Action"]) for grant in key_grants] == [
        ({"Service": "events.amazonaws.com"}, ["kms:GenerateDataKey", "kms:Decrypt"])
    ]


def test_the_reader_role_decrypts_with_the_accounts_customer_managed_key_only_when_given(
    forwarder: dict[str, Any],
) -> None:
    statements = forwarder["Resources"]["ReaderRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (decrypt,) = [statement for statement in statements if "Fn::If" in statement]
    condition, granted, otherwise = decrypt["Fn::If"]
    assert forwarder["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CustomerManagedKeyArn"}, ""]}]}
    assert (granted["Action"], granted["Resource"]) == ("kms:Decrypt", {"Ref": "CustomerManagedKeyArn"})
    assert otherwise == {"Ref": "AWS::NoValue"}
