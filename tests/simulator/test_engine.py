"""The simulated service's behaviour, through the real boto3 client (so responses are checked against the model)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from mwaa_obs.states import ALL_DETAIL_TYPES
from mwaa_obs_tools.simulator import cloudtrail
from mwaa_obs_tools.simulator.api import ApiServer
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.faults import Faults

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@dataclass
class MemorySink:
    events: list[dict[str, Any]] = field(default_factory=list)
    logs: list[tuple[str, str, datetime, str]] = field(default_factory=list)

    def publish(self, entries: list[dict[str, Any]]) -> None:
        assert len(entries) <= 10  # PutEvents takes at most 10 entries
        self.events += entries

    def log(self, group: str, stream: str, at: datetime, message: str) -> None:
        self.logs.append((group, stream, at, message))

    def of_run(self, run_id: str) -> list[tuple[str, dict[str, Any]]]:
        found = [(e["DetailType"], json.loads(e["Detail"])) for e in self.service_events()]
        return [(detail_type, detail) for detail_type, detail in found if detail["runId"] == run_id]

    def service_events(self) -> list[dict[str, Any]]:
        """The service's own events, without CloudTrail's records of the calls made to it."""
        return [e for e in self.events if e["DetailType"] != cloudtrail.DETAIL_TYPE]


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def engine(sink: MemorySink) -> Engine:
    def read(location: dict[str, Any]) -> str:
        path: Path = EXAMPLES / location["ObjectKey"]
        if not path.exists():
            raise KeyError(location["ObjectKey"])
        return path.read_text(encoding="utf-8")

    return Engine(sink, read, start=START)


@pytest.fixture
def service(engine: Engine) -> Iterator[Any]:
    server = ApiServer(engine).start()
    yield boto3.client(
        "mwaa-serverless",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    server.stop()


def create(service: Any, name: str) -> str:
    location = {"Bucket": "definitions", "ObjectKey": f"{name}.yaml"}
    arn: str = service.create_workflow(
        Name=name, DefinitionS3Location=location, RoleArn="arn:aws:iam::123456789012:role/r"
    )["WorkflowArn"]
    return arn


def tasks_of(service: Any, arn: str, run_id: str) -> dict[str, dict[str, Any]]:
    listed = service.list_task_instances(WorkflowArn=arn, RunId=run_id)["TaskInstances"]
    full = [
        service.get_task_instance(WorkflowArn=arn, RunId=run_id, TaskInstanceId=t["TaskInstanceId"]) for t in listed
    ]
    return {task["TaskId"]: task for task in full}


def test_an_on_demand_run_succeeds_with_its_events_in_order(service: Any, engine: Engine, sink: MemorySink) -> None:
    arn = create(service, "create_s3_objects")
    assert arn.startswith("arn:aws:airflow-serverless:us-east-1:123456789012:workflow/create_s3_objects-")
    assert len(arn.rsplit("-", 1)[1]) == 10
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    assert re.fullmatch(r"[A-Za-z0-9]{15}", run_id)  # opaque, as the service's (no manual__<time>)
    engine.advance_until_idle(engine.now + timedelta(hours=1))
    run = service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]
    assert (run["RunState"], run["RunType"]) == ("SUCCESS", "ON_DEMAND")
    instance_ids = {task["TaskId"]: task["TaskInstanceId"] for task in tasks_of(service, arn, run_id).values()}
    assert re.fullmatch(r"ex_[0-9a-f-]{36}_create_object_1_1", instance_ids["create_object_1"])
    assert run["Duration"] == (run["CompletedOn"] - run["StartedOn"]).total_seconds()
    types = [detail_type for detail_type, _ in sink.of_run(run_id)]
    assert types[:3] == [f"MWAA Serverless Workflow Run {s}" for s in ("Started", "Queued", "Running")]
    assert types[-1] == "MWAA Serverless Workflow Run Succeeded"
    assert types.count("MWAA Serverless Task Succeeded") == 3
    assert set(types) <= set(ALL_DETAIL_TYPES)


def test_retries_then_success_are_separate_attempts(service: Any, engine: Engine, sink: MemorySink) -> None:
    arn = create(service, "simple_s3_test")  # list_objects: retries 1
    engine.set_faults("simple_s3_test", Faults(fail_first={"list_objects": 1}))
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    engine.advance_until_idle(engine.now + timedelta(hours=1))
    tasks = tasks_of(service, arn, run_id)
    assert (tasks["list_objects"]["Status"], tasks["list_objects"]["AttemptNumber"]) == ("SUCCESS", 2)
    attempts = [(t, d["attemptNumber"]) for t, d in sink.of_run(run_id) if d.get("taskId") == "list_objects"]
    assert ("MWAA Serverless Task Up For Retry", 1) in attempts
    assert ("MWAA Serverless Task Succeeded", 2) in attempts
    assert tasks["list_objects"]["LogStream"].endswith("/task_id=list_objects/attempt=2.log")
    # each attempt's log: Airflow 3's records; the first with the error, its traceback and the retry notice
    first = [json.loads(line) for _, stream, _, line in sink.logs if stream.endswith("list_objects/attempt=1.log")]
    second = [json.loads(line) for _, stream, _, line in sink.logs if stream.endswith("list_objects/attempt=2.log")]
    failure = next(record for record in first if record["level"] == "error")
    assert failure["event"] == "Task failed with exception"
    assert failure["error_detail"][0]["exc_value"].endswith("simulated failure of attempt 1")
    assert failure["error_detail"][0]["frames"]
    assert first[-1]["event"].startswith("Marking task as UP_FOR_RETRY.")
    assert first[-1]["event"].endswith("The next try in 60 s.")
    assert first[0]["event"] == second[0]["event"] == "Task instance is in running state"
    assert second[-1]["event"] == "Marking task as SUCCESS."
    assert all({"timestamp", "level", "event", "logger"} <= set(record) for record in first + second)


def test_a_failure_marks_downstream_tasks_upstream_failed_and_fails_the_run(service: Any, engine: Engine) -> None:
    arn = create(service, "create_s3_objects")
    engine.set_faults("create_s3_objects", Faults(fail={"create_object_2"}))
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    engine.advance_until_idle(engine.now + timedelta(hours=1))
    tasks = tasks_of(service, arn, run_id)
    assert {task: t["Status"] for task, t in tasks.items()} == {
        "create_object_1": "SUCCESS",
        "create_object_2": "FAILED",
        "create_object_3": "UPSTREAM_FAILED",
    }
    run = service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]
    # as GetWorkflowRun answers in AWS's launch post: this message, and the task instances that began
    assert (run["RunState"], run["ErrorMessage"]) == ("FAILED", "Workflow execution failed")
    assert sorted(run["TaskInstances"]) == sorted(tasks[t]["TaskInstanceId"] for t in tasks)


def test_an_attempt_longer_than_its_execution_timeout_times_out_and_so_does_the_run(
    service: Any, engine: Engine, sink: MemorySink
) -> None:
    arn = create(service, "nightly_sales_etl")  # crawl_raw: execution_timeout 1800 s, retries 2 every 120 s
    engine.set_faults("nightly_sales_etl", Faults(durations={"crawl_raw": 9000}))
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    engine.advance_until_idle(engine.now + timedelta(hours=3))
    crawl = tasks_of(service, arn, run_id)["crawl_raw"]
    assert (crawl["Status"], crawl["AttemptNumber"]) == ("TIMEOUT", 3)
    assert crawl["DurationInSeconds"] == 1800  # the last attempt, cut at its limit
    assert "execution_timeout of 1800 s" in crawl["ErrorMessage"]
    run = service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]
    assert (run["RunState"], run["ErrorMessage"]) == ("TIMEOUT", "Workflow execution timed out")
    # three attempts of 1800 s and two retry delays of 120 s, after the sensor: no run-level limit cut it short
    assert run["Duration"] > 3 * 1800 + 2 * 120
    # the last attempt's log: the timeout notice, Airflow's timeout exception, the final state
    last = [json.loads(line) for _, stream, _, line in sink.logs if stream.endswith("crawl_raw/attempt=3.log")]
    errors = [record for record in last if record["level"] == "error"]
    assert errors[0]["event"].startswith("Process timed out after 1800 s (execution_timeout)")
    assert errors[1]["error_detail"][0]["exc_type"] == "airflow.sdk.exceptions.AirflowTaskTimeout"
    assert last[-1]["event"].startswith("Marking task as TIMEOUT.")


def test_a_plain_failure_beside_a_timeout_fails_the_run(service: Any, engine: Engine) -> None:
    arn = create(service, "nightly_sales_etl")
    engine.set_faults("nightly_sales_etl", Faults(time_out={"transform_orders"}, fail={"transform_refunds"}))
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    engine.advance_until_idle(engine.now + timedelta(hours=5))
    tasks = tasks_of(service, arn, run_id)
    assert (tasks["transform_orders"]["Status"], tasks["transform_refunds"]["Status"]) == ("TIMEOUT", "FAILED")
    run = service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]
    assert run["RunState"] == "FAILED"


def test_stopping_a_run(service: Any, engine: Engine) -> None:
    arn = create(service, "create_s3_objects")
    run_id = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    engine.advance(engine.now + timedelta(seconds=45))
    assert service.stop_workflow_run(WorkflowArn=arn, RunId=run_id)["Status"] == "STOPPING"
    engine.advance_until_idle(engine.now + timedelta(hours=1))
    assert service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]["RunState"] == "STOPPED"


def test_cron_schedules_fire_in_simulated_time(service: Any, engine: Engine) -> None:
    arn = create(service, "nightly_sales_etl")  # every 4 hours
    engine.advance(START + timedelta(days=1))
    runs = service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]
    assert len(runs) == 6
    assert {run["RunType"] for run in runs} == {"SCHEDULED"}
    assert service.get_workflow(WorkflowArn=arn)["ScheduleConfiguration"] == {"CronExpression": "0 */4 * * *"}


def test_a_schedule_the_scheduler_misses_starts_no_run_until_it_recovers(service: Any, engine: Engine) -> None:
    arn = create(service, "nightly_sales_etl")
    engine.set_faults("nightly_sales_etl", Faults(misses_schedule=True))
    engine.advance(START + timedelta(hours=9))
    assert service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"] == []
    engine.set_faults("nightly_sales_etl", Faults())
    engine.advance(START + timedelta(hours=13))
    assert len(service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]) == 1  # the 00:00 fire starts one


def test_lists_paginate(service: Any, engine: Engine) -> None:
    arn = create(service, "create_s3_objects")
    for _ in range(5):
        service.start_workflow_run(WorkflowArn=arn)
    pages = service.get_paginator("list_workflow_runs").paginate(WorkflowArn=arn, PaginationConfig={"PageSize": 2})
    assert [len(page["WorkflowRuns"]) for page in pages] == [2, 2, 1]


def test_errors_are_the_services_error_shapes(service: Any) -> None:
    with pytest.raises(service.exceptions.ResourceNotFoundException):
        service.get_workflow(WorkflowArn="arn:aws:airflow-serverless:us-east-1:123456789012:workflow/nope-AAAAAAAAAA")
    with pytest.raises(service.exceptions.ValidationException, match=r"missing\.yaml: the object cannot be read"):
        create(service, "missing")
    create(service, "simple_s3_test")
    with pytest.raises(service.exceptions.ConflictException):
        create(service, "simple_s3_test")


def test_tags_round_trip(service: Any) -> None:
    arn = create(service, "simple_s3_test")
    service.tag_resource(ResourceArn=arn, Tags={"team": "data", "env": "dev"})
    service.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert service.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "data"}


def test_update_versions_list_and_delete(service: Any) -> None:
    arn = create(service, "simple_s3_test")
    location = {"Bucket": "definitions", "ObjectKey": "simple_s3_test.yaml"}
    first = service.get_workflow(WorkflowArn=arn)["WorkflowVersion"]
    role = "arn:aws:iam::123456789012:role/r"
    second = service.update_workflow(WorkflowArn=arn, DefinitionS3Location=location, RoleArn=role)["WorkflowVersion"]
    assert re.fullmatch(r"[a-z0-9]{32}", second)
    assert second != first
    versions = service.list_workflow_versions(WorkflowArn=arn)["WorkflowVersions"]
    assert [(v["WorkflowVersion"], v["IsLatestVersion"]) for v in versions] == [(first, False), (second, True)]
    assert [w["Name"] for w in service.list_workflows()["Workflows"]] == ["simple_s3_test"]
    service.delete_workflow(WorkflowArn=arn)
    assert service.list_workflows()["Workflows"] == []


def test_a_server_never_started_stops_at_once(engine: Engine) -> None:
    # shutdown() waits for serve_forever to end; on a server never started that wait never ended.
    stopper = threading.Thread(target=ApiServer(engine).stop, daemon=True)
    stopper.start()
    stopper.join(timeout=30)
    assert not stopper.is_alive()


def test_a_run_keeps_the_faults_it_started_with_and_later_runs_do_not_inherit_cleared_ones(
    service: Any, engine: Engine
) -> None:
    # issue 36: `simulate --fail` made the workflow's next scheduled run fail too
    arn = create(service, "nightly_sales_etl")  # every 4 hours: the next fire is at 16:00
    engine.set_faults("nightly_sales_etl", Faults(fail={"load_warehouse"}))
    failing = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    engine.set_faults("nightly_sales_etl", Faults())  # as simulate does once its runs started
    engine.advance(START + timedelta(hours=6))
    runs = {run["RunId"]: run for run in service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]}
    assert runs.pop(failing)["RunDetailSummary"]["Status"] == "FAILED"  # its faults held to its end
    (scheduled,) = runs.values()
    assert scheduled["RunType"] == "SCHEDULED"
    assert scheduled["RunDetailSummary"]["Status"] == "SUCCESS"


def test_a_client_gone_before_its_answer_is_no_error_of_the_server(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 36: a Ctrl-C'd `mwaa-obs simulate` left a BrokenPipeError traceback in `local up`
    server = ApiServer(engine)
    try:
        for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "Connection reset by peer")):
            try:
                raise gone
            except ConnectionError:
                server._server.handle_error(None, ("127.0.0.1", 50000))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a fault of the server's own")
        except ValueError:
            server._server.handle_error(None, ("127.0.0.1", 50000))
        assert "ValueError: a fault of the server's own" in capsys.readouterr().err  # still told
    finally:
        server.stop()
