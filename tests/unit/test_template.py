"""template.yaml agrees with the code: table schema, event rule, queues, function settings, least privilege."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from moto.events.models import EventPattern

from mwaa_obs.config import IngestConfig
from mwaa_obs.states import ALL_DETAIL_TYPES, EVENT_SOURCE
from mwaa_obs.store.schema import Entity
from mwaa_obs_tools import emulator


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = template["Resources"]
    return resources


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    return emulator.sam_transform(template)


def test_the_table_keys_and_indexes_are_the_ones_the_models_use(resources: dict[str, Any]) -> None:
    table = resources["StateTable"]["Properties"]
    schema = Entity._get_schema()
    assert _keys(table["KeySchema"]) == _keys(schema["key_schema"])
    declared = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    assert declared == {d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]}
    template_indexes = {
        i["IndexName"]: (_keys(i["KeySchema"]), i["Projection"]) for i in table["GlobalSecondaryIndexes"]
    }
    model_indexes = {
        i["index_name"]: (_keys(i["key_schema"]), i["projection"]) for i in schema["global_secondary_indexes"]
    }
    assert template_indexes == model_indexes


def _keys(key_schema: Any) -> dict[str, str]:
    return {key["KeyType"]: key["AttributeName"] for key in key_schema}


def test_the_table_is_durable_encrypted_and_expires_history(resources: dict[str, Any]) -> None:
    table = resources["StateTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # The AWS owned key, on purpose (free; true would bill KMS requests of the AWS managed key): see the template.
    assert table["SSESpecification"] == {"SSEEnabled": False}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert Entity.expires_at.attr_name == "expires_at"
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_rule_takes_every_detail_type_of_the_source_but_cloudtrails(resources: dict[str, Any]) -> None:
    """A renamed or new detail-type must reach ingest (to be counted and sampled), CloudTrail's API calls must not.
    The pattern is evaluated with the emulator's EventBridge matcher (the same operators AWS documents)."""
    rule = resources["EventRule"]["Properties"]
    pattern = EventPattern.load(json.dumps(rule["EventPattern"]))

    def matches(source: str, detail_type: str) -> bool:
        return bool(pattern.matches_event({"source": source, "detail-type": detail_type, "detail": {}}))

    assert len(ALL_DETAIL_TYPES) == 21  # the 15 documented, and one for each state they leave out
    assert all(matches(EVENT_SOURCE, detail_type) for detail_type in ALL_DETAIL_TYPES)
    assert matches(EVENT_SOURCE, "MWAA Serverless Workflow Run State Change")
    assert not matches(EVENT_SOURCE, "AWS API Call via CloudTrail")
    assert not matches(EVENT_SOURCE, "AWS Service Event via CloudTrail")
    assert not matches("aws.airflow", "MWAA Serverless Workflow Run Failed")
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}


