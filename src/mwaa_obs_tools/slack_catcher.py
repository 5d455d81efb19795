"""A stand-in for Slack's incoming webhooks on loopback: it keeps every payload it is sent and answers as told.

Used by the tests (assertions on payloads, scripted 429/500 answers) and by the local stack and demo, which print
what Slack would have shown.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow Slack: the client's timeout fires first)


@dataclass(frozen=True)
class Received:
    path: str
    payload: dict[str, Any]
    status: int  # what the catcher answered


class SlackCatcher:
    def __init__(self) -> None:
        self.received: list[Received] = []  # every request, in order, including those answered with an error
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "/services/T000/B000/local") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def answer_next(self, *answers: Answer) -> None:
        """Queue answers for the next requests; once they are used up, every request gets 200 ok."""
        with self._lock:
            self._answers.extend(answers)

    def delivered(self) -> list[dict[str, Any]]:
        """The payloads answered with 200, i.e. what a Slack channel would show."""
        return [item.payload for item in self.received if item.status == 200]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # no delayed-ACK stall between the headers and the body

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with catcher._lock:
                    answer = catcher._answers.popleft() if catcher._answers else Answer()
                    catcher.received.append(Received(self.path, json.loads(body), answer.status))
                if answer.delay:
                    catcher._stopping.wait(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(answer.body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


@contextmanager
def running() -> Iterator[SlackCatcher]:
    catcher = SlackCatcher()
    catcher.start()
    try:
        yield catcher
    finally:
        catcher.stop()
