"""Ingest function: SQS batch of MWAA Serverless EventBridge events -> DynamoDB transitions, EMF metrics, notices."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE, telemetry
from mwaa_obs.aws import client, dynamodb_client
from mwaa_obs.config import IngestConfig
from mwaa_obs.ingest import ingest
from mwaa_obs.metrics import EVENTS_DEAD_LETTERED
from mwaa_obs.notices import NoticeQueue
from mwaa_obs.settings import SeriesPolicies, SettingsSource
from mwaa_obs.sqs import PartialBatchResponse, process_partial_batch
from mwaa_obs.store.samples import EventSamples
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.telemetry import MetricSink, emits_metrics

config = IngestConfig.from_env()
logger = Logger(service=SERVICE)
dynamodb = dynamodb_client()
sqs = client("sqs")
transitions = Transitions(dynamodb, config.table_name, config.history_ttl, home=config.home)
notices = NoticeQueue(sqs, config.notices_queue_url)
# Days of the telemetry clock, read at each call: the wall clock in AWS, the simulated one on the local stack (set
# after this import), as its metrics have
samples = EventSamples(dynamodb, config.table_name, clock=lambda: telemetry.clock())  # noqa: PLW0108 - set later
future = config.future_tolerance
ssm = client("ssm")
policies = SeriesPolicies(
    SettingsSource(ssm, config.settings_parameter), config.duration_alarm_seconds, config.retry_storm_threshold
)


@logger.inject_lambda_context(clear_state=True)
@emits_metrics
def lambda_handler(event: dict[str, Any], context: Any, sink: MetricSink) -> PartialBatchResponse:
    return process_partial_batch(
        event,
        # Receipt is now (on the local stack, its simulated now): a later event time is refused.
        lambda body, message_id: ingest(
            body,
            transitions,
            sink,
            notices,
            samples,
            policies=policies,
            not_after=telemetry.clock() + future,
            writer=message_id,
        ),
        max_receive_count=config.max_receive_count,
        on_last_failure=lambda: sink.count(EVENTS_DEAD_LETTERED),
    )
