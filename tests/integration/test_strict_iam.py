"""The emulator's IAM gate (mwaa_obs_tools.iam): a call signed with a role's session is authorised against the role's
policies as AWS authorises it, and a denied call fails as the service fails it, so botocore raises the ClientError
AWS would. The mutation test at the end removes one grant the stack needs from template.yaml and watches it fail."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from mwaa_obs_tools import emulator, localstack
from mwaa_obs_tools.factories import T0, minutes, run_event, task_event, workflow_arn
from mwaa_obs_tools.iam import roles
from mwaa_obs_tools.iam.gate import GATE
from mwaa_obs_tools.sample_events import ACCOUNT
from mwaa_obs_tools.simulator.api import ApiServer
from mwaa_obs_tools.simulator.engine import Engine
from tests.integration.test_end_to_end import deployed

TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
TABLE = "strict-iam"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}"
Clients = Callable[[str], Any]


class Roles:
    """Roles made for one test, each with a session restricted by the gate."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._operator = botocore.session.get_session()
        self._iam = self.operator("iam")
        self.made: list[str] = []

    def operator(self, service: str) -> Any:
        return self._operator.create_client(service, endpoint_url=self._endpoint)

    def role(self, name: str, statements: list[dict[str, Any]], trust: dict[str, Any] = TRUST_LAMBDA) -> str:
        arn: str = self._iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        policy = {"Version": "2012-10-17", "Statement": statements}
        self._iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        self.made.append(name)
        return arn

    def acting_as(self, name: str, statements: list[dict[str, Any]]) -> Clients:
        """Clients of a new role with these statements, signed with a restricted session of it."""
        arn = self.role(name, statements)
        frozen = roles.assume(self.operator("sts"), arn, f"{name}-session").get_frozen_credentials()
        return lambda service: localstack.client(self._endpoint, service, credentials=frozen)

    def remove(self) -> None:
        for name in self.made:
            self._iam.delete_role_policy(RoleName=name, PolicyName="p")
            self._iam.delete_role(RoleName=name)


@pytest.fixture
def iam_roles(endpoint: str) -> Iterator[Roles]:
    made = Roles(endpoint)
    yield made
    made.remove()


@pytest.fixture
def table(iam_roles: Roles) -> Iterator[str]:
    dynamodb = iam_roles.operator("dynamodb")
    emulator.create_state_table(dynamodb, TABLE)
    yield TABLE
    dynamodb.update_table(TableName=TABLE, DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=TABLE)


