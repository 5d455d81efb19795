"""Central mode in template.yaml and the forwarder template agree with each other and with the code, and grant
least privilege: what moto cannot check (bus policies, trust conditions, cross-account targets) checked against
AWS's documented rules."""

from __future__ import annotations

from typing import Any

import pytest

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
    assert sources[2] == {"Fn::GetAtt": ["EventRule", "Arn"]}


def test_every_central_resource_exists_only_in_central_mode(template: dict[str, Any], central: dict[str, Any]) -> None:
    for name in ("CentralEventBus", "CentralEventRule", "PlacesUnreachableAlarm"):
        assert central[name]["Condition"] == "IsCentral", name
    assert template["Conditions"]["IsCentral"] == {
        "Fn::Or": [{"Condition": "HasSourceOrganization"}, {"Condition": "HasSourceAccounts"}]
    }
