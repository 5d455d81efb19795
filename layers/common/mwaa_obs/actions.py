"""Re-run and stop: the two things people do to a run, the same whether asked from the CLI or a dashboard button.

A re-run is StartWorkflowRun on the run's workflow (its latest version, as Airflow's "clear" runs the DAG as it is
now) with the run's own OverrideParameters, and a ClientToken derived from the run: asking again for the same run
(a double click, the button and then the CLI) answers the run already started instead of starting another, for as
long as the service remembers the token (AWS's convention is 24 hours; the API reference gives no lifetime). A
ConflictException naming the run the token already made (ResourceType WorkflowRun, its ResourceId: the model's
ConflictException shape, "the resource is in a state that prevents the requested operation") is that same answer,
as a press racing another's or one whose request differed gets it. Stop is StopWorkflowRun, idempotent by itself; a
run that already ended is answered as such without a call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from mwaa_obs.states import TERMINAL_RUN_STATES, RunState

ACTIONS: Final = ("rerun", "stop")
# A ClientToken (IdempotencyTokenString: [\x21-\x7E]+, at most 128 characters), not a secret
TOKEN_PREFIX: Final = "mwaa-obs-rerun-"  # noqa: S105


class ActionRefused(ValueError):
    """An action that cannot be done (a run already ended, one of another account): said, never retried."""


@dataclass(frozen=True, slots=True)
class RunAsked:
    """What the API says of the run acted on (GetWorkflowRun)."""

    workflow_arn: str
    run_id: str
    state: str
    override_parameters: dict[str, Any] | None

    @classmethod
    def read(cls, api: Any, workflow_arn: str, run_id: str) -> RunAsked:
        answer = api.get_workflow_run(WorkflowArn=workflow_arn, RunId=run_id)
        state = (answer.get("RunDetail") or {}).get("RunState") or ""
        return cls(workflow_arn, run_id, state, answer.get("OverrideParameters") or None)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did: the run it started (a re-run) or the state the stopped run is in."""

    action: str
    workflow_arn: str
    run_id: str  # the run acted on
    state: str  # the new run's state (re-run), the run's (stop)
    new_run_id: str | None = None  # a re-run's run

    @property
    def sentence(self) -> str:
        name = self.workflow_arn.rsplit("/", 1)[-1]
        if self.action == "rerun":
            return f"re-run of {name} run {self.run_id}: run {self.new_run_id} ({self.state})"
        return f"{name} run {self.run_id}: {self.state}"


def rerun_token(workflow_arn: str, run_id: str) -> str:
    """The same token for every request to re-run this run (the ARN and run id can be long: hashed to fit)."""
    return TOKEN_PREFIX + hashlib.sha256(f"{workflow_arn}#{run_id}".encode()).hexdigest()[:48]


def rerun(api: Any, workflow_arn: str, run_id: str) -> Outcome:
    """Start the run again (see the module's docstring); a run that has not ended is refused: stop it first."""
    asked = RunAsked.read(api, workflow_arn, run_id)
    if asked.state not in TERMINAL_RUN_STATES:
        raise ActionRefused(
            f"run {run_id} is {asked.state or 'not ended'}: only an ended run is re-run (stop it first)"
        )
    parameters = {"OverrideParameters": asked.override_parameters} if asked.override_parameters else {}
    try:
        started = api.start_workflow_run(
            WorkflowArn=workflow_arn, ClientToken=rerun_token(workflow_arn, run_id), **parameters
        )
    except ClientError as error:
        made = _run_already_made(error)
        if made is None:
            raise
        again = RunAsked.read(api, workflow_arn, made)
        return Outcome("rerun", workflow_arn, run_id, again.state, made)
    return Outcome("rerun", workflow_arn, run_id, str(started.get("Status") or ""), str(started["RunId"]))


def _run_already_made(error: ClientError) -> str | None:
    """The run a ConflictException says the re-run's token already started, if it names one."""
    answer = error.response
    if answer.get("Error", {}).get("Code") != "ConflictException" or answer.get("ResourceType") != "WorkflowRun":
        return None
    return str(answer.get("ResourceId") or "") or None


def stop(api: Any, workflow_arn: str, run_id: str) -> Outcome:
    """Stop the run; one that already ended is said so (StopWorkflowRun refuses it) and a stopped one answers again."""
    asked = RunAsked.read(api, workflow_arn, run_id)
    if asked.state in TERMINAL_RUN_STATES and asked.state != RunState.STOPPED:
        raise ActionRefused(f"run {run_id} already ended {asked.state}: there is nothing to stop")
    stopped = api.stop_workflow_run(WorkflowArn=workflow_arn, RunId=run_id)
    return Outcome("stop", workflow_arn, run_id, str(stopped.get("Status") or asked.state))


def act(api: Any, action: str, workflow_arn: str, run_id: str) -> Outcome:
    if action not in ACTIONS:
        raise ActionRefused(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    return rerun(api, workflow_arn, run_id) if action == "rerun" else stop(api, workflow_arn, run_id)
