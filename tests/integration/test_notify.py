"""Failure notifications end to end on the emulator: ingest -> notices queue -> notify handler -> SNS and Slack.

SNS is read through an SQS subscription; Slack is a real HTTP server on loopback (mwaa_obs_tools.slack_catcher).
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest
from botocore.config import Config

from mwaa_obs import SERVICE
from mwaa_obs.aws import aws_session, client, dynamodb_client, once_client
from mwaa_obs.channels import (
    SLACK_BUDGET_SECONDS,
    AlertTopic,
    DeliveryError,
    SlackWebhook,
    SlackWebhooks,
)
from mwaa_obs.delivery import DEFAULT_REMAINING_SECONDS, LEASE_MARGIN_SECONDS, MARK_RESERVE_SECONDS, Courier
from mwaa_obs.links import task_log_group, task_log_stream
from mwaa_obs.mwaa_api import WorkflowAnswer
from mwaa_obs.notices import Notice, NoticeQueue
from mwaa_obs.notify import Notifier, notify_batch
from mwaa_obs.settings import SettingsSource
from mwaa_obs.store.alerts import Alerts
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import RunItem
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.task_logs import TaskLogReader, logs_config
from mwaa_obs.telemetry import MetricSink, emits_metrics
from mwaa_obs_tools import localstack, moto_patches, slack_catcher
from mwaa_obs_tools.aws_faults import Fault, faults, refusals
from mwaa_obs_tools.factories import T0, metric_totals, minutes, run_event, sqs_event, task_event, workflow_arn
from mwaa_obs_tools.iam import roles
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext, PollResult, poll_sqs_once
from mwaa_obs_tools.localstack.clients import write_log_lines
from mwaa_obs_tools.slack_catcher import Answer, SlackCatcher
from tests.conftest import ALERT_TOPIC, NOTICES_MAX_RECEIVE_COUNT, SETTINGS_PARAMETER, SLACK_SECRET, Printed

SALES = workflow_arn("sales_etl", "Sa1e5Sa1e5")
SALES_ID = "sales_etl-Sa1e5Sa1e5"
FINANCE = workflow_arn("finance_close", "F1nanceF1n")
WEBHOOK_TOKEN = "T0SECRET/B0SECRET/xoxo-do-not-log-me"


class _KeptLines(logging.Handler):
    """Each log line the service prints, as it prints it (its JSON, with any traceback)."""

    def __init__(self, printer: logging.Handler) -> None:
        super().__init__()
        self.setFormatter(printer.formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_log_line_holds_the_webhook_token() -> Iterator[None]:
    """Every log line of every test here, the faults' included, is searched for the webhook URL's token."""
    service = logging.getLogger(SERVICE)
    kept = _KeptLines(next(h for h in service.handlers if isinstance(h, logging.StreamHandler)))
    service.addHandler(kept)
    yield
    service.removeHandler(kept)
    assert [line for line in kept.lines if "do-not-log-me" in line] == []


def failed_run(
    run_id: str, start: datetime, arn: str = SALES, error: str = "AccessDenied on s3://raw/sales"
) -> list[dict[str, Any]]:
    return [
        run_event("Started", run_id, start, arn=arn, runType="SCHEDULED"),
        run_event("Running", run_id, start + minutes(1), arn=arn),
        task_event("Running", run_id, "extract", start + minutes(2), arn=arn, operatorName="S3ListOperator"),
        task_event("Succeeded", run_id, "extract", start + minutes(3), arn=arn),
        task_event("Running", run_id, "load", start + minutes(4), arn=arn, operatorName="S3CopyObjectOperator"),
        task_event("Failed", run_id, "load", start + minutes(5), arn=arn, errorMessage=error),
        task_event("Upstream Failed", run_id, "report", start + minutes(5), arn=arn),
        run_event("Failed", run_id, start + minutes(6), arn=arn, errorMessage="Workflow execution failed"),
    ]


def good_run(run_id: str, start: datetime, arn: str = SALES) -> list[dict[str, Any]]:
    return [
        run_event("Started", run_id, start, arn=arn),
        run_event("Running", run_id, start + minutes(1), arn=arn),
        task_event("Succeeded", run_id, "load", start + minutes(3), arn=arn),
        run_event("Succeeded", run_id, start + minutes(4), arn=arn),
    ]


def as_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


@dataclass
class Inbox:
    """An SQS queue subscribed to the alert topic: what email subscribers would receive."""

    sqs: Any
    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)

    def messages(self) -> list[dict[str, Any]]:
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return self.seen
            for message in batch:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class Pipeline:
    sqs: Any
    notices_url: str
    notices_arn: str
    handler: Callable[[dict[str, Any], Any], Any]
    inbox: Inbox
    slack: SlackCatcher
    sleeps: list[float]
    ssm: Any
    sns: Any
    runs: Runs
    workflows: Workflows
    ingest_handler: ModuleType
    notifier: Notifier
    logs: Any  # the notifier's CloudWatch Logs client (its task logs' reads)
    dynamodb: Any  # the notifier's client
    log_writer: Any  # what writes the task logs: the service, with the harness's keys

    def ingest(self, events: list[dict[str, Any]]) -> None:
        for start in range(0, len(events), 10):
            self.ingest_handler.lambda_handler(sqs_event(events[start : start + 10]), FakeLambdaContext())

    def notify(self) -> list[PollResult]:
        """Poll the notices queue as the event source mapping would (batch size 1) until it is empty."""
        results = []
        while (result := poll_sqs_once(self.sqs, self.notices_url, self.notices_arn, self.handler, 1)).received:
            results.append(result)
        return results

    def settings(self, document: dict[str, Any]) -> None:
        self.ssm.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps(document), Type="String", Overwrite=True)

    def slack_texts(self) -> list[str]:
        return [as_text(payload) for payload in self.slack.delivered()]


@pytest.fixture
def pipeline(
    endpoint: str,
    state_table: str,
    notices_queue: str,
    sqs: Any,
    ingest_handler: ModuleType,
    function_roles: roles.FunctionRoles,
) -> Iterator[Pipeline]:
    """The notifier as the function composes it, on the emulator, acting as the function's role: settings read on
    every notice (no cache), Slack's backoff recorded instead of slept."""
    sns, ssm, secrets = (localstack.client(endpoint, name) for name in ("sns", "ssm", "secretsmanager"))
    topic_arn = sns.create_topic(Name=ALERT_TOPIC)["TopicArn"]
    inbox_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
    ssm.put_parameter(Name=SETTINGS_PARAMETER, Value="{}", Type="String", Overwrite=True)
    notices_arn = sqs.get_queue_attributes(QueueUrl=notices_queue, AttributeNames=["QueueArn"])["Attributes"]
    sleeps: list[float] = []
    runs, workflows = Runs(dynamodb_client(endpoint), state_table), Workflows(dynamodb_client(endpoint), state_table)
    with function_roles.as_function("NotifyFunction"):
        dynamodb, sns_client = dynamodb_client(endpoint), once_client("sns", endpoint)
        logs = aws_session().create_client("logs", endpoint_url=endpoint, config=logs_config())
        notifier = Notifier(
            runs=Runs(dynamodb, state_table),
            alerts=Alerts(dynamodb, state_table),
            workflows=Workflows(dynamodb, state_table),
            settings=SettingsSource(client("ssm", endpoint), SETTINGS_PARAMETER, ttl_seconds=0),
            courier=Courier(
                alerts=Alerts(dynamodb, state_table),
                topic=AlertTopic(sns_client, topic_arn),
                webhooks=SlackWebhooks(client("secretsmanager", endpoint), SLACK_SECRET),
                slack=lambda url: SlackWebhook(url, sleep=sleeps.append, timeout=2),
                task_logs=TaskLogReader(lambda _: logs),
            ),
            notices=NoticeQueue(client("sqs", endpoint), notices_queue),
        )

    def notify(event: dict[str, Any], context: Any, sink: MetricSink) -> Any:
        with function_roles.as_function("NotifyFunction"):
            return notify_batch(
                event,
                notifier,
                sink,
                max_receive_count=NOTICES_MAX_RECEIVE_COUNT,
                remaining=lambda: context.get_remaining_time_in_millis() / 1000,
            )

    with slack_catcher.running() as slack:
        secrets.create_secret(Name=SLACK_SECRET, SecretString=slack.url(f"/services/{WEBHOOK_TOKEN}"))
        yield Pipeline(
            sqs,
            notices_queue,
            notices_arn["QueueArn"],
            emits_metrics(notify),
            Inbox(sqs, inbox_url),
            slack,
            sleeps,
            ssm,
            sns_client,
            runs,
            workflows,
            ingest_handler,
            notifier,
            logs,
            dynamodb,
            localstack.client(endpoint, "logs"),
        )
        secrets.delete_secret(SecretId=SLACK_SECRET, ForceDeleteWithoutRecovery=True)
    sqs.delete_queue(QueueUrl=inbox_url)
    sns.delete_topic(TopicArn=topic_arn)


