"""Re-run and stop on the local stack: `mwaa-obs runs rerun` and `runs stop` against the simulator, each checked by
what the simulator's API then says."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from mwaa_obs_tools import browser, cli, localstack
from mwaa_obs_tools.sample_events import EXAMPLES
from mwaa_obs_tools.simulator.faults import Faults
from mwaa_obs_tools.ui import Site, UiServer
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


# --- the dashboards' buttons: the actions function -------------------------------------------------------------------


def fail_once(stack: localstack.LocalStack, service: Any, arn: str) -> str:
    """A new failed run of FAILING, ended and stored; its id."""
    stack.engine.set_faults(FAILING, Faults(fail={"create_object_2"}))
    run_id = str(service.start_workflow_run(WorkflowArn=arn)["RunId"])
    stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=1))
    stack.pump()
    stack.engine.set_faults(FAILING, Faults())
    assert status(service, arn, run_id) == "FAILED"
    return run_id


def button(action: str, workflow_arn: str, run_id: str) -> dict[str, Any]:
    """What CloudWatch sends when a Re-run or Stop button is pressed and confirmed: the button's JSON and the
    widget's context."""
    context = {"dashboardName": "mwaa-obs-us-east-1-workflow", "widgetId": "widget-7", "accountId": "123456789012"}
    return {"action": action, "workflowId": workflow_arn.rsplit("/", 1)[1], "runId": run_id, "widgetContext": context}


def test_the_widgets_gantt_has_the_button_and_it_calls_the_actions_function_never_the_widget(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str]
) -> None:
    arn = ran[FAILING]
    failed = fail_once(stack, service, arn)
    end = stack.engine.now
    context = {
        "timeRange": {"start": int((end - timedelta(days=1)).timestamp() * 1000), "end": int(end.timestamp() * 1000)}
    }
    page = stack.widget({"view": "gantt", "workflow": FAILING, "runId": failed, "widgetContext": context})
    assert f'endpoint="{stack.outputs["ActionsFunctionArn"]}"' in page
    assert f'confirmation="Start {FAILING} again' in page
    assert json.dumps({"workflowId": arn.rsplit("/", 1)[1], "runId": failed, "action": "rerun"}) in page
    # The read-only widget function, sent a button's request, shows a page and starts nothing
    before = run_ids(service, arn)
    answer = stack.widget(button("rerun", arn, failed))
    assert "No workflow picked." in answer  # the picker: a button's request names no workflow to show
    assert run_ids(service, arn) == before


def test_a_button_pressed_twice_starts_one_run_and_says_who_asked(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str]
) -> None:
    arn = ran[FAILING]
    failed = fail_once(stack, service, arn)
    before = set(run_ids(service, arn))
    first, second = stack.actions(button("rerun", arn, failed)), stack.actions(button("rerun", arn, failed))
    (started,) = set(run_ids(service, arn)) - before
    assert first == second
    assert f"run {started} (" in first
    assert 'data-outcome="done"' in first
    logs = localstack.client(stack.endpoint, "logs")
    # where the local stack sends a function's output: its LoggingConfig's group, as deployed
    group = stack.deployment.log_group("ActionsFunction")
    lines = [json.loads(e["message"]) for e in logs.filter_log_events(logGroupName=group)["events"]]
    done = [line for line in lines if line.get("message") == "action done" and line.get("run_id") == failed]
    assert len(done) == 2
    assert {line["new_run_id"] for line in done} == {started}
    assert done[0]["asked_by"] == {"accountId": "123456789012", "dashboardName": "mwaa-obs-us-east-1-workflow",
                                   "widgetId": "widget-7"}  # fmt: skip


def test_presses_at_the_same_moment_start_one_run(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from mwaa_obs.action_widget import handle

    arn = ran[FAILING]
    failed = fail_once(stack, service, arn)
    before = set(run_ids(service, arn))
    presses = 8
    with ThreadPoolExecutor(max_workers=presses) as pool:
        answers = list(pool.map(lambda _: handle(button("rerun", arn, failed), stack.outputs["ActionsFunctionArn"],
                                                 lambda: service, lambda *_: None), range(presses)))  # fmt: skip
    assert len(set(run_ids(service, arn)) - before) == 1
    assert len(set(answers)) == 1


def test_a_press_answered_conflict_names_the_run_its_token_already_started(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str]
) -> None:
    from mwaa_obs.actions import rerun_token

    # Given the re-run's token already used by a request that differed (the service answers ConflictException
    # naming the run that token made, as it may answer a press racing another's)
    arn = ran[FAILING]
    failed = fail_once(stack, service, arn)
    token = rerun_token(arn, failed)
    made = service.start_workflow_run(WorkflowArn=arn, ClientToken=token, OverrideParameters={"other": "request"})
    before = set(run_ids(service, arn))
    # When the button is pressed
    answer = stack.actions(button("rerun", arn, failed))
    # Then it says the run already started for it, and starts no other
    assert 'data-outcome="done"' in answer
    assert f"run {made['RunId']} (" in answer
    assert set(run_ids(service, arn)) == before


