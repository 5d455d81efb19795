"""Notify function: delayed notices (SQS) -> one message per failed run or recovery, by SNS email and Slack."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.aws import LazyClient, client, dynamodb_client, once_client
from mwaa_obs.channels import AlertTopic, SlackWebhooks
from mwaa_obs.config import NotifyConfig
from mwaa_obs.delivery import Courier
from mwaa_obs.enrich import Enricher
from mwaa_obs.mwaa_api import MwaaApi, ReaderClients, api_client
from mwaa_obs.notices import NoticeQueue
from mwaa_obs.notify import Notifier, notify_batch
from mwaa_obs.settings import SeriesPolicies, SettingsSource
from mwaa_obs.sqs import PartialBatchResponse
from mwaa_obs.store.alerts import Alerts
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.task_logs import TaskLogReader, logs_clients
from mwaa_obs.telemetry import MetricSink, emits_metrics

config = NotifyConfig.from_env()
logger = Logger(service=SERVICE)
dynamodb = dynamodb_client()
# Other places' API and task logs, through the reader role there (STS's client made at the first call away from home)
readers = ReaderClients(config.home, config.reader_role, LazyClient("sts"), time.time)
settings = SettingsSource(client("ssm"), config.settings_parameter)
alerts = Alerts(dynamodb, config.table_name)  # the decisions, and the delivery's lease and marks, on the run items
notifier = Notifier(
    runs=Runs(dynamodb, config.table_name),
    alerts=alerts,
    workflows=Workflows(dynamodb, config.table_name),
    settings=settings,
    courier=Courier(
        alerts=alerts,
        topic=AlertTopic(once_client("sns"), config.alert_topic_arn),
        webhooks=SlackWebhooks(client("secretsmanager"), config.slack_secret_arn) if config.slack_secret_arn else None,
        task_logs=TaskLogReader(logs_clients(config.home, readers)),
    ),
    notices=NoticeQueue(LazyClient("sqs"), config.notices_queue_url),  # only storms send flush notices
    stack_name=config.stack_name,
    enricher=(
        Enricher(
            MwaaApi(api_client(), readers),
            Transitions(dynamodb, config.table_name, config.history_ttl, home=config.home),
            SeriesPolicies(settings, config.duration_alarm_seconds),
        )
        if config.enrich
        else None
    ),
    account_alerts_per_hour=config.account_alerts_per_hour,
)


@logger.inject_lambda_context(clear_state=True)
@emits_metrics
def lambda_handler(event: dict[str, Any], context: Any, sink: MetricSink) -> PartialBatchResponse:
    return notify_batch(
        event,
        notifier,
        sink,
        max_receive_count=config.max_receive_count,
        remaining=lambda: context.get_remaining_time_in_millis() / 1000,
    )
