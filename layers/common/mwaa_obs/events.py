"""Normalisation: any MWAA Serverless EventBridge event becomes a typed RunEvent or TaskEvent.

The `detail` schema is unpublished, so the state comes from the detail-type and identity from `detail` (camelCase
or PascalCase) with `resources[]` as the fallback for the workflow ARN. docs/EVENTS.md lists the accepted shapes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from mwaa_obs.states import (
    ENDED_RANK,
    EVENT_SOURCE,
    RUN_DETAIL_TYPE_PREFIX,
    RUN_RANK,
    RUN_STATE_BY_DETAIL,
    TASK_DETAIL_TYPE_PREFIX,
    TASK_RANK,
    TASK_STATE_BY_DETAIL,
    RunState,
    TaskState,
)
from mwaa_obs.text import truncate, unicode_text
from mwaa_obs.times import parse_time

MAX_TEXT_LENGTH: Final = 4000
MAX_ID_LENGTH: Final = 512
MAX_ATTEMPT: Final = 9999
_ATTEMPT_TEXT = re.compile(r"[0-9]{1,4}")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses

# DynamoDB's key limits, in UTF-8 bytes: a partition key value at most 2,048, a sort key value at most 1,024, in the
# table and in every index ("Quotas in Amazon DynamoDB", Attributes: https://docs.aws.amazon.com/amazondynamodb/
# latest/developerguide/ServiceQuotas.html#limits-attributes). An event whose ids cannot fit is refused here, once:
# its write would fail with a ValidationException on every retry. The ids are checked against what the keys add
# around them (mwaa_obs.store.schema; tests/unit/test_events.py builds the keys at these sizes).
PARTITION_KEY_BYTES: Final = 2048
SORT_KEY_BYTES: Final = 1024
KEY_FRAME_BYTES: Final = 64  # the prefixes, separators, the index sort keys' timestamp and the attempt number
# The workflow id and the run id appear together in one index sort key (`<time>#<workflow id>#<run id>`).
MAX_RUN_IDENTITY_BYTES: Final = SORT_KEY_BYTES - KEY_FRAME_BYTES
MAX_TASK_KEY_BYTES: Final = SORT_KEY_BYTES - KEY_FRAME_BYTES

# A workflow ARN as the service model writes it (WorkflowArn: at most 2,048 characters; the id a name of at most
# 255 and a 10-character suffix), matched whole: `$` would also take a trailing newline.
MAX_ARN_LENGTH: Final = 2048
_WORKFLOW_ARN = re.compile(
    r"arn:aws[a-z-]{0,16}:airflow-serverless:(?P<region>[a-z0-9-]{1,32}):(?P<account>[0-9]{12}):"
    r"workflow/(?P<id>[A-Za-z0-9._-]{1,266})"
)
_WORKFLOW_ID_SUFFIX = re.compile(r"-[A-Za-z0-9]{10}\Z")


class InvalidEvent(ValueError):
    """The event cannot be stored; its message is the reason, written once to the log."""

    detail_type: str | None = None  # the event's detail-type, where it had one (what its sample is filed under)


class UnknownEventType(InvalidEvent):
    """The service sent a detail-type this version does not know: counted apart from bad input, and sampled."""


@dataclass(frozen=True, slots=True)
class Place:
    """An account and a region: where a workflow lives, and where its API is asked."""

    account: str
    region: str

    def __str__(self) -> str:
        return f"{self.account}{PLACE_SEPARATOR}{self.region}"


# Workflow names are `[a-zA-Z0-9][a-zA-Z0-9._-]*` (the service model's NameString): never a "/", so a qualified id
# `<account>/<region>/<workflow id>` reads back unambiguously.
PLACE_SEPARATOR: Final = "/"


@dataclass(frozen=True, slots=True)
class WorkflowRef:
    """A workflow as the stack knows it. `workflow_id` is the service's id for a workflow of the stack's own account
    and region (its home) and `<account>/<region>/<id>` for any other, so that same-named workflows of two accounts
    never share keys, metrics, alarms or messages, while a single-account stack keeps the service's ids."""

    arn: str
    workflow_id: str
    name: str
    place: Place