def test_a_failed_run_gets_one_message_per_channel_with_its_failed_tasks(pipeline: Pipeline) -> None:
    # Given a run whose load task failed
    pipeline.ingest(failed_run("run-1", T0))
    # When its notice comes due
    results = pipeline.notify()
    # Then Slack received one message naming the task, its operator, its error and a link to its log stream
    assert [result.failed for result in results] == [0]
    (payload,) = pipeline.slack.delivered()
    text = as_text(payload)
    assert (
        payload["blocks"][0]["text"]["text"] == ":red_circle: sales_etl failed at load: AccessDenied on s3://raw/sales"
    )
    assert "*load* · attempt 1 · FAILED · `S3CopyObjectOperator`" in text
    assert "AccessDenied on s3://raw/sales" in text
    assert "log-events/workflow_id$253Dsales_etl-Sa1e5Sa1e5$252Frun_id$253Drun-1$252Ftask_id$253Dload" in text
    assert "1 task skipped (upstream failed)" in text
    assert "extract" not in text
    # And the topic received one message with a subject and filterable attributes
    (published,) = pipeline.inbox.messages()
    assert published["Subject"] == "[mwaa-obs] sales_etl failed at load: AccessDenied on s3://raw/sales (run run-1)"
    assert published["MessageAttributes"]["state"]["Value"] == "FAILED"
    assert published["MessageAttributes"]["workflow"]["Value"] == "sales_etl"
    assert "* load (attempt 1, FAILED, S3CopyObjectOperator)" in published["Message"]
    # And the run remembers both deliveries
    run, _ = pipeline.runs.load("sales_etl-Sa1e5Sa1e5", "run-1")
    assert run is not None
    assert run.notified_email is not None
    assert run.notified_slack is not None


def test_credentials_in_a_tasks_error_reach_no_channel(pipeline: Pipeline) -> None:
    # Given a task that failed printing an access key, a password and a webhook URL in its error
    secrets = ("AKIAIOSFODNN7EXAMPLE", "hunter2-pw", "T0000/B0000/leakedWebhookPath")
    error = f"boto failed with {secrets[0]}; db password={secrets[1]}; hooks.slack.com/services/{secrets[2]}"
    pipeline.ingest(failed_run("run-secret", T0, error=f"ValueError: {error}"))
    # When its message is sent
    pipeline.notify()
    # Then neither Slack nor email carries them, and both say where they were
    (payload,) = pipeline.slack.delivered()
    (published,) = pipeline.inbox.messages()
    for text in (as_text(payload), json.dumps(published)):
        assert not [secret for secret in secrets if secret in text]
        assert "AKIA****" in text
        assert "password=****" in text


def test_a_workflow_that_names_its_own_log_group_gets_links_into_it(pipeline: Pipeline) -> None:
    # Given the API said sales_etl writes its task logs to its own log group
    answer = {"WorkflowArn": SALES, "LoggingConfiguration": {"LogGroupName": "/teams/sales/airflow"}}
    pipeline.workflows.save_description(WorkflowAnswer.from_api(answer), T0)
    # When a run of it fails
    pipeline.ingest(failed_run("run-own-logs", T0))
    pipeline.notify()
    # Then both the task's log link and the log group link point into that group
    (payload,) = pipeline.slack.delivered()
    text = as_text(payload)
    assert "log-group/$252Fteams$252Fsales$252Fairflow/log-events/workflow_id$253Dsales_etl" in text
    assert "mwaa-serverless" not in text.split("log-group/", 1)[1].split("/log-events", 1)[0]
    (published,) = pipeline.inbox.messages()
    assert "log-group/$252Fteams$252Fsales$252Fairflow" in published["Message"]


