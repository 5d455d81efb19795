"""The MWAA Serverless API over HTTP, as botocore speaks it: JSON 1.0, `X-Amz-Target: AmazonMWAAServerless.<Op>`.

`boto3.client("mwaa-serverless", endpoint_url=server.url)` works unchanged against it. One server can answer for
several accounts and regions, one engine each: a request goes to the engine of its signature's region and of the
account its access key belongs to (moto's, for the assumed-role keys of the local stack). The server admits,
routes and answers; the 15 operations are in `operations`, the simulator-only paths under /_simulator/ (failure
injection, throttling of the API itself, the virtual clock) in `admin`. `ApiServer.traffic` counts the requests
by operation.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mwaa_obs_tools.iam.gate import GATE
from mwaa_obs_tools.simulator import admin, requests
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.errors import ServiceError, throttled
from mwaa_obs_tools.simulator.operations import OPERATIONS

TARGET_PREFIX = "AmazonMWAAServerless."


_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[a-z0-9-]+)/")


def _account_of(access_key: str, default: str) -> str:
    """The account an access key belongs to, as moto knows it when it serves in this process (else `default`)."""
    try:
        from moto.iam.models import get_account_id_from  # noqa: PLC0415 - the simulator runs without moto too
    except ImportError:
        return default
    return get_account_id_from(access_key)


class Engines:
    """The engines a server answers for, by (account, region); with one engine, every request is its."""

    def __init__(self, engines: Sequence[Engine]) -> None:
        self.all = list(engines)
        self._by_place = {(engine.account, engine.region): engine for engine in engines}

    def for_request(self, authorization: str) -> Engine:
        if len(self.all) == 1:
            return self.all[0]
        match = _CREDENTIAL.search(authorization)
        if match is None:
            raise ServiceError("AccessDeniedException", "the request is not signed")
        account = _account_of(match["key"], self.all[0].account)
        engine = self._by_place.get((account, match["region"]))
        if engine is None:
            raise ServiceError("AccessDeniedException", f"no simulated account {account} in {match['region']}")
        return engine


class _Server(ThreadingHTTPServer):
    """A client that went away before its answer (a Ctrl-C'd `mwaa-obs simulate`) is no error of the server's:
    socketserver would print its traceback into `mwaa-obs local up`'s output."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exception(), ConnectionError):  # BrokenPipeError, ConnectionResetError, ...
            super().handle_error(request, client_address)


class ApiServer:
    """Serves an engine on loopback; optionally moves its clock at `speed` virtual seconds per real second."""

    def __init__(self, engine: Engine, port: int = 0, speed: float = 0.0, *, more: Sequence[Engine] = ()) -> None:
        self.engine = engine
        self.engines = Engines([engine, *more])
        self._speed = speed
        self._stopped = threading.Event()
        self.traffic = admin.Traffic()
        handler = _handler_for(self.engines, self.traffic)
        self._server = _Server(("127.0.0.1", port), handler)
        self._threads = [threading.Thread(target=self._server.serve_forever, daemon=True)]
        if speed > 0:
            self._threads.append(threading.Thread(target=self._tick, daemon=True))

    @property
    def url(self) -> str:
        return f"http://localhost:{self._server.server_address[1]}"

    def start(self) -> ApiServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; safe before start (shutdown() alone would wait forever for a serve_forever never begun)."""
        self._stopped.set()
        if self._threads[0].is_alive():
            self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=5)

    def _tick(self, interval: float = 0.1) -> None:
        while not self._stopped.wait(interval):
            until = self.engine.now + timedelta(seconds=interval * self._speed)
            for engine in self.engines.all:
                engine.advance(until)


def _handler_for(engines: Engines, traffic: admin.Traffic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate small writes: with Nagle's algorithm on, the body waits for the
        # client's delayed ACK, about 40 ms per call on loopback (make bench: simulator latency).
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                if self.path.startswith(admin.PREFIX):
                    self._send(200, admin.answer(engines.all, traffic, self.path, requests.parse(raw)))
                    return
                name = self.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
                body = requests.parse(raw)
                requests.admit(name, body)
                denied = GATE.authorize_api(self.headers.get("Authorization", ""), name, body)
                if denied is not None:  # IAM, as for every call of a function's role (mwaa_obs_tools.iam)
                    raise ServiceError("AccessDeniedException", denied.text)
                if not traffic.admit(name):
                    raise throttled(name)
                authorization = self.headers.get("Authorization", "")
                engine = engines.for_request(authorization)
                answer = OPERATIONS[name](engine, body)
                request_id = str(uuid.uuid4())
                # Recorded before the answer (CloudTrail takes minutes): a caller that goes on finds it published
                key = _CREDENTIAL.search(authorization)
                engine.record_call(name, body, answer, key["key"] if key else "anonymous", request_id)
                self._send(200, answer, {"x-amzn-RequestId": request_id})
            except ServiceError as error:
                retry_after = error.members.get("RetryAfterSeconds")
                self._send(error.status, error.body(), {"Retry-After": str(retry_after)} if retry_after else {})
            except Exception as error:  # a fault of the simulator is the service's 500, never a dropped connection
                failure = ServiceError("InternalServerException", f"{type(error).__name__}: {error}")
                self._send(failure.status, failure.body())

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            for header, value in (headers or {}).items():
                self.send_header(header, value)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            if "x-amzn-RequestId" not in (headers or {}):
                self.send_header("x-amzn-RequestId", str(time.monotonic_ns()))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: one line per request would drown the CLI's output."""

    return Handler
