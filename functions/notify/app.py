"""Notify function: delayed notices (SQS) -> one message per failed run or recovery, by SNS email and Slack."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from mwaa_obs import SERVICE
from mwaa_obs.channels import AlertTopic, SlackWebhooks
from mwaa_obs.config import NotifyConfig
from mwaa_obs.enrich import Enricher
from mwaa_obs.metrics import INVALID_SETTINGS, NOTIFICATIONS_DEAD_LETTERED, MetricPoint
from mwaa_obs.mwaa_api import MwaaApi, api_client
from mwaa_obs.notify import Notifier
from mwaa_obs.settings import SettingsSource
from mwaa_obs.sqs import PartialBatchResponse, process_partial_batch
from mwaa_obs.store import Store, aws_config, aws_session, dynamodb_client
from mwaa_obs.telemetry import publish

config = NotifyConfig.from_env()
logger = Logger(service=SERVICE)
metrics = Metrics()
_session = aws_session()
_aws = aws_config()
owed: list[MetricPoint] = []
notifier = Notifier(
    settings=SettingsSource(
        _session.create_client("ssm", config=_aws),
        config.settings_parameter,
        on_invalid=lambda _: owed.append(MetricPoint(INVALID_SETTINGS, 1)),
    ),
    topic=AlertTopic(_session.create_client("sns", config=_aws), config.alert_topic_arn),
    webhooks=(
        SlackWebhooks(_session.create_client("secretsmanager", config=_aws), config.slack_secret_arn)
        if config.slack_secret_arn
        else None
    ),
    stack_name=config.stack_name,
    enricher=(
        Enricher(MwaaApi(api_client()), Store(dynamodb_client(), config.table_name, config.history_ttl))
        if config.enrich
        else None
    ),
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialBatchResponse:
    try:
        return process_partial_batch(
            event,
            lambda body: notifier.handle(body, owed),
            max_receive_count=config.max_receive_count,
            on_last_failure=lambda: owed.append(MetricPoint(NOTIFICATIONS_DEAD_LETTERED, 1)),
        )
    finally:
        publish(owed, metrics)
        owed.clear()
