"""Pure parts of the API repairs: events rebuilt from API answers, what an item lacks, which tasks differ."""

from __future__ import annotations

from datetime import UTC, datetime

from mwaa_obs.api_events import closing_event, run_event, task_history
from mwaa_obs.enrich import missing
from mwaa_obs.events import RunEvent, TaskEvent, parse_event
from mwaa_obs.failures import failed_tasks, task_name
from mwaa_obs.mwaa_api import RunAnswer, TaskAnswer, TaskSummary
from mwaa_obs.notices import Notice
from mwaa_obs.repairs import WithoutRetries, folds, left_open, repairs_for, tasks_to_read
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


def test_a_task_answer_yields_its_latest_attempt_only_no_earlier_one_is_made_up() -> None:
    events = [parse_event(raw) for raw in task_history(ARN, TASK_ANSWER, NOW)]
    assert [(e.attempt, e.status, e.error_message) for e in events if isinstance(e, TaskEvent)] == [
        (3, "FAILED", "denied")
    ]


def test_an_earlier_attempt_left_unfinished_in_the_table_is_closed_as_followed_by_a_later_one() -> None:
    pk = "RUN#sales-Ab3dE6gH9j#r1"
    attempts = [
        TaskAttemptItem(pk, "TASK#ti-1#0001", task_instance_id="ti-1", status="RUNNING"),  # its end was lost
        TaskAttemptItem(pk, "TASK#ti-1#0002", task_instance_id="ti-1", status="UP_FOR_RETRY"),
        TaskAttemptItem(pk, "TASK#ti-9#0001", task_instance_id="ti-9", status="RUNNING"),  # another task's
    ]
    repairs = repairs_for(ARN, TASK_ANSWER, attempts, NOW)
    assert [(r.attempt, r.state) for r in repairs] == [(1, "UP_FOR_RETRY"), (3, "FAILED")]
    first = parse_event(repairs[0].event)
    assert isinstance(first, TaskEvent)
    # It ended at the latest when the later one began; the API says nothing of its error. It is keyed by its task
    # id, as the API names it: the item keyed by its instance id (as attempts once were) is then folded into it.
    assert (first.task_key, first.attempt, first.ended_at, first.error_message) == ("load", 1, STARTED, None)


def test_the_run_stopping_and_every_task_state_but_none_is_rebuilt_as_its_event() -> None:
    stopping = RunAnswer.from_api({"RunId": "r1", "RunDetail": {"RunState": "STOPPING", "CompletedOn": ENDED}})
    event = parse_event(run_event(ARN, stopping, NOW))
    assert (event.status, event.ended_at) == ("STOPPING", None)  # a run that is stopping has not ended
    names = {"CANCELLED": "Cancelled", "REMOVED": "Removed", "DEFERRED": "Deferred",
             "UP_FOR_RESCHEDULE": "Up For Reschedule", "RESTARTING": "Restarting"}  # fmt: skip
    for status, name in names.items():
        (raw,) = task_history(ARN, TaskAnswer.from_api({**TASK_FIELDS, "Status": status}), NOW)
        assert (raw["detail-type"], parse_event(raw).status) == (f"MWAA Serverless Task {name}", status)


def test_a_waiting_attempt_keeps_no_end_and_an_ended_one_without_an_end_ends_at_its_last_change() -> None:
    modified = datetime(2026, 11, 25, 10, 40, tzinfo=UTC)
    deferred = TaskAnswer.from_api({**TASK_FIELDS, "Status": "DEFERRED", "ModifiedAt": modified})
    (event,) = [parse_event(raw) for raw in task_history(ARN, deferred, NOW)]
    assert (event.status, event.started_at, event.ended_at) == ("DEFERRED", STARTED, None)
    fields = {key: value for key, value in TASK_FIELDS.items() if key != "EndedAt"}
    cancelled = TaskAnswer.from_api({**fields, "Status": "CANCELLED", "ModifiedAt": modified})
    (event,) = [parse_event(raw) for raw in task_history(ARN, cancelled, NOW)]
    assert (event.status, event.ended_at) == ("CANCELLED", modified)


def test_an_attempt_is_closed_under_the_key_it_is_stored_under() -> None:
    pk = "RUN#sales-Ab3dE6gH9j#r1"
    by_instance = TaskAttemptItem(pk, "TASK#ti-1#0002", task_instance_id="ti-1", task_id="load", status="RUNNING")
    by_task = TaskAttemptItem(pk, "TASK#load#0001", task_id="load", status="DEFERRED")
    for item in (by_instance, by_task):
        event = parse_event(closing_event(ARN, item, ENDED))
        assert isinstance(event, TaskEvent)
        assert (event.task_key, event.attempt, event.status, event.ended_at) == (
            item.task_key,
            item.attempt,
            "CANCELLED",
            ENDED,
        )


def test_an_attempt_is_left_open_until_one_of_its_items_ends_it() -> None:
    pk = "RUN#sales-Ab3dE6gH9j#r1"
    running = TaskAttemptItem(pk, "TASK#ti-1#0001", task_instance_id="ti-1", status="RUNNING")
    done = TaskAttemptItem(pk, "TASK#ti-2#0001", task_instance_id="ti-2", status="SUCCESS")
    assert left_open([running, done])
    # The same attempt under its task id (ti-1 is load's, as the item that names both says): it ended
    ended = TaskAttemptItem(pk, "TASK#load#0001", task_id="load", task_instance_id="ti-1", status="CANCELLED")
    assert not left_open([running, done, ended])
    assert left_open([done, TaskAttemptItem(pk, "TASK#load#0002", task_id="load", status="DEFERRED")])


