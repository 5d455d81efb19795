"""The CloudTrail records of the simulated service's management calls, as EventBridge delivers them ("AWS API Call
via CloudTrail"), so that who did what is tested offline (mwaa_obs.api_calls reads them).

The record's fields are CloudTrail's ("CloudTrail record contents for management, data, and network activity
events", docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html; the
userIdentity element, cloudtrail-event-reference-user-identity.html). ASSUMED, for want of an MWAA Serverless
example: `requestParameters` and `responseElements` are the request and answer with camelCase member names (as
CloudTrail writes them for other JSON services); OverrideParameters and Environment are hidden as CloudTrail hides
sensitive values; the caller is an IAM user named after the request's access key (the simulator knows no more
of a caller); the record is published at once (CloudTrail takes minutes).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

DETAIL_TYPE = "AWS API Call via CloudTrail"
RECORDED = ("CreateWorkflow", "UpdateWorkflow", "DeleteWorkflow", "StartWorkflowRun", "StopWorkflowRun")
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
SENSITIVE = ("OverrideParameters", "Environment")


def record(
    name: str, request: dict[str, Any], response: dict[str, Any], *, access_key: str, account: str, region: str,
    at: datetime, request_id: str,
) -> dict[str, Any]:  # fmt: skip
    """The `detail` of the EventBridge event CloudTrail would deliver for this successful call."""
    return {
        "eventVersion": "1.11",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": access_key,
            "arn": f"arn:aws:iam::{account}:user/{access_key}",
            "accountId": account,
            "accessKeyId": access_key,
            "userName": access_key,
        },
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "airflow-serverless.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": "mwaa-obs-simulator",
        "requestParameters": _camel({k: v for k, v in request.items() if k != "ClientToken"}),
        "responseElements": _camel(response) or None,
        "requestID": request_id,
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }


def _camel(members: dict[str, Any]) -> dict[str, Any]:
    return {key[:1].lower() + key[1:]: HIDDEN if key in SENSITIVE else _times(value) for key, value in members.items()}


def _times(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
