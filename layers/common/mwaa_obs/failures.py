"""The failed tasks of a run, named the same way wherever a failure is shown: the message's headline and body,
`mwaa-obs runs list`, the failures table of the runs widget and `mwaa-obs ui`.

A task is named by its latest attempt; the failed ones in the order they ended, so the first is the one that broke
the run (the others usually failed after it, or because of it). Its error is shown by its first line, secrets
masked (mwaa_obs.messages.masking).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

from mwaa_obs.messages.masking import mask_secrets
from mwaa_obs.states import FAILED_TASK_STATES
from mwaa_obs.store.schema import TaskAttemptItem
from mwaa_obs.text import first_line

ERROR_LINE_LIMIT: Final = 200  # characters of an error's first line where a failure is named in one line
_LAST: Final = datetime.max.replace(tzinfo=UTC)


def latest_attempts(attempts: Iterable[TaskAttemptItem]) -> list[TaskAttemptItem]:
    """Each task's latest attempt, by when it ended (one still going last). A task by its name, whatever key its
    items have; of two items of one attempt (until the reconciler folds them, docs/EVENTS.md), the further on."""
    latest: dict[str, TaskAttemptItem] = {}
    for attempt in attempts:
        known = latest.get(task_name(attempt))
        if known is None or (attempt.attempt, attempt.status_rank or 0) > (known.attempt, known.status_rank or 0):
            latest[task_name(attempt)] = attempt
    return sorted(latest.values(), key=lambda found: (found.ended_at or _LAST, found.task_key))


def one_per_attempt(attempts: Iterable[TaskAttemptItem]) -> list[TaskAttemptItem]:
    """Each attempt once, by its task's name and its number: of two items of one attempt (until the reconciler folds
    them, docs/EVENTS.md "Task attempt identity"), the further on."""
    furthest: dict[tuple[str, int], TaskAttemptItem] = {}
    for attempt in attempts:
        key = (task_name(attempt), attempt.attempt)
        known = furthest.get(key)
        if known is None or (attempt.status_rank or 0) > (known.status_rank or 0):
            furthest[key] = attempt
    return list(furthest.values())


def failed_tasks(attempts: Iterable[TaskAttemptItem]) -> list[TaskAttemptItem]:
    """The latest attempts that failed or timed out, the first to end first."""
    return [attempt for attempt in latest_attempts(attempts) if attempt.status in FAILED_TASK_STATES]


def task_name(attempt: TaskAttemptItem) -> str:
    return attempt.task_id or attempt.task_key


def error_line(error: str | None, limit: int = ERROR_LINE_LIMIT) -> str:
    """An error's first line, secrets masked, cut to `limit` characters ("" for none)."""
    return first_line(mask_secrets(error), limit) if error else ""


def failed_at(task_id: str, error: str | None, limit: int = ERROR_LINE_LIMIT) -> str:
    """`load: KeyError 'id'`: a failed task and the first line of its error."""
    line = error_line(error, limit)
    return f"{task_id}: {line}" if line else task_id
