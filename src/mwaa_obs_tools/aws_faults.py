"""Faults the emulator cannot produce, injected under a botocore client: a request that reaches AWS (moto) and is
applied, and whose answer is lost on the way back, or a request refused with a 500 before it is applied; or a
request refused with an error of the service's own (`refusals`: a log group's customer managed key disabled).

Injected at `before-send`, below botocore's retries, so that the client retries as it would against AWS.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session


class Fault(Enum):
    ANSWER_LOST = "answer lost"  # applied; the client times out waiting for the answer
    APPLIED_THEN_500 = "applied, then 500"  # applied; the answer is an InternalServerError
    REFUSED_500 = "refused with 500"  # not applied


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def _error_500(request: AWSPreparedRequest, protocol: str) -> AWSResponse:
    headers = HTTPHeaders()
    if protocol == "query":
        body = b"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code><Message>injected</Message>"
        body += b"</Error></ErrorResponse>"
        headers["Content-Type"] = "text/xml"
    else:
        body = b'{"__type":"InternalServerError","message":"injected"}'
        headers["Content-Type"] = "application/x-amz-json-1.0"
    return AWSResponse(request.url, 500, headers, _Body(body))


@contextmanager
def faults(client: Any, operation: str, choose: Callable[[bytes], Fault | None]) -> Iterator[list[Fault]]:
    """While open, every `operation` request of `client` gets the fault `choose` picks for its body, if any;
    yields the faults injected so far."""
    session = URLLib3Session()
    injected: list[Fault] = []
    lock = threading.Lock()
    service = client.meta.service_model.endpoint_prefix
    protocol = client.meta.service_model.protocol

    def inject(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        fault = choose(body)
        if fault is None:
            return None
        with lock:
            injected.append(fault)
        if fault is Fault.REFUSED_500:
            return _error_500(request, protocol)
        session.send(request)  # applied by the emulator; its answer is dropped
        if fault is Fault.ANSWER_LOST:
            raise ReadTimeoutError(endpoint_url=request.url)
        return _error_500(request, protocol)

    event = f"before-send.{service}.{operation}"
    client.meta.events.register(event, inject)
    try:
        yield injected
    finally:
        client.meta.events.unregister(event, inject)
        session.close()


@contextmanager
def refusals(client: Any, operation: str, code: str, message: str, status: int = 400) -> Iterator[list[bytes]]:
    """While open, every `operation` request of a JSON-protocol `client` is refused, unapplied, with the error `code`
    and `message` as the service words them (`__type`, `message`); yields the refused requests' bodies."""
    refused: list[bytes] = []
    service = client.meta.service_model.endpoint_prefix

    def refuse(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        refused.append(request.body if isinstance(request.body, bytes) else str(request.body or "").encode())
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message}).encode()
        return AWSResponse(request.url, status, headers, _Body(body))

    event = f"before-send.{service}.{operation}"
    client.meta.events.register(event, refuse)
    try:
        yield refused
    finally:
        client.meta.events.unregister(event, refuse)