def workflow_ref(arn: str, home: Place | None) -> WorkflowRef | None:
    """The workflow an ARN names, identified relative to `home` (None: one account, ids unqualified); None when
    `arn` is not a workflow ARN."""
    match = _WORKFLOW_ARN.fullmatch(arn) if len(arn) <= MAX_ARN_LENGTH else None
    if match is None:
        return None
    place = Place(match["account"], match["region"])
    workflow_id = match["id"] if home is None or place == home else f"{place}{PLACE_SEPARATOR}{match['id']}"
    return WorkflowRef(arn, workflow_id, workflow_name_of(workflow_id), place)


def service_workflow_id(workflow_id: str) -> str:
    """The service's own id of a workflow (what its log group and log streams are named after)."""
    return workflow_id.rsplit(PLACE_SEPARATOR, 1)[-1]


def place_of(arn: str) -> Place | None:
    """The account and region of a workflow ARN (None: not a workflow ARN)."""
    ref = workflow_ref(arn, None)
    return ref.place if ref else None


@dataclass(frozen=True, slots=True, kw_only=True)
class StateEvent:
    """What every run or task transition carries. Times are UTC; None where the event does not say."""

    workflow: WorkflowRef
    run_id: str
    status: RunState | TaskState
    occurred_at: datetime
    event_id: str
    queued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error_message: str | None = None
    workflow_version: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    ignored_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEvent(StateEvent):
    status: RunState
    run_type: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEvent(StateEvent):
    status: TaskState
    task_key: str
    task_id: str | None
    task_instance_id: str | None
    attempt: int
    operator: str | None = None
    log_stream: str | None = None


def parse_event(event: Any, home: Place | None = None, not_after: datetime | None = None) -> RunEvent | TaskEvent:
    """Turn one EventBridge event into a typed record, or raise InvalidEvent with the reason. Workflows outside
    `home` get qualified ids (WorkflowRef); None: every workflow is taken as the stack's own. `not_after`: the
    latest time an event may carry (its receipt plus the tolerance for clocks); None: any."""
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"event is a JSON {type(event).__name__}, not an object")
    if event.get("source") != EVENT_SOURCE:
        raise InvalidEvent(f"source {_quote(event.get('source'))} is not {EVENT_SOURCE}")
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str):
        raise InvalidEvent("detail-type is missing")
    try:
        parsed = _parse_typed(event, detail_type, home)
        if not_after is not None:
            _within(parsed, not_after)
        _within_key_limits(parsed)
        return parsed
    except InvalidEvent as error:
        error.detail_type = detail_type
        raise


def _within(event: RunEvent | TaskEvent, not_after: datetime) -> None:
    """Refuse an event dated after it could have been sent: one such time would outrank every real one (a success
    dated 2099 would make each later failure 'already recovered' and silence the missed-schedule check)."""
    for name in ("occurred_at", "queued_at", "started_at", "ended_at"):
        at: datetime | None = getattr(event, name)
        if at is not None and at > not_after:
            raise InvalidEvent(f"{name} {at.isoformat()} is in the future (later than {not_after.isoformat()})")


