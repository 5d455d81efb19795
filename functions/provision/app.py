"""Provision function: dedicated alarms and dashboards for the workflows whose settings ask for them.

Invoked by the table's stream when a workflow item is first written (first sight), and every hour for all
workflows (settings, thresholds or the dashboard template changed; a missed stream record is caught up).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.aws import client, dynamodb_client
from mwaa_obs.config import ProvisionConfig
from mwaa_obs.pacing import Pacer
from mwaa_obs.provision_pass import provision_invocation
from mwaa_obs.provisioning import Provisioner, StackContext
from mwaa_obs.settings import SettingsSource
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.workflows import Workflows

config = ProvisionConfig.from_env()
logger = Logger(service=SERVICE)
dynamodb = dynamodb_client()
workflows = Workflows(dynamodb, config.table_name)
runs = Runs(dynamodb, config.table_name)
settings = SettingsSource(client("ssm"), config.settings_parameter)
# Paced to CloudWatch's default rates: a pass over hundreds of dedicated workflows is not refused and retried.
pacer = Pacer()
cloudwatch = pacer.attach(client("cloudwatch"))
provisioner = Provisioner(
    cloudwatch,
    StackContext(
        prefix=config.resource_prefix,
        namespace=config.metric_namespace,
        alarm_topic_arn=config.alarm_topic_arn,
        default_duration_seconds=config.duration_alarm_seconds,
        default_retry_threshold=config.retry_storm_threshold,
        dashboard_prefix=config.dashboard_prefix,
    ),
    config.workflow_dashboard,
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    return provision_invocation(
        event,
        provisioner,
        settings.get(),
        workflows,
        runs,
        retention=config.deleted_retention,
        time_left=lambda: timedelta(milliseconds=context.get_remaining_time_in_millis()),
    )