def allow(actions: str | list[str], resource: str | list[str], **condition: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
    return statement | ({"Condition": condition} if condition else {})


def denied(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    return {
        "status": raised.value.response["ResponseMetadata"]["HTTPStatusCode"],
        "code": raised.value.response["Error"]["Code"],
        "message": raised.value.response["Error"]["Message"],
    }


# --- each service answers as AWS answers ------------------------------------------------------------------------

ANSWERS = [
    # (service, call, HTTP status, error code, the action as the message spells it, resource in the message)
    ("dynamodb", lambda c: c.get_item(TableName="t", Key={"pk": {"S": "a"}}), 400, "AccessDeniedException",
     "dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"),
    ("dynamodbstreams", lambda c: c.describe_stream(StreamArn=f"{TABLE_ARN}/stream/2026"), 400,
     "AccessDeniedException", "dynamodb:DescribeStream", f"{TABLE_ARN}/stream/2026"),
    ("sqs", lambda c: c.send_message(QueueUrl=f"http://localhost/{ACCOUNT}/q", MessageBody="x"), 403, "AccessDenied",
     "sqs:sendmessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"),
    ("sns", lambda c: c.publish(TopicArn=f"arn:aws:sns:us-east-1:{ACCOUNT}:t", Message="x"), 403,
     "AuthorizationError", "SNS:Publish", f"arn:aws:sns:us-east-1:{ACCOUNT}:t"),
    ("ssm", lambda c: c.get_parameter(Name="/p/settings"), 400, "AccessDeniedException", "ssm:GetParameter",
     f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/p/settings"),
    ("secretsmanager", lambda c: c.get_secret_value(SecretId="s"), 400, "AccessDeniedException",
     "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:s"),
    ("logs", lambda c: c.put_log_events(logGroupName="/g", logStreamName="s", logEvents=[{"timestamp": 0,
     "message": "m"}]), 400, "AccessDeniedException", "logs:PutLogEvents",
     f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/g:log-stream:s"),
    ("cloudwatch", lambda c: c.put_metric_alarm(AlarmName="a", MetricName="m", Namespace="n", Statistic="Sum",
     Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold"), 403, "AccessDenied",
     "cloudwatch:PutMetricAlarm", f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:a"),
    ("events", lambda c: c.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}]), 400,
     "AccessDeniedException", "events:PutEvents", f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"),
    ("lambda", lambda c: c.get_function_configuration(FunctionName="f"), 403, "AccessDeniedException",
     "lambda:GetFunctionConfiguration", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"),
    ("sts", lambda c: c.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/r", RoleSessionName="s1"), 403,
     "AccessDenied", "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/r"),
    ("cloudformation", lambda c: c.describe_stacks(StackName="st"), 403, "AccessDenied",
     "cloudformation:DescribeStacks", f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/st/*"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("service", "call", "status", "code", "action", "resource"), ANSWERS, ids=[a[0] for a in ANSWERS]
)
def test_a_denied_call_fails_as_the_service_fails_it(
    iam_roles: Roles, service: str, call: Callable[[Any], Any], status: int, code: str, action: str, resource: str
) -> None:
    clients = iam_roles.acting_as("nothing-allowed", [allow("sqs:ListQueues", "*")])
    answer = denied(lambda: call(clients(service)))
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/nothing-allowed/nothing-allowed-session"
    assert answer == {
        "status": status,
        "code": code,
        "message": f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action",
    }


def test_mwaa_serverless_denies_as_the_service_does(iam_roles: Roles, sink: Any) -> None:
    server = ApiServer(Engine(sink, lambda _: "", start=T0)).start()
    try:
        reader = iam_roles.role("lists-workflows", [allow("airflow-serverless:ListWorkflows", "*")])
        frozen = roles.assume(iam_roles.operator("sts"), reader, "lister").get_frozen_credentials()
        api = localstack.client(server.url, "mwaa-serverless", credentials=frozen)
        assert api.list_workflows()["Workflows"] == []
        answer = denied(lambda: api.get_workflow(WorkflowArn=workflow_arn()))
    finally:
        server.stop()
    assert (answer["status"], answer["code"]) == (403, "AccessDeniedException")
    assert f"airflow-serverless:GetWorkflow on resource: {workflow_arn()} because" in answer["message"]


@pytest.fixture
def sink() -> Any:
    class Nowhere:
        def publish(self, entries: list[dict[str, Any]]) -> None: ...
        def log(self, *_: Any) -> None: ...

    return Nowhere()


# --- what is authorised on what -------------------------------------------------------------------------------


def test_a_table_grant_does_not_cover_its_indexes(iam_roles: Roles, table: str) -> None:
    clients = iam_roles.acting_as("table-only", [allow("dynamodb:Query", TABLE_ARN)])
    dynamodb = clients("dynamodb")
    query = {"KeyConditionExpression": "gsi1pk = :w", "ExpressionAttributeValues": {":w": {"S": "WF#x"}}}
    assert dynamodb.query(TableName=table, KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "x"}})["Count"] == 0  # fmt: skip
    answer = denied(lambda: dynamodb.query(TableName=table, IndexName="workflow-runs", **query))
    assert f"dynamodb:Query on resource: {TABLE_ARN}/index/workflow-runs because" in answer["message"]
    # And a grant on the index does
    indexes = iam_roles.acting_as("with-index", [allow("dynamodb:Query", [TABLE_ARN, f"{TABLE_ARN}/index/*"])])
    assert indexes("dynamodb").query(TableName=table, IndexName="workflow-runs", **query)["Count"] == 0


def test_the_leading_keys_condition_limits_writes_to_the_partitions_it_names(iam_roles: Roles, table: str) -> None:
    # Given provisioning's grant: UpdateItem on workflow items only
    grant = allow("dynamodb:UpdateItem", TABLE_ARN, **{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["WF#*"]}})
    dynamodb = iam_roles.acting_as("workflows-only", [grant])("dynamodb")

    def update(partition: str) -> Any:
        key = {"pk": {"S": partition}, "sk": {"S": "META"}}
        values = {":a": {"S": "1"}}
        return dynamodb.update_item(
            TableName=table, Key=key, UpdateExpression="SET a = :a", ExpressionAttributeValues=values
        )

    update("WF#sales")
    answer = denied(lambda: update("RUN#sales#r1"))
    assert answer["code"] == "AccessDeniedException"
    assert "dynamodb:UpdateItem" in answer["message"]


def test_a_transaction_is_authorised_item_by_item(iam_roles: Roles, table: str) -> None:
    items = [
        {"Update": {"TableName": table, "Key": {"pk": {"S": "RUN#r"}, "sk": {"S": "META"}},
                    "UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"S": "1"}}}},
        {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "WF#w"}, "sk": {"S": "META"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}},
    ]  # fmt: skip
    updates_only = iam_roles.acting_as("updates-only", [allow("dynamodb:UpdateItem", TABLE_ARN)])("dynamodb")
    answer = denied(lambda: updates_only.transact_write_items(TransactItems=items))
    assert f"dynamodb:ConditionCheckItem on resource: {TABLE_ARN} because" in answer["message"]
    both = allow(["dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"], TABLE_ARN)
    iam_roles.acting_as("both", [both])("dynamodb").transact_write_items(TransactItems=items)


def test_put_composite_alarm_needs_a_grant_scoped_to_everything(iam_roles: Roles) -> None:
    """Its API reference: "scoped to *. You can't create a composite alarms if your cloudwatch:PutCompositeAlarm
    permission has a narrower scope" (and a `*` inside an ARN of a request is no wildcard)."""
    request = {"AlarmName": "mwaa-obs-x-health", "AlarmRule": 'ALARM("mwaa-obs-x-failed")'}
    narrow = allow("cloudwatch:PutCompositeAlarm", f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*")
    answer = denied(lambda: iam_roles.acting_as("narrow", [narrow])("cloudwatch").put_composite_alarm(**request))
    assert answer["code"] == "AccessDenied"
    iam_roles.acting_as("wide", [allow("cloudwatch:PutCompositeAlarm", "*")])("cloudwatch").put_composite_alarm(
        **request
    )


def test_an_alarm_tagged_for_another_stack_is_not_this_ones_to_change(iam_roles: Roles) -> None:
    """Provisioning's grant: the stack's alarms, unless tagged for another stack (aws:ResourceTag, as CloudWatch holds
    the tags now; IfExists, as an alarm being created has none)."""
    grant = allow(
        "cloudwatch:PutMetricAlarm",
        f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:mwaa-obs-*",
        StringEqualsIfExists={"aws:ResourceTag/mwaa-obs-prefix": "mwaa-obs"},
    )
    cloudwatch = iam_roles.acting_as("one-stack", [grant])("cloudwatch")
    alarm = {"MetricName": "m", "Namespace": "n", "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1,
             "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"}  # fmt: skip
    operator = iam_roles.operator("cloudwatch")
    operator.put_metric_alarm(
        AlarmName="mwaa-obs-dev-x-failed", Tags=[{"Key": "mwaa-obs-prefix", "Value": "mwaa-obs-dev"}], **alarm
    )
    try:
        cloudwatch.put_metric_alarm(AlarmName="mwaa-obs-x-failed", **alarm)  # new: no tags yet
        answer = denied(lambda: cloudwatch.put_metric_alarm(AlarmName="mwaa-obs-dev-x-failed", **alarm))
        assert "cloudwatch:PutMetricAlarm on resource: arn:aws:cloudwatch:us-east-1:" in answer["message"]
    finally:
        operator.delete_alarms(AlarmNames=["mwaa-obs-x-failed", "mwaa-obs-dev-x-failed"])


def test_assume_role_needs_the_trust_too_and_hands_out_credentials_of_that_role(iam_roles: Roles) -> None:
    # Given a reader role that trusts the caller's account with an external id, and may only list workflows
    account = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    only_with_the_id = {"StringEquals": {"sts:ExternalId": "the-id"}}
    statement = {"Effect": "Allow", "Principal": account, "Action": "sts:AssumeRole", "Condition": only_with_the_id}
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    reader = iam_roles.role("reader", [allow("airflow-serverless:ListWorkflows", "*")], trust)
    sts = iam_roles.acting_as("assumer", [allow("sts:AssumeRole", reader)])("sts")
    # When the caller assumes it without the id, it is refused; with it, the credentials are the reader's
    assert denied(lambda: sts.assume_role(RoleArn=reader, RoleSessionName="r1"))["code"] == "AccessDenied"
    given = sts.assume_role(RoleArn=reader, RoleSessionName="r1", ExternalId="the-id")["Credentials"]
    principal = GATE.principal(given["AccessKeyId"])
    assert principal is not None
    assert principal.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/r1"


def test_an_operators_keys_are_not_restricted_and_an_unknown_call_is_refused(iam_roles: Roles) -> None:
    iam_roles.operator("dynamodb").list_tables()  # the harness's keys stand for an administrator
    clients = iam_roles.acting_as("lists", [allow("dynamodb:ListTables", "*")])
    clients("dynamodb").list_tables()
    answer = denied(lambda: clients("dynamodb").describe_backup(BackupArn=f"{TABLE_ARN}/backup/1"))
    assert "teach mwaa_obs_tools/iam/actions.py" in answer["message"]


# --- the mutation test: the stack without one grant it needs ------------------------------------------------------


def without_statement(role: str, sid: str) -> dict[str, Any]:
    template = copy.deepcopy(emulator.load_template())
    policy = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
    kept = [s for s in policy["Statement"] if not (isinstance(s, dict) and s.get("Sid") == sid)]
    assert len(kept) == len(policy["Statement"]) - 1, f"{role} has no statement {sid}"
    policy["Statement"] = kept
    return template


def failed_run(name: str) -> list[dict[str, Any]]:
    arn, run = workflow_arn(name, "Mutat1onXX"), f"{name}-r1"
    return [
        run_event("Started", run, T0, arn=arn),
        run_event("Running", run, T0 + minutes(1), arn=arn),
        task_event("Failed", run, "load", T0 + minutes(5), arn=arn, errorMessage="boom"),
        run_event("Failed", run, T0 + minutes(6), arn=arn, errorMessage="Workflow execution failed"),
    ]


@pytest.fixture(params=["as in template.yaml", "without ReadTheWorkflowHistory"])
def notify_stack(endpoint: str, request: pytest.FixtureRequest) -> Iterator[tuple[localstack.LocalStack, bool]]:
    """The local stack deployed from template.yaml, or from template.yaml without notify's grant on the index."""
    mutated = request.param.startswith("without")
    mutant = without_statement("NotifyFunctionRole", "ReadTheWorkflowHistory") if mutated else None
    for stack in deployed(endpoint, template=mutant):
        yield stack, mutated


def test_without_notifys_index_grant_no_alert_is_ever_sent(
    endpoint: str, notify_stack: tuple[localstack.LocalStack, bool]
) -> None:
    stack, mutated = notify_stack
    # Given a failed run's events on the bus
    bus = localstack.client(endpoint, "events")
    entries = [
        {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]),
         "Resources": e["resources"], "Time": datetime.fromisoformat(e["time"]), "EventBusName": "default"}
        for e in failed_run("sales")
    ]  # fmt: skip
    bus.put_events(Entries=entries)
    # When the stack runs until every notice is delivered or dead-lettered (MaxReceiveCount deliveries), and past
    # any grouping window
    for _ in range(int(emulator.parameter_default(stack.template, "MaxReceiveCount")) + 1):
        stack.pump()
    stack.engine.advance(stack.engine.now + timedelta(hours=2))
    stack.pump()
    assert stack.slack is not None
    if not mutated:
        # Then with the grant, the failure is told
        assert len(stack.slack.delivered()) == 1
        return
    # Then without it, nobody is told: every decision was AccessDenied, and the notice is dead-lettered
    assert stack.slack.delivered() == []
    assert stack.alerts() == []
    logs = localstack.client(endpoint, "logs")
    group = stack.deployment.log_group("NotifyFunction")
    lines = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName="local")["events"]]
    denial = (
        f"dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/mwaa-obs-state/index/workflow-runs"
    )
    assert any("AccessDeniedException" in line and denial in line for line in lines), lines[-5:]
    sqs = localstack.client(endpoint, "sqs")
    dlq = sqs.get_queue_url(QueueName="mwaa-obs-notices-dlq")["QueueUrl"]
    waiting = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert waiting["ApproximateNumberOfMessages"] == "1"
