"""What the reconciler repairs in a finished run's task attempts, decided from the stored items and the API's answers
(no AWS call here), and the API states this version does not know.

- Every task instance whose API status differs from the stored one, or whose stored attempt is unfinished, is read
  (GetTaskInstance) and its latest attempt's state stored, terminal or not (CANCELLED, REMOVED, DEFERRED, ...).
- An earlier attempt the table holds as unfinished, while the API describes a later one, ended (UP_FOR_RETRY, as
  Airflow records a try another follows); an earlier attempt the table never held is not made up. No repair of a
  finished run sends a retry message (WithoutRetries): the run is over.
- An attempt still unfinished once its run has ended is given the settle time to end in the API too; then it is
  closed at the run's end as CANCELLED (reconcile.py), so that no attempt stays open after its run.
- One attempt is one item: a second item of it (keyed by an instance id an event gave alone, or by the instance id
  attempts were keyed by before; docs/EVENTS.md, "Task attempt identity") is folded into the attempt's own.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.api_events import followed_attempt_event, task_history
from mwaa_obs.ingest import NoticeSink, SampleSink
from mwaa_obs.metrics import UNKNOWN_STATES
from mwaa_obs.mwaa_api import TaskAnswer, TaskSummary
from mwaa_obs.notices import Notice
from mwaa_obs.states import ENDED_RANK, TASK_RANK, RunState, TaskState
from mwaa_obs.store.samples import SampleKind
from mwaa_obs.store.schema import RunItem, TaskAttemptItem, task_sort_key
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)

RUN_STATES: Final = frozenset(RunState)
TASK_STATES: Final = frozenset(TaskState)


@dataclass(frozen=True, slots=True)
class TaskReads:
    instances: list[str]  # to read with GetTaskInstance
    unknown: list[TaskSummary]  # listed with a status this version does not know


def is_open(status: str | None) -> bool:
    """Whether an attempt in this state has yet to end (an unknown or missing state has not ended, as far as the
    table can tell)."""
    return TASK_RANK.get(status or "", 0) < ENDED_RANK


def task_names(attempts: Iterable[TaskAttemptItem], links: Mapping[str, str] | None = None) -> dict[str, str]:
    """Task instance id -> task id, as the run's items tell (an item some event named both ways links them) and
    `links` (GetTaskInstance's answers: the API's word wins)."""
    named = {item.task_instance_id: item.task_id for item in attempts if item.task_instance_id and item.task_id}
    return named | dict(links or {})


def attempt_identity(item: TaskAttemptItem, names: dict[str, str]) -> tuple[str, int]:
    """What makes items one attempt: its task (the task id; else the one `names` gives for its instance id; else
    its key, an instance id nothing links to a task yet) and its attempt number."""
    return item.task_id or names.get(item.task_instance_id or "") or item.task_key, item.attempt


def tasks_to_read(attempts: Iterable[TaskAttemptItem], summaries: Iterable[TaskSummary]) -> TaskReads:
    """The task instances whose API status differs from the stored one, or whose stored attempt is unfinished
    (ListTaskInstances summaries), and, while an item keyed by its task id holds no instance id the API lists,
    each whose items name no task (the API's answer links them); NONE (not scheduled) is never read: there is
    nothing to store."""
    attempts, summaries = list(attempts), list(summaries)
    names = task_names(attempts)
    stored: dict[str, tuple[int, str | None]] = {}
    unfinished: set[str] = set()
    unnamed: set[str] = set()
    for attempt in attempts:
        key = attempt.task_instance_id or attempt.task_key
        if key not in stored or attempt.attempt > stored[key][0]:
            stored[key] = (attempt.attempt, attempt.status)
        if is_open(attempt.status):
            unfinished.add(key)
        if attempt.task_id is None and key not in names:
            unnamed.add(key)
    listed = {summary.task_instance_id for summary in summaries}
    if all(attempt.task_id is None or attempt.task_instance_id in listed for attempt in attempts):
        unnamed.clear()  # every item keyed by a task id holds a listed instance id: none waits for a link
    reads, unknown = [], []
    for summary in summaries:
        instance, status = summary.task_instance_id, summary.status
        if not instance:
            continue
        if status not in TASK_STATES:
            unknown.append(summary)
        elif status != TaskState.NONE and (
            instance not in stored or stored[instance][1] != status or instance in unfinished | unnamed
        ):
            reads.append(instance)
    return TaskReads(reads, unknown)


@dataclass(frozen=True, slots=True)
class Repair:
    """One rebuilt task event and the attempt state it stores."""

    attempt: int | None
    state: str
    event: dict[str, Any]


def repairs_for(arn: str, found: TaskAnswer, attempts: Iterable[TaskAttemptItem], now: datetime) -> list[Repair]:
    """A task instance's repairs: each earlier attempt stored as unfinished closed as followed by a later one, then
    the latest attempt's state as the API gives it."""
    repairs = []
    if found.attempt is not None:
        attempts = list(attempts)
        names = task_names(attempts)
        task = found.task_id or names.get(found.task_instance_id) or found.task_instance_id
        for attempt in attempts:
            own = attempt.task_instance_id == found.task_instance_id or attempt_identity(attempt, names)[0] == task
            if own and attempt.attempt < found.attempt and is_open(attempt.status):
                event = followed_attempt_event(arn, found, attempt.attempt, now)
                repairs.append(Repair(attempt.attempt, event["detail"]["status"], event))
    repairs += [Repair(found.attempt, str(found.status), event) for event in task_history(arn, found, now)]
    return repairs


def left_open(attempts: Iterable[TaskAttemptItem], links: Mapping[str, str] | None = None) -> bool:
    """Whether any attempt is still unfinished (every item of it: one attempt may be stored twice until folded)."""
    attempts = list(attempts)
    names = task_names(attempts, links)
    states: dict[tuple[str, int], list[str | None]] = {}
    for attempt in attempts:
        states.setdefault(attempt_identity(attempt, names), []).append(attempt.status)
    return any(all(is_open(state) for state in seen) for seen in states.values())


@dataclass(frozen=True, slots=True)
class Fold:
    """A second item of one attempt, and the item it is folded into."""

    copy: TaskAttemptItem
    into: TaskAttemptItem


def folds(attempts: Iterable[TaskAttemptItem], links: Mapping[str, str] | None = None) -> list[Fold]:
    """Each attempt stored as more than one item: its items folded into the one keyed by its task id, else (none
    is) into the furthest on. `links`: instance id -> task id, as the API answered (task_names)."""
    attempts = list(attempts)
    names = task_names(attempts, links)
    groups: dict[tuple[str, int], list[TaskAttemptItem]] = {}
    for attempt in attempts:
        groups.setdefault(attempt_identity(attempt, names), []).append(attempt)
    found = []
    for (task, number), items in groups.items():
        if len(items) > 1:
            own = [item for item in items if item.sk == task_sort_key(task, number)]
            into = own[0] if own else max(items, key=lambda item: (item.status_rank or 0, item.sk))
            found += [Fold(item, into) for item in items if item is not into]
    return found


class WithoutRetries:
    """The notices of a finished run's repairs, but a retry's: "Retrying: <task>" about a run that has ended would be
    stale (the run's own notice tells its outcome, and names its failed tasks)."""

    def __init__(self, notices: NoticeSink) -> None:
        self._notices = notices

    def send(self, notice: Notice, delay_seconds: int | None = None) -> None:
        if notice.kind != "retry":
            self._notices.send(notice, delay_seconds)


def last_seen(run: RunItem, attempts: Iterable[TaskAttemptItem]) -> datetime | None:
    """The last time anything of the run was seen: a transition, a start or an end of it or of an attempt."""
    times = [
        at
        for item in (run, *attempts)
        for at in (*item.seen().values(), item.started_at, item.ended_at)
        if at is not None
    ]
    return max(times, default=None)


def run_end(run: RunItem, api_end: datetime | None) -> datetime | None:
    """When the run ended, as far as anyone said: the API, the stored end, or when its final state was first seen."""
    seen = run.seen()
    return api_end or run.ended_at or (seen.get(run.status) if run.status else None)


class UnknownStates:
    """API states this version does not know (a value botocore's model added later, or one the service answers
    outside its model): each logged once per function instance, counted every time (UnknownStates) and sampled
    like an unknown detail-type (kind `unknown-state`, filed under "<operation> <state>"). Never a crash, never
    dropped unseen: the item they describe is left as stored (an attempt of an ended run is closed in time)."""

    def __init__(self, samples: SampleSink | None = None) -> None:
        self._samples = samples
        self._logged: set[tuple[str, str]] = set()

    def run_known(self, state: str | None, sink: MetricSink, operation: str, answer: object) -> bool:
        return state in RUN_STATES or self._note(str(state), sink, operation, answer)

    def task_known(self, state: str | None, sink: MetricSink, operation: str, answer: object) -> bool:
        return state in TASK_STATES or self._note(str(state), sink, operation, answer)

    def _note(self, state: str, sink: MetricSink, operation: str, answer: object) -> bool:
        sink.count(UNKNOWN_STATES)
        body = json.dumps(
            dataclasses.asdict(answer) if dataclasses.is_dataclass(answer) and not isinstance(answer, type) else answer,
            default=str,
        )
        reason = f"{operation} answered the state {state!r}, which this version does not know"
        kept = False
        if self._samples is not None:
            kept = self._samples.keep(SampleKind.UNKNOWN_STATE, f"{operation} {state}", reason, body)
        if (operation, state) not in self._logged:
            self._logged.add((operation, state))
            logger.warning(
                "unknown state from the API: counted and sampled, not stored",
                extra={"operation": operation, "state": state, "answer": body[:300], "sampled": kept},
            )
        return False
