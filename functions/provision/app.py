"""Provision function: dedicated alarms and dashboards for the workflows whose settings ask for them.

Invoked by the table's stream when a workflow item is first written (first sight), and every hour for all
workflows (settings, thresholds or the dashboard template changed; a missed stream record is caught up).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.config import ProvisionConfig
from mwaa_obs.provisioning import Provisioner, StackContext, is_retired, provision_all, workflows_first_seen
from mwaa_obs.settings import SettingsSource
from mwaa_obs.store import aws_config, aws_session

config = ProvisionConfig.from_env()
logger = Logger(service=SERVICE)
settings = SettingsSource(aws_session().create_client("ssm", config=aws_config()), config.settings_parameter)
provisioner = Provisioner(
    aws_session().create_client("cloudwatch", config=aws_config()),
    StackContext(
        prefix=config.resource_prefix,
        namespace=config.metric_namespace,
        alarm_topic_arn=config.alarm_topic_arn,
        default_duration_seconds=config.duration_alarm_seconds,
        default_retry_threshold=config.retry_storm_threshold,
    ),
    config.workflow_dashboard,
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    only = workflows_first_seen(event) if "Records" in event else None
    now = datetime.fromisoformat(event["time"]) if "time" in event else datetime.now(UTC)
    summary = provision_all(
        provisioner, settings.get(), only, retired=lambda w: is_retired(w, now, config.deleted_retention)
    )
    logger.info("provisioned", extra=summary)
    return summary
