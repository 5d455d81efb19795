"""The MWAA Serverless API, read-only: the source of truth that enrichment, the reconciler and backfill consult.

Every call goes through one botocore client with adaptive retries (client-side rate limiting plus backoff on
ThrottlingException) and paginators for the List operations. The service model ships in the layer
(`botocore_data/`) as a fallback for a Lambda runtime whose botocore predates the service; a runtime that has it
uses its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from botocore.config import Config
from botocore.exceptions import ClientError

from mwaa_obs.store import aws_config, aws_session

SERVICE_NAME: Final = "mwaa-serverless"
BUNDLED_MODELS: Final = Path(__file__).with_name("botocore_data")
PAGE_SIZE: Final = 100  # the service's maximum MaxResults


def api_client(max_attempts: int = 8) -> Any:
    session = aws_session()
    loader = session.get_component("data_loader")
    if str(BUNDLED_MODELS) not in loader.search_paths:
        loader.search_paths.append(str(BUNDLED_MODELS))
    config = aws_config().merge(Config(retries={"mode": "adaptive", "max_attempts": max_attempts}))
    return session.create_client(SERVICE_NAME, config=config)


class MwaaApi:
    """The few reads the pipeline needs; a resource that no longer exists reads as None."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def workflows(self) -> Iterator[dict[str, Any]]:
        for page in self._client.get_paginator("list_workflows").paginate(PaginationConfig={"PageSize": PAGE_SIZE}):
            yield from page.get("Workflows", [])

    def workflow(self, workflow_arn: str) -> dict[str, Any] | None:
        return self._get("get_workflow", WorkflowArn=workflow_arn)

    def runs(self, workflow_arn: str) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("list_workflow_runs")
        for page in paginator.paginate(WorkflowArn=workflow_arn, PaginationConfig={"PageSize": PAGE_SIZE}):
            yield from page.get("WorkflowRuns", [])

    def run(self, workflow_arn: str, run_id: str) -> dict[str, Any] | None:
        return self._get("get_workflow_run", WorkflowArn=workflow_arn, RunId=run_id)

    def tasks(self, workflow_arn: str, run_id: str) -> list[dict[str, Any]]:
        paginator = self._client.get_paginator("list_task_instances")
        pages = paginator.paginate(WorkflowArn=workflow_arn, RunId=run_id, PaginationConfig={"PageSize": PAGE_SIZE})
        try:
            return [task for page in pages for task in page.get("TaskInstances", [])]
        except ClientError as error:
            if _not_found(error):
                return []
            raise

    def task(self, workflow_arn: str, run_id: str, task_instance_id: str) -> dict[str, Any] | None:
        return self._get("get_task_instance", WorkflowArn=workflow_arn, RunId=run_id, TaskInstanceId=task_instance_id)

    def _get(self, operation: str, **request: str) -> dict[str, Any] | None:
        try:
            answer: dict[str, Any] = getattr(self._client, operation)(**request)
        except ClientError as error:
            if _not_found(error):
                return None
            raise
        return answer


def _not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