def test_task_events_that_arrive_after_the_run_failed_are_in_the_message(pipeline: Pipeline) -> None:
    events = failed_run("run-late", T0)
    run_failed, task_failed = events[-1], events[5]
    # Given the run's Failed event ingested before its task's Failed event (EventBridge does not order them)
    pipeline.ingest([event for event in events if event not in (run_failed, task_failed)])
    pipeline.ingest([run_failed])
    pipeline.ingest([task_failed])
    # When the delayed notice is handled
    pipeline.notify()
    # Then the message holds the task that failed
    (payload,) = pipeline.slack.delivered()
    assert "AccessDenied on s3://raw/sales" in as_text(payload)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duplicated_shuffled_events_and_notices_yield_one_message_per_failed_run(pipeline: Pipeline, seed: int) -> None:
    # Given every failure alerted on its own (no grouping), three sales runs (fail, fail, succeed), a finance failure
    pipeline.settings({"defaults": {"group_window_minutes": 0}})
    randomly = random.Random(seed)
    events = (
        failed_run("s1", T0)
        + failed_run("s2", T0 + minutes(60))
        + good_run("s3", T0 + minutes(120))
        + failed_run("f1", T0, arn=FINANCE)
    )
    delivered = events + randomly.sample(events, len(events) // 3)
    randomly.shuffle(delivered)
    # When they are ingested in that order, and every notice is delivered twice
    pipeline.ingest(delivered)
    pending = pipeline.sqs.receive_message(QueueUrl=pipeline.notices_url, MaxNumberOfMessages=10)["Messages"]
    for message in pending:
        pipeline.sqs.send_message(QueueUrl=pipeline.notices_url, MessageBody=message["Body"])
    pipeline.sqs.change_message_visibility_batch(
        QueueUrl=pipeline.notices_url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(pending)
        ],
    )
    pipeline.notify()
    # Then each failed run was told once on each channel
    failures = [text for text in pipeline.slack_texts() if "ended in *FAILED*" in text]
    for run_id in ("s1", "s2", "f1"):
        assert sum(f"`{run_id}`" in text for text in failures) == 1, run_id
    assert len(failures) == 3
    subjects = [message["Subject"] for message in pipeline.inbox.messages()]
    assert sorted(subject for subject in subjects if " failed at " in subject) == [
        f"[mwaa-obs] {name} failed at load: AccessDenied on s3://raw/sales (run {run_id})"
        for name, run_id in (("finance_close", "f1"), ("sales_etl", "s1"), ("sales_etl", "s2"))
    ]
    # And the sales failures, stored after their success had been (everything arrived before any notice came
    # due), were told as already recovered, with no resolved message after them; finance's is still open
    for text in failures:
        assert ("A later run of this workflow has already succeeded" in text) == ("sales_etl" in text)
    assert not [text for text in pipeline.slack_texts() if "Resolved:" in text]
    assert not [subject for subject in subjects if "RESOLVED" in subject]


def test_failures_within_the_window_are_grouped_and_the_recovery_counts_them(
    pipeline: Pipeline, printed: Callable[[], Printed]
) -> None:
    # Given three failed runs and then a success, handled in that order within one grouping window
    for index in range(3):
        pipeline.ingest(failed_run(f"g{index}", T0 + minutes(30 * index)))
        pipeline.notify()
    pipeline.ingest(good_run("g3", T0 + minutes(120)))
    pipeline.notify()
    # Then Slack got the first failure and one recovery that counts all three
    texts = pipeline.slack_texts()
    assert len(texts) == 2
    assert "`g0`" in texts[0]
    assert "Resolved: sales_etl is succeeding again" in texts[1]
    assert "with 3 failed runs" in texts[1]
    # And the two grouped failures were counted, once each even when a notice comes again
    pipeline.sqs.send_message(QueueUrl=pipeline.notices_url, MessageBody=Notice("run", SALES_ID, "g1").to_body())
    pipeline.notify()
    assert metric_totals(printed().emf, "sales_etl").get("AlertsGrouped", 0) == 2
    assert len(pipeline.slack_texts()) == 2


def test_a_success_that_closes_nothing_reads_no_history(pipeline: Pipeline) -> None:
    """A healthy workflow's success costs no read of its runs (it read 100 at every run end): the workflow item keeps
    its latest unsuccessful end (ingest raises it; the first history read sets it), and a success after the latest
    decided one, with no such end after that, closes no incident (alerting.closes_nothing)."""
    histories: list[str] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        if params.get("IndexName") == "workflow-runs" and ":workflow" in params.get("ExpressionAttributeValues", {}):
            histories.append(params["ExpressionAttributeValues"][":workflow"]["S"])

    pipeline.dynamodb.meta.events.register("provide-client-params.dynamodb.Query", note)
    pipeline.settings({"defaults": {"group_window_minutes": 0}})
    steps: list[tuple[str, int]] = []
    for run_id, events in (
        ("ok1", good_run("ok1", T0)),  # nothing kept yet: read once, which starts keeping it
        ("ok2", good_run("ok2", T0 + minutes(60))),
        ("bad", failed_run("bad", T0 + minutes(120))),  # a failure's decision reads the history, as before
        ("ok3", good_run("ok3", T0 + minutes(180))),  # a failure ended after the latest success: read, and resolve
        ("ok4", good_run("ok4", T0 + minutes(240))),
    ):
        histories.clear()
        pipeline.ingest(events)
        pipeline.notify()
        steps.append((run_id, len(histories)))
    assert steps == [("ok1", 1), ("ok2", 0), ("bad", 1), ("ok3", 1), ("ok4", 0)]
    subjects = [message["Subject"] for message in pipeline.inbox.messages()]
    assert subjects == [
        "[mwaa-obs] sales_etl failed at load: AccessDenied on s3://raw/sales (run bad)",
        "[mwaa-obs] RESOLVED sales_etl run ok3",
    ]


def test_slack_429_and_5xx_are_retried_honouring_retry_after(pipeline: Pipeline) -> None:
    pipeline.slack.answer_next(Answer(429, "rate_limited", {"Retry-After": "7"}), Answer(503, "unavailable"))
    pipeline.ingest(failed_run("run-429", T0))
    results = pipeline.notify()
    assert [result.failed for result in results] == [0]
    assert [item.status for item in pipeline.slack.received] == [429, 503, 200]
    assert len(pipeline.slack.delivered()) == 1
    assert pipeline.sleeps[0] == 7
    assert 1.0 <= pipeline.sleeps[1] <= 2.0  # after the second attempt: 1 s x 2, jittered to 50-100 %


