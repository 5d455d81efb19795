"""Every state the API reports, repaired end to end on the local stack (issue 33): the reconciler stores CANCELLED
and REMOVED attempts the events never announced, waits for a DEFERRED one, closes what its ended run left open,
samples a state it does not know, and one workflow it cannot handle does not stop its pass."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest

from mwaa_obs.aws import dynamodb_client
from mwaa_obs.mwaa_api import MwaaApi, api_client
from mwaa_obs.repairs import last_seen
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.samples import EventSamples, SampleKind
from mwaa_obs.store.transitions import Transitions
from mwaa_obs_tools import backfill, emulator, localstack
from mwaa_obs_tools.sample_events import HOME
from mwaa_obs_tools.simulator.faults import Faults
from tests.integration.test_reconcile_and_backfill import _metric_sum

# A start task, then four long tasks side by side: each can be left in a state of its own.
FAN_OUT = """
fan_out:
  dag_id: fan_out
  schedule: null
  default_args:
    retries: 0
  tasks:
    begin:
      operator: airflow.providers.standard.operators.empty.EmptyOperator
"""
PARALLEL = ("cancelled_task", "removed_task", "deferred_task", "unknown_task")
# What the API answers for each once the run is stopped; no event announces any of them (AWS documents none).
# SUSPENDED stands for a value a later version of the service may add.
API_ANSWERS = {
    "cancelled_task": "CANCELLED",
    "removed_task": "REMOVED",
    "deferred_task": "DEFERRED",
    "unknown_task": "SUSPENDED",
}


def create_fan_out(stack: localstack.LocalStack, service: Any, name: str = "fan_out") -> str:
    definition = FAN_OUT + "".join(
        f"    {task}:\n      operator: airflow.providers.standard.operators.empty.EmptyOperator\n"
        "      dependencies: [begin]\n"
        for task in PARALLEL
    )
    location = {"Bucket": localstack.DEFINITIONS_BUCKET, "ObjectKey": f"workflows/{name}.yaml"}
    s3 = localstack.client(stack.endpoint, "s3")
    s3.put_object(Bucket=location["Bucket"], Key=location["ObjectKey"], Body=definition.encode())
    arn: str = service.create_workflow(Name=name, DefinitionS3Location=location, RoleArn=localstack.WORKFLOW_ROLE_ARN)[
        "WorkflowArn"
    ]
    return arn


def advance(stack: localstack.LocalStack, minutes: int) -> None:
    for _ in range(minutes // 5):
        stack.engine.advance(stack.engine.now + timedelta(minutes=5))
        stack.pump()


def stored_attempts(stack: localstack.LocalStack, workflow_id: str, run_id: str) -> dict[str, Any]:
    _, attempts = stack.runs.load(workflow_id, run_id)
    return {str(attempt.task_id): attempt for attempt in attempts}


def unverified(stack: localstack.LocalStack) -> list[tuple[str, str]]:
    store = Transitions(dynamodb_client(stack.endpoint), stack.outputs["StateTableName"], timedelta(days=90), home=HOME)
    return store.unverified_runs(listed_before=stack.engine.now + timedelta(days=1))


@pytest.fixture(scope="module")
def stopped(stack: localstack.LocalStack, service: Any) -> dict[str, Any]:
    """Given a run whose four parallel tasks were running (their events stored) when it was stopped, most of an hour
    after it began, after which the API says CANCELLED, REMOVED, DEFERRED and a state this version does not know for
    them. No event announces any of these (AWS documents none), and the run's own Stopped event is lost too. The
    answers are set in the simulator's state: its own stop does not make each of them."""
    arn = create_fan_out(stack, service)
    stack.engine.set_faults("fan_out", Faults(time_out=set(PARALLEL)))  # each runs to its execution_timeout, 1 h
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    workflow_id = arn.rsplit("/", 1)[1]
    advance(stack, 55)  # short of the reconciler's settle time after the run's first event
    running = {task: attempt.status for task, attempt in stored_attempts(stack, workflow_id, run_id).items()}
    assert running == {"begin": "SUCCESS"} | dict.fromkeys(PARALLEL, "RUNNING")
    with stack.engine.lock:
        now = stack.engine.now
        run = stack.engine.runs[(arn, run_id)]
        run.state, run.ended_at, run.modified_at = "STOPPED", now, now
        for task, status in API_ANSWERS.items():
            instance = run.tasks[task]
            instance.status, instance.modified_at = status, now
            instance.ended_at = now if status in {"CANCELLED", "REMOVED"} else None
    return {"arn": arn, "workflow_id": workflow_id, "run_id": run_id, "stopped_at": now}


