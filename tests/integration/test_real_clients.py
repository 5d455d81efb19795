"""Clients nobody here wrote, against the local stack: the AWS CLI v1 running the commands of AWS's launch post
("Introducing Amazon MWAA Serverless"), and Apache Airflow's Amazon provider running its MWAA Serverless operators
and run sensor. Each is installed in its own venv by make (make awscli, make airflow; make test does both) and
driven as a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mwaa_obs_tools import localstack

REPO = Path(__file__).resolve().parents[2]
AWS_CLI = os.environ.get("MWAA_OBS_AWS_CLI", str(REPO / ".venv" / "awscli" / "bin" / "aws"))
AIRFLOW_PYTHON = os.environ.get("MWAA_OBS_AIRFLOW_PYTHON", str(REPO / ".venv" / "airflow" / "bin" / "python"))
SCENARIO = Path(__file__).with_name("clients") / "airflow_scenario.py"
# The launch post's workflow: list a bucket, then write the listing back (its simple_s3_test.yaml).
SIMPLE_S3_TEST = """simple_s3_test:
  dag_id: simple_s3_test
  schedule: 0 0 * * *
  tasks:
    list_objects:
      operator: airflow.providers.amazon.aws.operators.s3.S3ListOperator
      bucket: amzn-s3-demo-bucket
      prefix: ''
      retries: 0
    create_object_list:
      operator: airflow.providers.amazon.aws.operators.s3.S3CreateObjectOperator
      data: '{{ ti.xcom_pull(task_ids="list_objects", key="return_value") }}'
      s3_bucket: amzn-s3-demo-bucket
      s3_key: filelist.txt
      dependencies: [list_objects]
