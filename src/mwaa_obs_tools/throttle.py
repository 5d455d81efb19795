"""AWS's request rates in front of the emulator: CloudWatch's alarm and dashboard calls refused past their default
quota per account and region, as CloudWatch refuses them.

moto answers every call at once; CloudWatch allows, per account and region, 3 PutMetricAlarm, PutCompositeAlarm and
DeleteAlarms a second, 9 DescribeAlarms, 10 Get/Put/List/DeleteDashboards, 20 Tag/UntagResource (mwaa_obs.pacing,
CLOUDWATCH_RATES, with the page). Past that it answers HTTP 400, code `Throttling`, "Rate exceeded" (observed:
"Rate exceeded (Service: AmazonCloudWatch; Status Code: 400; Error Code: Throttling", hortonworks/cloudbreak#10689):
botocore retries it, and a caller that keeps asking spends its time waiting. `Throttle` is a WSGI middleware doing
the same in front of moto server, one token bucket per account, region and operation (`TokenBucket`, one second of
burst), on wall time as CloudWatch does (the bench gives it a modelled clock).

It composes with the other middlewares of the emulator (`THROTTLE.wsgi(app)` wraps any WSGI app). CloudFormation's own
calls are not throttled here: the local stack's deployment marks its requests (`exempt`), as CloudFormation paces
and retries its own calls and they are not the code under test.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from io import BytesIO
from typing import Any, Final
from urllib.parse import parse_qs

from mwaa_obs.pacing import CLOUDWATCH_RATES, TokenBucket

EXEMPT_HEADER: Final = "x-mwaa-obs-cloudformation"  # a request the local stack's deployment made
_SCOPE: Final = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[a-z0-9-]+)/monitoring/")
_NAMESPACE: Final = "http://monitoring.amazonaws.com/doc/2010-08-01/"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Throttle:
    """The token buckets, per account, region and operation, and the WSGI middleware that spends them."""

    def __init__(
        self, rates: Mapping[str, float] = CLOUDWATCH_RATES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rates = rates
        self.clock = clock  # the bench swaps in its modelled clock
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self._lock = threading.Lock()  # moto server answers each request in a thread of its own
        self.refused: dict[str, int] = {}  # operation -> requests refused since the last reset

    def wsgi(self, app: WsgiApp) -> WsgiApp:
        """`app` behind the throttle."""

        def throttled_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
            if scope is None or environ.get("HTTP_" + EXEMPT_HEADER.upper().replace("-", "_")):
                return app(environ, start_response)
            operation, protocol = _operation(environ)
            if operation is None or operation not in self._rates:
                return app(environ, start_response)
            account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or _account_of(scope["key"])
            if self._allowed((account, scope["region"], operation)):
                return app(environ, start_response)
            status, headers, body = refusal(protocol)
            start_response(status, headers)
            return [body]

        return throttled_app

    def reset(self) -> None:
        """Full buckets again (the emulator's state was reset)."""
        with self._lock:
            self._buckets.clear()
            self.refused.clear()

    def _allowed(self, key: tuple[str, str, str]) -> bool:
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self._rates[key[2]], now)
            if bucket.take(now):
                return True
            self.refused[key[2]] = self.refused.get(key[2], 0) + 1
            return False


THROTTLE: Final = Throttle()  # the emulator's, one per process (as moto's state is)


def _operation(environ: dict[str, Any]) -> tuple[str | None, str]:
    """The CloudWatch operation a request calls and the protocol it speaks: JSON (X-Amz-Target, botocore 1.43 and
    later) or query (Action in the form body, older SDKs and the CLI); the body is put back for the app."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1], "json"
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = BytesIO(body)
        actions = parse_qs(body.decode("utf-8", "replace")).get("Action") or [None]
        return actions[0], "query"
    return None, "other"


def _account_of(access_key: str) -> str:
    """The account moto gives an access key (one of STS's temporary keys: the role's account; else its default)."""
    from moto.iam.models import get_account_id_from  # noqa: PLC0415 - moto's mapping, in this process

    return str(get_account_id_from(access_key))


def refusal(protocol: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """CloudWatch's refusal past the rate: 400, Throttling, "Rate exceeded", in the protocol of the request (JSON
    carries the query error code in x-amzn-query-error, as CloudWatch is query-compatible)."""
    request_id = str(uuid.uuid4())
    if protocol == "query":
        body = (
            f'<ErrorResponse xmlns="{_NAMESPACE}"><Error><Type>Sender</Type><Code>Throttling</Code>'
            f"<Message>Rate exceeded</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return "400 Bad Request", [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-query-error", "Throttling;Sender"),
    ]
    return "400 Bad Request", headers, json.dumps({"__type": "Throttling", "message": "Rate exceeded"}).encode()


def exempt(client: Any) -> Any:
    """Mark every request of `client` as CloudFormation's own (not throttled here)."""

    def mark(request: Any, **_: Any) -> None:
        request.headers[EXEMPT_HEADER] = "1"

    client.meta.events.register("before-sign", mark)
    return client
