"""One message per failure per channel, whatever the duplicates, the concurrent notifiers and the channel's moods.

Notifiers run on real threads against moto server, each as its own function instance (its own clients), polling
one notices queue the way the event source mapping would (batch size 1); Slack is the loopback catcher answering
slowly, with errors or with a trickled body. The one duplicate this cannot show is the documented window (a
channel taking a message whose taking is never known: a crash, or an answer lost past the deadline), which no
scenario here produces.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from types import ModuleType
from typing import Any

import pytest
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mwaa_obs.aws import aws_config, aws_session, client, dynamodb_client
from mwaa_obs.channels import AlertTopic, SlackWebhook, SlackWebhooks
from mwaa_obs.delivery import Courier
from mwaa_obs.notices import Notice, NoticeQueue
from mwaa_obs.notify import Notifier, notify_batch
from mwaa_obs.settings import SettingsSource
from mwaa_obs.store.alerts import Alerts
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.telemetry import MetricSink, emits_metrics
from mwaa_obs_tools import slack_catcher
from mwaa_obs_tools.factories import T0, minutes, sqs_event, workflow_arn
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext, poll_sqs_once
from mwaa_obs_tools.slack_catcher import Answer, SlackCatcher
from tests.conftest import ALERT_TOPIC, SETTINGS_PARAMETER, SLACK_SECRET
from tests.integration.test_notify import Inbox, failed_run

EXAMPLES = count()
PATIENT_ONCE = aws_config().merge(Config(read_timeout=60, retries={"mode": "standard", "max_attempts": 0}))

# What Slack may answer a request: at once, slowly (well within the deadline), with an error it is retried after,
# or with its 200 and then a body trickling in.
SLACK_MOODS = st.sampled_from(
    [
        Answer(),
        Answer(delay=0.2),
        Answer(500, "down"),
        Answer(503, "unavailable"),
        Answer(429, "rate_limited", {"Retry-After": "0"}),
        Answer(200, "ok", trickle=0.05),
    ]
)


@dataclass
class World:
    sqs: Any
    notices_url: str
    notices_arn: str
    inbox: Inbox
    slack: SlackCatcher
    endpoint: str
    table: str
    ingest_handler: ModuleType

    def notifier(self) -> Callable[[dict[str, Any], Any], Any]:
        """A notify function instance of its own (its own clients), as a concurrent Lambda invocation has."""
        dynamodb = dynamodb_client(self.endpoint)
        notifier = Notifier(
            runs=Runs(dynamodb, self.table),
            alerts=Alerts(dynamodb, self.table),
            workflows=Workflows(dynamodb, self.table),
            settings=SettingsSource(client("ssm", self.endpoint), SETTINGS_PARAMETER, ttl_seconds=0),
            # Sent once, as in the function (aws.once_client), and given time: an answer lost to a slow emulator
            # is the documented window, which this test does not look at.
            courier=Courier(
                alerts=Alerts(dynamodb, self.table),
                topic=AlertTopic(
                    aws_session().create_client("sns", endpoint_url=self.endpoint, config=PATIENT_ONCE),
                    f"arn:aws:sns:us-east-1:123456789012:{ALERT_TOPIC}",
                ),
                webhooks=SlackWebhooks(client("secretsmanager", self.endpoint), SLACK_SECRET),
                slack=lambda url: SlackWebhook(url, sleep=lambda _: None),
            ),
            notices=NoticeQueue(client("sqs", self.endpoint), self.notices_url),
        )

        def notify(event: dict[str, Any], context: Any, sink: MetricSink) -> Any:
            return notify_batch(
                event,
                notifier,
                sink,
                max_receive_count=100,
                remaining=lambda: context.get_remaining_time_in_millis() / 1000,
            )

        return emits_metrics(notify)

    def queue_is_empty(self) -> bool:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        found = self.sqs.get_queue_attributes(QueueUrl=self.notices_url, AttributeNames=names)["Attributes"]
        return all(found[name] == "0" for name in names)


@pytest.fixture
def world(endpoint: str, state_table: str, notices_queue: str, sqs: Any, ingest_handler: ModuleType) -> Iterator[World]:
    sns, ssm, secrets = (client(name, endpoint) for name in ("sns", "ssm", "secretsmanager"))
    topic_arn = sns.create_topic(Name=ALERT_TOPIC)["TopicArn"]
    inbox_url = sqs.create_queue(QueueName="concurrency-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
    settings_document = {"defaults": {"group_window_minutes": 0}}  # every failure is told in a message of its own
    ssm.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps(settings_document), Type="String", Overwrite=True)
    notices_arn = sqs.get_queue_attributes(QueueUrl=notices_queue, AttributeNames=["QueueArn"])["Attributes"]
    with slack_catcher.running() as slack:
        secrets.create_secret(Name=SLACK_SECRET, SecretString=slack.url("/services/T0/B0/concurrency"))
        yield World(
            sqs,
            notices_queue,
            notices_arn["QueueArn"],
            Inbox(sqs, inbox_url),
            slack,
            endpoint,
            state_table,
            ingest_handler,
        )
        secrets.delete_secret(SecretId=SLACK_SECRET, ForceDeleteWithoutRecovery=True)
    sqs.delete_queue(QueueUrl=inbox_url)
    sns.delete_topic(TopicArn=topic_arn)


def run_notifiers(world: World, threads: int) -> list[BaseException]:
    """`threads` notifiers polling the notices queue at once until it is empty; the errors they raised."""
    errors: list[BaseException] = []

    def poll() -> None:
        handler = world.notifier()
        try:
            while not world.queue_is_empty():
                poll_sqs_once(world.sqs, world.notices_url, world.notices_arn, handler, 1)
        except BaseException as error:
            errors.append(error)

    pool = [threading.Thread(target=poll) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return errors


@settings(
    max_examples=8,
    derandomize=True,  # the same scenarios on every run: CI stays stable, and a failure reproduces
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    failures=st.integers(1, 3),
    copies=st.lists(st.integers(1, 4), min_size=3, max_size=3),
    threads=st.integers(2, 4),
    moods=st.lists(SLACK_MOODS, max_size=8),
)
def test_every_failure_is_named_in_exactly_one_message_per_channel(
    world: World, failures: int, copies: list[int], threads: int, moods: list[Answer]
) -> None:
    # Given a workflow of its own for this example, with failed runs ingested (their Failed events twice)
    example = next(EXAMPLES)
    name = f"concurrent_{example}"
    arn = workflow_arn(name, "C0ncurrent")
    workflow_id = arn.rsplit("/", 1)[1]
    run_ids = [f"c{example}-run-{index}" for index in range(failures)]
    for index, run_id in enumerate(run_ids):
        events = failed_run(run_id, T0 + minutes(120 * example + 30 * index), arn=arn)
        world.ingest_handler.lambda_handler(sqs_event(events + events[-1:]), FakeLambdaContext())
    # And each run's notice delivered several more times (at-least-once delivery)
    for run_id, extra in zip(run_ids, copies, strict=False):
        for _ in range(extra):
            world.sqs.send_message(QueueUrl=world.notices_url, MessageBody=Notice("run", workflow_id, run_id).to_body())
    # And Slack in the moods drawn, one answer per request, then well
    world.slack.answer_next(*moods)
    delivered_before = len(world.slack.delivered())
    # When several notifiers handle the notices at once
    errors = run_notifiers(world, threads)
    # Then none of them broke, and each failure was told once on Slack and once by email
    assert errors == []
    posted = [json.dumps(payload) for payload in world.slack.delivered()[delivered_before:]]
    emails = [message["Subject"] for message in world.inbox.messages() if name in message["Subject"]]
    for run_id in run_ids:
        assert sum(f"`{run_id}`" in text for text in posted) == 1, (run_id, posted)
        assert sum(subject.endswith(f"(run {run_id})") for subject in emails) == 1, (run_id, emails)
    assert len(posted) == len(emails) == failures
