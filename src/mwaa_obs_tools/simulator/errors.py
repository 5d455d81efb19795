"""The service's errors: raised anywhere in the simulator, answered by the API server as the service would, with
the members botocore's model gives each error shape and the HTTP status its Smithy model gives it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The HTTP status of each error, from the service's Smithy model (its @httpError traits; botocore's JSON drops
# them): aws/aws-sdk-js-v3, clients/client-mwaa-serverless/src/schemas/schemas_0.ts.
ERROR_STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "ServiceQuotaExceededException": 402,
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "OperationTimeoutException": 504,
}

# ResourceType values are not enumerated by the model; "Workflow" with the workflow id (not its ARN) as ResourceId
# is what the Airflow Amazon provider's tests use for a Conflict (tests/unit/amazon/aws/operators/
# test_mwaa_serverless.py), and what its MwaaServerlessCreateWorkflowOperator(if_exists="skip") builds an ARN from.
WORKFLOW = "Workflow"
WORKFLOW_VERSION = "WorkflowVersion"
WORKFLOW_RUN = "WorkflowRun"
TASK_INSTANCE = "TaskInstance"

# ValidationExceptionReason (the model's enum)
FIELD_VALIDATION_FAILED = "fieldValidationFailed"
CANNOT_PARSE = "cannotParse"
UNKNOWN_OPERATION = "unknownOperation"
OTHER = "other"

SERVICE_CODE = "airflow-serverless"  # ServiceCode of Throttling and ServiceQuotaExceeded: the service's prefix


class ServiceError(Exception):
    """An API error: `code` is the error shape's name (ValidationException, ResourceNotFoundException...);
    `members` the shape's other members (ResourceId, Reason, FieldList, ...)."""

    def __init__(self, code: str, message: str, **members: Any) -> None:
        super().__init__(message)
        self.code = code
        self.members = members

    @property
    def status(self) -> int:
        """The HTTP status the API server answers the error with."""
        return ERROR_STATUS[self.code]

    def body(self) -> dict[str, Any]:
        """The JSON 1.0 error body: __type, then the shape's members (Message, as the model spells it)."""
        return {"__type": self.code, "Message": str(self)[:2048], **self.members}


def not_found(resource_type: str, resource_id: str, message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, ResourceId=resource_id, ResourceType=resource_type)


def conflict(resource_type: str, resource_id: str, message: str) -> ServiceError:
    return ServiceError("ConflictException", message, ResourceId=resource_id, ResourceType=resource_type)


def invalid(message: str, fields: Sequence[tuple[str, str]] = (), reason: str = "") -> ServiceError:
    """A ValidationException; with `fields` (name, what is wrong) its reason is fieldValidationFailed."""
    reason = reason or (FIELD_VALIDATION_FAILED if fields else OTHER)
    members: dict[str, Any] = {"Reason": reason}
    if fields:
        members["FieldList"] = [{"Name": name, "Message": problem[:2048]} for name, problem in fields]
    return ServiceError("ValidationException", message, **members)


def throttled(operation: str, retry_after: int = 1) -> ServiceError:
    """A ThrottlingException; the quota code is the operation's request rate (ASSUMED: AWS publishes no quota codes
    for this service's API rates)."""
    return ServiceError(
        "ThrottlingException",
        "Rate exceeded",
        ServiceCode=SERVICE_CODE,
        QuotaCode=f"{operation}-requests-per-second",
        RetryAfterSeconds=retry_after,
    )
