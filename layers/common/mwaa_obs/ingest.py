"""Ingest logic: one EventBridge event in, its transition stored, the metrics and the notice it owes out.

Metrics are owed exactly once per first-recorded transition: a duplicate owes nothing, an outcome metric is owed
only by the transition that set the outcome, an occurrence (Started, Up For Retry) by its first recording
whenever it arrives, and a duration by whichever transition completes its pair of times (with RunTooSlow when a
run's is longer than its workflow's threshold); a retry is counted in its workflow's clock hour, and the one that
passes the workflow's threshold owes RetryStorm (mwaa_obs.store.retries). Which series carry them is the
workflow's SeriesPolicy: a healthy run's metrics feed the fleet rollup only, unless its settings ask for full
metrics.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final, Protocol

from aws_lambda_powertools import Logger

from mwaa_obs import SERVICE
from mwaa_obs.api_calls import CLOUDTRAIL_DETAIL_TYPE, ApiCall, is_api_call, parse_api_call
from mwaa_obs.events import InvalidEvent, Place, RunEvent, TaskEvent, UnknownEventType, parse_event
from mwaa_obs.metrics import (
    INVALID_EVENTS,
    RETRY_STORM,
    RUN_DURATION,
    RUN_OCCURRENCE_METRICS,
    RUN_OUTCOME_METRICS,
    RUN_QUEUE_DELAY,
    RUN_TOO_SLOW,
    TASK_DURATION,
    TASK_IDS_DISAGREE,
    TASK_OCCURRENCE_METRICS,
    TASK_OUTCOME_METRICS,
    UNKNOWN_EVENT_TYPES,
    MetricPoint,
    MetricSpec,
    Policies,
    SeriesPolicy,
    scoped,
)
from mwaa_obs.notices import Notice, notice_owed
from mwaa_obs.states import TERMINAL_RUN_STATES, RunState, TaskState
from mwaa_obs.store.samples import SampleKind
from mwaa_obs.store.transitions import Recorded, Timeline, WriteOutcome
from mwaa_obs.telemetry import MetricSink

logger = Logger(service=SERVICE, child=True)
# Run outcomes that may count as a failure (STOPPED does for a workflow whose settings alert on it): kept on the
# workflow item, so that the notifier can tell a success that closes nothing without reading the history.
UNSUCCESSFUL: Final = TERMINAL_RUN_STATES - {RunState.SUCCESS}


class TransitionStore(Protocol):
    home: Place | None  # the place whose workflows keep the service's ids (mwaa_obs.events.WorkflowRef)

    def record_run(self, event: RunEvent, writer: str | None = None) -> Recorded: ...

    def record_task(self, event: TaskEvent, writer: str | None = None) -> Recorded: ...

    def note_workflow(self, event: RunEvent) -> None: ...

    def count_retry(self, event: TaskEvent, threshold: int) -> bool: ...

    def record_api_call(self, call: ApiCall) -> bool: ...
    def note_unsuccessful(self, event: RunEvent, ended_at: datetime) -> None: ...


class NoticeSink(Protocol):
    def send(self, notice: Notice, delay_seconds: int | None = None) -> None: ...


class SampleSink(Protocol):
    def keep(self, kind: SampleKind, detail_type: str | None, reason: str, body: str) -> bool: ...


def ingest(
    body: str,
    store: TransitionStore,
    sink: MetricSink,
    notices: NoticeSink,
    samples: SampleSink | None = None,
    *,
    policies: Policies,
    not_after: datetime | None = None,
    writer: str | None = None,
) -> None:
    """Store the transition in one SQS message body, send its notice, add the metrics it owes to the sink.

    Bad input is logged once, counted and acknowledged. AWS errors propagate, so that this message alone is
    retried and, after maxReceiveCount, lands in the DLQ. The metrics are added last, once nothing can fail: a retry
    of the same message (`writer`, its id) finds its own write (mwaa_obs.store.transitions) and owes them then, even
    when the write's answer was lost, while a duplicate of the event (another message) owes nothing. A retry after a
    failed notice finds the transition stored, which owes the notice again.
    `not_after`: the latest time an event may carry (its receipt plus the tolerance); a later one is invalid.
    """
    try:
        raw = _json(body)
    except InvalidEvent as error:
        _reject(error, body, sink, samples)
        return
    ingest_event(
        raw, store, sink, notices, policies=policies, body=body, samples=samples, not_after=not_after, writer=writer
    )


def ingest_event(
    raw: Any,
    store: TransitionStore,
    sink: MetricSink,
    notices: NoticeSink,
    *,
    policies: Policies,
    body: str = "",
    samples: SampleSink | None = None,
    not_after: datetime | None = None,
    writer: str | None = None,
) -> WriteOutcome | None:
    """ingest() for an event already decoded: EventBridge's, or one rebuilt from the API (mwaa_obs.api_events).
    Returns what the write did (None: the event was rejected)."""
    if is_api_call(raw):  # CloudTrail's record of a management call: who did what (mwaa_obs.api_calls)
        try:
            call = parse_api_call(raw, store.home)
        except InvalidEvent as error:
            error.detail_type = CLOUDTRAIL_DETAIL_TYPE
            _reject(error, body, sink, samples)
            return None
        if call is not None:
            new = store.record_api_call(call)
            logger.info("api call " + ("recorded" if new else "duplicate"), extra=_call_fields(call))
        return None
    try:
        event = parse_event(raw, store.home, not_after)
    except InvalidEvent as error:
        _reject(error, body, sink, samples)
        return None

    recorded = store.record_run(event, writer) if isinstance(event, RunEvent) else store.record_task(event, writer)
    fields = _log_fields(event) | ({"replayed": True} if recorded.replayed else {})
    logger.info("transition " + recorded.outcome.value, extra=fields)
    if isinstance(event, TaskEvent):
        _check_instance(event, recorded, fields, sink)
    policy = policies(event.workflow.name)
    owed = metrics_owed(event, recorded, policy) + storm_owed(event, recorded, policy, store)
    if isinstance(event, RunEvent) and not recorded.workflow_noted:
        store.note_workflow(event)
    if isinstance(event, RunEvent) and recorded.outcome is WriteOutcome.ADVANCED and event.status in UNSUCCESSFUL:
        store.note_unsuccessful(event, event.ended_at or event.occurred_at)
    notice = notice_owed(event, recorded)
    if notice is not None:
        notices.send(notice)
    sink.extend(owed)
    return recorded.outcome


def _check_instance(event: TaskEvent, recorded: Recorded, fields: dict[str, Any], sink: MetricSink) -> None:
    """Two events of one attempt (one task id, one attempt number) that name different task instance ids: stored
    as one attempt (the key is the task id) keeping the first id, and told once per such event, as odd input is."""
    stored = recorded.instance_before
    if event.task_id is not None and stored is not None and event.task_instance_id not in (None, stored):
        logger.warning("task instance ids disagree: one attempt kept", extra=fields | {"stored_instance_id": stored})
        sink.count(TASK_IDS_DISAGREE)


def _reject(error: InvalidEvent, body: str, sink: MetricSink, samples: SampleSink | None) -> None:
    """One log line with the reason, one count, and a sample of the event while today's slot has room."""
    unknown = isinstance(error, UnknownEventType)
    kind = SampleKind.UNKNOWN if unknown else SampleKind.INVALID
    kept = samples.keep(kind, error.detail_type, str(error), body) if samples is not None else False
    logger.warning(
        "unknown event type" if unknown else "invalid event rejected",
        extra={"reason": str(error), "detail_type": error.detail_type, "body_prefix": body[:200], "sampled": kept},
    )
    sink.count(UNKNOWN_EVENT_TYPES if unknown else INVALID_EVENTS)


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise InvalidEvent(f"body is not JSON: {str(error)[:120]}") from None