def test_stop_from_a_button_and_a_run_of_another_account_refused(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str]
) -> None:
    arn = ran[RUNNING]
    stack.engine.set_faults(RUNNING, Faults(durations={"list_objects": 3600}))
    running = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    stack.engine.advance(stack.engine.now + timedelta(minutes=2))
    answer = stack.actions(button("stop", arn, running))
    assert 'data-outcome="done"' in answer
    assert status(service, arn, running) in ("STOPPING", "STOPPED")
    elsewhere = button("stop", arn, running) | {"workflowId": f"444455556666/us-west-2/{arn.rsplit('/', 1)[1]}"}
    assert 'data-outcome="refused"' in stack.actions(elsewhere)
    stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=1))
    stack.pump()


# --- in a browser: `mwaa-obs ui`'s pages, the buttons asking first as CloudWatch does ------------------------------


@pytest.fixture(scope="module")
def site(stack: localstack.LocalStack) -> Iterator[str]:
    def act(request: Mapping[str, str]) -> str:  # the actions function, as the dashboard invokes it
        return str(stack.actions(dict(request)))

    server = UiServer(
        Site(
            stack.runs,
            stack.workflows,
            "us-east-1",
            localstack.STACK_NAME,
            lambda: stack.engine.now,
            stack.policies,
            act,
        )
    )
    yield server.start().url
    server.stop()


def test_re_run_in_a_browser_asks_first_and_clicked_twice_starts_one_run(
    site: str, stack: localstack.LocalStack, service: Any, ran: dict[str, str]
) -> None:
    arn = ran[FAILING]
    failed = fail_once(stack, service, arn)
    before = set(run_ids(service, arn))
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/view?view=gantt&workflow={FAILING}&runId={failed}")
        assert page.query_selector('a[data-action="stop"]') is None  # an ended run is re-run, not stopped
        page.click('a[data-action="rerun"]')
        assert page.inner_text("#question").startswith(f"Start {FAILING} again")
        assert set(run_ids(service, arn)) == before  # asking starts nothing
        confirm_page = page.url
        answers = []
        for _ in range(2):  # confirmed, then confirmed again (the same button pressed twice)
            page.goto(confirm_page)
            page.click("#confirm")
            answers.append(page.inner_text("p.mo-action"))
        (started,) = set(run_ids(service, arn)) - before
        assert answers[0] == answers[1]
        assert f"run {started} (" in answers[0]
        # Cancel starts nothing either and goes back to the run
        page.goto(confirm_page)
        page.click("text=Cancel")
        assert page.query_selector("h4").get_attribute("data-run") == failed
    assert set(run_ids(service, arn)) - before == {started}


def test_the_question_comes_from_what_confirm_sends_never_from_the_link(site: str, ran: dict[str, str]) -> None:
    # A link from elsewhere cannot put a harmless question above a Stop of a production run
    workflow_id = ran[RUNNING].rsplit("/", 1)[1]
    forged = urlencode({"action": "stop", "workflowId": workflow_id, "runId": "r-prod", "question": "Re-run test?"})
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/confirm?{forged}")
        assert page.inner_text("#question").startswith(f"Stop {RUNNING} run r-prod?")
        assert "Re-run test?" not in page.content()
        page.goto(f"{site}/confirm?" + urlencode({"action": "drop", "workflowId": workflow_id, "runId": "r"}))
        assert page.query_selector("#confirm") is None


def test_stop_in_a_browser_on_a_running_run(
    site: str, stack: localstack.LocalStack, service: Any, ran: dict[str, str]
) -> None:
    arn = ran[RUNNING]
    stack.engine.set_faults(RUNNING, Faults(durations={"list_objects": 3600}))
    running = service.start_workflow_run(WorkflowArn=arn)["RunId"]
    stack.engine.advance(stack.engine.now + timedelta(minutes=2))
    stack.pump()
    with browser.chromium() as chromium:
        page = chromium.new_page()
        page.goto(f"{site}/view?view=gantt&workflow={RUNNING}&runId={running}")
        assert page.query_selector('a[data-action="rerun"]') is None
        page.click('a[data-action="stop"]')
        assert page.inner_text("#question").startswith(f"Stop {RUNNING} run {running}?")
        page.click("#confirm")
        assert page.query_selector('p.mo-action[data-outcome="done"]') is not None
    assert status(service, arn, running) in ("STOPPING", "STOPPED")
    stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=1))
    stack.pump()


