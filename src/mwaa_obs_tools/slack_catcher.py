"""A stand-in for Slack's incoming webhooks on loopback: it keeps every payload it is sent and answers as told.

Used by the tests (assertions on payloads, scripted 429/500 answers) and by the local stack and demo, which print
what Slack would have shown.
"""

from __future__ import annotations

import contextlib
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
    hold: threading.Event | None = None  # answer only once the test sets it (a Slack slow for as long as needed)
    trickle: float = 0.0  # seconds between the body's bytes (a Slack that answers 200 and then stalls)


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
        self._arrived = threading.Condition(self._lock)
        self.finished: list[threading.Event] = []  # per request: set once its whole answer was written
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "/services/T000/B000/local") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def answer_next(self, *answers: Answer) -> None:
        """Queue answers for the next requests; once they are used up, every request gets 200 ok."""
        with self._lock:
            self._answers.extend(answers)

    def wait_for(self, requests: int, timeout: float = 30.0) -> None:
        """Until this many requests have arrived (a test waits for a notifier to reach Slack, not for a time)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= requests, timeout):
                raise TimeoutError(f"{requests} Slack requests expected, {len(self.received)} arrived")

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
                finished = threading.Event()
                with catcher._lock:
                    answer = catcher._answers.popleft() if catcher._answers else Answer()
                    catcher.received.append(Received(self.path, json.loads(body), answer.status))
                    catcher.finished.append(finished)
                    catcher._arrived.notify_all()
                if answer.delay:
                    catcher._stopping.wait(answer.delay)
                if answer.hold is not None:
                    answer.hold.wait()
                with contextlib.suppress(OSError):  # the client gave up and closed the connection
                    if self._answer(answer):
                        finished.set()

            def _answer(self, answer: Answer) -> bool:
                """Whether the whole answer was written."""
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer.body.encode())))
                self.end_headers()
                if not answer.trickle:
                    self.wfile.write(answer.body.encode())
                    return True
                self.wfile.flush()
                for byte in answer.body.encode():
                    if catcher._stopping.wait(answer.trickle):
                        return False
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                return True

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
