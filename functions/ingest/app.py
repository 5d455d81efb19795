"""Ingest function: SQS batch of MWAA Serverless EventBridge events -> DynamoDB transitions, EMF metrics, notices."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from mwaa_obs import SERVICE
from mwaa_obs.config import IngestConfig
from mwaa_obs.ingest import ingest
from mwaa_obs.metrics import EVENTS_DEAD_LETTERED, MetricPoint
from mwaa_obs.notices import NoticeQueue
from mwaa_obs.sqs import PartialBatchResponse, process_partial_batch
from mwaa_obs.store import Store, aws_config, aws_session, dynamodb_client
from mwaa_obs.telemetry import publish

config = IngestConfig.from_env()
logger = Logger(service=SERVICE)
metrics = Metrics()
store = Store(dynamodb_client(), config.table_name, config.history_ttl)
notices = NoticeQueue(aws_session().create_client("sqs", config=aws_config()), config.notices_queue_url)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialBatchResponse:
    owed: list[MetricPoint] = []
    try:
        return process_partial_batch(
            event,
            lambda body: ingest(body, store, owed, notices),
            max_receive_count=config.max_receive_count,
            on_last_failure=lambda: owed.append(MetricPoint(EVENTS_DEAD_LETTERED, 1)),
        )
    finally:
        publish(owed, metrics)
