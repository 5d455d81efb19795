"""The CLI's documented permissions (docs/CLI.md, "What the reading commands need in AWS") are enough, and needed.

Each command runs as it would against a deployed stack (no --endpoint-url: AWS_ENDPOINT_URL points the SDK at the
emulator), signed as a role whose policy is exactly the documented rows for that command; the emulator's IAM gate
checks every call as AWS would (mwaa_obs_tools.iam). A call the table does not list is denied and fails the test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mwaa_obs_tools import demo, emulator, localstack
from mwaa_obs_tools.iam import roles
from mwaa_obs_tools.iam.gate import GATE
from mwaa_obs_tools.sample_events import ACCOUNT, REGION
from mwaa_obs_tools.simulator.faults import Faults

CLI_DOC = emulator.REPO_ROOT / "docs" / "CLI.md"
TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    ],
}
# Each documented command as a user runs it (RUN and WORKFLOW filled in from the stack).
COMMANDS = {
    "runs list": ["runs", "list"],
    "runs show": ["runs", "show", "RUN", "--workflow", "WORKFLOW"],
    "logs": ["logs", "RUN", "--workflow", "WORKFLOW"],
    "runs rerun": ["runs", "rerun", "RUN", "--workflow", "WORKFLOW", "--yes"],
    "runs stop": ["runs", "stop", "RUNNING", "--workflow", "STARTED", "--yes"],
    "events samples": ["events", "samples"],
    "doctor": ["doctor"],
    "backfill": ["backfill", "--workflow", "WORKFLOW"],
    "backfill --metrics": ["backfill", "--workflow", "WORKFLOW", "--metrics"],
    "dlq redrive": ["dlq", "redrive", "events"],
    "dashboard render": ["dashboard", "render", "WORKFLOW", "--out", "OUT"],
    "ui": ["ui", "--port", "PORT"],
}


def documented_rows(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    """(commands, actions, resources) of each row of the permissions table."""
    section = text.split("## What the reading commands need in AWS", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        commands = ["*"] if cells[0] == "all of them" else re.findall(r"`([^`]+)`", cells[0])
        rows.append((commands, re.findall(r"`([^`]+)`", cells[1]), re.findall(r"`([^`]+)`", cells[2])))
    return rows


def documented_policy(command: str, names: dict[str, str], without: str | None = None) -> dict[str, Any]:
    """The policy of exactly the documented rows for the command (`without` one of its actions)."""
    statements = []
    for commands, actions, resources in documented_rows(CLI_DOC.read_text(encoding="utf-8")):
        if "*" not in commands and command not in commands and command.split(" --", maxsplit=1)[0] not in commands:
            continue  # a command's options add rows to its own (backfill --metrics: backfill's, and PutMetricData)
        kept = [action for action in actions if action != without]
        filled = [re.sub(r"<(\w+)>", lambda match: names[match.group(1)], resource) for resource in resources]
        if kept:
            statements.append({"Effect": "Allow", "Action": kept, "Resource": filled})
    return {"Version": "2012-10-17", "Statement": statements}


@pytest.fixture(scope="module")
def ran(stack: localstack.LocalStack, service: Any) -> dict[str, str]:
    """A failed run ingested."""
    arns = demo.create_workflows(stack)
    stack.engine.set_faults("create_s3_objects", Faults(fail={"create_object_2"}))
    run = service.start_workflow_run(WorkflowArn=arns["create_s3_objects"])["RunId"]
    stack.engine.advance(stack.engine.now + timedelta(hours=1))
    stack.pump()
    stack.engine.set_faults("create_s3_objects", Faults())
    return {"RUN": run, "WORKFLOW": "create_s3_objects", "ARN": arns["create_s3_objects"], "STARTED": RUNNING}


RUNNING = "simple_s3_test"  # the workflow of the run `runs stop` stops


def start_a_long_run(stack: localstack.LocalStack, service: Any) -> str:
    """A run of RUNNING that takes an hour, started and stored as running: its id."""
    stack.engine.set_faults(RUNNING, Faults(durations={"list_objects": 3600}))
    arn = next(w["WorkflowArn"] for w in service.list_workflows()["Workflows"] if w["Name"] == RUNNING)
    run = str(service.start_workflow_run(WorkflowArn=arn)["RunId"])
    stack.engine.advance(stack.engine.now + timedelta(minutes=2))
    stack.pump()
    return run


def lose_a_run(stack: localstack.LocalStack, workflow_arn: str) -> None:
    """A run whose events never arrived (and no pass of the reconciler since): only the API knows it, for backfill."""
    stack.sink.on_the_way = lambda _: None
    try:
        localstack.client(stack.simulator.url, "mwaa-serverless").start_workflow_run(WorkflowArn=workflow_arn)
        stack.engine.advance(stack.engine.now + timedelta(hours=1))
    finally:
        stack.sink.on_the_way = lambda entry: entry


@pytest.fixture(scope="module")
def names(stack: localstack.LocalStack) -> dict[str, str]:
    prefix = stack.deployment.parameter_values()["ResourcePrefix"]
    return {
        "region": REGION,
        "account": ACCOUNT,
        "prefix": prefix,
        "stack": localstack.STACK_NAME,
        "SlackWebhookSecretArn": stack.parameters["SlackWebhookSecretArn"],
    }


class Runner:
    """The CLI in a process of its own, against the local stack as against AWS, as a role made for the run."""

    def __init__(
        self, stack: localstack.LocalStack, service: Any, names: dict[str, str], filled: dict[str, str]
    ) -> None:
        self._stack, self._service, self._names, self._filled = stack, service, names, filled
        self._iam, self._sts = (localstack.client(stack.endpoint, name) for name in ("iam", "sts"))
        self._made = 0

    def run(self, command: str, tmp: Path, without: str | None = None) -> tuple[int, str, str]:
        """The command's exit code, its principal and what it printed on stderr."""
        self._made += 1
        role = f"cli-{self._made}"
        policy = documented_policy(command, self._names, without)
        self._iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
        self._iam.put_role_policy(RoleName=role, PolicyName="documented", PolicyDocument=json.dumps(policy))
        credentials = roles.assume(self._sts, f"arn:aws:iam::{ACCOUNT}:role/{role}", role)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "MWAA_OBS_"))}
        env |= roles.as_environment(credentials) | {
            "AWS_ENDPOINT_URL": self._stack.endpoint,
            "AWS_ENDPOINT_URL_MWAA_SERVERLESS": self._stack.simulator.url,
            "AWS_DEFAULT_REGION": REGION,
        }
        filled = self._filled | {"OUT": str(tmp / "render.png"), "PORT": str(emulator.free_port())}
        if command == "runs stop":
            filled["RUNNING"] = start_a_long_run(self._stack, self._service)
        argv = [filled.get(word, word) for word in COMMANDS[command]]
        principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{role}"
        if command == "ui":
            return _browse(argv, env), principal, ""
        if command.startswith("backfill"):  # something to import (and to publish the metrics of)
            lose_a_run(self._stack, self._filled["ARN"])
        if command == "dlq redrive":  # something to move back
            dead = self._stack.outputs["EventsDeadLetterQueueUrl"]
            localstack.client(self._stack.endpoint, "sqs").send_message(QueueUrl=dead, MessageBody="{}")
        command_line = [sys.executable, "-m", "mwaa_obs_tools.cli", *argv]
        done = subprocess.run(command_line, env=env, capture_output=True, text=True, timeout=300, check=False)
        return done.returncode, principal, done.stderr + done.stdout