def test_a_failing_channel_does_not_block_the_other_and_nothing_is_sent_twice(
    pipeline: Pipeline, printed: Callable[[], Printed]
) -> None:
    # Given Slack down for every attempt of the first delivery
    pipeline.slack.answer_next(*[Answer(500, "down")] * 4)
    pipeline.ingest(failed_run("run-down", T0))
    first = poll_sqs_once(pipeline.sqs, pipeline.notices_url, pipeline.notices_arn, pipeline.handler, 1)
    # Then email went out, the notice failed (to be retried) and the failure was counted
    assert first.failed == 1
    assert len(pipeline.inbox.messages()) == 1
    assert pipeline.slack.delivered() == []
    assert metric_totals(printed().emf).get("NotificationFailures", 0) == 1
    # When Slack is back and the notice is retried
    pipeline.notify()
    # Then Slack got the message once, and email was not sent again
    assert len(pipeline.slack.delivered()) == 1
    assert len(pipeline.inbox.messages()) == 1


@contextmanager
def sns_refusing(sns: Any) -> Iterator[None]:
    """SNS answers every Publish with InternalError (moto cannot fail on demand)."""

    def refuse(**_: Any) -> None:
        raise sns.exceptions.InternalErrorException({"Error": {"Code": "InternalError", "Message": "down"}}, "Publish")

    sns.meta.events.register("before-call.sns.Publish", refuse)
    try:
        yield
    finally:
        sns.meta.events.unregister("before-call.sns.Publish", refuse)


def test_an_sns_error_is_retried_without_sending_slack_twice(pipeline: Pipeline) -> None:
    pipeline.ingest(failed_run("run-sns", T0))
    with sns_refusing(pipeline.sns):
        first = poll_sqs_once(pipeline.sqs, pipeline.notices_url, pipeline.notices_arn, pipeline.handler, 1)
    assert first.failed == 1
    assert len(pipeline.slack.delivered()) == 1
    pipeline.notify()
    assert len(pipeline.inbox.messages()) == 1
    assert len(pipeline.slack.delivered()) == 1


def test_with_email_and_slack_both_down_the_notice_waits_and_each_channel_gets_one_message_later(
    pipeline: Pipeline, printed: Callable[[], Printed]
) -> None:
    # Given SNS refusing to publish and Slack answering 500 to every attempt of the first delivery
    pipeline.slack.answer_next(*[Answer(500, "down")] * 4)
    pipeline.ingest(failed_run("run-dark", T0))
    with sns_refusing(pipeline.sns):
        first = poll_sqs_once(pipeline.sqs, pipeline.notices_url, pipeline.notices_arn, pipeline.handler, 1)
    # Then nothing was delivered, the notice stays queued for retry and each channel's failure was counted
    assert first.failed == 1
    assert pipeline.inbox.messages() == []
    assert pipeline.slack.delivered() == []
    assert metric_totals(printed().emf).get("NotificationFailures", 0) == 2
    # When both are back and the notice is retried
    pipeline.notify()
    # Then each channel got the message exactly once
    assert len(pipeline.inbox.messages()) == 1
    assert len(pipeline.slack.delivered()) == 1
    assert metric_totals(printed().emf, "sales_etl").get("NotificationsSent", 0) == 2


def test_a_notice_that_keeps_failing_is_counted_and_ends_in_the_dead_letter_queue(
    pipeline: Pipeline, printed: Callable[[], Printed]
) -> None:
    # Given the notices queue redriving after 3 receives (the function's NOTICES_MAX_RECEIVE_COUNT), and Slack
    # refusing the request itself (a revoked webhook)
    dlq_url = pipeline.sqs.create_queue(QueueName="notices-dlq-test")["QueueUrl"]
    dlq_arn = pipeline.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    pipeline.sqs.set_queue_attributes(QueueUrl=pipeline.notices_url, Attributes={"RedrivePolicy": redrive})
    pipeline.slack.answer_next(*[Answer(403, "invalid_token")] * 10)
    pipeline.ingest(failed_run("run-poison", T0))
    # When the mapping keeps polling
    results = pipeline.notify()
    # Then it was tried three times, without in-process retries of a refused request, and counted on the last
    assert [result.failed for result in results] == [1, 1, 1]
    assert len(pipeline.slack.received) == 3
    emf = printed().emf
    assert metric_totals(emf).get("NotificationsDeadLettered", 0) == 1
    assert metric_totals(emf).get("NotificationFailures", 0) == 3
    (dead,) = pipeline.sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(dead["Body"]) == {"kind": "run", "workflow_id": "sales_etl-Sa1e5Sa1e5", "run_id": "run-poison"}
    # And email, which worked, was sent once
    assert len(pipeline.inbox.messages()) == 1
    pipeline.sqs.delete_queue(QueueUrl=dlq_url)


