"""The README's first hour, followed on the local stack (issue 36): the commands of its first-deploy guide that can
run offline, teardown and what it retains; then `local up` as a user meets it: the exports later commands need,
the runs each alert names, `simulate --runs` with progress and a clean Ctrl-C, faults that do not outlive it, `ui`
stopping as `local up` does."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from mwaa_obs_tools import cli, emulator, localstack
from mwaa_obs_tools.cli.local import runs_named
from mwaa_obs_tools.sample_events import EXAMPLES
from tests.integration.test_cli import local_up

README = Path(__file__).resolve().parents[2] / "README.md"
OPERATIONS = README.parent / "docs" / "OPERATIONS.md"
NIGHTLY = str(EXAMPLES / "nightly_sales_etl.yaml")  # every 4 hours, tasks with retries
ACTIVE = {"STARTING", "QUEUED", "RUNNING"}  # a run still going (STOPPING is on its way to STOPPED)


def readme_commands() -> list[str]:
    """Every `mwaa-obs` command of the README's first deploy and teardown, in code blocks or inline, comments and
    `.venv/bin/` left out."""
    text = README.read_text(encoding="utf-8").split("\n## First deploy")[1].split("\n## What is verified")[0]
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        found += [line.split("#")[0].strip() for line in block.splitlines()]
    found += [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))]
    commands = [command.removeprefix(".venv/bin/") for command in found]
    return list(dict.fromkeys(command for command in commands if command.startswith("mwaa-obs ")))


@pytest.fixture
def local_env(stack: localstack.LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `local up` tells a user to export."""
    monkeypatch.setenv("MWAA_OBS_ENDPOINT_URL", stack.endpoint)
    monkeypatch.setenv("MWAA_OBS_SIMULATOR_URL", stack.simulator.url)


