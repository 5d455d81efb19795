"""A task attempt's log tail: the last lines of its stream in CloudWatch Logs, for a message or a view.

Read with GetLogEvents backwards from the stream's end (its last TAIL_EVENTS events, at most TAIL_PAGES pages),
and made short and safe before anyone sees it
(`excerpt`): Airflow 3's JSON log records (structlog: `event`, `level`, `error_detail`) shown as Airflow's log
view shows them as text, a traceback in Python's own form; secrets masked (mwaa_obs.messages.masking); at most
MAX_LINES lines and MAX_BYTES bytes, the traceback's last frame and its exception kept whole when they fit.

A log that cannot be read never holds anything up: the reads are bounded in time (`TaskLogReader.tails`) and a
log not written yet (CloudWatch Logs delivers with a lag), unreadable (permissions, a customer managed key) or not
read in time gives a `LogTail` with no lines and the reason: the message or view then shows the link alone.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mwaa_obs import SERVICE
from mwaa_obs.aws import aws_config, aws_session
from mwaa_obs.events import Place
from mwaa_obs.messages.masking import mask_secrets
from mwaa_obs.text import TRUNCATION_MARK, truncate

if TYPE_CHECKING:
    from mwaa_obs.mwaa_api import ReaderClients

logger = Logger(service=SERVICE, child=True)

TAIL_EVENTS: Final = 50  # events read from the end of a stream: room for a traceback and what Airflow logs after it
MAX_LINES: Final = 20
MAX_BYTES: Final = 2048  # UTF-8, newlines included
LINE_LIMIT: Final = 300  # characters of one ordinary line (a traceback's exception may take the whole budget)
TRACEBACK_START: Final = "Traceback (most recent call last):"
NOT_WRITTEN: Final = "not written yet"
# GetLogEvents may answer a partial or even empty page before the stream's end ("Partially full or empty pages don't
# necessarily mean that pagination is finished": https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html):
# a few more pages backwards, bounded, so a traceback is not lost to a short first page
TAIL_PAGES: Final = 3

_ANSI: Final = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_FRAME: Final = re.compile(r'^\s*File "')


@dataclass(frozen=True, slots=True)
class LogTail:
    """The last lines of an attempt's log, bounded and masked; or none, and why (`note`)."""

    lines: tuple[str, ...] = ()
    note: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True, slots=True)
class LogRef:
    """Where an attempt's log is: its group and stream, in its workflow's account and region (None: home)."""

    group: str
    stream: str
    place: Place | None = None


# --- Making the lines readable, safe and short ----------------------------------------------------------------------


def readable(message: str) -> list[str]:
    """One log event as lines of text: an Airflow 3 JSON record as `LEVEL - event` and its traceback, any other
    event as it is; terminal colour codes dropped."""
    text = _ANSI.sub("", message).rstrip("\n")
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if isinstance(record, dict) and "event" in record:
            return _structured(record)
    return text.splitlines() or [""]


def _structured(record: dict[str, Any]) -> list[str]:
    level = str(record.get("level") or "").upper()
    event = str(record.get("event"))
    lines = (f"{level} - {event}" if level else event).splitlines() or [""]
    detail = record.get("error_detail")
    if isinstance(detail, list):
        lines += _traceback([error for error in detail if isinstance(error, dict)])
    elif isinstance(detail, str):
        lines += detail.splitlines()
    return lines


def _traceback(errors: list[dict[str, Any]]) -> list[str]:
    """structlog's dict tracebacks (the exception raised first, then what caused it) as Python prints them: the
    cause first, the exception raised last, each frame `File "...", line N, in name`."""
    lines: list[str] = []
    for error in reversed(errors):
        if lines:
            lines += ["", "The above exception was the direct cause of the following exception:", ""]
        lines.append(TRACEBACK_START)
        for frame in error.get("frames") or []:
            if isinstance(frame, dict):
                lines.append(f'  File "{frame.get("filename")}", line {frame.get("lineno")}, in {frame.get("name")}')
        kind, value = str(error.get("exc_type") or "Exception"), error.get("exc_value")
        lines += (f"{kind}: {value}" if value not in (None, "") else kind).splitlines()
    return lines


def excerpt(messages: Sequence[str], max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES) -> tuple[str, ...]:
    """The end of a log (its events oldest first) in at most `max_lines` lines and `max_bytes` bytes, secrets
    masked. The last traceback's last frame and exception are kept whole when they fit, even when more lines
    followed them; lines left out are marked `[… N lines …]`."""
    lines: list[str] = []
    event_of: list[int] = []
    for number, message in enumerate(messages):
        rendered = mask_secrets("\n".join(readable(message))).split("\n")
        lines += rendered
        event_of += [number] * len(rendered)
    kept = _essential(lines, event_of)
    shown: dict[int, str] = {}
    used = 0
    if kept is not None:
        for index in range(kept[0], kept[1] + 1):
            line = _cut_to_bytes(lines[index], max_bytes - used - 1)
            if len(shown) >= max_lines or used + _size(line) > max_bytes or (lines[index] and not line):
                break
            shown[index] = line
            used += _size(line)
    for index in range(len(lines) - 1, -1, -1):
        if index in shown:
            continue
        line = truncate(lines[index], LINE_LIMIT)
        if len(shown) >= max_lines or used + _size(line) > max_bytes:
            break
        shown[index] = line
        used += _size(line)
    return _with_gaps(shown, len(lines))


