"""Requests as the service admits them: the body parsed, checked against the operation's input shape in botocore's
model (conformance.py: types, required members, lengths, patterns, list and map sizes, MaxResults 1-100), then
against the rules the documentation adds; and the opaque NextTokens of the four List operations.

Every refusal is a ValidationException with a Reason from the model's enum: cannotParse (a body that is not a JSON
object), unknownOperation (an X-Amz-Target the service does not have), fieldValidationFailed with a FieldList (a
member breaking its shape or a documented rule), other (the rest).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from mwaa_obs_tools.simulator import conformance
from mwaa_obs_tools.simulator.errors import CANNOT_PARSE, UNKNOWN_OPERATION, invalid

# Environment variable names the service keeps for itself, and the exceptions it allows (user guide, "Environment
# variables for workflows": https://docs.aws.amazon.com/mwaa/latest/mwaa-serverless-userguide/
# workflows-environment-variables.html).
RESERVED_PREFIXES = ("AWS_", "AIRFLOW__")
ALLOWED_RESERVED = ("AIRFLOW__WORKERS__SECRETS_BACKEND", "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS")
ALLOWED_RESERVED_PREFIX = "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__"

# TriggerMode is a free string in the model ("The trigger mode for the workflow execution"). The values are those of
# aws-samples/amazon-mwaa-examples, serverless/mcp/src/constraints.py (workflow_types) and of the Airflow Amazon
# provider's tests ("manual_only"): scheduled runs on its cron and on demand, manual_only on demand only,
# disabled not at all. ASSUMED: the service refuses other values.
SCHEDULED, MANUAL_ONLY, DISABLED = "scheduled", "manual_only", "disabled"
TRIGGER_MODES = (SCHEDULED, MANUAL_ONLY, DISABLED)
SUPPORTED_ENGINE_VERSIONS = (1,)  # EngineVersion: "Currently supports version 1"


def parse(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as error:
        raise invalid(f"Could not parse the request body: {error}", reason=CANNOT_PARSE) from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object", reason=CANNOT_PARSE)
    return body


def admit(operation_name: str, body: dict[str, Any]) -> None:
    """Refuse the request as the service would; return quietly when it passes."""
    if operation_name not in conformance.service_model().operation_names:
        raise invalid(f"Unknown operation {operation_name!r}", reason=UNKNOWN_OPERATION)
    shape = conformance.operation(operation_name).input_shape
    fields = [(v.path, _constraint(v)) for v in conformance.violations(shape, body)] if shape else []
    fields += _documented_rules(body)
    if fields:
        detail = "; ".join(f"Value at '{name}' failed to satisfy constraint: {problem}" for name, problem in fields)
        count = f"{len(fields)} validation error{'s' if len(fields) > 1 else ''} detected"
        raise invalid(f"{count}: {detail}", fields)


def _constraint(violation: conformance.Violation) -> str:
    if violation.kind == "required":
        return "Member must not be null"
    return f"Member must satisfy its shape: {violation.problem}"


def _documented_rules(body: dict[str, Any]) -> list[tuple[str, str]]:
    """What the documentation adds to the shapes (each rule's source at its constant)."""
    fields: list[tuple[str, str]] = []
    variables = body.get("Environment", {}).get("Variables", {}) if isinstance(body.get("Environment"), dict) else {}
    for name in variables if isinstance(variables, dict) else {}:
        if is_reserved(str(name)):
            fields.append(
                (
                    f"Environment.Variables<key {name!r}>",
                    f"{name} is reserved: names that start with "
                    "AWS_ or AIRFLOW__ are reserved, except the secrets backend settings",
                )
            )
    mode = body.get("TriggerMode")
    if mode is not None and mode not in TRIGGER_MODES:
        fields.append(("TriggerMode", f"Member must be one of {', '.join(TRIGGER_MODES)}"))
    engine = body.get("EngineVersion")
    if engine is not None and engine not in SUPPORTED_ENGINE_VERSIONS:
        fields.append(("EngineVersion", "Member must be 1: the only engine version the service supports"))
    encryption = body.get("EncryptionConfiguration")
    if (
        isinstance(encryption, dict)
        and encryption.get("Type") == "CUSTOMER_MANAGED_KEY"
        and not encryption.get("KmsKeyId")
    ):
        fields.append(("EncryptionConfiguration.KmsKeyId", "Required when Type is CUSTOMER_MANAGED_KEY"))
    return fields


def is_reserved(name: str) -> bool:
    if name in ALLOWED_RESERVED or name.startswith(ALLOWED_RESERVED_PREFIX):
        return False
    return name.startswith(RESERVED_PREFIXES)


# --- NextToken -----------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+=*$")


def next_token(scope: str, offset: int) -> str:
    """An opaque token for the page at `offset` of the listing `scope` (the operation and what it lists)."""
    return base64.urlsafe_b64encode(json.dumps({"s": scope, "o": offset}).encode()).decode()


def token_offset(scope: str, token: str | None) -> int:
    """Where the page a token names starts; a token this listing never gave is a ValidationException."""
    if token is None:
        return 0
    try:
        if not _TOKEN.match(token):
            raise ValueError(token)
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        if decoded["s"] != scope or not isinstance(decoded["o"], int) or decoded["o"] < 0:
            raise ValueError(token)
        offset: int = decoded["o"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid("Invalid NextToken", [("NextToken", "The pagination token is invalid or expired")]) from None
    return offset


def page(items: list[Any], body: dict[str, Any], scope: str, default_size: int = 100) -> tuple[list[Any], str | None]:
    """The page of `items` the request asks for, and the token of the next one (None on the last page)."""
    start = token_offset(scope, body.get("NextToken"))
    end = start + int(body.get("MaxResults") or default_size)
    return items[start:end], (next_token(scope, end) if end < len(items) else None)
