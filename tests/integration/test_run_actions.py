"""Re-run and stop on the local stack: `mwaa-obs runs rerun` and `runs stop` against the simulator, each checked by
what the simulator's API then says."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest

from mwaa_obs_tools import cli, localstack
from mwaa_obs_tools.simulator.faults import Faults
from tests.integration.test_end_to_end import create_example_workflows

FAILING = "create_s3_objects"  # on demand only: every run the simulator has of it was started here
RUNNING = "simple_s3_test"


@pytest.fixture(scope="module")
def ran(stack: localstack.LocalStack, service: Any) -> dict[str, str]:
    """One failed run of FAILING, ended and stored."""
    arns = create_example_workflows(stack, {"defaults": {"group_window_minutes": 0}})
    stack.engine.set_faults(FAILING, Faults(fail={"create_object_2"}))
    service.start_workflow_run(WorkflowArn=arns[FAILING])
    stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=1))
    stack.pump()
    stack.engine.set_faults(FAILING, Faults())
    return arns


def urls(stack: localstack.LocalStack) -> list[str]:
    return ["--endpoint-url", stack.endpoint, "--api-endpoint-url", stack.simulator.url]


def run_ids(service: Any, arn: str) -> list[str]:
    return [run["RunId"] for run in service.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]]


def status(service: Any, arn: str, run_id: str) -> str:
    return str(service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]["RunState"])


def failed_run(service: Any, arn: str) -> str:
    (run_id,) = [run for run in run_ids(service, arn) if status(service, arn, run) == "FAILED"]
    return run_id


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert cli.main([*args, "--json"]) == 0
    answer: dict[str, Any] = json.loads(capsys.readouterr().out)
    return answer


def test_rerun_asked_twice_starts_one_run_with_the_runs_parameters(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    arn = ran[FAILING]
    failed = failed_run(service, arn)
    before = set(run_ids(service, arn))
    first = cli_json(capsys, "runs", "rerun", failed, "--yes", *urls(stack))
    second = cli_json(capsys, "runs", "rerun", failed, "--yes", "--workflow", FAILING, *urls(stack))
    started = set(run_ids(service, arn)) - before
    assert started == {first["new_run_id"]}  # exactly one run, however often asked
    assert second["new_run_id"] == first["new_run_id"]
    assert first["workflow_arn"] == arn
    assert first["run_id"] == failed
    assert service.get_workflow_run(WorkflowArn=arn, RunId=first["new_run_id"])["RunType"] == "ON_DEMAND"


def test_rerun_asks_first_and_does_nothing_unless_told_yes(
    stack: localstack.LocalStack,
    service: Any,
    ran: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arn = ran[FAILING]
    failed = failed_run(service, arn)
    before = run_ids(service, arn)
    for answer in ("n\n", "", "maybe\n"):  # no, no answer at all (stdin closed), anything else
        monkeypatch.setattr("sys.stdin", io.StringIO(answer))
        capsys.readouterr()
        assert cli.main(["runs", "rerun", failed, *urls(stack)]) == 1
        err = capsys.readouterr().err
        assert f"Start {FAILING} again" in err
        assert "(stored status: FAILED) [y/N]" in err
        assert err.rstrip().endswith("not confirmed: nothing done")
    assert run_ids(service, arn) == before
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert cli.main(["runs", "rerun", failed, *urls(stack)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"re-run of {arn.rsplit('/', 1)[1]} run {failed}: run ")
    new_run = said.split(": run ", 1)[1].split()[0]
    assert set(run_ids(service, arn)) - set(before) <= {new_run}  # it, or the run an earlier re-run started
    assert new_run in run_ids(service, arn)


def test_stop_stops_a_running_run_and_refuses_an_ended_one(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    arn = ran[RUNNING]
    stack.engine.set_faults(RUNNING, Faults(durations={"list_objects": 3600}))
    running = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    stack.engine.advance(stack.engine.now + timedelta(minutes=2))
    stack.pump()
    assert status(service, arn, running) == "RUNNING"
    stopped = cli_json(capsys, "runs", "stop", running, "--yes", *urls(stack))
    assert stopped["status"] in ("STOPPING", "STOPPED")
    assert status(service, arn, running) in ("STOPPING", "STOPPED")
    # A re-run of a run not ended yet is refused: stop it first
    assert cli.main(["runs", "rerun", running, "--yes", *urls(stack)]) == 2
    stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=1))
    stack.pump()
    assert status(service, arn, running) == "STOPPED"
    # Stopping it again answers its state; stopping a run that ended otherwise is one clear line
    assert cli_json(capsys, "runs", "stop", running, "--yes", *urls(stack))["status"] == "STOPPED"
    failed = failed_run(service, ran[FAILING])
    capsys.readouterr()
    assert cli.main(["runs", "stop", failed, "--yes", *urls(stack)]) == 2
    assert capsys.readouterr().err.strip() == f"mwaa-obs: run {failed} already ended FAILED: there is nothing to stop"


def test_an_unknown_run_is_refused_before_anything_is_asked(
    stack: localstack.LocalStack, ran: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["runs", "stop", "no-such-run", "--yes", *urls(stack)]) == 2
    assert capsys.readouterr().err.strip() == "mwaa-obs: no run no-such-run found"