def test_a_stopped_run_waits_for_its_deferred_task_then_no_attempt_is_left_open(
    stack: localstack.LocalStack, service: Any, stopped: dict[str, Any]
) -> None:
    workflow_id, run_id = stopped["workflow_id"], stopped["run_id"]
    closed_before = _metric_sum(stack, "AttemptsClosed")
    # When the reconciler first checks the run (its settle time after its first event)
    while stored_attempts(stack, workflow_id, run_id)["deferred_task"].status == "RUNNING":
        assert stack.engine.now < stopped["stopped_at"] + timedelta(hours=2)
        advance(stack, 5)
    # Then the run and the attempts the API ended are stored as the API says
    attempts = stored_attempts(stack, workflow_id, run_id)
    run, _ = stack.runs.load(workflow_id, run_id)
    assert run is not None
    assert run.status == "STOPPED"
    assert {task: attempts[task].status for task in PARALLEL} == {
        "cancelled_task": "CANCELLED",
        "removed_task": "REMOVED",
        "deferred_task": "DEFERRED",  # the API's word: the service may yet end it
        "unknown_task": "RUNNING",  # a state this version does not know is not stored
    }
    assert attempts["cancelled_task"].ended_at == stopped["stopped_at"]
    # And the run stays on the reconciler's list while an attempt is open, within the settle time of its end
    assert (workflow_id, run_id) in unverified(stack)
    # When the settle time after the run's end has passed
    advance(stack, 60)
    # Then no attempt is left open: the ones the API gave no end are closed at the run's end, and counted
    attempts = stored_attempts(stack, workflow_id, run_id)
    assert {task: attempts[task].status for task in PARALLEL} == {
        "cancelled_task": "CANCELLED",
        "removed_task": "REMOVED",
        "deferred_task": "CANCELLED",
        "unknown_task": "CANCELLED",
    }
    assert attempts["deferred_task"].seen_deferred is not None  # what the API said stays in its history
    assert all(attempts[task].ended_at == stopped["stopped_at"] for task in PARALLEL)
    assert (workflow_id, run_id) not in unverified(stack)
    assert _metric_sum(stack, "AttemptsClosed") - closed_before == 2


def test_a_state_the_api_answers_that_this_version_does_not_know_is_counted_and_sampled(
    stack: localstack.LocalStack, stopped: dict[str, Any]
) -> None:
    # The reconciler has checked the run (the test above): the unknown state was counted and kept as a sample
    assert _metric_sum(stack, "UnknownStates") >= 1
    samples = EventSamples(dynamodb_client(stack.endpoint), stack.outputs["StateTableName"]).recent(days=2)
    (kept,) = [item for item in samples if item.sample_kind == SampleKind.UNKNOWN_STATE]
    assert kept.detail_type == "ListTaskInstances SUSPENDED"
    (record, *_) = kept.samples or []
    assert json.loads(record.body)["status"] == "SUSPENDED"
    assert "SUSPENDED" in record.reason