def metrics_owed(event: RunEvent | TaskEvent, recorded: Recorded, policy: SeriesPolicy) -> list[MetricPoint]:
    """The one place that decides the metrics a recorded transition owes, as its workflow's series carry them."""
    if recorded.outcome is WriteOutcome.DUPLICATE:
        return []
    is_run = isinstance(event, RunEvent)
    occurrences, outcomes = (
        (RUN_OCCURRENCE_METRICS, RUN_OUTCOME_METRICS) if is_run else (TASK_OCCURRENCE_METRICS, TASK_OUTCOME_METRICS)
    )
    owed = [occurrences[event.status]] if event.status in occurrences else []
    if recorded.outcome is WriteOutcome.ADVANCED and event.status in outcomes:
        owed.append(outcomes[event.status])
    workflow = event.workflow.name
    at = event.occurred_at  # metrics carry the time of their transition, not the time it was processed
    points = scoped([MetricPoint(spec, 1, workflow, at) for spec in owed], policy)
    after = recorded.before.merged_with(event)
    return points + durations_completed(
        is_run=is_run, before=recorded.before, after=after, workflow=workflow, at=at, policy=policy
    )


def storm_owed(
    event: RunEvent | TaskEvent, recorded: Recorded, policy: SeriesPolicy, store: TransitionStore
) -> list[MetricPoint]:
    """RetryStorm when this retry, recorded now (or found again by its own writer), is the one that takes its
    workflow's retries in the clock hour past the workflow's threshold: decided here, so that the shared alarm reads a
    series only a workflow in a storm writes, not every retrying workflow's TaskUpForRetry."""
    if (
        not isinstance(event, TaskEvent)
        or event.status != TaskState.UP_FOR_RETRY
        or recorded.outcome is WriteOutcome.DUPLICATE
        or policy.retry_threshold is None
    ):
        return []
    if not store.count_retry(event, policy.retry_threshold):
        return []
    return [MetricPoint(RETRY_STORM, 1, event.workflow.name, event.occurred_at)]