def test_states_no_event_names_are_not_rebuilt() -> None:
    assert run_event(ARN, RunAnswer.from_api({"RunId": "r1", "RunDetail": {"RunState": "PAUSED"}}), NOW) is None
    never_scheduled = TaskAnswer.from_api({**TASK_FIELDS, "Status": "NONE", "AttemptNumber": 1})
    assert task_history(ARN, never_scheduled, NOW) == []


def test_an_item_lacks_only_what_matters_for_its_status() -> None:
    run = RunItem("RUN#sales-Ab3dE6gH9j#r1", "RUN", status="FAILED", run_type="SCHEDULED", started_at=STARTED)
    assert missing(run) == ["ended_at", "error_message"]
    upstream = TaskAttemptItem("RUN#sales-Ab3dE6gH9j#r1", "TASK#ti-1#0001", status="UPSTREAM_FAILED", operator="X")
    assert missing(upstream) == []
    retry = TaskAttemptItem("RUN#sales-Ab3dE6gH9j#r1", "TASK#ti-1#0001", status="UP_FOR_RETRY", operator="X")
    assert missing(retry) == ["started_at", "log_stream", "ended_at", "error_message"]


def test_only_task_instances_whose_status_differs_or_that_were_left_unfinished_are_read_and_unknown_ones_told() -> None:
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
            {"TaskInstanceId": "ti-6", "Status": "CANCELLED"},
            {"TaskInstanceId": "ti-7", "Status": "SKIPPED"},  # Airflow's; not in the service's model
        )
    ]
    reads = tasks_to_read(attempts, summaries)
    assert reads.instances == ["ti-2", "ti-3", "ti-4", "ti-6"]
    assert [summary.task_instance_id for summary in reads.unknown] == ["ti-7"]


def test_a_finished_runs_repairs_owe_its_outcome_notice_but_never_a_stale_retry_message() -> None:
    sent: list[Notice] = []
    notices = WithoutRetries(
        type("Queue", (), {"send": staticmethod(lambda notice, delay=None: sent.append(notice))})()
    )
    notices.send(Notice("retry", "sales-Ab3dE6gH9j", "r1", "ti-1", 1))
    notices.send(Notice("run", "sales-Ab3dE6gH9j", "r1"))
    assert [notice.kind for notice in sent] == ["run"]


def test_the_items_of_one_attempt_are_folded_into_the_one_keyed_by_its_task_id() -> None:
    pk = "RUN#sales-Ab3dE6gH9j#r1"
    own = TaskAttemptItem(pk, "TASK#load#0001", task_id="load", task_instance_id="ti-1", status="SUCCESS")
    old_key = TaskAttemptItem(pk, "TASK#ti-1#0001", task_id="load", task_instance_id="ti-1", status="RUNNING")
    instance_only = TaskAttemptItem(pk, "TASK#ti-2#0001", task_instance_id="ti-2", status="RUNNING")
    other = TaskAttemptItem(pk, "TASK#load#0002", task_id="load", status="RUNNING")  # another attempt
    assert [(fold.copy.sk, fold.into.sk) for fold in folds([old_key, own, instance_only, other])] == [
        ("TASK#ti-1#0001", "TASK#load#0001")
    ]
    # ti-2 is load's too, as the API answered: its item is the same attempt
    assert [(fold.copy.sk, fold.into.sk) for fold in folds([own, instance_only], {"ti-2": "load"})] == [
        ("TASK#ti-2#0001", "TASK#load#0001")
    ]
    # Two items the old version keyed by two instance ids: into the furthest on
    running = TaskAttemptItem(pk, "TASK#ti-3#0001", task_id="load", status="RUNNING", status_rank=4)
    failed = TaskAttemptItem(pk, "TASK#ti-4#0001", task_id="load", status="FAILED", status_rank=10)
    assert [(fold.copy.sk, fold.into.sk) for fold in folds([running, failed])] == [("TASK#ti-3#0001", "TASK#ti-4#0001")]


def test_an_instance_whose_items_name_no_task_is_read_while_a_task_keyed_item_has_no_listed_instance() -> None:
    pk = "RUN#sales-Ab3dE6gH9j#r1"
    by_task = TaskAttemptItem(pk, "TASK#load#0001", task_id="load", status="SUCCESS")
    by_instance = TaskAttemptItem(pk, "TASK#ti-1#0001", task_instance_id="ti-1", status="SUCCESS")
    listed = [TaskSummary.from_api({"TaskInstanceId": "ti-1", "Status": "SUCCESS"})]
    assert tasks_to_read([by_task, by_instance], listed).instances == ["ti-1"]  # its answer names its task
    linked = TaskAttemptItem(pk, "TASK#load#0001", task_id="load", task_instance_id="ti-0", status="SUCCESS")
    listed.append(TaskSummary.from_api({"TaskInstanceId": "ti-0", "Status": "SUCCESS"}))
    assert tasks_to_read([linked, by_instance], listed).instances == []  # every task-keyed item is linked


def test_a_failure_names_a_task_once_while_its_attempt_is_stored_twice() -> None:
    # Given load's first attempt stored failed under the old key (its instance id) and under its task id, and
    # running under another instance id, until the reconciler folds them
    pk = "RUN#sales-Ab3dE6gH9j#r1"
    by_instance = TaskAttemptItem(pk, "TASK#ti-1#0001", task_id="load", status="FAILED", status_rank=10)
    own = TaskAttemptItem(pk, "TASK#load#0001", task_id="load", status="FAILED", status_rank=10)
    running = TaskAttemptItem(pk, "TASK#ti-2#0001", task_id="load", status="RUNNING", status_rank=4)
    # Then the failed tasks name load once
    for order in ([by_instance, own, running], [running, own, by_instance]):
        assert [(task_name(item), item.status) for item in failed_tasks(order)] == [("load", "FAILED")]