# --- who did what: CloudTrail's records of the management calls --------------------------------------------------


def as_caller(stack: localstack.LocalStack, name: str) -> Any:
    """The API's client signed with an access key of this name: the simulator's CloudTrail names the caller by it."""
    return boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1",
                        aws_access_key_id=name, aws_secret_access_key="local")  # fmt: skip


def test_who_started_and_who_stopped_a_run_is_stored_from_cloudtrail(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    arn = ran[RUNNING]
    stack.engine.set_faults(RUNNING, Faults(durations={"list_objects": 3600}))
    run_id = as_caller(stack, "alice").start_workflow_run(WorkflowArn=arn)["RunId"]
    stack.engine.advance(stack.engine.now + timedelta(minutes=2))
    as_caller(stack, "bob").stop_workflow_run(WorkflowArn=arn, RunId=run_id)
    stack.engine.advance_until_idle(stack.engine.now + timedelta(hours=1))
    stack.pump()
    shown = cli_json(capsys, "runs", "show", run_id, "--endpoint-url", stack.endpoint)
    assert shown["triggered_by"] == "arn:aws:iam::123456789012:user/alice"
    assert shown["stopped_by"] == "arn:aws:iam::123456789012:user/bob"
    assert shown["status"] == "STOPPED"


def test_a_failure_after_a_definition_change_says_so_and_the_grid_marks_the_new_version(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str]
) -> None:
    arn = ran[FAILING]
    before = fail_once(stack, service, arn)  # a failure of the old version
    path = EXAMPLES / f"{FAILING}.yaml"
    location = localstack.definition_location(path)
    changed = path.read_bytes() + b"\n# changed by carol\n"
    localstack.client(stack.endpoint, "s3").put_object(
        Bucket=location["Bucket"], Key=location["ObjectKey"], Body=changed
    )
    version = as_caller(stack, "carol").update_workflow(
        WorkflowArn=arn, DefinitionS3Location=location, RoleArn=localstack.WORKFLOW_ROLE_ARN
    )["WorkflowVersion"]
    stack.engine.advance(stack.engine.now + timedelta(minutes=5))
    after = fail_once(stack, service, arn)
    (told,) = [message for message in stack.alerts() if f"(run {after})" in message["Subject"]]
    assert f"First failure since version {version[:8]} (UpdateWorkflow by user/carol, " in told["Message"]
    (earlier,) = [message for message in stack.alerts() if f"(run {before})" in message["Subject"]]
    assert "UpdateWorkflow" not in earlier["Message"]  # (it follows the workflow's creation, the same day)
    assert f"since version {version[:8]}" not in earlier["Message"]
    # The grid marks the first run of the new version
    end = stack.engine.now
    window = {"start": int((end - timedelta(days=1)).timestamp() * 1000), "end": int(end.timestamp() * 1000)}
    page = stack.widget({"view": "grid", "workflow": FAILING, "runs": 100, "widgetContext": {"timeRange": window}})
    assert page.count("data-new-version=") == 1
    assert f'data-run="{after}" data-state="FAILED" data-new-version="{version}"' in page


def test_mwaa_obs_ui_on_the_local_stack_answers_a_button_with_the_actions_code(
    stack: localstack.LocalStack, service: Any, ran: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mwaa_obs_tools.cli.views import _actions  # what `mwaa-obs ui` gives its pages

    monkeypatch.setenv("AWS_ENDPOINT_URL_MWAA_SERVERLESS", stack.simulator.url)  # as `ui` sets it (use_api)
    act = _actions(argparse.Namespace(endpoint_url=stack.endpoint), stack.outputs["ActionsFunctionArn"])
    assert act is not None
    arn = ran[FAILING]
    failed = fail_once(stack, service, arn)
    answer = act({"action": "stop", "workflowId": arn.rsplit("/", 1)[1], "runId": failed})
    assert 'data-outcome="refused"' in answer
    assert f"run {failed} already ended FAILED" in answer
    assert _actions(argparse.Namespace(endpoint_url=stack.endpoint), None) is None  # a stack without the function
