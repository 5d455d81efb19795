"""Requests read off the wire as the service reads them, and denials written as the service writes them.

Reading: the SigV4 credential scope names the access key, region and signing service; the protocol (JSON with
X-Amz-Target, query with Action, REST by path) names the operation; moto's own request parsers read its parameters
from the botocore model, as moto itself does after this.

Writing: each service answers a denied call with its own code and status (aws-rules.md, "Denied-call wire format"):
AccessDeniedException with HTTP 400 for the JSON services (DynamoDB, Logs, SSM, Secrets Manager, KMS, EventBridge),
403 for Lambda and MWAA Serverless; AccessDenied 403 for CloudWatch, SQS, STS and CloudFormation (in JSON, through
the x-amzn-query-error header of query-compatible services); SNS's AuthorizationError 403. The message is IAM's
("User: ... is not authorized to perform: ... on resource: ... because no identity-based policy allows the ...
action", IAM UG troubleshoot_access-denied.html), with the action spelt as each service spells it there (SQS lower
case, SNS's prefix upper case).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Final
from xml.sax.saxutils import escape

from mwaa_obs_tools.iam.actions import Call, NoRule

_SCOPE: Final = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/")
# The services a signing name stands for; one signing name may cover two models (DynamoDB and its streams).
SIGNING: Final = {
    "dynamodb": ("dynamodb", "dynamodbstreams"),
    "monitoring": ("cloudwatch",),
    "sqs": ("sqs",),
    "sns": ("sns",),
    "ssm": ("ssm",),
    "secretsmanager": ("secretsmanager",),
    "kms": ("kms",),
    "sts": ("sts",),
    "logs": ("logs",),
    "events": ("events",),
    "lambda": ("lambda",),
    "cloudformation": ("cloudformation",),
    "iam": ("iam",),
    "s3": ("s3",),
}


@dataclass(frozen=True)
class Signature:
    access_key: str
    region: str
    signing_name: str


def signature(authorization: str) -> Signature | None:
    found = _SCOPE.search(authorization)
    return Signature(found["key"], found["region"], found["service"]) if found else None


@dataclass(frozen=True)
class Request:
    """What a call asks for, and how its answer must be spelt."""

    call: Call
    protocol: str  # json, query, rest-json, rest-xml
    content_type: str = "application/x-amz-json-1.1"


def read(environ: dict[str, Any], body: bytes, signed: Signature, account: str) -> Request:
    """The call a request makes. NoRule when it cannot be read (a service the strict world does not know)."""
    from moto.core.parse import PROTOCOL_PARSERS  # noqa: PLC0415 - the emulator's parsers, in this process
    from moto.core.request import Request as MotoRequest  # noqa: PLC0415
    from moto.core.request import determine_request_protocol  # noqa: PLC0415
    from moto.core.routing import get_service_router  # noqa: PLC0415
    from moto.core.utils import get_service_model  # noqa: PLC0415

    request = MotoRequest({**environ, "wsgi.input": BytesIO(body)})
    target = request.headers.get("X-Amz-Target", "")
    service = _service(signed.signing_name, target)
    model = get_service_model(service)
    protocol = determine_request_protocol(model, request.content_type)
    url_params: dict[str, Any] = {}
    if target:
        operation = target.rsplit(".", 1)[1]
    elif protocol in {"query", "ec2"}:
        operation = request.values["Action"]
    else:
        matched, url_params = get_service_router(service).match(request)
        operation = matched.name
    parser = PROTOCOL_PARSERS[protocol](model.operation_model(operation))
    params = parser.parse(
        {
            "method": request.method,
            "values": request.values,
            "headers": request.headers,
            "body": body,
            "url_path": request.path,
            "url_params": url_params,
        }
    )
    call = Call(service, operation, params, signed.region, account)
    return Request(call, protocol, request.content_type or "application/x-amz-json-1.1")


def _service(signing_name: str, target: str) -> str:
    candidates = SIGNING.get(signing_name)
    if candidates is None:
        raise NoRule(f"requests signed for {signing_name}")
    if len(candidates) == 1:
        return candidates[0]
    return candidates[1] if target.startswith("DynamoDBStreams") else candidates[0]


# --- denials ----------------------------------------------------------------------------------------------------------

_JSON_DENIALS: Final = {"lambda": 403, "mwaa-serverless": 403}  # the JSON services' AccessDeniedException: 400 else
_QUERY_CODES: Final = {"sns": "AuthorizationError"}  # the query services' code: AccessDenied else
_XML_NAMESPACES: Final = {
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "cloudwatch": "http://monitoring.amazonaws.com/doc/2010-08-01/",
    "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}
_QUERY_COMPATIBLE: Final = frozenset({"cloudwatch", "sqs"})  # JSON on the wire, query error codes for the SDKs


def spelt(service: str, action: str) -> str:
    """The action as the service's denial message spells it."""
    if service == "sqs":
        return action.lower()
    if service == "sns":
        return "SNS:" + action.split(":", 1)[1]
    return action


def message(principal: str, action: str, resource: str, explicit: bool) -> str:
    where = "" if resource == "*" else f" on resource: {resource}"
    why = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else (f"because no identity-based policy allows the {action} action")
    )
    return f"User: {principal} is not authorized to perform: {action}{where} {why}"


Response = tuple[int, list[tuple[str, str]], bytes]


def denial(request: Request, text: str) -> Response:
    """The service's answer to a call IAM denied, in the protocol the call used."""
    service = request.call.service
    request_id = str(uuid.uuid4())
    if request.protocol in {"query", "ec2"}:
        code = _QUERY_CODES.get(service, "AccessDenied")
        namespace = _XML_NAMESPACES.get(service, "")
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{escape(text)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return 403, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()
    headers = [("x-amzn-RequestId", request_id)]
    if request.protocol == "rest-json":
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException")]
        return _JSON_DENIALS.get(service, 403), headers, json.dumps({"Type": "User", "Message": text}).encode()
    headers.append(("Content-Type", request.content_type))
    payload = {"__type": "com.amazon.coral.service#AccessDeniedException", "message": text}
    if service in _QUERY_COMPATIBLE:
        headers.append(("x-amzn-query-error", "AccessDenied;Sender"))
        return 403, headers, json.dumps(payload).encode()
    if service == "dynamodb":
        payload = {"__type": payload["__type"], "Message": text}  # DynamoDB spells it Message
    return _JSON_DENIALS.get(service, 400), headers, json.dumps(payload).encode()
