"""The transition store against the emulator: conditional writes, arrival order, duplicates, access patterns."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mwaa_obs.events import RunEvent, TaskEvent, parse_event
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import RunItem, TaskAttemptItem, run_key
from mwaa_obs.store.transitions import Transitions, WriteOutcome
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.widget import FAILURE_ROWS, ViewReader
from mwaa_obs_tools.factories import T0, minutes, run_event, task_event

WORKFLOW_ID = "simple_s3_test-Ab3dE6gH9j"


def run(state: str, run_id: str = "run-1", at_minute: float = 0, **detail: Any) -> RunEvent:
    parsed = parse_event(run_event(state, run_id, T0 + minutes(at_minute), **detail))
    assert isinstance(parsed, RunEvent)
    return parsed


def task(state: str, task_id: str = "extract", attempt: int = 1, at_minute: float = 0, **detail: Any) -> TaskEvent:
    parsed = parse_event(task_event(state, "run-1", task_id, T0 + minutes(at_minute), attempt=attempt, **detail))
    assert isinstance(parsed, TaskEvent)
    return parsed


def raw_item(dynamodb: Any, table: str, sk: str = "RUN", run_id: str = "run-1") -> dict[str, Any]:
    key = {"pk": {"S": run_key(WORKFLOW_ID, run_id)}, "sk": {"S": sk}}
    item: dict[str, Any] = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    return item


def test_a_run_in_order_ends_with_its_final_state_and_times(store: Transitions, runs: Runs) -> None:
    # Given a run's transitions in order
    for state, minute in [("Started", 0), ("Queued", 1), ("Running", 3), ("Succeeded", 10)]:
        # When each is recorded
        outcome = store.record_run(run(state, at_minute=minute)).outcome
        # Then each moves the status forward
        assert outcome is WriteOutcome.ADVANCED
    stored, _ = runs.load(WORKFLOW_ID, "run-1")
    assert stored is not None
    assert stored.status == "SUCCESS"
    assert (stored.queued_at, stored.started_at, stored.ended_at) == (
        T0 + minutes(1),
        T0 + minutes(3),
        T0 + minutes(10),
    )
    assert list(stored.seen()) == ["STARTING", "QUEUED", "RUNNING", "SUCCESS"]
    assert stored.expires_at is not None


def test_a_late_running_never_overwrites_succeeded_but_keeps_its_start(store: Transitions, runs: Runs) -> None:
    store.record_run(run("Succeeded", at_minute=10))
    recorded = store.record_run(run("Running", at_minute=3))
    assert recorded.outcome is WriteOutcome.RECORDED
    stored, _ = runs.load(WORKFLOW_ID, "run-1")
    assert stored is not None
    assert stored.status == "SUCCESS"
    assert stored.started_at == T0 + minutes(3)
    assert set(stored.seen()) == {"RUNNING", "SUCCESS"}


def test_a_duplicate_changes_nothing(store: Transitions, dynamodb: Any, state_table: str) -> None:
    event = run("Failed", at_minute=5, errorMessage="first")
    store.record_run(event)
    before = raw_item(dynamodb, state_table)
    recorded = store.record_run(event)
    assert recorded.outcome is WriteOutcome.DUPLICATE
    assert raw_item(dynamodb, state_table) == before


def test_the_first_terminal_state_wins_and_a_conflicting_one_is_only_history(store: Transitions, runs: Runs) -> None:
    store.record_run(run("Failed", at_minute=5))
    recorded = store.record_run(run("Timeout", at_minute=6))
    assert recorded.outcome is WriteOutcome.RECORDED
    stored, _ = runs.load(WORKFLOW_ID, "run-1")
    assert stored is not None
    assert stored.status == "FAILED"
    assert stored.ended_at == T0 + minutes(5)
    assert set(stored.seen()) == {"FAILED", "TIMEOUT"}


def test_retries_are_tracked_per_attempt(store: Transitions, runs: Runs) -> None:
    for state, attempt, minute in [
        ("Running", 1, 1),
        ("Up For Retry", 1, 2),
        ("Running", 2, 3),
        ("Succeeded", 2, 4),
    ]:
        store.record_task(task(state, attempt=attempt, at_minute=minute))
    _, attempts = runs.load(WORKFLOW_ID, "run-1")
    by_attempt = {item.attempt: item for item in attempts}
    assert by_attempt[1].status == "UP_FOR_RETRY"
    assert by_attempt[2].status == "SUCCESS"
    assert (by_attempt[2].started_at, by_attempt[2].ended_at) == (T0 + minutes(3), T0 + minutes(4))


def test_an_attempt_up_for_retry_goes_on_to_failed_when_no_retry_follows(store: Transitions, runs: Runs) -> None:
    store.record_task(task("Up For Retry", attempt=1, at_minute=2))
    assert store.record_task(task("Failed", attempt=1, at_minute=9)).outcome is WriteOutcome.ADVANCED
    assert store.record_task(task("Up For Retry", attempt=1, at_minute=2)).outcome is WriteOutcome.DUPLICATE
    _, attempts = runs.load(WORKFLOW_ID, "run-1")
    assert [(item.attempt, item.status, item.ended_at) for item in attempts] == [(1, "FAILED", T0 + minutes(2))]


def test_a_run_and_all_its_tasks_come_back_from_one_query(store: Transitions, runs: Runs) -> None:
    store.record_run(run("Running"))
    store.record_task(task("Succeeded", "extract", operatorName="S3ListOperator"))
    store.record_task(task("Failed", "load", errorMessage="AccessDenied"))
    stored, attempts = runs.load(WORKFLOW_ID, "run-1")
    assert isinstance(stored, RunItem)
    assert all(isinstance(item, TaskAttemptItem) for item in attempts)
    assert {(item.task_id, item.status) for item in attempts} == {("extract", "SUCCESS"), ("load", "FAILED")}
    assert {item.operator for item in attempts} == {"S3ListOperator", None}
    assert {item.error_message for item in attempts} == {None, "AccessDenied"}


def test_a_workflows_runs_are_listed_newest_first(store: Transitions, runs: Runs) -> None:
    for index in range(3):
        store.record_run(run("Started", run_id=f"run-{index}", at_minute=index * 60))
    assert [item.run_id for item in runs.recent(WORKFLOW_ID)] == ["run-2", "run-1", "run-0"]


def test_failures_across_workflows_are_listed_newest_first(store: Transitions, runs: Runs) -> None:
    store.record_run(run("Failed", run_id="a", at_minute=1))
    store.record_run(run("Succeeded", run_id="b", at_minute=2))
    store.record_run(run("Timeout", run_id="c", at_minute=3))
    store.record_run(run("Stopped", run_id="d", at_minute=4))
    failures = runs.recent_failures(days=1, now=T0 + minutes(5))
    assert [(item.run_id, item.status) for item in failures] == [("c", "TIMEOUT"), ("a", "FAILED")]


def test_the_workflow_item_appears_with_its_first_run_and_is_noted_once(
    store: Transitions, workflows: Workflows
) -> None:
    first = store.record_run(run("Started"))
    assert not first.workflow_noted
    store.note_workflow(run("Started"))
    (workflow,) = workflows.all()
    assert (workflow.workflow_name, workflow.first_seen_at) == ("simple_s3_test", T0)
    assert store.record_run(run("Queued", at_minute=1)).workflow_noted
    assert store.record_run(run("Queued", at_minute=1)).workflow_noted  # and on the duplicate too


def test_a_stale_event_stores_its_times_without_touching_status_or_indexes(
    store: Transitions, dynamodb: Any, state_table: str
) -> None:
    store.record_run(run("Failed", at_minute=9))
    recorded = store.record_run(run("Queued", at_minute=1))
    item = raw_item(dynamodb, state_table)
    assert recorded.outcome is WriteOutcome.RECORDED
    assert item["status"] == {"S": "FAILED"}
    assert item["queued_at"]["S"].startswith("2026-11-24T00:01:00")
    assert item["gsi2pk"] == {"S": "FAIL#2026-11-24"}


def test_the_widgets_failures_read_the_rows_they_show_however_many_runs_failed(
    store: Transitions, runs: Runs, workflows: Workflows, dynamodb: Any
) -> None:
    # Given a day on which 60 runs failed (an outage), and 10 the day before
    for index in range(70):
        store.record_run(run("Failed", run_id=f"f{index:02d}", at_minute=index * 20 - 200))
    pages: list[int] = []

    def count(parsed: dict[str, Any], **_: Any) -> None:
        pages.append(parsed["Count"])

    dynamodb.meta.events.register("after-call.dynamodb.Query", count)
    try:
        _show_failures(runs, workflows, pages)
    finally:
        dynamodb.meta.events.unregister("after-call.dynamodb.Query", count)


def _show_failures(runs: Runs, workflows: Workflows, pages: list[int]) -> None:
    # When the failures view covers the last two days
    end = T0 + minutes(70 * 20 - 200)
    reader = ViewReader(runs, workflows)
    shown = reader.failures(end - timedelta(days=2), end)
    # Then it shows the newest 25, from one Query of the last day that read those 25 items only
    assert [item.run_id for item in shown] == [f"f{index:02d}" for index in range(69, 44, -1)]
    assert (reader.reads, pages) == (1, [FAILURE_ROWS])
    # And a range that begins after most of them shows only those that ended in it, reading on to the day before
    # for the rows the last day lacks (a Query a day, each asking only for the rows still missing)
    pages.clear()
    few = ViewReader(runs, workflows).failures(T0 + minutes(-200), T0 + minutes(-20))
    assert [item.run_id for item in few] == [f"f{index:02d}" for index in range(9, -1, -1)]
    assert sum(pages) == 10


def test_the_workflow_item_keeps_the_latest_unsuccessful_end_only_ever_raised(
    store: Transitions, dynamodb: Any, state_table: str
) -> None:
    def kept() -> float | None:
        item = dynamodb.get_item(TableName=state_table, Key={"pk": {"S": f"WF#{WORKFLOW_ID}"}, "sk": {"S": "WORKFLOW"}})
        value = item.get("Item", {}).get("failed_through", {}).get("N")
        return float(value) if value is not None else None

    late, early = run("Timeout", run_id="late", at_minute=30), run("Failed", run_id="early", at_minute=10)
    store.note_unsuccessful(late, late.occurred_at)
    store.note_unsuccessful(early, early.occurred_at)  # its event came later: the kept end stays the later one
    assert kept() == (T0 + minutes(30)).timestamp()
