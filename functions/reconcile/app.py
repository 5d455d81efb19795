"""Reconcile function (scheduled): the stored state checked against the MWAA Serverless API and repaired."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from mwaa_obs import SERVICE
from mwaa_obs.config import ReconcileConfig
from mwaa_obs.metrics import MetricPoint
from mwaa_obs.mwaa_api import MwaaApi, api_client
from mwaa_obs.notices import NoticeQueue
from mwaa_obs.reconcile import Reconciler
from mwaa_obs.store import Store, aws_config, aws_session, dynamodb_client
from mwaa_obs.telemetry import publish

config = ReconcileConfig.from_env()
logger = Logger(service=SERVICE)
metrics = Metrics()
reconciler = Reconciler(
    MwaaApi(api_client()),
    Store(dynamodb_client(), config.table_name, config.history_ttl),
    NoticeQueue(aws_session().create_client("sqs", config=aws_config()), config.notices_queue_url),
    settle=config.settle,
)
SAFETY_MILLISECONDS = 30_000  # stop taking runs this long before the timeout; the next pass goes on from there


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    # The schedule's own time: the local stack fires it on the simulator's clock.
    now = datetime.fromisoformat(event["time"]) if "time" in event else datetime.now(UTC)
    owed: list[MetricPoint] = []
    try:
        report = reconciler.run_pass(now, owed, lambda: context.get_remaining_time_in_millis() < SAFETY_MILLISECONDS)
        summary = dict(vars(report))
        logger.info("reconciled", extra=summary)
        return summary
    finally:
        publish(owed, metrics)