"""
ISO_MICROSECONDS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00"  # as the post prints StartedAt


@pytest.fixture(scope="module")
def definitions(stack: localstack.LocalStack) -> dict[str, str]:
    s3 = localstack.client(stack.endpoint, "s3")
    keys = {"post": "yaml/simple_s3_test.yaml", "airflow": "yaml/airflow_client.yaml", "airflow_2": "yaml/af2.yaml"}
    s3.put_object(Bucket=localstack.DEFINITIONS_BUCKET, Key=keys["post"], Body=SIMPLE_S3_TEST.encode())
    one_task = "airflow_client:\n  default_args: {retries: 0}\n  tasks:\n    only: {operator: %s, bucket: b}\n"
    operator = "airflow.providers.amazon.aws.operators.s3.S3ListOperator"
    s3.put_object(Bucket=localstack.DEFINITIONS_BUCKET, Key=keys["airflow"], Body=(one_task % operator).encode())
    two = one_task % operator + f"    then: {{operator: {operator}, bucket: b, dependencies: [only]}}\n"
    s3.put_object(Bucket=localstack.DEFINITIONS_BUCKET, Key=keys["airflow_2"], Body=two.encode())
    return keys


@pytest.fixture(scope="module")
def aws_env(stack: localstack.LocalStack) -> dict[str, str]:
    assert Path(AWS_CLI).exists(), f"{AWS_CLI} not found: run `make awscli` (make test does)"
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL_MWAA_SERVERLESS": stack.simulator.url,  # the service's own endpoint setting
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def aws(env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        check=False, args=[AWS_CLI, "mwaa-serverless", *arguments], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_launch_posts_aws_cli_commands(
    stack: localstack.LocalStack, definitions: dict[str, str], aws_env: dict[str, str]
) -> None:
    location = json.dumps({"Bucket": localstack.DEFINITIONS_BUCKET, "ObjectKey": definitions["post"]})
    role = localstack.WORKFLOW_ROLE_ARN
    created = json.loads(
        aws(aws_env, "create-workflow", "--name", "simple_s3_test", "--definition-s3-location", location,
            "--role-arn", role, "--region", "us-east-1")
    )  # fmt: skip
    arn = created["WorkflowArn"]
    assert re.fullmatch(r"arn:aws:airflow-serverless:us-east-1:123456789012:workflow/simple_s3_test-\w{10}", arn)
    assert re.fullmatch(r"[a-z0-9]{32}", created["WorkflowVersion"])
    assert re.fullmatch(ISO_MICROSECONDS, created["CreatedAt"])  # AWS CLI v1 printed 1796500154.0 before
    run_id = json.loads(aws(aws_env, "start-workflow-run", "--workflow-arn", arn, "--region", "us-east-1"))["RunId"]
    stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=1))
    run = json.loads(
        aws(aws_env, "get-workflow-run", "--workflow-arn", arn, "--run-id", run_id, "--region", "us-east-1")
    )
    assert (run["RunDetail"]["RunState"], run["RunType"]) == ("SUCCESS", "ON_DEMAND")
    # The post's pipe: every task instance's Status, StartedAt and LogStream. As printed it passes the ids of a run
    # of two or more tasks as one argument (text output puts a list on one line, tab-separated, and xargs' -I
    # reads whole lines, overriding -n 1): a line per id first.
    pipe = (
        f"'{AWS_CLI}' mwaa-serverless list-task-instances --workflow-arn {arn} --run-id {run_id}"
        " --query 'TaskInstances[].TaskInstanceId' --output text | tr '\\t' '\\n'"
        f" | xargs -n 1 -I {{}} '{AWS_CLI}' mwaa-serverless get-task-instance --workflow-arn {arn}"
        f" --run-id {run_id} --task-instance-id {{}}"
        " --query '{Status: Status, StartedAt: StartedAt, LogStream: LogStream}'"
    )
    done = subprocess.run(
        check=False, args=["bash", "-c", f"set -o pipefail; {pipe}"], env=aws_env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(chunk) for chunk in re.findall(r"\{[^{}]*\}", done.stdout)]
    assert len(answers) == 2
    for answer in answers:
        assert answer["Status"] == "SUCCESS"
        assert re.fullmatch(ISO_MICROSECONDS, answer["StartedAt"])
        assert re.fullmatch(
            rf"workflow_id={arn.rsplit('/', 1)[1]}/run_id={run_id}/task_id=(list_objects|create_object_list)"
            r"/attempt=1\.log",
            answer["LogStream"],
        )
    updated = json.loads(
        aws(aws_env, "update-workflow", "--workflow-arn", arn, "--definition-s3-location", location,
            "--role-arn", role, "--region", "us-east-1")
    )  # fmt: skip
    assert updated["WorkflowVersion"] != created["WorkflowVersion"]
    listed = json.loads(aws(aws_env, "list-workflows", "--region", "us-east-1"))["Workflows"]
    assert arn in {w["WorkflowArn"] for w in listed}
    # The post's clean-up: every workflow deleted (a line per ARN first, as above)
    delete_all = (
        f"'{AWS_CLI}' mwaa-serverless list-workflows --query 'Workflows[*].WorkflowArn' --output text"
        f" | tr '\\t' '\\n' | while read -r w; do '{AWS_CLI}' mwaa-serverless delete-workflow --workflow-arn $w; done"
    )
    done = subprocess.run(
        check=False, args=["bash", "-c", f"set -o pipefail; {delete_all}"], env=aws_env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(aws(aws_env, "list-workflows"))["Workflows"] == []


def test_a_refusal_reaches_the_aws_cli_with_its_reason(aws_env: dict[str, str]) -> None:
    done = subprocess.run(
        check=False,
        args=[AWS_CLI, "mwaa-serverless", "create-workflow", "--name", "bad name!", "--definition-s3-location",
         '{"Bucket": "b", "ObjectKey": "k"}', "--role-arn", localstack.WORKFLOW_ROLE_ARN],
        env=aws_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 255  # AWS CLI v1 exits 255 on an error the service answered (v2: 254)
    assert "An error occurred (ValidationException) when calling the CreateWorkflow operation" in done.stderr
    assert "Value at 'Name' failed to satisfy constraint" in done.stderr


def test_the_airflow_amazon_providers_operators_and_sensor(
    stack: localstack.LocalStack, definitions: dict[str, str], tmp_path: Path
) -> None:
    assert Path(AIRFLOW_PYTHON).exists(), f"{AIRFLOW_PYTHON} not found: run `make airflow` (make test does)"
    extra = {
        "region_name": "us-east-1",
        "endpoint_url": stack.endpoint,  # moto, for the STS call that builds the ARN on a skipped create
        "service_config": {"mwaa-serverless": {"endpoint_url": stack.simulator.url}},
    }
    connection = {"conn_type": "aws", "login": "local", "password": "local", "extra": extra}
    config = {
        "simulator_url": stack.simulator.url,
        "name": "airflow_client",
        "role_arn": localstack.WORKFLOW_ROLE_ARN,
        "bucket": localstack.DEFINITIONS_BUCKET,
        "key": definitions["airflow"],
        "updated_key": definitions["airflow_2"],
        "task": "only",
    }
    env = {**os.environ, "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection), "AIRFLOW_HOME": str(tmp_path)}
    command = [AIRFLOW_PYTHON, str(SCENARIO), json.dumps(config)]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    answers: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    arn = answers["created"]
    assert answers["created_again"] == arn  # if_exists="skip" built the ARN from the Conflict's ResourceId
    assert answers["first_poke"] is False
    assert answers["succeeded"] == "success"
    assert re.fullmatch(
        r"error: Workflow run \w{15} failed with state FAILED: Workflow execution failed", answers["failed"]
    )
    assert answers["stop_status"] == "STOPPING"
    assert re.fullmatch(r"error: Workflow run \w{15} failed with state STOPPED: .+", answers["stopped"])
    assert answers["updated"] == arn
    assert answers["deleted"] is None
    stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=1))
    assert arn not in stack.engine.workflows
    stack.pump()  # and the pipeline stored what happened
    stored = {run.status for run in stack.runs.recent(arn.rsplit("/", 1)[1])}
    assert stored == {"SUCCESS", "FAILED", "STOPPED"}