def test_the_webhook_url_never_appears_in_logs_metrics_or_messages(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline.slack.answer_next(Answer(500, "down"), Answer(404, "no_service"))
    pipeline.ingest(failed_run("run-secret", T0))
    pipeline.notify()
    pipeline.notify()
    output = capsys.readouterr()
    assert WEBHOOK_TOKEN not in output.out + output.err
    assert all(WEBHOOK_TOKEN not in json.dumps(message) for message in pipeline.inbox.messages())
    assert all(WEBHOOK_TOKEN not in text for text in pipeline.slack_texts())


def test_retry_alerts_are_opt_in(pipeline: Pipeline) -> None:
    retry = [
        run_event("Running", "run-r", T0, arn=SALES),
        task_event("Running", "run-r", "load", T0 + minutes(1), arn=SALES),
        task_event("Up For Retry", "run-r", "load", T0 + minutes(2), errorMessage="Throttled", arn=SALES),
    ]
    pipeline.ingest(retry)
    pipeline.notify()
    assert pipeline.slack.delivered() == []
    # When the workflow opts in, a later retry is told once
    pipeline.settings({"workflows": [{"match": "sales_*", "retry_alerts": True}]})
    pipeline.ingest(
        [task_event("Up For Retry", "run-r", "load", T0 + minutes(4), attempt=2, errorMessage="Again", arn=SALES)]
    )
    pipeline.ingest(
        [task_event("Up For Retry", "run-r", "load", T0 + minutes(4), attempt=2, errorMessage="Again", arn=SALES)]
    )
    pipeline.notify()
    (payload,) = pipeline.slack.delivered()
    assert "Retrying: sales_etl task load (attempt 2)" in payload["blocks"][0]["text"]["text"]
    assert "Again" in as_text(payload)


def test_stopped_runs_are_quiet_unless_the_workflow_opts_in(pipeline: Pipeline) -> None:
    pipeline.ingest(
        [run_event("Running", "run-s1", T0, arn=SALES), run_event("Stopped", "run-s1", T0 + minutes(1), arn=SALES)]
    )
    pipeline.notify()
    assert pipeline.slack.delivered() == []
    pipeline.settings({"defaults": {"alert_on_stopped": True}})
    pipeline.ingest(
        [
            run_event("Running", "run-s2", T0, arn=SALES),
            run_event("Stopping", "run-s2", T0 + minutes(1), arn=SALES),
            task_event("Cancelled", "run-s2", "extract", T0 + minutes(1), arn=SALES),
            task_event("Cancelled", "run-s2", "load", T0 + minutes(1), arn=SALES),
            task_event("Removed", "run-s2", "report", T0 + minutes(1), arn=SALES),
            run_event("Stopped", "run-s2", T0 + minutes(2), arn=SALES),
        ]
    )
    pipeline.notify()
    (payload,) = pipeline.slack.delivered()
    assert "Run was stopped: sales_etl" in payload["blocks"][0]["text"]["text"]
    # The tasks the stop cut short are counted, as upstream-failed ones are; no failed task is claimed missing
    text = as_text(payload)
    assert "2 tasks cancelled" in text
    assert "1 task removed from the workflow" in text
    assert "no failed task recorded" not in text


def test_routes_pick_the_webhook_team_and_mention_and_subscribers_can_filter_by_team(
    pipeline: Pipeline, endpoint: str
) -> None:
    # Given a finance webhook next to the default one, finance routed to it, and a subscriber for finance only
    webhooks = {"default": pipeline.slack.url("/default"), "finance": pipeline.slack.url("/finance")}
    secrets = localstack.client(endpoint, "secretsmanager")
    secrets.put_secret_value(SecretId=SLACK_SECRET, SecretString=json.dumps(webhooks))
    pipeline.settings(
        {
            "defaults": {"team": "data-platform"},
            "workflows": [
                {"match": "finance_*", "team": "finance", "slack_webhook": "finance", "mention": "<!subteam^S42>"}
            ],
        }
    )
    sns = localstack.client(endpoint, "sns")
    finance_inbox = Inbox(pipeline.sqs, pipeline.sqs.create_queue(QueueName="finance-inbox")["QueueUrl"])
    finance_arn = pipeline.sqs.get_queue_attributes(QueueUrl=finance_inbox.url, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=f"arn:aws:sns:us-east-1:123456789012:{ALERT_TOPIC}",
        Protocol="sqs",
        Endpoint=finance_arn["Attributes"]["QueueArn"],
        Attributes={"FilterPolicy": json.dumps({"team": ["finance"]})},
    )
    # When a sales run and a finance run fail
    pipeline.ingest(failed_run("s-1", T0) + failed_run("f-1", T0, arn=FINANCE))
    pipeline.notify()
    # Then each went to its webhook, finance with its mention, and only finance reached the finance subscriber
    by_path = {item.path: as_text(item.payload) for item in pipeline.slack.received}
    assert set(by_path) == {"/default", "/finance"}
    assert "sales_etl" in by_path["/default"]
    assert "<!subteam^S42>" in by_path["/finance"]
    assert "subteam" not in by_path["/default"]
    assert [message["Subject"] for message in finance_inbox.messages()] == [
        "[mwaa-obs] finance_close failed at load: AccessDenied on s3://raw/sales (run f-1)"
    ]
    assert len(pipeline.inbox.messages()) == 2
    pipeline.sqs.delete_queue(QueueUrl=finance_inbox.url)


def test_a_workflow_with_alerts_off_keeps_its_incident_but_sends_nothing(pipeline: Pipeline) -> None:
    pipeline.settings({"workflows": [{"match": "sales_*", "alerts": False}]})
    pipeline.ingest(failed_run("quiet-1", T0))
    pipeline.notify()
    assert pipeline.slack.delivered() == []
    assert pipeline.inbox.messages() == []
    run, _ = pipeline.runs.load("sales_etl-Sa1e5Sa1e5", "quiet-1")
    assert isinstance(run, RunItem)
    assert run.alert is not None
    assert run.alert.kind == "failure"


def test_hostile_text_is_stored_cut_and_reaches_no_channel_live(pipeline: Pipeline) -> None:
    # Given a failed run whose id is unicode, whose error is 256 KB, and whose task error carries Slack and HTML
    run_id = "ünïcødé-run-💥"
    hostile = "<!channel> @here <https://evil.example|click> <script>alert(1)</script> ``` 💥"
    events = failed_run(run_id, T0, error=hostile)
    events[-1]["detail"]["errorMessage"] = "x" * 262_144
    # When it goes through ingest and notify
    pipeline.ingest(events)
    results = pipeline.notify()
    # Then nothing failed, the run is stored with its error cut to the stored limit and marked as cut
    assert [result.failed for result in results] == [0]
    run, _ = pipeline.runs.load(SALES_ID, run_id)
    assert run is not None
    assert run.error_message is not None
    assert len(run.error_message) <= 4000
    assert run.error_message.endswith("…[truncated]")
    # And Slack received it escaped, within its limits, with the unicode intact
    (payload,) = pipeline.slack.delivered()
    text = as_text(payload)
    assert run_id in text
    assert "<!channel>" not in text
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert all(len(block.get("text", {}).get("text", "")) <= 3000 for block in payload["blocks"])
    # And the email is plain text with the same error, cut
    (published,) = pipeline.inbox.messages()
    assert "<script>alert(1)</script>" in published["Message"]  # plain text: shown as written, never rendered
    assert len(published["Message"]) < 20_000


def test_a_crash_after_the_writes_but_before_the_acknowledgement_loses_nothing_and_repeats_nothing(
    pipeline: Pipeline, printed: Callable[[], Printed]
) -> None:
    # Given a batch whose writes were done by an invocation that died before SQS heard back, so it comes again
    events = failed_run("run-crash", T0)
    pipeline.ingest(events)
    pipeline.ingest(events)
    # And the notices it produced were also delivered twice
    pipeline.notify()
    # Then the run was counted once and told once on each channel
    emf = printed().emf
    assert metric_totals(emf, "sales_etl").get("RunFailed", 0) == 1
    assert metric_totals(emf, "sales_etl").get("TaskFailed", 0) == 1
    assert len(pipeline.slack.delivered()) == 1
    assert len(pipeline.inbox.messages()) == 1


def test_slack_retries_stop_within_the_budget_and_leave_the_rest_to_sqs() -> None:
    # Given a Slack that keeps answering 429 with Retry-After 15 s (each within the 20 s the client honours)
    with slack_catcher.running() as slack:
        slack.answer_next(*[Answer(429, "rate_limited", {"Retry-After": "15"})] * 4)
        now = [0.0]

        def sleep(seconds: float) -> None:
            now[0] += seconds

        webhook = SlackWebhook(slack.url(), sleep=sleep, clock=lambda: now[0], budget=30)
        # When a message is posted, Then it gives up before the budget is spent, for SQS to retry later
        with pytest.raises(DeliveryError, match="no time left"):
            webhook.post({"text": "hello"})
        assert now[0] <= 30
        # A third request would start at 30 s, with no time left to read its answer; without the budget: 4
        # requests and 45 s of waiting
        assert len(slack.received) == 2


def test_the_slack_budget_fits_the_notify_functions_timeout(template: dict[str, Any]) -> None:
    notify = template["Resources"]["NotifyFunction"]["Properties"]
    assert notify["Timeout"] > SLACK_BUDGET_SECONDS + MARK_RESERVE_SECONDS
    assert notify["Timeout"] == DEFAULT_REMAINING_SECONDS
    # And a notice that failed comes back only after its delivery lease has expired (its holder is gone)
    notices = template["Resources"]["NoticesQueue"]["Properties"]
    assert notices["VisibilityTimeout"] > notify["Timeout"] + LEASE_MARGIN_SECONDS
    # And a mass failure fans out to a bounded number of notifiers (SQS allows 2 to 1000)
    scaling = notify["Events"]["Notices"]["Properties"]["ScalingConfig"]
    assert 2 <= scaling["MaximumConcurrency"] <= 1000


def test_failures_an_earlier_version_decided_are_not_named_again(
    pipeline: Pipeline, dynamodb: Any, state_table: str
) -> None:
    # Given a failed run decided by the version before named_in existed (an alert record, no mark)
    pipeline.ingest(failed_run("before-upgrade", T0))
    record = {"kind": {"S": "failure"}, "decided_at": {"S": "2026-11-24T00:07:00.000000+0000"}}
    dynamodb.update_item(
        TableName=state_table,
        Key={"pk": {"S": f"RUN#{SALES_ID}#before-upgrade"}, "sk": {"S": "RUN"}},
        UpdateExpression="SET alert = :alert",
        ExpressionAttributeValues={":alert": {"M": record}},
    )
    pipeline.sqs.purge_queue(QueueUrl=pipeline.notices_url)
    # When a later run fails after a success, under the new version
    pipeline.ingest(good_run("between", T0 + minutes(30)))
    pipeline.ingest(failed_run("after-upgrade", T0 + minutes(60)))
    pipeline.notify()
    # Then its message names it alone, and the success resolved the incident the old version had told
    texts = pipeline.slack_texts()
    failures = [text for text in texts if "ended in *FAILED*" in text]
    assert len(failures) == 1
    assert "after-upgrade" in failures[0]
    assert "before-upgrade" not in failures[0]


def test_a_duplicated_notice_handled_by_two_notifiers_at_once_sends_one_message_per_channel(
    pipeline: Pipeline,
) -> None:
    # Given a failed run whose notice was delivered twice (at-least-once), and a Slack that holds its first answer
    pipeline.ingest(failed_run("run-twice", T0))
    (notice,) = pipeline.sqs.receive_message(QueueUrl=pipeline.notices_url, MaxNumberOfMessages=10)["Messages"]
    pipeline.sqs.send_message(QueueUrl=pipeline.notices_url, MessageBody=notice["Body"])
    pipeline.sqs.change_message_visibility(
        QueueUrl=pipeline.notices_url, ReceiptHandle=notice["ReceiptHandle"], VisibilityTimeout=0
    )
    release = threading.Event()
    pipeline.slack.answer_next(Answer(200, "ok", hold=release))
    # When one notifier reaches Slack with it and, while Slack still holds that post, another handles the duplicate
    first: list[PollResult] = []
    winner = threading.Thread(
        target=lambda: first.append(
            poll_sqs_once(pipeline.sqs, pipeline.notices_url, pipeline.notices_arn, pipeline.handler, 1)
        )
    )
    winner.start()
    try:
        pipeline.slack.wait_for(1)
        second = poll_sqs_once(pipeline.sqs, pipeline.notices_url, pipeline.notices_arn, pipeline.handler, 1)
    finally:
        release.set()
        winner.join()
    # Then both notices were handled, and each channel got the message once
    assert [first[0].failed, second.failed] == [0, 0]
    assert len(pipeline.slack.received) == 1
    assert len(pipeline.inbox.messages()) == 1


def test_a_slack_that_answers_200_and_then_stalls_is_left_at_the_deadline_and_counted_as_delivered() -> None:
    # Given a Slack that accepts the post and then sends its body a byte at a time, far slower than the deadline
    with slack_catcher.running() as slack:
        slack.answer_next(Answer(200, "ok-and-then-some-more", trickle=0.5))
        webhook = SlackWebhook(slack.url())
        # When a message is posted with one second to spare
        webhook.post({"text": "hello"}, within=1.0)
        # Then the post returned while Slack was still writing its answer, after one request: Slack had taken it
        assert not slack.finished[0].is_set()
        assert len(slack.received) == 1


def test_a_slack_that_accepts_but_answers_late_is_posted_to_once() -> None:
    # Given a Slack that takes the post and answers only after longer than it takes to connect
    with slack_catcher.running() as slack:
        slack.answer_next(Answer(200, "ok", delay=1.0))
        webhook = SlackWebhook(slack.url(), sleep=lambda _: None, timeout=0.2)
        # When a message is posted with time to spare
        webhook.post({"text": "hello"}, within=30.0)
        # Then it was posted once and counted as delivered: waiting for the answer is bounded by the deadline,
        # not by a per-request timeout after which the post is sent again
        assert len(slack.received) == 1


def test_a_publish_whose_answer_is_lost_is_not_sent_again_in_the_same_invocation(
    pipeline: Pipeline, printed: Callable[[], Printed]
) -> None:
    # Given SNS taking the Publish and its answer lost on the way back
    pipeline.ingest(failed_run("run-lost-answer", T0))
    with faults(pipeline.sns, "Publish", lambda _: Fault.ANSWER_LOST) as injected:
        first = poll_sqs_once(pipeline.sqs, pipeline.notices_url, pipeline.notices_arn, pipeline.handler, 1)
    # Then the email went out once (botocore did not send it again), Slack once, and the notice is left to SQS
    assert injected == [Fault.ANSWER_LOST]
    assert len(pipeline.inbox.messages()) == 1
    assert len(pipeline.slack.delivered()) == 1
    assert first.failed == 1
    assert metric_totals(printed().emf).get("NotificationFailures", 0) == 1


def test_an_event_dated_in_the_future_is_refused_and_does_not_silence_later_failures(
    pipeline: Pipeline, printed: Callable[[], Printed], endpoint: str, state_table: str
) -> None:
    # Given a run whose Succeeded event is dated 2099 (a broken clock upstream)
    future = good_run("from-2099", T0)
    future[-1] = run_event("Succeeded", "from-2099", datetime(2099, 1, 1, tzinfo=UTC), arn=SALES)
    pipeline.ingest(future)
    # When a real run fails afterwards
    pipeline.ingest(failed_run("real-failure", T0 + minutes(60)))
    pipeline.notify()
    # Then the future event was refused as invalid, and the failure was told as a failure, not "already recovered"
    assert metric_totals(printed().emf).get("InvalidEvents", 0) == 1
    (failure,) = pipeline.slack_texts()
    assert "`real-failure`" in failure
    assert "already succeeded" not in failure
    # And the workflow's health holds no success from the future
    health, _ = Alerts(dynamodb_client(endpoint), state_table).health(SALES_ID)
    assert health.last_success_at is None or health.last_success_at < datetime(2099, 1, 1, tzinfo=UTC)


# --- A failed task's last log lines in its messages (issue 34 item 1): read at decision time, masked, bounded and
# escaped; a log not written yet, refused or too slow leaves the link alone and never holds the message up.

SECRET = "AKIAIOSFODNN7EXAMPLE"


def airflow_log(run_id: str) -> list[str]:
    """An Airflow 3 task log as MWAA Serverless writes it: structlog JSON records, a traceback for the failure."""
    records: list[dict[str, Any]] = [
        {"level": "info", "event": "Task instance is in running state", "logger": "task"},
        *({"level": "info", "event": f"loaded batch {n} of 40", "logger": "task.stdout"} for n in range(1, 41)),
        {"level": "info", "event": f"connecting with aws_access_key_id={SECRET}", "logger": "task.stdout"},
        {
            "level": "error",
            "event": "Task failed with exception",
            "logger": "task",
            "error_detail": [
                {
                    "exc_type": "KeyError",
                    "exc_value": "'id'",
                    "frames": [
                        {"filename": "/usr/local/airflow/sdk/task_runner.py", "lineno": 838, "name": "run"},
                        {"filename": "/usr/local/airflow/dags/etl.py", "lineno": 12, "name": "load"},
                    ],
                }
            ],
        },
        {"level": "info", "event": "Marking task as FAILED.", "logger": "task"},
    ]
    return [json.dumps({"timestamp": "2026-11-24T00:05:00Z", **record}) for record in records]


def write_log(pipeline: Pipeline, run_id: str, messages: list[str], task: str = "load") -> None:
    stream = task_log_stream(SALES_ID, run_id, task, 1)
    kept = moto_patches.logs_clock
    moto_patches.logs_clock = lambda: T0  # CloudWatch Logs takes the test day's events whatever the wall clock says
    try:
        write_log_lines(pipeline.log_writer, task_log_group(SALES_ID), stream, [(T0, text) for text in messages], set())
    finally:
        moto_patches.logs_clock = kept


def test_a_failed_runs_messages_carry_its_failed_tasks_last_log_lines(pipeline: Pipeline) -> None:
    # Given a run whose load task failed, its log written with a traceback far from its end and a secret in it
    write_log(pipeline, "run-logs", airflow_log("run-logs"))
    pipeline.ingest(failed_run("run-logs", T0, error="KeyError: 'id'"))
    # When its notice comes due
    (result,) = pipeline.notify()
    assert result.failed == 0
    # Then Slack shows the last lines under the task, with the traceback's last frame and its exception
    (payload,) = pipeline.slack.delivered()
    (tail,) = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "Last log lines" in str(b)]
    assert tail.startswith("*Last log lines of load, attempt 1*\n```\n")
    assert "File \"/usr/local/airflow/dags/etl.py\", line 12, in load\nKeyError: 'id'" in tail
    assert "INFO - Marking task as FAILED." in tail
    assert "loaded batch 1 of 40" not in tail  # bounded: the start of a long log is left out, and said so
    assert "[… " in tail
    # And email shows the same lines, each behind a gutter no line of the message itself has
    (published,) = pipeline.inbox.messages()
    body = published["Message"]
    assert "  Last log lines of load, attempt 1:\n    | " in body
    assert "    | KeyError: 'id'" in body
    # And the access key the task printed reached neither
    for text in (as_text(payload), body):
        assert SECRET not in text
        assert "aws_access_key_id=****" in text
    # With two reads of the log: its 44 events, then the page that says the stream starts there (CloudWatch
    # answers the same token again), as a short page may not be the stream's start
    assert pipeline.notifier.courier.task_logs is not None
    assert pipeline.notifier.courier.task_logs.calls == 2