def _browse(argv: list[str], env: dict[str, str]) -> int:
    """`ui` until each kind of its pages was served once, then Ctrl-C: its exit code."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mwaa_obs_tools.cli", *argv], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        (base,) = re.findall(r"http://\S+?(?=/?(?:\s|$))", process.stdout.readline())
        for path in ("", "view?view=grid&workflow=create_s3_objects"):  # the failures; a workflow's runs
            with urllib.request.urlopen(f"{base}/{path}", timeout=60) as page:
                page.read()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    finally:
        process.kill()
    return process.returncode


@pytest.fixture(scope="module")
def runner(stack: localstack.LocalStack, service: Any, names: dict[str, str], ran: dict[str, str]) -> Runner:
    return Runner(stack, service, names, ran)


def denials_of(principal: str) -> list[str]:
    return [text for text in GATE.stats.denials if principal in text]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_command_needs_no_more_than_its_documented_permissions(
    runner: Runner, command: str, tmp_path: Path
) -> None:
    code, principal, stderr = runner.run(command, tmp_path)
    assert denials_of(principal) == []
    assert code == 0, stderr


def test_every_documented_command_is_run_and_every_row_names_one() -> None:
    documented = {c for commands, _, _ in documented_rows(CLI_DOC.read_text(encoding="utf-8")) for c in commands}
    assert documented - {"*"} == set(COMMANDS)


@pytest.mark.parametrize(
    ("command", "missing"),
    [
        ("runs list", "dynamodb:Query"),
        ("doctor", "events:DescribeRule"),
        ("backfill", "dynamodb:UpdateItem"),
        ("backfill --metrics", "cloudwatch:PutMetricData"),
        ("dlq redrive", "sqs:SendMessage"),
        ("logs", "logs:GetLogEvents"),
        ("runs rerun", "airflow-serverless:StartWorkflowRun"),
    ],
)
def test_without_one_documented_action_the_command_is_denied(
    runner: Runner, command: str, missing: str, tmp_path: Path
) -> None:
    code, principal, _ = runner.run(command, tmp_path, without=missing)
    # (SQS's denials spell the action in lower case)
    assert any(f"not authorized to perform: {missing}".lower() in text.lower() for text in denials_of(principal))
    assert code != 0
