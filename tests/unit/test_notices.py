"""Which stored transition owes the notifier a notice, and the notice's wire format: pure logic, no AWS."""

from __future__ import annotations

import pytest

from mwaa_obs.notices import InvalidNotice, Notice, notice_owed
from mwaa_obs.store.transitions import Recorded, Timeline, WriteOutcome
from tests.unit.test_metrics_owed import a_run, a_task

WORKFLOW_ID = "simple_s3_test-Ab3dE6gH9j"


def recorded(outcome: WriteOutcome, status_before: str | None = None, decided: bool = False) -> Recorded:
    return Recorded(outcome, Timeline(), status_before=status_before, alert_decided=decided)


def test_the_transition_that_sets_a_final_state_owes_a_run_notice() -> None:
    for state in ("Succeeded", "Failed", "Timeout", "Stopped"):
        assert notice_owed(a_run(state), recorded(WriteOutcome.ADVANCED)) == Notice("run", WORKFLOW_ID, "r")


def test_states_before_the_end_owe_nothing() -> None:
    for state in ("Started", "Queued", "Running"):
        assert notice_owed(a_run(state), recorded(WriteOutcome.ADVANCED)) is None
    for state in ("Running", "Failed", "Succeeded"):
        assert notice_owed(a_task(state), recorded(WriteOutcome.ADVANCED)) is None


def test_a_duplicate_owes_the_notice_again_until_the_notifier_decided() -> None:
    # The first delivery may have stored the state and failed before sending the notice
    assert notice_owed(a_run("Failed"), recorded(WriteOutcome.DUPLICATE, "FAILED")) == Notice("run", WORKFLOW_ID, "r")
    assert notice_owed(a_run("Failed"), recorded(WriteOutcome.DUPLICATE, "FAILED", decided=True)) is None


def test_a_late_conflicting_final_state_owes_nothing() -> None:
    # The run already ended in SUCCESS; a late Failed is kept in the history only
    assert notice_owed(a_run("Failed"), recorded(WriteOutcome.RECORDED, "SUCCESS")) is None
    assert notice_owed(a_run("Failed"), recorded(WriteOutcome.DUPLICATE, "SUCCESS")) is None


def test_an_attempt_going_up_for_retry_owes_a_retry_notice_even_when_late() -> None:
    notice = Notice("retry", WORKFLOW_ID, "r", "t", 1)  # the attempt keyed by its task id
    assert notice_owed(a_task("Up For Retry"), recorded(WriteOutcome.RECORDED, "FAILED")) == notice
    assert notice_owed(a_task("Up For Retry"), recorded(WriteOutcome.DUPLICATE, "UP_FOR_RETRY", decided=True)) is None


def test_notices_survive_the_queue() -> None:
    for notice in (Notice("run", WORKFLOW_ID, "r"), Notice("retry", WORKFLOW_ID, "r", "ti", 3)):
        assert Notice.from_body(notice.to_body()) == notice


@pytest.mark.parametrize(
    "body",
    ["", "[]", '{"kind": "run"}', '{"kind": "alert", "workflow_id": "w", "run_id": "r"}',
     '{"kind": "retry", "workflow_id": "w", "run_id": "r", "attempt": true, "task_key": "t"}'],
)  # fmt: skip
def test_anything_else_is_refused(body: str) -> None:
    with pytest.raises(InvalidNotice):
        Notice.from_body(body)