def test_a_log_not_written_yet_leaves_the_link_and_delays_nothing(pipeline: Pipeline) -> None:
    # Given a failed run whose task log CloudWatch has not received yet (no stream at all)
    pipeline.ingest(failed_run("run-no-log", T0))
    # When its notice comes due
    (result,) = pipeline.notify()
    # Then the message went out at once on both channels, with the link and the reason, and no log lines
    assert result.failed == 0
    (payload,) = pipeline.slack.delivered()
    text = as_text(payload)
    assert "Log not shown (not written yet): open it with the task log link." in text
    assert "Last log lines" not in text
    assert "log-events/workflow_id$253Dsales_etl-Sa1e5Sa1e5$252Frun_id$253Drun-no-log" in text
    (published,) = pipeline.inbox.messages()
    assert "  Log not shown (not written yet)" in published["Message"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        # the notify role may not read the workflow's own log group (outside TaskLogGroupPrefix)
        (
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/mwaa-obs-NotifyFunctionRole/notify is not authorized to "
            "perform: logs:GetLogEvents on resource: arn:aws:logs:us-east-1:123456789012:log-group:/teams/sales:"
            "log-stream:x because no identity-based policy allows the logs:GetLogEvents action",
        ),
        # the group's customer managed key is disabled or its policy leaves CloudWatch Logs out (the code AWS
        # answers then is not documented: any refusal is treated the same)
        ("AccessDeniedException", "The KMS key associated with the log group is disabled or inaccessible"),
        ("ThrottlingException", "Rate exceeded"),
    ],
)
def test_a_log_that_cannot_be_read_leaves_the_link_and_delays_nothing(
    pipeline: Pipeline, code: str, message: str
) -> None:
    # Given a failed run whose log is there but refused to the notifier
    write_log(pipeline, "run-refused", airflow_log("run-refused"))
    pipeline.ingest(failed_run("run-refused", T0))
    # When its notice comes due
    with refusals(pipeline.logs, "GetLogEvents", code, message) as refused:
        (result,) = pipeline.notify()
    # Then the message went out on both channels with the link and why, and none of the log
    assert refused
    assert result.failed == 0
    (payload,) = pipeline.slack.delivered()
    (published,) = pipeline.inbox.messages()
    for text in (as_text(payload), published["Message"]):
        assert f"Log not shown (not readable ({code}))" in text
        assert "KeyError" not in text