def _within_key_limits(event: RunEvent | TaskEvent) -> None:
    identity = _utf8_length(event.workflow.workflow_id) + _utf8_length(event.run_id)
    if identity > MAX_RUN_IDENTITY_BYTES:
        raise InvalidEvent(
            f"workflow id and runId take {identity} bytes: more than the {MAX_RUN_IDENTITY_BYTES} a DynamoDB key holds"
        )
    if isinstance(event, TaskEvent) and _utf8_length(event.task_key) > MAX_TASK_KEY_BYTES:
        raise InvalidEvent(
            f"task id takes {_utf8_length(event.task_key)} bytes: more than the {MAX_TASK_KEY_BYTES} a DynamoDB key "
            "holds"
        )


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def _parse_typed(event: Mapping[str, Any], detail_type: str, home: Place | None) -> RunEvent | TaskEvent:
    detail = event.get("detail", {})
    if not isinstance(detail, Mapping):
        raise InvalidEvent("detail is not an object")
    occurred_at = parse_time(event.get("time"))
    if occurred_at is None:
        raise InvalidEvent("time is missing or not an ISO-8601 timestamp")

    reader = _DetailReader(detail)
    if detail_type.startswith(RUN_DETAIL_TYPE_PREFIX):
        run_state = RUN_STATE_BY_DETAIL.get(detail_type.removeprefix(RUN_DETAIL_TYPE_PREFIX))
        if run_state is not None:
            return _run_event(event, reader, run_state, occurred_at, home)
    elif detail_type.startswith(TASK_DETAIL_TYPE_PREFIX):
        task_state = TASK_STATE_BY_DETAIL.get(detail_type.removeprefix(TASK_DETAIL_TYPE_PREFIX))
        if task_state is not None:
            return _task_event(event, reader, task_state, occurred_at, home)
    raise UnknownEventType(f"unknown detail-type {_quote(detail_type)}")


def _run_event(
    event: Mapping[str, Any], reader: _DetailReader, status: RunState, occurred_at: datetime, home: Place | None
) -> RunEvent:
    common = _common_fields(event, reader, status, occurred_at, home, ended=RUN_RANK[status] >= ENDED_RANK)
    return RunEvent(**common, run_type=reader.text("runType"), ignored_fields=tuple(reader.ignored))


def _task_event(
    event: Mapping[str, Any], reader: _DetailReader, status: TaskState, occurred_at: datetime, home: Place | None
) -> TaskEvent:
    common = _common_fields(event, reader, status, occurred_at, home, ended=TASK_RANK[status] >= ENDED_RANK)
    task_id = reader.identity("taskId")
    task_instance_id = reader.identity("taskInstanceId")
    # One attempt, one item, however its events name it: keyed by the task id (unique within a run: the service
    # runs no mapped tasks) wherever an event names it, the instance id kept beside it; by the instance id only
    # when that is all an event says (docs/EVENTS.md, "Task attempt identity"; the reconciler folds such a copy).
    task_key = task_id or task_instance_id
    if task_key is None:
        raise InvalidEvent("detail has neither taskInstanceId nor taskId")
    return TaskEvent(
        **common,
        task_key=task_key,
        task_id=task_id,
        task_instance_id=task_instance_id,
        attempt=reader.attempt(),
        operator=reader.text("operatorName", "operator"),
        log_stream=reader.text("logStream", "logStreamName"),
        ignored_fields=tuple(reader.ignored),
    )


def _common_fields(
    event: Mapping[str, Any],
    reader: _DetailReader,
    status: RunState | TaskState,
    occurred_at: datetime,
    home: Place | None,
    *,
    ended: bool,
) -> dict[str, Any]:
    workflow = _workflow(reader, event.get("resources"), home)
    _sent_from(event, workflow.place)
    run_id = reader.identity("runId")
    if run_id is None:
        raise InvalidEvent("detail has no runId")
    # The envelope time stands in for the timestamp that this very transition establishes, and only for it.
    # (RunState and TaskState spell QUEUED and RUNNING alike, and StrEnums compare as their text.)
    queued_at = reader.time("queuedAt", "queuedOn") or (occurred_at if status == RunState.QUEUED else None)
    started_at = reader.time("startedAt", "startedOn", "startDate") or (
        occurred_at if status == RunState.RUNNING else None
    )
    # An end only on a state that ends the run or attempt: Airflow stamps one on each deferral or reschedule too,
    # and the first end stored is kept.
    ended_at = (reader.time("endedAt", "completedOn", "endDate") or occurred_at) if ended else None
    event_id = event.get("id")
    return {
        "workflow": workflow,
        "run_id": run_id,
        "status": status,
        "occurred_at": occurred_at,
        "event_id": event_id if isinstance(event_id, str) else "",
        "queued_at": queued_at,
        "started_at": started_at,
        "ended_at": ended_at,
        "error_message": reader.text("errorMessage", "error"),
        "workflow_version": reader.text("workflowVersion"),
        "detail": reader.detail,
    }