def _essential(lines: list[str], event_of: list[int]) -> tuple[int, int] | None:
    """First and last index of the last traceback's last frame and its exception, if a traceback is there."""
    start = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith(TRACEBACK_START)), None)
    if start is None:
        return None
    frame = next((i for i in range(len(lines) - 1, start, -1) if _FRAME.match(lines[i])), None)
    if frame is None:
        return None
    exception = frame + 1
    while exception < len(lines) and lines[exception].startswith("    "):
        exception += 1  # the frame's source line
    if exception >= len(lines):
        return frame, len(lines) - 1
    if event_of[exception] == event_of[frame]:  # a traceback in one event: the exception runs to its end
        return frame, max(i for i in range(exception, len(lines)) if event_of[i] == event_of[frame])
    return frame, exception  # one line per event: the exception's first line


def _with_gaps(shown: dict[int, str], total: int) -> tuple[str, ...]:
    out: list[str] = []
    previous = -1
    for index in sorted(shown):
        if index > previous + 1:
            out.append(_gap(index - previous - 1))
        out.append(shown[index])
        previous = index
    return tuple(out)


def _gap(count: int) -> str:
    return f"[… {count} line{'s' if count != 1 else ''} …]"


def _size(line: str) -> int:
    return len(line.encode()) + 1


def _cut_to_bytes(line: str, room: int) -> str:
    """The line if it fits `room` bytes, else its start and the truncation mark in `room` bytes ("" if none fits)."""
    if len(line.encode()) <= room:
        return line
    keep = room - len(TRUNCATION_MARK.encode())
    return line.encode()[: max(0, keep)].decode(errors="ignore") + TRUNCATION_MARK if keep > 0 else ""


# --- Reading the tail, bounded in time ------------------------------------------------------------------------------


def logs_config() -> Config:
    """Short waits and one retry: a log read is bounded by its caller's deadline anyway (TaskLogReader.tails)."""
    return aws_config().merge(
        Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2})
    )


def logs_clients(
    home: Place | None, readers: ReaderClients | None, endpoint_url: str | None = None
) -> Callable[[Place | None], Any]:
    """The CloudWatch Logs client for a place: the function's own at home (made at the first read), elsewhere one
    signed with the reader role there (central mode: the forwarder stacks' reader roles may read task logs)."""
    own: list[Any] = []

    def client_for(place: Place | None) -> Any:
        if place is None or place == home or readers is None:
            if not own:
                own.append(aws_session().create_client("logs", endpoint_url=endpoint_url, config=logs_config()))
            return own[0]
        return readers.client_of("logs", place, logs_config())

    return client_for


class TaskLogReader:
    """Reads attempts' log tails, several at once, never longer than the caller can wait.

    `client_for(place)`: a CloudWatch Logs client for a place (None: home), its own timeouts short; a tail is at
    most `max_lines` lines and `max_bytes` bytes of the last `events` events (a message's bounds by default). Counts
    its calls and the bytes they returned (`calls`, `bytes`: the cost of a message's logs, docs/COST.md)."""

    def __init__(
        self,
        client_for: Callable[[Place | None], Any],
        *,
        events: int = TAIL_EVENTS,
        workers: int = 3,
        max_lines: int = MAX_LINES,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self._client_for = client_for
        self._events = events
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="task-logs")
        self._lock = threading.Lock()
        self.calls = 0
        self.bytes = 0

    def tails(self, refs: Sequence[LogRef], within: float) -> list[LogTail]:
        """Each log's tail, or why there is none; returns within `within` seconds whatever CloudWatch does (a read
        still going then is left to finish on its own, its answer unused)."""
        if within <= 0:
            return [LogTail(note="no time left to read it") for _ in refs]
        futures = [self._pool.submit(self.tail, ref) for ref in refs]
        done, _ = wait(futures, timeout=within)
        return [future.result() if future in done else LogTail(note="not read in time") for future in futures]

    def tail(self, ref: LogRef) -> LogTail:
        """One log's tail (GetLogEvents backwards, at most TAIL_PAGES pages), or why there is none; never raises."""
        events: list[str] = []
        token: str | None = None
        for _ in range(TAIL_PAGES):
            request: dict[str, Any] = {
                "logGroupName": ref.group,
                "logStreamName": ref.stream,
                "startFromHead": False,
                "limit": self._events - len(events),
            }
            if token is not None:
                request["nextToken"] = token
            try:
                answer = self._client_for(ref.place).get_log_events(**request)
            except ClientError as error:
                self._count(1, 0)
                code = str(error.response.get("Error", {}).get("Code", "error"))
                if events:
                    break  # a later page refused: what was read is still the log's end
                return LogTail(note=NOT_WRITTEN if code == "ResourceNotFoundException" else f"not readable ({code})")
            except BotoCoreError as error:
                self._count(1, 0)
                if events:
                    break
                return LogTail(note=f"not readable ({type(error).__name__})")
            except Exception as error:
                logger.warning("task log read failed", extra={"reason": type(error).__name__, "group": ref.group})
                if events:
                    break
                return LogTail(note=f"not readable ({type(error).__name__})")
            headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            page = [str(event.get("message", "")) for event in answer.get("events", [])]
            self._count(1, int(headers.get("content-length") or sum(len(message) for message in page)))
            events = page + events  # each page backwards is older than the one before
            following = answer.get("nextBackwardToken")
            if len(events) >= self._events or not following or following == token:
                break  # enough, or the stream's start: CloudWatch answers the same token again
            token = following
        if not events:
            return LogTail(note=NOT_WRITTEN)
        return LogTail(excerpt(events, self._max_lines, self._max_bytes))

    def _count(self, calls: int, size: int) -> None:
        with self._lock:
            self.calls += calls
            self.bytes += size
