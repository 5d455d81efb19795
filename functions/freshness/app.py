"""Freshness function (every 15 minutes): which workflows have missed their schedule -> ScheduleOverdue metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from mwaa_obs import SERVICE
from mwaa_obs.config import FreshnessConfig
from mwaa_obs.freshness import check_all
from mwaa_obs.metrics import INVALID_SETTINGS, MetricPoint
from mwaa_obs.settings import SettingsSource
from mwaa_obs.store import aws_config, aws_session
from mwaa_obs.telemetry import publish

config = FreshnessConfig.from_env()
logger = Logger(service=SERVICE)
metrics = Metrics()
owed: list[MetricPoint] = []
settings = SettingsSource(
    aws_session().create_client("ssm", config=aws_config()),
    config.settings_parameter,
    on_invalid=lambda _: owed.append(MetricPoint(INVALID_SETTINGS, 1)),
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    # The schedule's own time: the check judges "now" as EventBridge fired it (and the local stack, its clock).
    now = datetime.fromisoformat(event["time"]) if "time" in event else datetime.now(UTC)
    try:
        verdicts, points = check_all(now, settings.get())
        owed.extend(points)
        overdue = [verdict for verdict in verdicts if verdict.overdue]
        for verdict in overdue:
            logger.warning(
                "workflow overdue",
                extra={
                    "workflow": verdict.workflow_name,
                    "due_by": str(verdict.due_by),
                    "cadence": str(verdict.cadence),
                },
            )
        logger.info("freshness checked", extra={"workflows": len(verdicts), "overdue": len(overdue)})
        return {"workflows": len(verdicts), "overdue": len(overdue)}
    finally:
        publish(owed, metrics)
        owed.clear()
