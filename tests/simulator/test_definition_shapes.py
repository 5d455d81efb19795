"""Workflow definitions in the shapes AWS publishes for MWAA Serverless (written here, not copied): the
dag-converter's bare `schedule: None`, a `task_id` repeated inside each task, sensors, Jinja in parameters,
`schedule_interval`, task lists, trigger rules. Each parses and runs to the final state its definition implies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mwaa_obs_tools.simulator.definition import parse_definition
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.faults import Faults

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
S3 = "airflow.providers.amazon.aws.operators.s3"

CONVERTED = f"""
# What the dag-converter writes for an unscheduled DAG
converted_dag:
  schedule: None
  tasks:
    make_bucket:
      operator: {S3}.S3CreateBucketOperator
      bucket_name: shapes-{{{{ ds_nodash }}}}
      task_id: make_bucket
    put_file:
      operator: {S3}.S3CreateObjectOperator
      s3_bucket: shapes-{{{{ ds_nodash }}}}
      s3_key: file.txt
      data: hello
      task_id: put_file
      dependencies:
      - make_bucket
    wait_for_file:
      operator: airflow.providers.amazon.aws.sensors.s3.S3KeySensor
      bucket_key: file.txt
      bucket_name: shapes-{{{{ ds_nodash }}}}
      task_id: wait_for_file
      dependencies:
      - put_file
"""
NULL_SCHEDULE = f"""
null_schedule:
  schedule: null
  default_args: {{retries: 1, retry_delay: 60}}
  tasks:
    only: {{operator: {S3}.S3ListOperator, bucket: b}}
"""
NO_SCHEDULE_TASK_LIST = f"""
task_list:
  tasks:
    - {{task_id: first, operator: {S3}.S3ListOperator, bucket: b}}
    - {{task_id: second, operator: {S3}.S3ListOperator, bucket: b, dependencies: [first]}}
"""
WEEKDAYS = f"""
weekdays:
  schedule: "0 6 * * 1-5"
  tasks:
    only: {{operator: {S3}.S3ListOperator, bucket: b}}
"""
INTERVAL_ALIAS = f"""
interval_alias:
  schedule_interval: "@daily"
  tasks:
    only: {{operator: {S3}.S3ListOperator, bucket: b}}
"""
CLEANUP = f"""
with_cleanup:
  schedule: None
  tasks:
    work: {{operator: {S3}.S3CreateObjectOperator, s3_bucket: b, s3_key: k, data: x}}
    cleanup: {{operator: {S3}.S3DeleteObjectsOperator, bucket: b, keys: [k], dependencies: [work],
              trigger_rule: all_done}}
"""

# Parameters the service ignores, among them a run limit far shorter than the run: nothing cuts it short
IGNORED_PARAMETERS = f"""
ignored_parameters:
  schedule: None
  dagrun_timeout: 30
  catchup: false
  max_active_runs: 1
  default_args: {{owner: data, depends_on_past: false, start_date: '2024-01-01'}}
  tasks:
    begin: {{operator: airflow.providers.standard.operators.empty.EmptyOperator}}
    long: {{operator: {S3}.S3ListOperator, bucket: b, pool: default_pool, dependencies: [begin]}}
"""
# A task that outlives its execution_timeout on every attempt (retries 1 by default) times out, and so does the run
TIMES_OUT = f"""
times_out:
  schedule: None
  tasks:
    slow: {{operator: {S3}.S3ListOperator, bucket: b, execution_timeout: 60, retry_delay: 10}}