def _workflow(reader: _DetailReader, resources: Any, home: Place | None) -> WorkflowRef:
    candidates = [reader.identity("workflowArn")]
    if isinstance(resources, list):
        candidates.extend(item for item in resources if isinstance(item, str))
    for arn in candidates:
        ref = workflow_ref(arn, home) if arn else None
        if ref is not None:
            return ref
    raise InvalidEvent("no workflow ARN (arn:aws:airflow-serverless:REGION:ACCOUNT:workflow/ID) in detail or resources")


def _sent_from(event: Mapping[str, Any], place: Place) -> None:
    """Refuse an envelope whose account or region is not the workflow's: EventBridge keeps an event's `account` and
    `region` (where it began) when a forwarder's rule sends it on to another account's or region's bus (EventBridge
    API Reference, PutPermission, Principal: a receiving rule tells senders apart by `account`, https://docs.aws.
    amazon.com/eventbridge/latest/APIReference/API_PutPermission.html; User Guide, eb-events-structure.html: `region`
    "identifies the Region where the event originated"), and MWAA Serverless sends a workflow's events from the
    workflow's own account and region. A mismatch is an event some other account made up or altered (defence in
    depth behind the bus policy). EventBridge sets both in every event; one without them was put on the queue by
    hand (`dlq redrive`) and has nothing to contradict."""
    for name, expected in (("account", place.account), ("region", place.region)):
        value = event.get(name)
        if value is not None and value != expected:
            raise InvalidEvent(f"{name} {_quote(value)} is not the workflow ARN's {name} {expected}")


def workflow_name_of(workflow_id: str) -> str:
    """The workflow's name: its id without the 10-character suffix the service appends."""
    return _WORKFLOW_ID_SUFFIX.sub("", workflow_id) or workflow_id


class _DetailReader:
    """Reads `detail` fields under their camelCase or PascalCase name; notes optional fields it had to ignore."""

    def __init__(self, detail: Mapping[str, Any]) -> None:
        self.detail = detail
        self.ignored: list[str] = []

    def _raw(self, names: tuple[str, ...]) -> tuple[str, Any] | None:
        for name in names:
            for spelling in (name, name[0].upper() + name[1:]):
                value = self.detail.get(spelling)
                if value is not None:
                    return spelling, value
        return None

    def identity(self, name: str) -> str | None:
        found = self._raw((name,))
        if found is None:
            return None
        spelling, value = found
        if not isinstance(value, str) or not value.strip():
            raise InvalidEvent(f"{spelling} is not a non-empty string")
        if len(value) > MAX_ID_LENGTH or not value.isprintable():  # a lone surrogate is not printable
            raise InvalidEvent(f"{spelling} is longer than {MAX_ID_LENGTH} characters or holds control characters")
        return value

    def text(self, *names: str) -> str | None:
        found = self._raw(names)
        if found is None:
            return None
        spelling, value = found
        if not isinstance(value, str):
            self.ignored.append(spelling)
            return None
        return truncate(unicode_text(value), MAX_TEXT_LENGTH)

    def time(self, *names: str) -> datetime | None:
        found = self._raw(names)
        if found is None:
            return None
        parsed = parse_time(found[1])
        if parsed is None:
            self.ignored.append(found[0])
        return parsed

    def attempt(self) -> int:
        found = self._raw(("attemptNumber", "tryNumber"))
        if found is None:
            return 1
        spelling, value = found
        if isinstance(value, str) and _ATTEMPT_TEXT.fullmatch(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ATTEMPT:
            raise InvalidEvent(f"{spelling} is not a whole number from 0 to {MAX_ATTEMPT}")
        return value


def _quote(value: Any) -> str:
    return repr(truncate(str(value), 80))
