"""Notices: what ingest hands to the notifier, through the delayed notices queue.

A notice names a run (or one task attempt) whose transition may owe a message: a run that reached a final state
(failure, or success that may resolve an incident) or a task attempt that went up for retry. The notifier sends
itself one more kind, delayed: a flush, when failures were held for the end of a grouping window. It carries identity
only; the notifier reads the stored run, so that a notice sent twice, or late, still yields one message.

The queue delays every notice (AlertDelaySeconds), which lets the task events of a failed run arrive before the
notifier reads the run: the unordered delivery of EventBridge often brings them after the run's own Failed event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from mwaa_obs.events import RunEvent, TaskEvent
from mwaa_obs.states import RUN_RANK, TERMINAL_RANK, TaskState
from mwaa_obs.store.transitions import Recorded, WriteOutcome

NoticeKind = Literal["run", "retry", "flush"]
NOTICE_KINDS: Final = get_args(NoticeKind)


class InvalidNotice(ValueError):
    """A notices-queue message that is not a notice (only a person sending by hand can cause it)."""


@dataclass(frozen=True, slots=True)
class Notice:
    kind: NoticeKind
    workflow_id: str
    run_id: str
    task_key: str | None = None
    attempt: int | None = None

    def to_body(self) -> str:
        body: dict[str, Any] = {"kind": self.kind, "workflow_id": self.workflow_id, "run_id": self.run_id}
        if self.task_key is not None:
            body.update(task_key=self.task_key, attempt=self.attempt)
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_body(cls, body: str) -> Notice:
        try:
            raw = json.loads(body)
        except ValueError:
            raise InvalidNotice("body is not JSON") from None
        if not isinstance(raw, dict) or raw.get("kind") not in NOTICE_KINDS:
            raise InvalidNotice("body is not a notice object with a known kind")
        workflow_id, run_id = raw.get("workflow_id"), raw.get("run_id")
        if not isinstance(workflow_id, str) or not isinstance(run_id, str) or not workflow_id or not run_id:
            raise InvalidNotice("notice lacks workflow_id or run_id")
        if raw["kind"] in ("run", "flush"):
            return cls(raw["kind"], workflow_id, run_id)
        task_key, attempt = raw.get("task_key"), raw.get("attempt")
        if not isinstance(task_key, str) or not task_key or isinstance(attempt, bool) or not isinstance(attempt, int):
            raise InvalidNotice("retry notice lacks task_key or attempt")
        return cls("retry", workflow_id, run_id, task_key, attempt)


def notice_owed(event: RunEvent | TaskEvent, recorded: Recorded) -> Notice | None:
    """The notice a stored transition owes, if any.

    Owed by the transition that set a run's final status, and by a task attempt's first Up For Retry. A duplicate
    of such a transition owes it again until the notifier has recorded its decision on the item: the first
    delivery may have failed between the write and the send, and the notifier makes a repeated notice harmless.
    """
    if recorded.outcome is WriteOutcome.DUPLICATE and recorded.alert_decided:
        return None
    if isinstance(event, RunEvent):
        if RUN_RANK[event.status] < TERMINAL_RANK:
            return None
        sets_outcome = recorded.outcome is WriteOutcome.ADVANCED or (
            recorded.outcome is WriteOutcome.DUPLICATE and recorded.status_before == event.status
        )
        return Notice("run", event.workflow.workflow_id, event.run_id) if sets_outcome else None
    if event.status == TaskState.UP_FOR_RETRY:
        return Notice("retry", event.workflow.workflow_id, event.run_id, event.task_key, event.attempt)
    return None


# SendMessage DelaySeconds is 0 to 900 and replaces the queue's delay for that message:
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
MAX_DELAY: Final = 900


class NoticeQueue:
    """Sends notices to the notices queue through one botocore SQS client."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, notice: Notice, delay_seconds: int | None = None) -> None:
        """With `delay_seconds` (at most SQS's 900), instead of the queue's own delay (AlertDelaySeconds)."""
        request: dict[str, Any] = {"QueueUrl": self._queue_url, "MessageBody": notice.to_body()}
        if delay_seconds is not None:
            request["DelaySeconds"] = min(max(0, delay_seconds), MAX_DELAY)
        self._client.send_message(**request)
