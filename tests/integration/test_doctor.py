"""`mwaa-obs doctor` on the local stack: every check passes on a healthy stack, and each part broken in turn makes
its own check fail (or warn) with a line that names it, while the other checks keep their verdict."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from mwaa_obs.metrics import ITEMS_SKIPPED, UNKNOWN_STATES
from mwaa_obs.store.samples import EventSamples, SampleKind
from mwaa_obs_tools import cli, localstack
from mwaa_obs_tools.factories import run_event
from mwaa_obs_tools.sample_events import envelope
from mwaa_obs_tools.simulator.faults import Faults
from tests.integration.test_end_to_end import create_example_workflows

Verdicts = dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def healthy(stack: localstack.LocalStack) -> Verdicts:
    """Given the example workflows run for an hour (a failure among them), every event ingested, and the reconciler
    past its first pass."""
    arns = create_example_workflows(stack, {"defaults": {"group_window_minutes": 0}})
    stack.engine.set_faults("simple_s3_test", Faults(fail={"list_objects"}))
    service = boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1")
    for arn in arns.values():
        service.start_workflow_run(WorkflowArn=arn)
    for _ in range(6):
        stack.engine.advance(stack.engine.now + timedelta(minutes=10))
        stack.pump()
    return doctor(stack)[1]


def doctor(stack: localstack.LocalStack) -> tuple[int, Verdicts]:
    args = ["doctor", "--endpoint-url", stack.endpoint, "--api-endpoint-url", stack.simulator.url, "--json"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main(args)
    checks = json.loads(printed.getvalue())
    return code, {check["name"]: {"status": check["status"], "detail": check["detail"]} for check in checks}


def broken(stack: localstack.LocalStack, healthy: Verdicts, check: str, status: str = "fail") -> str:
    """Doctor's line for `check`, which must have that status, every other check unchanged; its detail."""
    code, verdicts = doctor(stack)
    assert verdicts[check]["status"] == status, verdicts[check]
    others = {name: v["status"] for name, v in verdicts.items() if name != check}
    assert others == {name: v["status"] for name, v in healthy.items() if name != check}
    assert code == (1 if status == "fail" else 0)
    return verdicts[check]["detail"]


def test_a_healthy_stack_passes_every_check(healthy: Verdicts) -> None:
    assert {name: v["status"] for name, v in healthy.items()} == {
        "rule": "ok",
        "queue policy": "ok",
        "event sources": "ok",
        "dead letters": "ok",
        "bad events": "ok",
        "api answers": "ok",
        "newest event": "ok",
        "settings": "ok",
        "slack secret": "ok",
        "workflows": "ok",
    }
    assert "min ago" in healthy["newest event"]["detail"]
    assert "the 3 the API lists are all in the table" in healthy["workflows"]["detail"]


