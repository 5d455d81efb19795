"""Reconcile function (scheduled): the stored state checked against the MWAA Serverless API and repaired."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.aws import client, dynamodb_client
from mwaa_obs.config import ReconcileConfig
from mwaa_obs.mwaa_api import everywhere_api
from mwaa_obs.notices import NoticeQueue
from mwaa_obs.reconcile import Reconciler
from mwaa_obs.settings import SeriesPolicies, SettingsSource
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.samples import EventSamples
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.telemetry import MetricSink, emits_metrics
from mwaa_obs.times import invocation_time

config = ReconcileConfig.from_env()
logger = Logger(service=SERVICE)
dynamodb = dynamodb_client()
reconciler = Reconciler(
    everywhere_api(config.home, config.reader_role),
    Transitions(dynamodb, config.table_name, config.history_ttl, home=config.home),
    Runs(dynamodb, config.table_name),
    Workflows(dynamodb, config.table_name, home=config.home),
    NoticeQueue(client("sqs"), config.notices_queue_url),
    settle=config.settle,
    policies=SeriesPolicies(
        SettingsSource(client("ssm"), config.settings_parameter),
        config.duration_alarm_seconds,
        config.retry_storm_threshold,
    ),
    events_stopped_after=config.events_stopped_after,
    samples=EventSamples(dynamodb, config.table_name),
)
SAFETY_MILLISECONDS = 30_000  # stop taking runs this long before the timeout; the next pass goes on from there


@logger.inject_lambda_context(clear_state=True)
@emits_metrics
def lambda_handler(event: dict[str, Any], context: Any, sink: MetricSink) -> dict[str, int]:
    def out_of_time() -> bool:
        return bool(context.get_remaining_time_in_millis() < SAFETY_MILLISECONDS)

    # The discovery schedule's input says {"discover": true}; the plain pass has none.
    report = reconciler.run_pass(invocation_time(event), sink, out_of_time, discover=event.get("discover") is True)
    summary = dict(vars(report))
    logger.info("reconciled", extra=summary)
    return summary