def test_queues_are_encrypted_and_the_events_queue_redrives_to_the_dlq(resources: dict[str, Any]) -> None:
    for name in ("EventsQueue", "EventsDeadLetterQueue"):
        assert resources[name]["Properties"]["SqsManagedSseEnabled"] is True
    redrive = resources["EventsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }


# How each stateful resource type declares encryption at rest, as CloudFormation deploys it.
ENCRYPTED_AT_REST = {
    "AWS::SQS::Queue": lambda p: p.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in p,
    "AWS::SNS::Topic": lambda p: "KmsMasterKeyId" in p,
    # DynamoDB encrypts every table at rest; SSESpecification only chooses the key, and it must be chosen explicitly.
    "AWS::DynamoDB::Table": lambda p: p.get("SSESpecification", {}).get("SSEEnabled") in (True, False),
}


def test_every_queue_topic_and_table_is_encrypted_at_rest(transformed: dict[str, Any]) -> None:
    stateful = {n: r for n, r in transformed["Resources"].items() if r["Type"] in ENCRYPTED_AT_REST}
    assert {r["Type"] for r in stateful.values()} == set(ENCRYPTED_AT_REST)
    unencrypted = [n for n, r in stateful.items() if not ENCRYPTED_AT_REST[r["Type"]](r["Properties"])]
    assert unencrypted == []


def test_the_ingest_function_reports_partial_batch_failures(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    function = resources["IngestFunction"]["Properties"]
    queue_source = function["Events"]["Queue"]["Properties"]
    assert queue_source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def _largest(template: dict[str, Any], value: Any) -> int:
    """A literal, or the largest value a parameter allows."""
    return int(template["Parameters"][value["Ref"]]["MaxValue"] if isinstance(value, dict) else value)


@pytest.mark.parametrize(("function", "queue"), [("IngestFunction", "EventsQueue"), ("NotifyFunction", "NoticesQueue")])
def test_a_queue_hides_a_batch_for_six_function_timeouts_after_its_batching_window(
    template: dict[str, Any], resources: dict[str, Any], function: str, queue: str
) -> None:
    """Lambda: the queue's visibility timeout at least six times the function's timeout ("Configuring an Amazon SQS
    event source", docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html). A message the poller holds
    while the batching window fills is already invisible, so the window comes on top (AWS's page does not say so;
    Serverless Lift's queue construct adds it: getlift/lift src/constructs/aws/Queue.ts)."""
    properties = resources[function]["Properties"]
    timeout = properties.get("Timeout", template["Globals"]["Function"]["Timeout"])
    (source,) = [event["Properties"] for event in properties["Events"].values() if event["Type"] == "SQS"]
    window = _largest(template, source.get("MaximumBatchingWindowInSeconds", 0))
    assert resources[queue]["Properties"]["VisibilityTimeout"] >= 6 * timeout + window


def test_every_queue_event_source_bounds_its_concurrency(transformed: dict[str, Any], template: dict[str, Any]) -> None:
    """A redrive of a full queue must not take the account's whole Lambda concurrency: SQS event sources scale
    to at most MaximumConcurrency (2 to 1000, API_ScalingConfig: Lambda's API reference)."""
    mappings = [
        r["Properties"] for r in transformed["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    from_queues = [mapping for mapping in mappings if "Queue" in json.dumps(mapping["EventSourceArn"])]
    assert len(from_queues) == 2
    for mapping in from_queues:
        concurrency = mapping["ScalingConfig"]["MaximumConcurrency"]
        assert _smallest(template, concurrency) >= 2
        assert _largest(template, concurrency) <= 1000


def _smallest(template: dict[str, Any], value: Any) -> int:
    return int(template["Parameters"][value["Ref"]]["MinValue"] if isinstance(value, dict) else value)


def test_the_function_environment_satisfies_its_config(template: dict[str, Any], resources: dict[str, Any]) -> None:
    environment = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **resources["IngestFunction"]["Properties"]["Environment"]["Variables"],
    }
    assert "POWERTOOLS_METRICS_NAMESPACE" in environment
    defaults = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    rendered = {name: str(_resolve(template, value, defaults)) for name, value in environment.items()}
    # Lambda sets AWS_REGION itself (docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html, "Defined
    # runtime environment variables").
    config = IngestConfig.from_env(rendered | {"AWS_REGION": "us-east-1"})
    assert config.table_name == "mwaa-obs-state"
    assert config.history_ttl.days == template["Parameters"]["HistoryRetentionDays"]["Default"]
    assert not any("SECRET" in name or "PASSWORD" in name or "TOKEN" in name for name in environment)


def _resolve(template: dict[str, Any], value: Any, defaults: dict[str, Any]) -> Any:
    """A value as deployed with default parameters; a resource Ref as a <LogicalId> placeholder."""
    refs = defaults | {name: f"<{name}>" for name in template["Resources"]} | {"AWS::AccountId": "123456789012"}
    return emulator.resolve(value, refs, {})


def _statements(transformed: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in transformed["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        if "PolicyDocument" in properties:
            documents.append(properties["PolicyDocument"])
        for document in documents:
            for statement in document["Statement"]:
                # A conditional statement (Fn::If): both branches can be deployed; AWS::NoValue adds nothing.
                branches = statement["Fn::If"][1:] if "Fn::If" in statement else [statement]
                for branch in branches:
                    if branch != {"Ref": "AWS::NoValue"}:
                        yield name, branch


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Actions granted only on "*": those the Service Authorization Reference lists with no resource type
# (ListWorkflows, ListStreams), and DescribeAlarms, whose API reference says composite alarms come back only
# "with the cloudwatch:DescribeAlarms permission that is scoped to *"
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
# Actions IAM checks on "*" only (no resource type, or, for PutCompositeAlarm and composite DescribeAlarms, the API
# reference: "scoped to *"); mwaa_obs_tools.iam checks each call of the functions against them.
RESOURCELESS_ACTIONS = {
    "airflow-serverless:ListWorkflows",
    "dynamodb:ListStreams",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:PutCompositeAlarm",
}
ALARM_WRITES = {"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"}


def test_no_iam_statement_allows_every_action_or_every_resource(transformed: dict[str, Any]) -> None:
    statements = list(_statements(transformed))
    assert statements, "the transformed template should hold policies"
    for name, statement in statements:
        actions = _as_list(statement["Action"])
        assert not any("*" in action for action in actions), (name, statement)
        if "*" in _as_list(statement.get("Resource", [])):
            assert set(actions) <= RESOURCELESS_ACTIONS, (name, statement)


def test_provisioning_may_describe_every_alarm_but_writes_only_the_stacks(transformed: dict[str, Any]) -> None:
    provision = [statement for name, statement in _statements(transformed) if name == "ProvisionFunctionRole"]
    (describe,) = [s for s in provision if "cloudwatch:DescribeAlarms" in _as_list(s["Action"])]
    assert describe["Resource"] == "*"  # else composite alarms are invisible and re-put every hour
    (writes,) = [s for s in provision if ALARM_WRITES & set(_as_list(s["Action"]))]
    assert set(_as_list(writes["Action"])) >= ALARM_WRITES
    assert writes["Resource"]["Fn::Sub"].endswith(":alarm:${ResourcePrefix}-*")
    # PutCompositeAlarm cannot be scoped narrower than "*": only requests bearing the stack's tag
    (composite,) = [s for s in provision if "cloudwatch:PutCompositeAlarm" in _as_list(s["Action"])]
    assert composite["Resource"] == "*"
    assert composite["Condition"] == {"StringEquals": {"aws:RequestTag/mwaa-obs-prefix": {"Ref": "ResourcePrefix"}}}


def _rule_holds(rule: dict[str, Any], parameters: dict[str, str]) -> bool:
    """A template Rule, for parameter values as CloudFormation passes them (strings): False when it refuses them."""

    def value(node: Any) -> Any:
        if isinstance(node, dict):
            (function, argument), *_ = node.items()
            if function == "Ref":
                return parameters[argument]
            if function == "Fn::Not":
                return not value(argument[0])
            if function == "Fn::Equals":
                return str(value(argument[0])) == str(value(argument[1]))
            if function == "Fn::Contains":
                return str(value(argument[1])) in [str(item) for item in argument[0]]
            raise AssertionError(f"rule function not evaluated here: {function}")
        return node

    if "RuleCondition" in rule and not value(rule["RuleCondition"]):
        return True
    return all(value(assertion["Assert"]) for assertion in rule["Assertions"])


@pytest.mark.parametrize(
    ("batch_size", "window", "accepted"),
    [("10", "0", True), ("11", "0", False), ("100", "0", False), ("100", "1", True), ("1", "0", True)],
)
def test_the_template_refuses_batches_above_ten_without_a_batching_window(
    template: dict[str, Any], batch_size: str, window: str, accepted: bool
) -> None:
    # Lambda refuses BatchSize > 10 with MaximumBatchingWindowInSeconds 0 (API_CreateEventSourceMapping).
    parameters = {"IngestBatchSize": batch_size, "IngestBatchWindowSeconds": window}
    assert all(_rule_holds(rule, parameters) for rule in template["Rules"].values()) is accepted


ACTING_ROLE = "ActionsFunctionRole"  # the Re-run and Stop buttons' function, and no other, may act on runs
ACTIONS_ON_RUNS = {"airflow-serverless:StartWorkflowRun", "airflow-serverless:StopWorkflowRun"}


def test_the_api_is_only_read_and_only_in_the_accounts_workflows(transformed: dict[str, Any]) -> None:
    acting = set()
    for name, statement in _statements(transformed):
        for action in _as_list(statement["Action"]):
            if action.startswith("airflow-serverless:"):
                if name == ACTING_ROLE and action in ACTIONS_ON_RUNS:
                    acting.add(action)
                else:
                    assert action.split(":")[1].startswith(("Get", "List")), (name, action)
                if action not in RESOURCELESS_ACTIONS:
                    (resource,) = _as_list(statement["Resource"])
                    assert resource["Fn::Sub"].endswith(":${AWS::AccountId}:workflow/*"), (name, resource)
    assert acting == ACTIONS_ON_RUNS


def test_the_widget_function_can_only_read_the_table_task_logs_and_the_settings(transformed: dict[str, Any]) -> None:
    # Seeing the grid never lets anyone start or stop a run: that is the actions function's, a permission apart
    # (the settings are read for the matrix's teams and each workflow's too-slow threshold on its charts)
    statements = [s for name, s in _statements(transformed) if name == "WidgetFunctionRole"]
    actions = {action for s in statements for action in _as_list(s["Action"])}
    assert actions == {
        "dynamodb:Query",
        "ssm:GetParameter",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:GetLogEvents",
    }
    # its log pop-up reads task logs only: the service's groups, and the workflows' own under the stack's prefix
    log_reads = {_as_list(s["Resource"])[0]["Fn::Sub"] for s in statements if s["Action"] == "logs:GetLogEvents"}
    assert {resource.split(":log-group:")[1] for resource in log_reads} == {
        "/aws/mwaa-serverless/*",
        "${TaskLogGroupPrefix}*",
    }


def test_no_role_gets_broad_aws_managed_policies(transformed: dict[str, Any]) -> None:
    roles = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert roles
    assert all(not role["Properties"].get("ManagedPolicyArns") for role in roles)


def test_what_holds_undelivered_messages_or_their_key_outlives_the_stack(resources: dict[str, Any]) -> None:
    kept = {name for name, resource in resources.items() if resource.get("DeletionPolicy") == "Retain"}
    replaced = {name for name, resource in resources.items() if resource.get("UpdateReplacePolicy") == "Retain"}
    dead_letters = {name for name in resources if name.endswith("DeadLetterQueue")}
    keys = {name for name, resource in resources.items() if resource["Type"] == "AWS::KMS::Key"}
    assert dead_letters
    assert keys
    assert dead_letters | keys <= kept & replaced


def test_a_customer_managed_key_is_decrypted_only_by_the_readers_of_workflows_and_the_secret(
    transformed: dict[str, Any],
) -> None:
    # GetWorkflow/GetWorkflowRun of a workflow, and GetSecretValue of a secret, on a customer managed key need
    # kms:Decrypt on that key (issue 14, item 9); nothing else uses a key of the user's.
    kms = [(name, statement) for name, statement in _statements(transformed) if "kms:" in str(statement["Action"])]
    assert sorted(name for name, _ in kms) == ["NotifyFunctionRole", "ReconcileFunctionRole"]
    for _, statement in kms:
        assert statement["Action"] == "kms:Decrypt"
        assert statement["Resource"] == {"Ref": "CustomerManagedKeyArn"}
    roles = transformed["Resources"]
    for name in ("NotifyFunctionRole", "ReconcileFunctionRole"):
        conditional = [
            s for s in roles[name]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"] if "Fn::If" in s
        ]
        assert any(s["Fn::If"][0] == "HasCustomerManagedKey" for s in conditional), name


TABLE_ARN = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ResourcePrefix}-state"


def test_every_reference_to_the_table_names_the_table_the_template_creates_or_adopts(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """The table is created or adopted (AdoptedTableStreamArn), so nothing may Ref or GetAtt it but its stream,
    and every ARN written out is the created table's."""
    name = resources["StateTable"]["Properties"]["TableName"]["Fn::Sub"]
    assert resources["StateTable"]["Condition"] == "CreatesTheTable"
    assert TABLE_ARN.endswith(f"table/{name}")
    text = json.dumps(template["Resources"]) + json.dumps(template["Outputs"])
    assert '"Ref": "StateTable"' not in text
    assert re.findall(r'"Fn::GetAtt": \["StateTable", "(\w+)"\]', text) == ["StreamArn", "StreamArn"]
    for arn in re.findall(r"arn:[^\"]*:dynamodb:[^\"]*", text):
        assert arn.startswith(TABLE_ARN), arn
    assert template["Globals"]["Function"]["Environment"]["Variables"]["TABLE_NAME"] == {"Fn::Sub": name}


def test_notify_may_query_the_index_its_decisions_read(transformed: dict[str, Any]) -> None:
    # Runs.recent (the workflow's history, read at every decision) queries the workflow-runs index, and a table ARN
    # does not cover its indexes: without this grant every decision is AccessDenied and no alert is ever sent.
    index_arn = f"{TABLE_ARN}/index/{Entity.workflow_runs.Meta.index_name}"
    granted = [
        statement
        for name, statement in _statements(transformed)
        if name == "NotifyFunctionRole"
        and "dynamodb:Query" in _as_list(statement["Action"])
        and index_arn in [r.get("Fn::Sub") for r in _as_list(statement["Resource"]) if isinstance(r, dict)]
    ]
    assert granted


def test_a_function_with_two_triggers_never_runs_twice_at_once(template: dict[str, Any]) -> None:
    """Reconcile's Pass and Discovery schedules, and provision's stream and hourly schedule, could start a second
    invocation while one runs: reserved concurrency 1 makes the second wait (Lambda retries a throttled
    asynchronous invocation for up to 6 hours; a stream's batch is retried until it succeeds)."""
    functions = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    serial = {name for name, properties in functions.items() if len(properties.get("Events", {})) > 1}
    assert serial == {"ReconcileFunction", "ProvisionFunction"}
    for name in serial:
        assert functions[name]["ReservedConcurrentExecutions"] == 1, name


def test_the_settings_grow_past_4_kb_without_a_deploy(resources: dict[str, Any]) -> None:
    """A Standard parameter holds 4 KB (PutParameter, Value); Intelligent-Tiering moves it to Advanced only when a
    value needs it. The documented put-parameter asks for the same tier (a call without one would use Standard)."""
    assert resources["SettingsParameter"]["Properties"]["Tier"] == "Intelligent-Tiering"
    documented = (emulator.REPO_ROOT / "docs" / "NOTIFICATIONS.md").read_text(encoding="utf-8")
    puts = re.findall(r"aws ssm put-parameter[^\n]*(?:\\\n[^\n]*)*", documented)
    assert puts
    assert all("--tier Intelligent-Tiering" in put for put in puts)


def test_the_provision_role_writes_no_alarm_or_dashboard_another_stack_tagged(resources: dict[str, Any]) -> None:
    """`alarm:mwaa-obs-*` also covers `mwaa-obs-dev-…`, another stack's alarms: every statement on the name scope is
    conditioned on the stack tag the provisioner gives what it creates (none yet: IfExists)."""
    from mwaa_obs.provisioning import STACK_TAG

    (policy,) = resources["ProvisionFunctionRole"]["Properties"]["Policies"]
    scoped = [
        statement
        for statement in policy["PolicyDocument"]["Statement"]
        if any(kind in json.dumps(statement.get("Resource")) for kind in (":alarm:", ":dashboard/"))
    ]
    assert {statement["Sid"] for statement in scoped} == {"ManageTheStacksAlarms", "ManageTheStacksDashboards"}
    for statement in scoped:
        assert statement["Condition"] == {
            "StringEqualsIfExists": {f"aws:ResourceTag/{STACK_TAG}": {"Ref": "ResourcePrefix"}}
        }
        assert {"cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"} <= set(
            statement["Action"]
        )
