"""PythonOperator, BashOperator and operators from a code package, through the real boto3 client: the package is
copied at the request, what a task names is resolved in it, and a task that cannot run fails with the traceback a
worker would log. The dag-converter's output is accepted as the service accepts it."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mwaa_obs.task_logs import readable
from mwaa_obs_tools.simulator.definition import parse_definition
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.faults import Faults
from tests.simulator.test_lifecycle import ROLE, START, World

PYTHON = "airflow.providers.standard.operators.python.PythonOperator"
BASH = "airflow.operators.bash.BashOperator"
ETL = """import os


def transform():
    stage = os.environ["STAGE"]
    return f"transformed for {stage}"
"""
MY_OPERATORS = """from airflow.sdk import BaseOperator


class CopyOperator(BaseOperator):
    def execute(self, context):
        return "copied"
"""


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def world() -> World:
    world = World()
    world.objects["code.zip"] = package({"etl.py": ETL, "my_ops.py": MY_OPERATORS, "load.sh": "echo loading\n"})
    return world


def one_task(name: str, spec: str) -> bytes:
    return f"{name}:\n  default_args: {{retries: 0}}\n  tasks:\n    only: {{{spec}}}\n".encode()


def run_one(
    service: Any, engine: Engine, world: World, name: str, spec: str, code: str | None = "code.zip", **members: Any
) -> tuple[dict[str, Any], list[str]]:
    """Create the one-task workflow, run it to its end; the task instance and the lines its attempt logged."""
    world.objects[f"{name}.yaml"] = one_task(name, spec)
    location = {"Bucket": "definitions", "ObjectKey": f"{name}.yaml"}
    code_member = {"Code": {"S3Location": {"Bucket": "code", "ObjectKey": code}}} if code else {}
    overrides = members.pop("OverrideParameters", None)
    arn = service.create_workflow(Name=name, DefinitionS3Location=location, RoleArn=ROLE, **code_member, **members)[
        "WorkflowArn"
    ]
    run_id = service.start_workflow_run(WorkflowArn=arn, **({"OverrideParameters": overrides} if overrides else {}))[
        "RunId"
    ]
    engine.advance_until_idle(engine.now + timedelta(hours=2))
    listed = service.list_task_instances(WorkflowArn=arn, RunId=run_id)["TaskInstances"][0]
    task = service.get_task_instance(WorkflowArn=arn, RunId=run_id, TaskInstanceId=listed["TaskInstanceId"])
    # each record as Airflow's log view shows it as text (its traceback in Python's form)
    lines = ["\n".join(readable(message)) for _, stream, _, message in world.logs if stream == task["LogStream"]]
    return task, lines


def test_a_python_task_runs_its_callable_from_the_code_package(service: Any, engine: Engine, world: World) -> None:
    spec = f"operator: {PYTHON}, python_callable: etl.transform"
    task, _ = run_one(service, engine, world, "py_ok", spec, Environment={"Variables": {"STAGE": "test"}})
    assert task["Status"] == "SUCCESS"
    described = service.get_workflow(WorkflowArn=task["WorkflowArn"])
    assert described["Code"] == {"S3Location": {"Bucket": "code", "ObjectKey": "code.zip"}}
    assert described["CodeSnapshottedAt"] == START.replace(tzinfo=UTC)
    assert described["Environment"] == {"Variables": {"STAGE": "test"}}


def test_override_parameters_are_environment_variables_of_the_run(service: Any, engine: Engine, world: World) -> None:
    spec = f"operator: {PYTHON}, python_callable: etl.transform"
    task, _ = run_one(service, engine, world, "py_override", spec, OverrideParameters={"STAGE": "from the run"})
    assert task["Status"] == "SUCCESS"


def test_a_python_task_reading_a_variable_nobody_set_fails_with_a_keyerror_at_that_line(
    service: Any, engine: Engine, world: World
) -> None:
    task, lines = run_one(service, engine, world, "py_env", f"operator: {PYTHON}, python_callable: etl.transform")
    assert (task["Status"], task["ErrorMessage"]) == ("FAILED", "KeyError: 'STAGE'")
    traceback = next(line for line in lines if "Traceback (most recent call last):" in line)
    assert 'File "/usr/local/airflow/dags/etl.py", line 5, in transform' in traceback  # structlog keeps no source
    assert "airflow/sdk/execution_time/task_runner.py" in traceback
    assert traceback.rstrip().endswith("KeyError: 'STAGE'")


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (f"operator: {PYTHON}, python_callable: transforms.run", "ModuleNotFoundError: No module named 'transforms'"),
        (
            f"operator: {PYTHON}, python_callable: etl.load",
            'ImportError: Module "etl" does not define a "load" attribute/class',
        ),
        (f"operator: {BASH}, bash_command: missing.sh", "jinja2.exceptions.TemplateNotFound: missing.sh"),
        (
            f"operator: {BASH}, bash_command: 'aws s3 ls; exit 3'",
            "airflow.sdk.exceptions.AirflowException: Bash command failed. The command returned a non-zero exit "
            "code 3.",
        ),
        ("operator: my_ops.MoveOperator", 'ImportError: Module "my_ops" does not define a "MoveOperator"'),
    ],
)
def test_a_code_task_that_cannot_run_fails_as_its_worker_would(
    service: Any, engine: Engine, world: World, spec: str, error: str
) -> None:
    world.objects["code.zip"] = package({"etl.py": ETL, "my_ops.py": MY_OPERATORS})
    task, lines = run_one(service, engine, world, "broken", spec)
    assert task["Status"] == "FAILED"
    assert task["ErrorMessage"].startswith(error)
    assert any(error in line and "Traceback (most recent call last):" in line for line in lines)


@pytest.mark.parametrize(
    ("spec", "status"),
    [
        (f"operator: {BASH}, bash_command: load.sh", "SUCCESS"),
        (f"operator: {BASH}, bash_command: 'echo done'", "SUCCESS"),
        (f"operator: {BASH}, bash_command: 'exit 99'", "SKIPPED"),
        ("operator: my_ops.CopyOperator", "SUCCESS"),
    ],
)
def test_bash_tasks_and_packaged_operators_run(
    service: Any, engine: Engine, world: World, spec: str, status: str
) -> None:
    task, _ = run_one(service, engine, world, "runs", spec)
    assert task["Status"] == status


def test_an_injected_failure_is_raised_inside_the_callable(service: Any, engine: Engine, world: World) -> None:
    world.objects["py_fault.yaml"] = one_task("py_fault", f"operator: {PYTHON}, python_callable: etl.transform")
    location = {"Bucket": "definitions", "ObjectKey": "py_fault.yaml"}
    code = {"S3Location": {"Bucket": "code", "ObjectKey": "code.zip"}}
    env = {"Variables": {"STAGE": "x"}}
    arn = service.create_workflow(
        Name="py_fault", DefinitionS3Location=location, RoleArn=ROLE, Code=code, Environment=env
    )["WorkflowArn"]
    engine.set_faults("py_fault", Faults(fail={"only"}))
    service.start_workflow_run(WorkflowArn=arn)
    engine.advance_until_idle(engine.now + timedelta(hours=1))
    failure = next(text for _, _, _, message in world.logs if "Traceback" in (text := "\n".join(readable(message))))
    assert 'etl.py", line 5, in transform' in failure
    assert failure.endswith("RuntimeError: simulated failure of attempt 1")


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        ("code.tar.gz", b"x", "must be a .py file, a .sh file or a .zip archive"),
        ("code.zip", b"not a zip", "is not a readable .zip archive"),
        ("absent.zip", None, "cannot be read"),
    ],
)
def test_a_code_package_the_service_cannot_take_is_refused(
    service: Any, world: World, key: str, data: bytes | None, reason: str
) -> None:
    if data is not None:
        world.objects[key] = data
    world.objects["refused.yaml"] = one_task("refused", f"operator: {BASH}, bash_command: 'echo'")
    location = {"Bucket": "definitions", "ObjectKey": "refused.yaml"}
    code = {"S3Location": {"Bucket": "code", "ObjectKey": key}}
    with pytest.raises(service.exceptions.ValidationException, match=reason):
        service.create_workflow(Name="refused", DefinitionS3Location=location, RoleArn=ROLE, Code=code)


def test_a_packaged_operator_without_its_package_is_an_unknown_operator(service: Any, world: World) -> None:
    with pytest.raises(service.exceptions.ValidationException, match=r"unknown operator 'my_ops\.CopyOperator'"):
        run_one(service, Engine(world, world.read, start=START), world, "nopkg", "operator: my_ops.CopyOperator", None)


def test_each_version_keeps_the_package_it_was_given(service: Any, engine: Engine, world: World) -> None:
    spec = f"operator: {PYTHON}, python_callable: etl.transform"
    task, _ = run_one(service, engine, world, "repackaged", spec, Environment={"Variables": {"STAGE": "x"}})
    arn, first = task["WorkflowArn"], task["WorkflowVersion"]
    world.objects["code2.py"] = b"def other():\n    pass\n"
    engine.advance(engine.now + timedelta(minutes=5))
    location = {"Bucket": "definitions", "ObjectKey": "repackaged.yaml"}
    code = {"S3Location": {"Bucket": "code", "ObjectKey": "code2.py"}}
    service.update_workflow(WorkflowArn=arn, DefinitionS3Location=location, RoleArn=ROLE, Code=code)
    assert service.get_workflow(WorkflowArn=arn)["CodeSnapshottedAt"] > START
    for version, status in ((first, "SUCCESS"), (None, "FAILED")):  # the new package has no etl module
        run_id = service.start_workflow_run(WorkflowArn=arn, **({"WorkflowVersion": version} if version else {}))[
            "RunId"
        ]
        engine.advance_until_idle(engine.now + timedelta(hours=1))
        listed = service.list_task_instances(WorkflowArn=arn, RunId=run_id)["TaskInstances"]
        assert listed[0]["Status"] == status


def test_the_dag_converters_output_is_accepted() -> None:
    """As awslabs/python-to-yaml-dag-converter-mwaa-serverless writes it (dev/integ_test/yaml_output_folder)."""
    text = """converted:
  dag_id: converted
  schedule: None
  catchup: false
  max_active_runs: 16
  start_date: {__type__: datetime.datetime, year: 2027, month: 3, day: 1, hour: 6}
  default_args:
    retries: 2
    retry_delay: {__type__: datetime.timedelta, seconds: 120.0}
    execution_timeout: {__type__: datetime.timedelta, seconds: 1800.0}
  tasks:
    list_objects:
      operator: airflow.providers.amazon.aws.operators.s3.S3ListOperator
      aws_conn_id: aws_default
      bucket: amzn-s3-demo-bucket
      outlets: []
      params: {}
      priority_weight: 1
      trigger_rule: all_success
      wait_for_downstream: false
"""
    definition = parse_definition(text, "converted.yaml", now=datetime(2026, 11, 24, tzinfo=UTC))
    assert definition.start_date == datetime(2027, 3, 1, 6, tzinfo=UTC)
    (task,) = definition.tasks
    assert (task.retries, task.retry_delay, task.execution_timeout) == (2, 120.0, 1800.0)
    assert {"catchup", "priority_weight", "wait_for_downstream"} <= set(definition.ignored)