def run_readme(command: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(shlex.split(command)[1:])
    return code, capsys.readouterr().out


def test_the_first_deploy_guide_offline(
    stack: localstack.LocalStack, local_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = readme_commands()
    simulate, runs_list, logs, doctor = (
        "mwaa-obs simulate examples/workflows/create_s3_objects.yaml --fail create_object_2",
        "mwaa-obs runs list --status FAILED",
        "mwaa-obs logs RUN_ID",
        "mwaa-obs doctor --stack-name mwaa-obs",
    )
    # The README's commands are these (`local up` is the stack this module runs); a new one is to be added here
    assert sorted(commands) == sorted(["mwaa-obs local up", simulate, runs_list, logs, doctor])
    monkeypatch.chdir(README.parent)  # the README's paths are the repository's
    # One test run to see an alert: the run fails where the README says
    code, out = run_readme(simulate, capsys)
    assert code == 0
    (run_id,) = re.findall(r"^create_s3_objects {2}(\S+) {2}FAILED", out, flags=re.MULTILINE)
    stack.pump()  # what `local up` does every second
    code, out = run_readme(runs_list, capsys)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["WORKFLOW", "RUN", "ID", "STATUS"]
    assert header.split()[4] == "ENDED"  # the list is in order of end: it shows the end
    assert any(row.split()[1] == run_id for row in rows)
    (alert,) = [message for message in stack.alerts() if run_id in message["Subject"]]
    assert alert["Subject"].startswith("[mwaa-obs] create_s3_objects failed at create_object_2: ")
    assert alert["Subject"].endswith(f"(run {run_id})")
    assert runs_named(alert["Message"]) == [run_id]  # what `local up` prints beside it
    assert "  Last log lines of create_object_2, attempt 1:" in alert["Message"]  # the failed task's log in it
    # The run's whole log: its failed task's, the attempt headed
    code, out = run_readme(logs.replace("RUN_ID", run_id), capsys)
    assert code == 0
    assert out.splitlines()[0] == "==> create_object_2, attempt 1 (FAILED) <=="
    assert "ERROR - Task failed with exception" in out
    code, out = run_readme(doctor, capsys)
    assert code == 0, out
    assert all(line.startswith(("ok ", "warn ")) for line in out.splitlines()), out


def test_teardown_keeps_exactly_what_the_docs_say(stack: localstack.LocalStack) -> None:
    """Last of the module: it deletes the stack."""
    cloudformation = localstack.client(stack.endpoint, "cloudformation")
    resources = cloudformation.list_stack_resources(StackName=localstack.STACK_NAME)["StackResourceSummaries"]
    key = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "AlarmTopicKey")  # step 2
    retained = {
        logical
        for logical, spec in emulator.load_template()["Resources"].items()
        if spec.get("DeletionPolicy") == "Retain"
    }
    assert retained == {"StateTable", "EventsDeadLetterQueue", "NoticesDeadLetterQueue", "AlarmTopicKey"}
    documented = OPERATIONS.read_text(encoding="utf-8").split("## Teardown")[1].split("\n## ")[0]
    for named in ("`<prefix>-state`", "`<prefix>-events-dlq`", "`<prefix>-notices-dlq`", "the alarm topic's KMS key"):
        assert named in documented
    for named in (
        "table `mwaa-obs-state`",
        "`mwaa-obs-events-dlq`",
        "`mwaa-obs-notices-dlq`",
        "the alarm topic's KMS key",
    ):
        assert named in " ".join(README.read_text(encoding="utf-8").split())

    cloudformation.delete_stack(StackName=localstack.STACK_NAME)  # what `sam delete` asks CloudFormation
    sqs = localstack.client(stack.endpoint, "sqs")
    queues = {url.rsplit("/", 1)[1] for url in sqs.list_queues().get("QueueUrls", [])}
    assert {"mwaa-obs-events-dlq", "mwaa-obs-notices-dlq"} <= queues
    assert not queues & {"mwaa-obs-events", "mwaa-obs-notices"}
    assert "mwaa-obs-state" in localstack.client(stack.endpoint, "dynamodb").list_tables()["TableNames"]
    assert key in {k["KeyId"] for k in localstack.client(stack.endpoint, "kms").list_keys()["Keys"]}
    assert localstack.client(stack.endpoint, "lambda").list_functions()["Functions"] == []
    assert localstack.client(stack.endpoint, "events").list_rules()["Rules"] == []


# --- `local up` in its own process, as a user runs it ---------------------------------------------------------------


@pytest.fixture(scope="module")
def up() -> Iterator[tuple[subprocess.Popen[str], dict[str, str], list[str]]]:
    """`mwaa-obs local up` on free ports; the environment its export line gives, and what it printed until ready.
    Stopped with Ctrl-C at the end: what it printed in all is appended to the list."""
    process, ports, lines = local_up()
    exports = {
        "MWAA_OBS_ENDPOINT_URL": f"http://localhost:{ports[0]}",
        "MWAA_OBS_SIMULATOR_URL": f"http://localhost:{ports[1]}",
    }
    env = {**os.environ, **exports}
    yield process, env, lines
    process.send_signal(signal.SIGINT)
    lines += process.communicate(timeout=60)[0].splitlines()
    assert process.returncode == 0


def cli_process(env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mwaa_obs_tools.cli", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=README.parent,
    )


def simulator(env: dict[str, str]) -> Any:
    return boto3.client(
        "mwaa-serverless",
        endpoint_url=env["MWAA_OBS_SIMULATOR_URL"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def statuses(env: dict[str, str], name: str) -> dict[str, dict[str, Any]]:
    service = simulator(env)
    (arn,) = [w["WorkflowArn"] for w in service.list_workflows()["Workflows"] if w["Name"] == name]
    pages = service.get_paginator("list_workflow_runs").paginate(WorkflowArn=arn)
    return {run["RunId"]: run for page in pages for run in page["WorkflowRuns"]}


def test_local_up_says_how_later_commands_reach_it(
    up: tuple[subprocess.Popen[str], dict[str, str], list[str]],
) -> None:
    _, env, lines = up
    exports = f"  export MWAA_OBS_ENDPOINT_URL={env['MWAA_OBS_ENDPOINT_URL']} "
    assert exports + f"MWAA_OBS_SIMULATOR_URL={env['MWAA_OBS_SIMULATOR_URL']}" in lines


def test_simulate_shows_progress_and_ctrl_c_stops_every_run_it_started(
    up: tuple[subprocess.Popen[str], dict[str, str], list[str]],
) -> None:
    _, env, _ = up
    simulate = cli_process(env, "simulate", NIGHTLY, "--runs", "100")
    assert simulate.stderr is not None
    try:
        progress = simulate.stderr.readline()  # blocks until the first progress line: no sleeping
        assert re.fullmatch(r"started \d+ of 100 runs\n", progress), progress
        simulate.send_signal(signal.SIGINT)
        _, err = simulate.communicate(timeout=120)
    finally:
        simulate.kill()
    assert simulate.returncode == 2
    assert re.fullmatch(r"mwaa-obs: interrupted: stopped \d+ runs? still going of the \d+ it started", err.strip())
    # simulate's runs (on demand: local up's clock may fire the workflow's cron meanwhile, a run of its own)
    runs = {k: v for k, v in statuses(env, "nightly_sales_etl").items() if v["RunType"] == "ON_DEMAND"}
    assert runs  # some had started
    assert not [run_id for run_id, run in runs.items() if run["RunDetailSummary"]["Status"] in ACTIVE]


def test_more_runs_than_a_sane_bound_are_refused_before_anything_starts(
    up: tuple[subprocess.Popen[str], dict[str, str], list[str]],
) -> None:
    _, env, _ = up
    simulate = cli_process(env, "simulate", NIGHTLY, "--runs", "1000")
    _, err = simulate.communicate(timeout=60)
    assert simulate.returncode == 2
    assert "argument --runs: at most 100 runs at once, not 1000" in err


def test_a_fault_injected_by_simulate_does_not_reach_the_next_scheduled_run(
    up: tuple[subprocess.Popen[str], dict[str, str], list[str]],
) -> None:
    _, env, _ = up
    simulate = cli_process(env, "simulate", NIGHTLY, "--fail", "load_warehouse")
    out, err = simulate.communicate(timeout=120)
    assert simulate.returncode == 0, err
    (failed,) = re.findall(r"^nightly_sales_etl {2}(\S+) {2}FAILED", out, flags=re.MULTILINE)
    before = set(statuses(env, "nightly_sales_etl"))
    # The next cron fires (every 4 hours) run with no fault: they succeed
    url = env["MWAA_OBS_SIMULATOR_URL"]
    cli.common.simulator_admin(url, "/_simulator/advance", {"seconds": timedelta(hours=9).total_seconds()})
    cli.common.simulator_admin(url, "/_simulator/advance", {"seconds": 7200, "until_idle": True})  # let them end
    later = {k: v for k, v in statuses(env, "nightly_sales_etl").items() if k not in before}
    ended = [run for run in later.values() if run["RunDetailSummary"]["Status"] not in ACTIVE]
    assert {run["RunType"] for run in later.values()} == {"SCHEDULED"}
    assert len(ended) >= 2  # 9 hours: two fires at least
    assert {run["RunDetailSummary"]["Status"] for run in ended} == {"SUCCESS"}
    assert failed not in later


def test_ui_stops_on_ctrl_c_as_local_up_does(up: tuple[subprocess.Popen[str], dict[str, str], list[str]]) -> None:
    _, env, _ = up
    ui = cli_process(env, "ui", "--port", str(emulator.free_port()))
    assert ui.stdout is not None
    try:
        assert ui.stdout.readline().startswith("runs grid, Gantt charts and failures: http://")
        ui.send_signal(signal.SIGINT)
        out, err = ui.communicate(timeout=30)
    finally:
        ui.kill()
    assert (ui.returncode, out.strip(), err) == (0, "stopped", "")


def test_local_up_printed_no_traceback_and_named_the_runs_of_each_alert(
    up: tuple[subprocess.Popen[str], dict[str, str], list[str]],
) -> None:
    """After the others: a Ctrl-C'd simulate left local up a closed connection, and an alert was sent."""
    process, env, lines = up
    simulate = cli_process(env, "simulate", str(EXAMPLES / "create_s3_objects.yaml"), "--fail", "create_object_2")
    out, _ = simulate.communicate(timeout=120)
    (run_id,) = re.findall(r"^create_s3_objects {2}(\S+) {2}FAILED", out, flags=re.MULTILINE)
    assert process.stdout is not None
    for line in process.stdout:  # blocks until local up prints the alert: no sleeping
        lines.append(line.rstrip())
        if line.startswith("email   [mwaa-obs] create_s3_objects failed at") and f"(run {run_id})" in line:
            assert line.rstrip().endswith(f"(runs: {run_id})")
            break
    assert not [line for line in lines if "Traceback" in line or "Error:" in line]