def durations_completed(
    *, is_run: bool, before: Timeline, after: Timeline, workflow: str, at: datetime | None, policy: SeriesPolicy
) -> list[MetricPoint]:
    """The durations a write made known (each pair of times complete after it and not before), and RunTooSlow when
    the run's is longer than its workflow's threshold; as its workflow's series carry them."""
    pairs: tuple[tuple[MetricSpec, str, str], ...] = (
        ((RUN_QUEUE_DELAY, "queued_at", "started_at"), (RUN_DURATION, "started_at", "ended_at"))
        if is_run
        else ((TASK_DURATION, "started_at", "ended_at"),)
    )
    points = []
    for spec, first, last in pairs:
        seconds = _completed_interval(before, after, first, last)
        if seconds is None:
            continue
        points.append(MetricPoint(spec, seconds, workflow, at))
        if spec is RUN_DURATION and policy.too_slow_seconds is not None and seconds > policy.too_slow_seconds:
            points.append(MetricPoint(RUN_TOO_SLOW, 1, workflow, at))
    return scoped(points, policy)


def _completed_interval(before: Timeline, after: Timeline, first: str, last: str) -> float | None:
    """Seconds between two times if this write is the one that made both known, else None."""
    start: datetime | None = getattr(after, first)
    end: datetime | None = getattr(after, last)
    if start is None or end is None:
        return None
    if getattr(before, first) is not None and getattr(before, last) is not None:
        return None
    return max(0.0, (end - start).total_seconds())


def _log_fields(event: RunEvent | TaskEvent) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "workflow": event.workflow.name,
        "workflow_id": event.workflow.workflow_id,
        "account": event.workflow.place.account,  # a source account's volume, by Logs Insights (docs/CENTRAL.md)
        "run_id": event.run_id,
        "status": event.status,
        "event_id": event.event_id,
    }
    if isinstance(event, TaskEvent):
        fields.update(task_id=event.task_id, task_instance_id=event.task_instance_id, attempt=event.attempt)
        if event.operator:
            fields["operator"] = event.operator
    if event.error_message:
        fields["error_message"] = event.error_message
    if event.ignored_fields:
        fields["ignored_fields"] = list(event.ignored_fields)
    return fields


def _call_fields(call: ApiCall) -> dict[str, Any]:
    return {"call": call.name, "workflow_id": call.workflow.workflow_id, "run_id": call.run_id, "by": call.by}