def test_the_text_report_is_one_line_per_check_and_exit_0(
    stack: localstack.LocalStack, healthy: Verdicts, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["doctor", "--endpoint-url", stack.endpoint, "--api-endpoint-url", stack.simulator.url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(healthy)
    assert all(line.startswith("ok ") for line in lines)


@pytest.fixture
def rule(stack: localstack.LocalStack) -> Any:
    return localstack.client(stack.endpoint, "events")


def test_a_disabled_rule(stack: localstack.LocalStack, healthy: Verdicts, rule: Any) -> None:
    name = stack.outputs["EventRuleArn"].rsplit("/", 1)[1]
    rule.disable_rule(Name=name)
    try:
        detail = broken(stack, healthy, "rule")
    finally:
        rule.enable_rule(Name=name)
    assert detail == f"rule {name} is DISABLED: no event reaches the queue (aws events enable-rule --name {name})"


def test_a_rule_without_its_queue_target(stack: localstack.LocalStack, healthy: Verdicts, rule: Any) -> None:
    name = stack.outputs["EventRuleArn"].rsplit("/", 1)[1]
    targets = rule.list_targets_by_rule(Rule=name)["Targets"]
    rule.remove_targets(Rule=name, Ids=[target["Id"] for target in targets])
    try:
        detail = broken(stack, healthy, "rule")
    finally:
        rule.put_targets(Rule=name, Targets=targets)
    queue = stack.outputs["EventsQueueUrl"].rsplit("/", 1)[1]
    assert detail == f"rule {name} does not target the events queue {queue}"


def test_a_queue_policy_for_another_rule(stack: localstack.LocalStack, healthy: Verdicts) -> None:
    sqs = localstack.client(stack.endpoint, "sqs")
    url = stack.outputs["EventsQueueUrl"]
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    wrong = policy.replace(stack.outputs["EventRuleArn"], stack.outputs["EventRuleArn"] + "-old")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": wrong})
    try:
        detail = broken(stack, healthy, "queue policy")
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    assert "no statement allows events.amazonaws.com to sqs:SendMessage for rule" in detail


def test_a_disabled_event_source_mapping(stack: localstack.LocalStack, healthy: Verdicts) -> None:
    lambda_client = localstack.client(stack.endpoint, "lambda")
    uuid = stack.functions[0].mapping_uuid
    lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
    try:
        detail = broken(stack, healthy, "event sources")
    finally:
        lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert f"is Disabled: messages wait in the queue (aws lambda update-event-source-mapping --uuid {uuid}" in detail
    assert stack.outputs["IngestFunctionName"] in detail


def test_messages_in_a_dead_letter_queue(stack: localstack.LocalStack, healthy: Verdicts) -> None:
    sqs = localstack.client(stack.endpoint, "sqs")
    url = stack.outputs["NoticesDeadLetterQueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    try:
        detail = broken(stack, healthy, "dead letters")
    finally:
        sqs.purge_queue(QueueUrl=url)
    assert detail.startswith("1 in the notices DLQ")
    assert "mwaa-obs dlq redrive notices" in detail


def test_settings_that_do_not_parse(stack: localstack.LocalStack, healthy: Verdicts) -> None:
    ssm = localstack.client(stack.endpoint, "ssm")
    name = stack.outputs["SettingsParameterName"]
    good = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    ssm.put_parameter(Name=name, Value='{"workflows": {}}', Type="String", Overwrite=True)
    try:
        detail = broken(stack, healthy, "settings")
    finally:
        ssm.put_parameter(Name=name, Value=good, Type="String", Overwrite=True)
    assert detail == f"{name} is refused, the last good one stays in use: workflows must be a list of rules"


def test_a_slack_secret_scheduled_for_deletion(stack: localstack.LocalStack, healthy: Verdicts) -> None:
    secrets = localstack.client(stack.endpoint, "secretsmanager")
    arn = stack.parameters["SlackWebhookSecretArn"]
    secrets.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    try:
        detail = broken(stack, healthy, "slack secret")
    finally:
        secrets.restore_secret(SecretId=arn)
    assert detail == f"{localstack.SLACK_SECRET_NAME} is scheduled for deletion: restore it"
    assert "hooks" not in json.dumps(doctor(stack)[1])  # the webhook URL is never printed


def test_a_workflow_the_table_does_not_know_yet(stack: localstack.LocalStack, healthy: Verdicts) -> None:
    service = boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1")
    existing = service.list_workflows()["Workflows"][0]
    described = service.get_workflow(WorkflowArn=existing["WorkflowArn"])
    arn = service.create_workflow(
        Name="created_since_the_last_pass",
        DefinitionS3Location=described["DefinitionS3Location"],
        RoleArn=localstack.WORKFLOW_ROLE_ARN,
    )["WorkflowArn"]
    try:
        detail = broken(stack, healthy, "workflows", status="warn")
    finally:
        service.delete_workflow(WorkflowArn=arn)
    assert detail.startswith("1 of 4 the API lists are not in the table (created_since_the_last_pass)")


def test_events_the_pipeline_cannot_read(stack: localstack.LocalStack, healthy: Verdicts) -> None:
    """Last in the module: the counts stay in the metrics for a day."""
    arn = (
        stack.outputs["EventRuleArn"].replace(":events:", ":airflow-serverless:").replace("rule/", "workflow/")
    )  # any ARN: these events are refused before their identity is read
    sent = [
        ("MWAA Serverless Workflow Run State Change", {"workflowArn": arn, "runId": "r1", "state": "FAILED"}),
        ("MWAA Serverless Workflow Run Failed", {"workflow_arn_renamed": arn, "run": "r1"}),
    ]
    stack.sink.publish(
        [
            {"Source": "aws.airflow-serverless", "DetailType": kind, "Detail": json.dumps(detail),
             "Resources": [], "Time": stack.engine.now}
            for kind, detail in sent
        ]
    )  # fmt: skip
    stack.pump()
    detail = broken(stack, healthy, "bad events")
    assert detail.startswith(
        "in the last 24 h: 1 of detail-types this version does not read (MWAA Serverless Workflow Run State Change); "
        "1 invalid (MWAA Serverless Workflow Run Failed; first reason: "
    )
    assert detail.endswith("(mwaa-obs events samples)")


def test_event_samples_show_what_was_refused(
    stack: localstack.LocalStack, healthy: Verdicts, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["events", "samples", "--endpoint-url", stack.endpoint, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    kinds = {(row["kind"], row["detail_type"]) for row in rows}
    assert kinds == {
        ("unknown", "MWAA Serverless Workflow Run State Change"),
        ("invalid", "MWAA Serverless Workflow Run Failed"),
    }
    assert all(datetime.fromisoformat(row["received_at"].replace("Z", "+00:00")) for row in rows)
    assert any('"workflow_arn_renamed"' in row["body"] for row in rows)


def test_api_answers_the_reconciler_could_not_take(stack: localstack.LocalStack, healthy: Verdicts) -> None:
    """After the bad events (counts stay in the metrics for a day): only this check is read."""
    # Given the reconcile function's counts of a state it did not know (sampled) and of an item it skipped
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    cloudwatch.put_metric_data(
        Namespace=stack.outputs["MetricNamespace"],
        MetricData=[
            {"MetricName": UNKNOWN_STATES.name, "Value": 2, "Unit": "Count", "Timestamp": stack.engine.now},
            {"MetricName": ITEMS_SKIPPED.name, "Value": 1, "Unit": "Count", "Timestamp": stack.engine.now},
        ],
    )
    samples = EventSamples(localstack.client(stack.endpoint, "dynamodb"), stack.outputs["StateTableName"],
                           clock=lambda: stack.engine.now)  # fmt: skip
    samples.keep(SampleKind.UNKNOWN_STATE, "GetTaskInstance SUSPENDED", "not known", '{"status": "SUSPENDED"}')
    # Then doctor warns, naming the state, and says where the skipped item is explained
    _, verdicts = doctor(stack)
    assert verdicts["api answers"] == {
        "status": "warn",
        "detail": "in the last 24 h: 2 answers with a state this version does not know (GetTaskInstance SUSPENDED; "
        "not stored: mwaa-obs events samples); 1 workflow or run skipped by a pass (the reconcile log says why: "
        "'item skipped')",
    }


# A window title, a clipboard write (OSC 52), a screen clear, a C1 control sequence, a right-to-left override
HOSTILE = "\x1b]0;pwned\x07 \x1b]52;c;cm0gLXJmIH4=\x07 \x1b[2J \x9b31m \u202e"


def test_what_a_workflow_or_an_event_says_is_printed_with_its_controls_escaped(
    stack: localstack.LocalStack, healthy: Verdicts, capsys: pytest.CaptureFixture[str]
) -> None:
    """Last in the module: it adds a failed run and a refused event."""
    # Given a failed run whose error message, and an event whose detail-type, hold terminal control sequences
    service = boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1")
    arn = service.list_workflows()["Workflows"][0]["WorkflowArn"]
    events = [
        run_event("Started", "run-hostile", stack.engine.now, arn=arn),
        run_event("Failed", "run-hostile", stack.engine.now, arn=arn, errorMessage=f"boom {HOSTILE}"),
        envelope(f"MWAA Serverless {HOSTILE}", {"workflowArn": arn}, stack.engine.now, arn),
    ]
    # Onto the events queue as EventBridge delivers them (moto's PutEvents fails on a control character in a
    # detail-type: docs/LOCAL_STACK.md)
    sqs = localstack.client(stack.endpoint, "sqs")
    for event in events:
        sqs.send_message(QueueUrl=stack.outputs["EventsQueueUrl"], MessageBody=json.dumps(event))
    stack.pump()
    capsys.readouterr()
    # When runs list, runs show, events samples and doctor print them
    local = ["--endpoint-url", stack.endpoint]
    assert cli.main(["runs", "list", *local]) == 0
    assert cli.main(["runs", "show", "run-hostile", *local]) == 0
    assert cli.main(["events", "samples", *local]) == 0
    cli.main(["doctor", *local, "--api-endpoint-url", stack.simulator.url])
    printed = capsys.readouterr()
    # Then each was printed, its controls escaped: not one reached the terminal
    text = printed.out + printed.err
    assert text.count("\\x1b]0;pwned\\x07") >= 4
    assert "\\x1b]52;c;" in text
    assert "\\x9b31m" in text
    assert "\\u202e" in text
    assert not any((ord(char) < 0x20 and char not in "\n\t\r") or 0x7F <= ord(char) < 0xA0 for char in text)
    assert "\u202e" not in text
