"""A failure linked to the definition change before it: "first failure since version 0ad517eb (UpdateWorkflow by
role/deployer, ...)", said in the failure's message when the run started within a day of a CreateWorkflow or
UpdateWorkflow that CloudTrail recorded (mwaa_obs.api_calls)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, Final

from mwaa_obs.api_calls import short_caller
from mwaa_obs.states import FAILED_RUN_STATES
from mwaa_obs.store.schema import RunItem, WorkflowChangeItem
from mwaa_obs.times import readable_time

LINKED_WITHIN: Final = timedelta(days=1)  # a failure this long after a change is said to follow it
DEFINITION_CALLS: Final = ("CreateWorkflow", "UpdateWorkflow")
VERSION_SHOWN: Final = 8  # characters of a 32-character WorkflowVersion


def change_note(run: RunItem, history: Iterable[RunItem], changes: Sequence[WorkflowChangeItem]) -> str | None:
    """What a failed run's message says of the latest definition change within LINKED_WITHIN before the run
    started (`changes`: the workflow's, oldest first); None when there is none, or the run ran another version."""
    started = run.started_at or run.ended_at
    if started is None or run.status not in FAILED_RUN_STATES:
        return None
    made = [c for c in changes if c.call in DEFINITION_CALLS and started - LINKED_WITHIN <= c.changed_at <= started]
    if not made:
        return None
    change = made[-1]
    if change.workflow_version and run.workflow_version and change.workflow_version != run.workflow_version:
        return None
    # the other failed runs of the changed definition: started after the change, and before this run
    since = [
        other
        for other in history
        if other.status in FAILED_RUN_STATES
        and other.run_id != run.run_id
        and other.started_at is not None
        and change.changed_at < other.started_at <= started
    ]
    which = "First failure" if not since else f"Failure {len(since) + 1}"
    version = f"version {change.workflow_version[:VERSION_SHOWN]}" if change.workflow_version else "the change"
    return (
        f"{which} since {version} ({change.call} by {short_caller(change.changed_by)}, "
        f"{readable_time(change.changed_at)})"
    )


def change_note_for(runs: Any, run: RunItem, history: Iterable[RunItem]) -> str | None:
    """change_note with the workflow's changes of the day before the run read (one Query), for a failed run."""
    started = run.started_at or run.ended_at
    if started is None or run.status not in FAILED_RUN_STATES:
        return None
    return change_note(run, history, runs.changes(run.workflow_id, started - LINKED_WITHIN, started))