def test_a_workflow_the_reconciler_cannot_handle_is_skipped_and_the_pass_goes_on(
    stack: localstack.LocalStack, service: Any, stopped: dict[str, Any]
) -> None:
    # Given a workflow whose ARN is not of the shape the parser expects (the service's next format, say), and a run
    # of another workflow
    other_arn = create_fan_out(stack, service, "fan_out_other")
    odd = f"arn:aws:airflow-serverless:{HOME.region}:{HOME.account}:workflow/fan out"
    with stack.engine.lock:
        workflow = stack.engine.workflows.pop(stopped["arn"])
        workflow.arn = odd
        stack.engine.workflows[odd] = workflow
        workflow.modified_at = stack.engine.now  # changed since it was described: the pass reads it again
    skipped_before = _metric_sum(stack, "ItemsSkipped")
    other = service.start_workflow_run(WorkflowArn=other_arn)["RunId"]
    try:
        # When reconcile passes run (before issue 33, the first raised and stopped the local stack)
        advance(stack, 90)
        # Then that workflow was skipped and counted, and the other workflow's run was still checked
        assert _metric_sum(stack, "ItemsSkipped") > skipped_before
        assert stack.runs.load(other_arn.rsplit("/", 1)[1], other)[0] is not None
        assert all(run_id != other for _, run_id in unverified(stack))
    finally:
        with stack.engine.lock:
            stack.engine.workflows.pop(odd)


def test_a_stopping_run_no_event_brought_is_imported_as_stopping_by_discovery_and_backfill(
    stack: localstack.LocalStack, service: Any, dynamodb: Any
) -> None:
    # Given a workflow the reconciler has described (discovery looks for runs since then), and a run of it none of
    # whose events reach the bus, that is stopping (before issue 33: imported as STARTING)
    arn = create_fan_out(stack, service, "fan_out_unseen")
    workflow_id = arn.rsplit("/", 1)[1]
    stack.engine.set_faults("fan_out_unseen", Faults(time_out=set(PARALLEL)))
    while not any(item.workflow_id == workflow_id for item in stack.workflows.all()):
        advance(stack, 5)
    stack.sink.on_the_way = lambda entry: None if arn in entry["Resources"] else entry
    try:
        run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
        advance(stack, 5)
        run = stack.engine.runs[(arn, run_id)]
        with stack.engine.lock:  # stopping: its tasks cancelled, its cleanup not complete
            run.state, run.modified_at = "STOPPING", stack.engine.now
            for task in PARALLEL:
                instance = run.tasks[task]
                instance.status = "CANCELLED"
                instance.modified_at = instance.ended_at = stack.engine.now
        # When the discovery pass finds it (hourly, once its settle time has passed)
        advance(stack, 130)
        # Then it is stored where the API says it is, and marked as discovered
        stored, _ = stack.runs.load(workflow_id, run_id)
        assert stored is not None
        assert (stored.status, stored.discovered_at is not None) == ("STOPPING", True)
        # And a backfill into an empty table says the same
        table = "mwaa-obs-backfill-states"
        emulator.create_state_table(dynamodb, table, stack.template)
        os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"] = stack.simulator.url
        try:
            store = Transitions(dynamodb_client(stack.endpoint), table, timedelta(days=90), home=HOME)
            backfill.backfill(MwaaApi(api_client()), store, workflow="fan_out_unseen")
            rebuilt, _ = Runs(dynamodb_client(stack.endpoint), table).load(workflow_id, run_id)
            assert rebuilt is not None
            assert rebuilt.status == "STOPPING"
        finally:
            emulator.delete_state_table(dynamodb, table)
    finally:
        stack.sink.on_the_way = lambda entry: entry
        with stack.engine.lock:
            run.state = "STOPPED"