"""


class Quiet:
    def publish(self, entries: list[dict[str, Any]]) -> None:
        """Events are not what this test looks at."""

    def log(self, group: str, stream: str, at: datetime, message: str) -> None:
        """Nor task logs."""


@pytest.mark.parametrize(
    ("text", "schedule", "faults", "run_state", "task_states"),
    [
        (CONVERTED, None, Faults(), "SUCCESS", {"make_bucket": "SUCCESS", "put_file": "SUCCESS",
                                                "wait_for_file": "SUCCESS"}),
        (NULL_SCHEDULE, None, Faults(fail_first={"only": 1}), "SUCCESS", {"only": "SUCCESS"}),
        (NO_SCHEDULE_TASK_LIST, None, Faults(fail={"first"}), "FAILED", {"first": "FAILED",
                                                                          "second": "UPSTREAM_FAILED"}),
        (WEEKDAYS, "0 6 * * 1-5", Faults(), "SUCCESS", {"only": "SUCCESS"}),
        (INTERVAL_ALIAS, "@daily", Faults(), "SUCCESS", {"only": "SUCCESS"}),
        # Airflow decides the run by its leaves: the cleanup ran, so the run succeeded despite the failure
        (CLEANUP, None, Faults(fail={"work"}), "SUCCESS", {"work": "FAILED", "cleanup": "SUCCESS"}),
        (IGNORED_PARAMETERS, None, Faults(), "SUCCESS", {"begin": "SUCCESS", "long": "SUCCESS"}),
        (TIMES_OUT, None, Faults(durations={"slow": 600}), "TIMEOUT", {"slow": "TIMEOUT"}),
    ],
    ids=["converted", "null", "task-list", "cron", "alias", "cleanup", "ignored", "times-out"],
)  # fmt: skip
def test_a_definition_shape_runs_to_the_state_it_implies(
    text: str, schedule: str | None, faults: Faults, run_state: str, task_states: dict[str, str]
) -> None:
    definition = parse_definition(text, "shape.yaml", now=START)
    assert definition.schedule == schedule
    engine = Engine(Quiet(), lambda location: text, start=START)
    location = {"Bucket": "shapes", "ObjectKey": "shape.yaml"}
    workflow = engine.create_workflow({"Name": definition.name, "DefinitionS3Location": location, "RoleArn": "arn:r"})
    engine.set_faults(definition.name, faults)
    run = engine.start_run(workflow.arn)
    engine.advance_until_idle(START + timedelta(hours=3))
    assert run.state == run_state
    assert {instance.task.task_id: instance.status for instance in run.tasks.values()} == task_states


def assert_fails_at_start(text: str, error: str | None) -> None:
    """The definition is accepted, as the service accepts it; its run fails as it starts with the error on the run
    and no task begun (or, with no error expected, succeeds)."""
    definition = parse_definition(text, "shape.yaml")
    engine = Engine(Quiet(), lambda location: text, start=START)
    location = {"Bucket": "shapes", "ObjectKey": "shape.yaml"}
    workflow = engine.create_workflow({"Name": definition.name, "DefinitionS3Location": location, "RoleArn": "arn:r"})
    run = engine.start_run(workflow.arn)
    engine.advance_until_idle(START + timedelta(hours=1))
    if error is None:
        assert run.state == "SUCCESS"
        return
    assert (run.state, run.error_message) == ("FAILED", error)
    assert {instance.status for instance in run.tasks.values()} == {"NONE"}


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("out-{{ execution_date }}", "put: 'execution_date' is undefined"),  # not in the documented set
        ("out-{{ ds_nodash }", "put: unexpected end of template, expected 'end of print statement'"),
        ('{\\"a\\": {\\"b\\": 1}}-{{ params.x }}', None),  # a }} outside an expression (inline JSON) is text
    ],
)
def test_a_template_that_cannot_render_fails_the_run_before_any_task(template: str, error: str | None) -> None:
    # Accepted at create time, as the service accepts it; the run fails with the error on the run
    text = f"""
templated:
  schedule: None
  tasks:
    put: {{operator: {S3}.S3CreateObjectOperator, s3_bucket: b, s3_key: "{template}", data: x}}
"""
    assert_fails_at_start(text, error)


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("{{ ti.xcom_pull(task_ids='ghost') }}", "put: xcom_pull from task 'ghost', which is not in the workflow"),
        (
            '{{ ti.xcom_pull(task_ids=["first", "ghost"]) }}',
            "put: xcom_pull from task 'ghost', which is not in the workflow",
        ),
        ("{{ task_instance.xcom_pull('first')['Key'] }}", None),
    ],
)
def test_an_xcom_pulled_from_a_task_the_workflow_lacks_fails_the_run(template: str, error: str | None) -> None:
    text = f"""
pulling:
  schedule: None
  tasks:
    first: {{operator: {S3}.S3ListOperator, bucket: b}}
    put: {{operator: {S3}.S3CreateObjectOperator, s3_bucket: b, s3_key: k, data: "{template.replace('"', '\\"')}",
          dependencies: [first]}}
"""
    assert_fails_at_start(text, error)


def test_a_schedule_fires_from_its_start_date_until_its_end_date() -> None:
    text = f"""
windowed:
  schedule: "0 6 * * *"
  start_date: 2026-11-26
  end_date: 2026-11-28
  tasks:
    only: {{operator: {S3}.S3ListOperator, bucket: b}}
"""
    definition = parse_definition(text, "windowed.yaml", now=START)
    engine = Engine(Quiet(), lambda location: text, start=START)
    location = {"Bucket": "shapes", "ObjectKey": "windowed.yaml"}
    workflow = engine.create_workflow({"Name": definition.name, "DefinitionS3Location": location, "RoleArn": "arn:r"})
    engine.advance(START + timedelta(days=7))
    fired = sorted(run.created_at for (arn, _), run in engine.runs.items() if arn == workflow.arn)
    assert fired == [datetime(2026, 11, day, 6, 0, tzinfo=UTC) for day in (26, 27)]
