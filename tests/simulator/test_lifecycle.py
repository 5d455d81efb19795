"""The lifecycle the API reference documents, through the real boto3 client: stop (STOPPING, then STOPPED),
delete (runs stopped, DELETING, then gone), update (a new version, the schedule re-armed, tasks removed from runs in
progress), versions, ClientTokens, and the task states of sensors, deferrals and restarts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.faults import Faults
from mwaa_obs_tools.simulator.model import Run

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/mwaa-serverless"
S3_LIST = "airflow.providers.amazon.aws.operators.s3.S3ListOperator"
S3_SENSOR = "airflow.providers.amazon.aws.sensors.s3.S3KeySensor"


def chain(name: str, *task_ids: str, schedule: str = "null", extra: str = "") -> bytes:
    """A workflow of tasks one after the other."""
    lines = [f"{name}:", f"  schedule: {schedule}", "  default_args: {retries: 0}", "  tasks:"]
    for index, task_id in enumerate(task_ids):
        depends = f", dependencies: [{task_ids[index - 1]}]" if index else ""
        lines.append(f"    {task_id}: {{operator: {S3_LIST}, bucket: b{depends}{extra}}}")
    return ("\n".join(lines) + "\n").encode()


@dataclass
class World:
    objects: dict[str, bytes] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    logs: list[tuple[str, str, datetime, str]] = field(default_factory=list)

    def publish(self, entries: list[dict[str, Any]]) -> None:
        self.events += entries

    def log(self, group: str, stream: str, at: datetime, message: str) -> None:
        self.logs.append((group, stream, at, message))

    def read(self, location: dict[str, Any]) -> bytes:
        key = location["ObjectKey"] + (f"?{location['VersionId']}" if location.get("VersionId") else "")
        return self.objects[key]

    def types_of(self, run_id: str) -> list[str]:
        # CloudTrail's records of the calls carry no top-level runId
        return [e["DetailType"] for e in self.events if json.loads(e["Detail"]).get("runId") == run_id]


@pytest.fixture
def world() -> World:
    return World()


def create(service: Any, world: World, name: str, text: bytes, **members: Any) -> str:
    world.objects[f"{name}.yaml"] = text
    location = {"Bucket": "definitions", "ObjectKey": f"{name}.yaml"}
    arn: str = service.create_workflow(Name=name, DefinitionS3Location=location, RoleArn=ROLE, **members)["WorkflowArn"]
    return arn


def watch(engine: Engine, run: Run, seconds: int) -> dict[str, list[str]]:
    """Every status each task instance of the run passes through, second by second (repeats collapsed)."""
    seen: dict[str, list[str]] = {task_id: [] for task_id in run.tasks}
    for _ in range(seconds):
        engine.advance(engine.now + timedelta(seconds=1))
        for task_id, instance in run.tasks.items():
            if not seen[task_id] or seen[task_id][-1] != instance.status:
                seen[task_id].append(instance.status)
    return seen


def run_of(engine: Engine, arn: str, run_id: str) -> Run:
    return engine.runs[(arn, run_id)]


# --- stop ----------------------------------------------------------------------------------------------------------


def test_a_stop_goes_stopping_then_stopped_and_cancels_what_has_not_finished(
    service: Any, engine: Engine, world: World
) -> None:
    arn = create(service, world, "stopped", chain("stopped", "first", "second", "third"))
    engine.set_faults("stopped", Faults(durations={"first": 600}))
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    run = run_of(engine, arn, run_id)
    watch(engine, run, 60)
    assert run.tasks["first"].status == "RUNNING"
    assert service.stop_workflow_run(WorkflowArn=arn, RunId=run_id)["Status"] == "STOPPING"
    assert service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]["RunState"] == "STOPPING"
    assert service.stop_workflow_run(WorkflowArn=arn, RunId=run_id)["Status"] == "STOPPING"  # idempotent
    watch(engine, run, 60)
    detail = service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]
    assert detail["RunState"] == "STOPPED"
    statuses = {task_id: instance.status for task_id, instance in run.tasks.items()}
    assert statuses == {"first": "CANCELLED", "second": "NONE", "third": "NONE"}
    first = service.get_task_instance(WorkflowArn=arn, RunId=run_id, TaskInstanceId=run.tasks["first"].task_instance_id)
    assert first["Status"] == "CANCELLED"
    assert first["EndedAt"] <= detail["CompletedOn"]
    types = world.types_of(run_id)
    assert types[-1] == "MWAA Serverless Workflow Run Stopped"
    assert not any("Stopping" in t or "Cancelled" in t for t in types)  # no detail-type exists for them
    assert any("SIGTERM" in message for _, stream, _, message in world.logs if "task_id=first" in stream)


def test_a_run_stopped_before_it_began_stops_without_running_anything(
    service: Any, engine: Engine, world: World
) -> None:
    arn = create(service, world, "early", chain("early", "only"))
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    service.stop_workflow_run(WorkflowArn=arn, RunId=run_id)
    engine.advance_until_idle(engine.now + timedelta(hours=1))
    run = run_of(engine, arn, run_id)
    assert (run.state, run.tasks["only"].status, run.started_at) == ("STOPPED", "NONE", None)
    other = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    engine.advance_until_idle(engine.now + timedelta(hours=1))
    with pytest.raises(service.exceptions.ValidationException):  # a run that ended otherwise cannot be stopped
        service.stop_workflow_run(WorkflowArn=arn, RunId=other)


# --- delete --------------------------------------------------------------------------------------------------------


def test_deleting_a_workflow_stops_its_runs_then_forgets_it(service: Any, engine: Engine, world: World) -> None:
    arn = create(service, world, "doomed", chain("doomed", "first", "second", schedule='"*/10 * * * *"'))
    engine.set_faults("doomed", Faults(durations={"first": 900}))
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    run = run_of(engine, arn, run_id)
    watch(engine, run, 40)
    deleted = service.delete_workflow(WorkflowArn=arn)
    deleted.pop("ResponseMetadata")
    assert deleted["WorkflowVersion"] == service.get_workflow(WorkflowArn=arn)["WorkflowVersion"]
    assert service.get_workflow(WorkflowArn=arn)["WorkflowStatus"] == "DELETING"
    with pytest.raises(service.exceptions.ConflictException):
        service.start_workflow_run(WorkflowArn=arn)
    again = service.delete_workflow(WorkflowArn=arn)
    assert {k: v for k, v in again.items() if k != "ResponseMetadata"} == deleted  # idempotent while deleting
    engine.advance(engine.now + timedelta(hours=1))
    assert run.state == "STOPPED"
    assert world.types_of(run_id)[-1] == "MWAA Serverless Workflow Run Stopped"
    with pytest.raises(service.exceptions.ResourceNotFoundException):
        service.get_workflow(WorkflowArn=arn)
    with pytest.raises(service.exceptions.ResourceNotFoundException):
        service.get_workflow_run(WorkflowArn=arn, RunId=run_id)
    assert service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"] == []
    assert [r for r in engine.runs.values() if r.workflow.arn == arn] == []  # no scheduled run fired after it


def test_deleting_one_version_keeps_the_others(service: Any, engine: Engine, world: World) -> None:
    arn = create(service, world, "two", chain("two", "a"))
    first = service.get_workflow(WorkflowArn=arn)["WorkflowVersion"]
    world.objects["two-b.yaml"] = chain("two", "a", "b")
    location = {"Bucket": "definitions", "ObjectKey": "two-b.yaml"}
    second = service.update_workflow(WorkflowArn=arn, DefinitionS3Location=location, RoleArn=ROLE)["WorkflowVersion"]
    with pytest.raises(service.exceptions.ResourceNotFoundException):
        service.delete_workflow(WorkflowArn=arn, WorkflowVersion="f" * 32)
    assert service.delete_workflow(WorkflowArn=arn, WorkflowVersion=second)["WorkflowVersion"] == second
    versions = service.list_workflow_versions(WorkflowArn=arn)["WorkflowVersions"]
    assert [(v["WorkflowVersion"], v["IsLatestVersion"]) for v in versions] == [(first, True)]
    service.delete_workflow(WorkflowArn=arn, WorkflowVersion=first)  # the only version: the workflow goes
    assert service.list_workflows()["Workflows"] == []


# --- update and versions -------------------------------------------------------------------------------------------


def test_an_update_makes_a_version_and_re_arms_the_schedule(service: Any, engine: Engine, world: World) -> None:
    arn = create(service, world, "hourly", chain("hourly", "a", schedule='"0 * * * *"'), Description="first")
    world.objects["hourly.yaml?v2"] = chain("hourly", "a", schedule='"30 * * * *"')
    location = {"Bucket": "definitions", "ObjectKey": "hourly.yaml", "VersionId": "v2"}
    updated = service.update_workflow(WorkflowArn=arn, DefinitionS3Location=location, RoleArn=ROLE)
    engine.advance(START + timedelta(hours=3))
    runs = service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]
    assert sorted(r["RunDetailSummary"]["CreatedOn"].minute for r in runs) == [30, 30, 30]  # only the new cron
    assert {r["WorkflowVersion"] for r in runs} == {updated["WorkflowVersion"]}
    described = service.get_workflow(WorkflowArn=arn)
    assert described["DefinitionS3Location"] == location  # the S3 VersionId kept
    assert described["Description"] == "first"  # an update without one keeps it (assumed)
    world.objects["hourly-off.yaml"] = chain("hourly", "a")
    off = {"Bucket": "definitions", "ObjectKey": "hourly-off.yaml"}
    service.update_workflow(WorkflowArn=arn, DefinitionS3Location=off, RoleArn=ROLE, Description="manual now")
    engine.advance(START + timedelta(hours=6))
    assert len(service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]) == 3  # disarmed
    assert service.get_workflow(WorkflowArn=arn)["Description"] == "manual now"


def test_every_operation_that_takes_a_version_honours_it(service: Any, engine: Engine, world: World) -> None:
    arn = create(service, world, "versioned", chain("versioned", "a"), Environment={"Variables": {"STAGE": "one"}})
    first = service.get_workflow(WorkflowArn=arn)["WorkflowVersion"]
    world.objects["versioned-2.yaml"] = chain("versioned", "a", "b")
    location = {"Bucket": "definitions", "ObjectKey": "versioned-2.yaml"}
    service.update_workflow(WorkflowArn=arn, DefinitionS3Location=location, RoleArn=ROLE)
    old = service.get_workflow(WorkflowArn=arn, WorkflowVersion=first)
    assert (old["DefinitionS3Location"]["ObjectKey"], old["Environment"]) == (
        "versioned.yaml",
        {"Variables": {"STAGE": "one"}},
    )
    assert "Environment" not in service.get_workflow(WorkflowArn=arn)  # an update replaces the variables whole
    run_id = service.start_workflow_run(WorkflowArn=arn, WorkflowVersion=first)["RunId"]
    assert set(run_of(engine, arn, run_id).tasks) == {"a"}  # the old version's definition
    service.start_workflow_run(WorkflowArn=arn)
    listed = service.list_workflow_runs(WorkflowArn=arn, WorkflowVersion=first)["WorkflowRuns"]
    assert [r["RunId"] for r in listed] == [run_id]
    with pytest.raises(service.exceptions.ResourceNotFoundException):
        service.start_workflow_run(WorkflowArn=arn, WorkflowVersion="0" * 32)


def test_an_update_removes_from_a_running_run_the_tasks_it_drops(service: Any, engine: Engine, world: World) -> None:
    arn = create(service, world, "shrinks", chain("shrinks", "first", "second"))
    engine.set_faults("shrinks", Faults(durations={"first": 300}))
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    run = run_of(engine, arn, run_id)
    watch(engine, run, 60)
    world.objects["shrinks-1.yaml"] = chain("shrinks", "first")
    location = {"Bucket": "definitions", "ObjectKey": "shrinks-1.yaml"}
    service.update_workflow(WorkflowArn=arn, DefinitionS3Location=location, RoleArn=ROLE)
    engine.advance_until_idle(engine.now + timedelta(hours=1))
    assert {t: i.status for t, i in run.tasks.items()} == {"first": "SUCCESS", "second": "REMOVED"}
    assert run.state == "SUCCESS"
    assert not any("Removed" in t for t in world.types_of(run_id))


# --- ClientToken ---------------------------------------------------------------------------------------------------


def test_client_tokens_make_retries_idempotent(service: Any, engine: Engine, world: World) -> None:
    world.objects["retried.yaml"] = chain("retried", "a")
    request = {
        "Name": "retried",
        "DefinitionS3Location": {"Bucket": "definitions", "ObjectKey": "retried.yaml"},
        "RoleArn": ROLE,
        "ClientToken": "create-once",
    }
    arn = service.create_workflow(**request)["WorkflowArn"]
    assert service.create_workflow(**request)["WorkflowArn"] == arn
    with pytest.raises(service.exceptions.ConflictException):
        service.create_workflow(**request | {"Description": "other parameters"})
    run_id = service.start_workflow_run(WorkflowArn=arn, ClientToken="start-once")["RunId"]
    assert service.start_workflow_run(WorkflowArn=arn, ClientToken="start-once")["RunId"] == run_id
    assert len(service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]) == 1
    assert service.start_workflow_run(WorkflowArn=arn)["RunId"] != run_id  # botocore fills in a new token


def test_a_taken_name_is_a_conflict_naming_the_workflow(service: Any, world: World) -> None:
    arn = create(service, world, "taken", chain("taken", "a"))
    with pytest.raises(service.exceptions.ConflictException) as raised:
        create(service, world, "taken", chain("taken", "a"))
    assert raised.value.response["ResourceId"] == arn.rsplit("/", 1)[1]  # what the Airflow provider reads
    assert raised.value.response["ResourceType"] == "Workflow"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


# --- sensors, deferrals, restarts ----------------------------------------------------------------------------------


def test_a_sensor_in_reschedule_mode_is_up_for_reschedule_between_pokes(
    service: Any, engine: Engine, world: World
) -> None:
    text = (
        f"waits:\n  tasks:\n    wait: {{operator: {S3_SENSOR}, bucket_key: k, mode: reschedule, poke_interval: 60}}\n"
    )
    arn = create(service, world, "waits", text.encode())
    engine.set_faults("waits", Faults(durations={"wait": 200}))
    run = run_of(engine, arn, service.start_workflow_run(WorkflowArn=arn)["RunId"])
    seen = watch(engine, run, 600)["wait"]
    assert seen.count("UP_FOR_RESCHEDULE") >= 2
    assert seen[-1] == "SUCCESS"
    assert run.tasks["wait"].attempt == 1  # a reschedule is not a retry
    running = [e for e in world.events if e["DetailType"] == "MWAA Serverless Task Running"]
    assert len(running) == seen.count("RUNNING")
    assert {json.loads(e["Detail"])["attemptNumber"] for e in running} == {1}


def test_a_deferrable_task_is_deferred_then_resumes(service: Any, engine: Engine, world: World) -> None:
    text = f"defers:\n  tasks:\n    wait: {{operator: {S3_SENSOR}, bucket_key: k, deferrable: true}}\n"
    arn = create(service, world, "defers", text.encode())
    engine.set_faults("defers", Faults(durations={"wait": 300}))
    run = run_of(engine, arn, service.start_workflow_run(WorkflowArn=arn)["RunId"])
    seen = watch(engine, run, 600)["wait"]
    assert seen == ["NONE", "SCHEDULED", "QUEUED", "RUNNING", "DEFERRED", "SCHEDULED", "QUEUED", "RUNNING", "SUCCESS"]
    assert run.tasks["wait"].attempt == 1


def test_a_restarted_attempt_does_not_count_against_the_retries(service: Any, engine: Engine, world: World) -> None:
    arn = create(service, world, "restarts", chain("restarts", "only"))  # retries: 0
    engine.set_faults("restarts", Faults(restart={"only": 1}))
    run = run_of(engine, arn, service.start_workflow_run(WorkflowArn=arn)["RunId"])
    seen = watch(engine, run, 600)["only"]
    assert "RESTARTING" in seen
    assert seen[-1] == "SUCCESS"
    assert run.tasks["only"].attempt == 2
    assert run.state == "SUCCESS"


# --- trigger modes and requests ------------------------------------------------------------------------------------


def test_a_disabled_workflow_does_not_start(service: Any, world: World) -> None:
    arn = create(service, world, "off", chain("off", "a"), TriggerMode="disabled")
    with pytest.raises(service.exceptions.ConflictException):
        service.start_workflow_run(WorkflowArn=arn)
    with pytest.raises(service.exceptions.ValidationException, match="TriggerMode"):
        create(service, world, "bad_mode", chain("bad_mode", "a"), TriggerMode="sometimes")


def test_refusals_say_why_in_the_models_members(service: Any, world: World) -> None:
    with pytest.raises(service.exceptions.ValidationException) as raised:
        create(service, world, "env", chain("env", "a"), Environment={"Variables": {"AIRFLOW__CORE__X": "1"}})
    assert raised.value.response["Reason"] == "fieldValidationFailed"
    assert re.search(r"AIRFLOW__CORE__X is reserved", raised.value.response["FieldList"][0]["Message"])
    allowed = {"AIRFLOW__WORKERS__SECRETS_BACKEND": "x", "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__ROLE": "y"}
    create(service, world, "env_ok", chain("env_ok", "a"), Environment={"Variables": allowed})
    with pytest.raises(service.exceptions.ValidationException) as raised:
        service.list_workflows(NextToken="not-a-token-it-gave")
    assert raised.value.response["FieldList"] == [
        {"Name": "NextToken", "Message": "The pagination token is invalid or expired"}
    ]
