"""Runs widget function (a CloudWatch custom widget): a workflow's runs grid, its charts, a run's Gantt chart and
graph, the failures, the fleet matrix."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.aws import client, dynamodb_client
from mwaa_obs.config import WidgetConfig
from mwaa_obs.events import Place
from mwaa_obs.settings import SeriesPolicies, SettingsSource
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.task_logs import TaskLogReader, logs_clients
from mwaa_obs.view_html import Viewer
from mwaa_obs.widget import LOG_VIEW_BYTES, LOG_VIEW_EVENTS, LOG_VIEW_LINES, QueryCount, ViewReader, handle

config = WidgetConfig.from_env()
logger = Logger(service=SERVICE)
dynamodb = dynamodb_client()
queries = QueryCount(dynamodb)
runs = Runs(dynamodb, config.table_name)
workflows = Workflows(dynamodb, config.table_name)
# The log view's reads: its own account and region's logs only (its client made at the first read). Two workers: a
# read left running past one invocation's deadline must not make the next warm invocation's read wait behind it
task_logs = TaskLogReader(
    logs_clients(None, None), events=LOG_VIEW_EVENTS, max_lines=LOG_VIEW_LINES, max_bytes=LOG_VIEW_BYTES, workers=2
)
settings = SettingsSource(client("ssm"), config.settings_parameter)
policies = SeriesPolicies(settings, config.duration_alarm_seconds)


def team_of(name: str) -> str:
    """The workflow's team, as the settings' routes say (read at most once a minute per instance)."""
    return settings.get().route_for(name).team


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> Any:
    arn = context.invoked_function_arn
    reader = ViewReader(
        runs, workflows, task_logs, home=Place(account=arn.split(":")[4], region=arn.split(":")[3]), team_of=team_of
    )
    before = queries.value

    def viewer(theme: str) -> Viewer:
        return Viewer(region=arn.split(":")[3], stack_name=config.stack_name, theme=theme)

    answer = handle(
        event, reader, viewer, arn, datetime.now(UTC), actions_arn=config.actions_function_arn, policies=policies
    )
    view = event.get("view", "grid") if isinstance(event, dict) else None
    logger.info("rendered", extra={"reads": reader.reads, "queries": queries.value - before, "view": view})
    return answer
