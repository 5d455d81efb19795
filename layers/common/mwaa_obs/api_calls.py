"""Who did what: MWAA Serverless management calls as CloudTrail records them, delivered by EventBridge.

A CloudTrail record ("CloudTrail record contents for management, data, and network activity events",
docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html) arrives as the
`detail` of an event whose detail-type is "AWS API Call via CloudTrail" (which needs a trail with logging enabled:
docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html). Of it, this reads `eventName`,
`eventTime`, `eventID`, `errorCode` (a refused call changed nothing), `userIdentity` (`arn`, else `type` and
`invokedBy` or `principalId`: the CloudTrail userIdentity element), and the workflow ARN, run id and version from
`requestParameters` and `responseElements`.

NOT CONFIRMED for this service (no MWAA Serverless CloudTrail page or example was found): the member names inside
`requestParameters` and `responseElements` (read here under the API's PascalCase names or in camelCase, as
CloudTrail writes them for some JSON services), that `responseElements` carries StartWorkflowRun's RunId and
CreateWorkflow's and UpdateWorkflow's WorkflowArn and WorkflowVersion, and who a scheduled run's start is
attributed to (if it is recorded at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from mwaa_obs.events import InvalidEvent, Place, WorkflowRef, workflow_ref
from mwaa_obs.times import parse_time

CLOUDTRAIL_DETAIL_TYPE: Final = "AWS API Call via CloudTrail"
EVENT_SOURCE_NAME: Final = "airflow-serverless.amazonaws.com"  # detail.eventSource
RUN_CALLS: Final = ("StartWorkflowRun", "StopWorkflowRun")
WORKFLOW_CALLS: Final = ("CreateWorkflow", "UpdateWorkflow", "DeleteWorkflow")
WATCHED_CALLS: Final = RUN_CALLS + WORKFLOW_CALLS


@dataclass(frozen=True, slots=True)
class ApiCall:
    name: str  # the operation: one of WATCHED_CALLS
    workflow: WorkflowRef
    by: str  # who: the caller's ARN, or what CloudTrail says instead
    at: datetime
    event_id: str
    run_id: str | None = None  # StartWorkflowRun's new run, StopWorkflowRun's run
    version: str | None = None  # the version CreateWorkflow or UpdateWorkflow made, or DeleteWorkflow deleted


def is_api_call(event: Any) -> bool:
    return isinstance(event, Mapping) and event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE


def parse_api_call(event: Mapping[str, Any], home: Place | None) -> ApiCall | None:
    """The call, or None for one that changed nothing (refused: `errorCode`) or is not watched; InvalidEvent for a
    record that cannot be read."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEvent("a CloudTrail event without a detail object")
    name = detail.get("eventName")
    if detail.get("eventSource") != EVENT_SOURCE_NAME or name not in WATCHED_CALLS or detail.get("errorCode"):
        return None
    request, response = _members(detail.get("requestParameters")), _members(detail.get("responseElements"))
    arn = request.get("workflowarn") or response.get("workflowarn")
    workflow = workflow_ref(arn, home) if isinstance(arn, str) else None
    if workflow is None:
        raise InvalidEvent(f"{name}: no workflow ARN in requestParameters or responseElements")
    at = parse_time(detail.get("eventTime"))
    if at is None:
        raise InvalidEvent(f"{name}: eventTime {detail.get('eventTime')!r} is not a time")
    run_id = (response if name == "StartWorkflowRun" else request).get("runid")
    if name in RUN_CALLS and not isinstance(run_id, str):
        raise InvalidEvent(f"{name}: no RunId")
    version = (request if name == "DeleteWorkflow" else response).get("workflowversion")
    return ApiCall(
        name=str(name),
        workflow=workflow,
        by=caller(detail.get("userIdentity")),
        at=at,
        event_id=str(detail.get("eventID") or f"{name}#{at.isoformat()}"),
        run_id=run_id if isinstance(run_id, str) else None,
        version=version if isinstance(version, str) else None,
    )


def caller(identity: Any) -> str:
    """The caller's ARN; a service acting on its own has none (`invokedBy`), nor has an unknown identity."""
    if not isinstance(identity, Mapping):
        return "unknown"
    for key in ("arn", "invokedBy", "principalId"):
        if isinstance(identity.get(key), str) and identity[key]:
            return str(identity[key])
    return str(identity.get("type") or "unknown")


def short_caller(by: str) -> str:
    """For people: a role session as `role/session`, a user as `user/name`, anything else as it is."""
    resource = by.split(":", 5)[5] if by.startswith("arn:") and by.count(":") >= 5 else by
    return resource.removeprefix("assumed-role/")


def _members(value: Any) -> dict[str, Any]:
    """The members of requestParameters or responseElements by lower-case name (PascalCase or camelCase)."""
    return {str(key).lower(): member for key, member in value.items()} if isinstance(value, Mapping) else {}
