"""Pure parts of the API repairs: events rebuilt from API answers, what an item lacks, which tasks differ."""

from __future__ import annotations

from datetime import UTC, datetime

from mwaa_obs.api_events import run_event, task_history
from mwaa_obs.enrich import missing
from mwaa_obs.events import RunEvent, TaskEvent, parse_event
from mwaa_obs.mwaa_api import RunAnswer, TaskAnswer, TaskSummary
from mwaa_obs.reconcile import tasks_to_read
from mwaa_obs.store.schema import RunItem, TaskAttemptItem

ARN = "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/sales-Ab3dE6gH9j"
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
STARTED = datetime(2026, 11, 25, 10, tzinfo=UTC)
ENDED = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
RUN_ANSWER = RunAnswer.from_api(
    {
        "RunId": "r1",
        "RunType": "SCHEDULED",
        "RunDetail": {"RunState": "FAILED", "StartedOn": STARTED, "CompletedOn": ENDED, "ErrorMessage": "boom"},
    }
)
TASK_FIELDS = {
    "RunId": "r1",
    "TaskId": "load",
    "TaskInstanceId": "ti-1",
    "AttemptNumber": 3,
    "Status": "FAILED",
    "StartedAt": STARTED,
    "EndedAt": ENDED,
    "ErrorMessage": "denied",
    "LogStream": "stream",
    "OperatorName": "S3CopyObjectOperator",
}
TASK_ANSWER = TaskAnswer.from_api(TASK_FIELDS)


def test_a_run_answer_becomes_the_event_the_service_would_have_sent() -> None:
    event = parse_event(run_event(ARN, RUN_ANSWER, NOW))
    assert isinstance(event, RunEvent)
    assert (event.status, event.run_id, event.run_type) == ("FAILED", "r1", "SCHEDULED")
    assert (event.started_at, event.ended_at, event.error_message) == (STARTED, ENDED, "boom")
    assert event.occurred_at == ENDED


def test_a_missed_started_event_carries_no_end_and_no_error() -> None:
    event = parse_event(run_event(ARN, RUN_ANSWER, NOW, state="STARTING"))
    assert (event.status, event.ended_at, event.error_message) == ("STARTING", None, None)


def test_a_task_answer_yields_an_up_for_retry_for_each_earlier_attempt_then_the_current_one() -> None:
    events = [parse_event(raw) for raw in task_history(ARN, TASK_ANSWER, NOW)]
    assert all(isinstance(event, TaskEvent) for event in events)
    assert [(e.attempt, e.status) for e in events if isinstance(e, TaskEvent)] == [
        (1, "UP_FOR_RETRY"),
        (2, "UP_FOR_RETRY"),
        (3, "FAILED"),
    ]
    assert events[0].error_message is None  # the API says nothing of earlier attempts
    assert events[-1].error_message == "denied"


def test_states_no_event_names_are_not_rebuilt() -> None:
    assert run_event(ARN, RunAnswer.from_api({"RunId": "r1", "RunDetail": {"RunState": "STOPPING"}}), NOW) is None
    never_scheduled = TaskAnswer.from_api({**TASK_FIELDS, "Status": "NONE", "AttemptNumber": 1})
    assert task_history(ARN, never_scheduled, NOW) == []


def test_an_item_lacks_only_what_matters_for_its_status() -> None:
    run = RunItem("RUN#sales-Ab3dE6gH9j#r1", "RUN", status="FAILED", run_type="SCHEDULED", started_at=STARTED)
    assert missing(run) == ["ended_at", "error_message"]
    upstream = TaskAttemptItem("RUN#sales-Ab3dE6gH9j#r1", "TASK#ti-1#0001", status="UPSTREAM_FAILED", operator="X")
    assert missing(upstream) == []
    retry = TaskAttemptItem("RUN#sales-Ab3dE6gH9j#r1", "TASK#ti-1#0001", status="UP_FOR_RETRY", operator="X")
    assert missing(retry) == ["started_at", "log_stream", "ended_at", "error_message"]


def test_only_task_instances_whose_status_differs_or_that_were_left_unfinished_are_read() -> None:
    pk = "RUN#sales-Ab3dE6gH9j#r1"
    attempts = [
        TaskAttemptItem(pk, "TASK#ti-1#0001", task_instance_id="ti-1", status="SUCCESS"),
        TaskAttemptItem(pk, "TASK#ti-2#0001", task_instance_id="ti-2", status="RUNNING"),
        TaskAttemptItem(pk, "TASK#ti-3#0001", task_instance_id="ti-3", status="RUNNING"),
        TaskAttemptItem(pk, "TASK#ti-3#0002", task_instance_id="ti-3", status="SUCCESS"),
    ]
    summaries = [
        TaskSummary.from_api(summary)
        for summary in (
            {"TaskInstanceId": "ti-1", "Status": "SUCCESS"},
            {"TaskInstanceId": "ti-2", "Status": "FAILED"},
            {"TaskInstanceId": "ti-3", "Status": "SUCCESS"},
            {"TaskInstanceId": "ti-4", "Status": "UPSTREAM_FAILED"},
            {"TaskInstanceId": "ti-5", "Status": "NONE"},
        )
    ]
    assert tasks_to_read(attempts, summaries) == ["ti-2", "ti-3", "ti-4"]
