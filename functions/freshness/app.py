"""Freshness function (every 15 minutes): which workflows have missed their schedule -> ScheduleOverdue metrics."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.aws import client, dynamodb_client
from mwaa_obs.config import FreshnessConfig
from mwaa_obs.freshness import check_and_log
from mwaa_obs.settings import SettingsSource
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.telemetry import MetricSink, emits_metrics
from mwaa_obs.times import invocation_time

config = FreshnessConfig.from_env()
logger = Logger(service=SERVICE)
dynamodb = dynamodb_client()
workflows = Workflows(dynamodb, config.table_name)
runs = Runs(dynamodb, config.table_name)
settings = SettingsSource(client("ssm"), config.settings_parameter)


@logger.inject_lambda_context(clear_state=True)
@emits_metrics
def lambda_handler(event: dict[str, Any], context: Any, sink: MetricSink) -> dict[str, int]:
    return check_and_log(invocation_time(event), settings.get(sink), workflows, runs, sink)
