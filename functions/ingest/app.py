"""Ingest function: SQS batch of MWAA Serverless EventBridge events -> DynamoDB transitions + EMF metrics."""

from __future__ import annotations

from typing import Any

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from mwaa_obs import SERVICE
from mwaa_obs.config import IngestConfig
from mwaa_obs.ingest import ingest
from mwaa_obs.metrics import MetricPoint
from mwaa_obs.store import Store
from mwaa_obs.telemetry import publish

config = IngestConfig.from_env()
logger = Logger(service=SERVICE)
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
store = Store(
    botocore.session.get_session().create_client(
        "dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=5)
    ),
    config.table_name,
    config.history_ttl,
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    owed: list[MetricPoint] = []

    def handle(record: SQSRecord) -> None:
        ingest(record.body, store, owed)

    try:
        return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    finally:
        publish(owed, metrics)
