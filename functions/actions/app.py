"""Actions function: the dashboards' Re-run and Stop buttons (never the read-only widget function)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.action_widget import handle
from mwaa_obs.mwaa_api import api_client

logger = Logger(service=SERVICE)


@cache
def api() -> Any:
    """The MWAA Serverless client, made at the first press (a `describe` never needs it)."""
    return api_client()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    def log(message: str, fields: dict[str, Any]) -> None:
        logger.info(message, extra=fields)

    return handle(event, context.invoked_function_arn, api, log)