class Unanswering(BaseHTTPRequestHandler):
    """A CloudWatch Logs that takes the request and answers only when the test lets it."""

    release: threading.Event
    asked: threading.Event

    def do_POST(self) -> None:
        self.asked.set()
        self.release.wait(timeout=120)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.end_headers()
        self.wfile.write(b'{"events": []}')

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def unanswering_logs() -> Iterator[tuple[str, threading.Event, threading.Event]]:
    release, asked = threading.Event(), threading.Event()
    handler = type("Handler", (Unanswering,), {"release": release, "asked": asked})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", release, asked
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_a_log_that_does_not_answer_leaves_the_link_within_its_share_of_the_time(pipeline: Pipeline) -> None:
    # Given CloudWatch Logs taking the read and not answering, with a client that would wait a minute for it
    with unanswering_logs() as (url, release, asked):
        patient = aws_session().create_client(
            "logs", endpoint_url=url, config=Config(read_timeout=60, retries={"total_max_attempts": 1})
        )
        pipeline.notifier.courier.task_logs = TaskLogReader(lambda _: patient)
        pipeline.notifier.courier.log_read_seconds = 0.5
        pipeline.ingest(failed_run("run-slow-log", T0))
        # When its notice comes due
        (result,) = pipeline.notify()
        # Then the message went out with the link and why while the read was still waiting for its answer
        assert asked.is_set()
        assert not release.is_set()
        assert result.failed == 0
        (payload,) = pipeline.slack.delivered()
        assert "Log not shown (not read in time)" in as_text(payload)
        assert len(pipeline.inbox.messages()) == 1