def test_a_run_the_api_no_longer_has_was_stopped_by_a_deletion_and_leaves_no_attempt_open(
    stack: localstack.LocalStack, service: Any
) -> None:
    # Given a run whose tasks were running (stored), then forgotten by the API with no further event, as a
    # deletion of its workflow or version forgets a run in progress ("cleaning up execution history")
    arn = create_fan_out(stack, service, "fan_out_forgotten")
    workflow_id = arn.rsplit("/", 1)[1]
    stack.engine.set_faults("fan_out_forgotten", Faults(time_out=set(PARALLEL)))
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    advance(stack, 10)
    run, attempts = stack.runs.load(workflow_id, run_id)
    assert run is not None
    assert {attempt.status for attempt in attempts if attempt.task_id in PARALLEL} == {"RUNNING"}
    last = last_seen(run, attempts)
    with stack.engine.lock:
        stack.engine.runs.pop((arn, run_id)).state = "STOPPED"  # nothing of it runs on
    # When the reconciler checks it (before issue 33: "run unknown to the API", left RUNNING for ever)
    advance(stack, 90)
    # Then it is stopped, at the last time it was seen, with no attempt left open, and no longer checked
    run, attempts = stack.runs.load(workflow_id, run_id)
    assert run is not None
    assert (run.status, run.ended_at) == ("STOPPED", last)
    assert {attempt.task_id: attempt.status for attempt in attempts} == {"begin": "SUCCESS"} | dict.fromkeys(
        PARALLEL, "CANCELLED"
    )
    assert (workflow_id, run_id) not in unverified(stack)


@pytest.mark.parametrize("run_end_lost", [False, True], ids=["run-end-stored", "run-end-lost"])
def test_a_deleted_workflows_run_keeps_its_times_and_leaves_no_attempt_open_whichever_of_its_events_arrived(
    stack: localstack.LocalStack, service: Any, run_end_lost: bool
) -> None:
    # Given a run of a workflow deleted mid-run (the simulator stops it, then forgets it with its workflow), whose
    # Started event and its tasks' Cancelled events were lost, and its Stopped event too or not
    name = f"fan_out_deleted_{int(run_end_lost)}"
    arn = create_fan_out(stack, service, name)
    workflow_id = arn.rsplit("/", 1)[1]
    stack.engine.set_faults(name, Faults(time_out=set(PARALLEL)))
    lost = {"Workflow Run Started", "Task Cancelled"} | ({"Workflow Run Stopped"} if run_end_lost else set())
    stack.sink.on_the_way = lambda entry: (
        None if arn in entry["Resources"] and entry["DetailType"].removeprefix("MWAA Serverless ") in lost else entry
    )
    try:
        run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
        advance(stack, 10)
        service.delete_workflow(WorkflowArn=arn)
        advance(stack, 5)
    finally:
        stack.sink.on_the_way = lambda entry: entry
    assert (arn, run_id) not in stack.engine.runs
    run, attempts = stack.runs.load(workflow_id, run_id)
    assert run is not None
    assert run.status == ("RUNNING" if run_end_lost else "STOPPED")
    assert run.seen_starting is None
    assert {attempt.status for attempt in attempts if attempt.task_id in PARALLEL} == {"RUNNING"}
    first, last = min(run.seen().values()), last_seen(run, attempts)
    # When the reconciler checks it (before: a run stored ended kept its attempts open for ever, and one not stored
    # ended was started at the time of the pass, after its own end)
    advance(stack, 90)
    # Then it is stopped (at its stored end, else the last time it was seen), started when it was first seen, and
    # no attempt is left open: each is closed at the run's end
    run, attempts = stack.runs.load(workflow_id, run_id)
    assert run is not None
    assert run.status == "STOPPED"
    assert run.seen_starting == first
    if run_end_lost:
        assert run.ended_at == last
    assert {attempt.task_id: attempt.status for attempt in attempts} == {"begin": "SUCCESS"} | dict.fromkeys(
        PARALLEL, "CANCELLED"
    )
    assert all(attempt.ended_at == run.ended_at for attempt in attempts if attempt.task_id in PARALLEL)
    assert (workflow_id, run_id) not in unverified(stack)