@pytest.mark.parametrize("flaw", [" ", "\n", "\u00a0"])
def test_a_malformed_webhook_url_is_refused_when_read_counted_and_never_logged(
    pipeline: Pipeline, endpoint: str, capsys: pytest.CaptureFixture[str], printed: Callable[[], Printed], flaw: str
) -> None:
    # Given a webhook URL in the secret with a space, a newline or a non-breaking space in its path (a paste gone wrong)
    secrets = localstack.client(endpoint, "secretsmanager")
    webhooks = {"default": pipeline.slack.url(f"/services/{WEBHOOK_TOKEN}{flaw}tail")}
    secrets.put_secret_value(SecretId=SLACK_SECRET, SecretString=json.dumps(webhooks))
    pipeline.ingest(failed_run("run-malformed", T0))
    # When the notice is handled
    first = poll_sqs_once(pipeline.sqs, pipeline.notices_url, pipeline.notices_arn, pipeline.handler, 1)
    # Then email went out, Slack was refused with a reason that names the webhook, the failure was counted, and the
    # notice waits for the secret to be fixed; nothing printed holds the URL's token
    assert first.failed == 1
    assert len(pipeline.inbox.messages()) == 1
    assert pipeline.slack.received == []
    output = printed()
    assert metric_totals(output.emf).get("NotificationFailures", 0) == 1
    (refusal,) = [line for line in output.logs if line.get("channel") == "slack"]
    assert "webhook 'default' is not a well-formed URL" in refusal["reason"]
    assert "do-not-log-me" not in capsys.readouterr().err  # and the log lines (no_log_line_holds_the_webhook_token)


def test_a_message_naming_other_failures_carries_the_log_of_the_task_that_broke_each(pipeline: Pipeline) -> None:
    # Given two failed runs both stored before either's notice is handled, each with its load task's log
    for run_id, start in (("named-0", T0), ("named-1", T0 + minutes(10))):
        write_log(pipeline, run_id, airflow_log(run_id))
        pipeline.ingest(failed_run(run_id, start, error="KeyError: 'id'"))
    # When the notices come due
    pipeline.notify()
    # Then one message leads with one run and names the other, each with its load task's last log lines
    (payload,) = pipeline.slack.delivered()
    (published,) = pipeline.inbox.messages()
    body = published["Message"]
    lead = "named-1" if "Run:       named-1" in body else "named-0"
    other = "named-0" if lead == "named-1" else "named-1"
    assert f"* {other} FAILED" in body
    assert f"  Last log lines of run {other}: load, attempt 1:\n    | " in body
    assert body.count("    | KeyError: 'id'") == 2  # the lead's and the named run's
    (named_block,) = [b["text"]["text"] for b in payload["blocks"] if f"Last log lines of run {other}" in str(b)]
    assert "KeyError: 'id'" in named_block
    assert named_block.count("```") == 2
    for text in (as_text(payload), body):
        assert SECRET not in text
    # With the reads of two logs, at once (each short log: its page and the empty one that ends it)
    assert pipeline.notifier.courier.task_logs is not None
    assert pipeline.notifier.courier.task_logs.calls == 2 * 2
