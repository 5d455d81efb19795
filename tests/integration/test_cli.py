"""CLI failure modes: one clear line and a non-zero exit code."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from mwaa_obs_tools import cli, emulator
from mwaa_obs_tools.sample_events import EXAMPLES

SIMPLE = str(EXAMPLES / "simple_s3_test.yaml")  # tasks create_object_list, list_objects
MWAA_OBS_ENDPOINT = "MWAA_OBS_ENDPOINT_URL"
NOWHERE = "http://localhost:1"  # nothing listens: a command that gets this far has not refused its input


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def refused_by_argparse(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(list(argv))
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_an_unreachable_endpoint_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    port = emulator.free_port()  # nothing listens there
    assert cli.main(["runs", "list", "--endpoint-url", f"http://localhost:{port}"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("mwaa-obs: cannot reach http://localhost:")
    assert len(error.splitlines()) == 1


def test_a_missing_stack_is_one_clear_line(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["runs", "list", "--endpoint-url", endpoint, "--stack-name", "no-such-stack"]) == 2
    assert capsys.readouterr().err.strip() == "mwaa-obs: stack no-such-stack not found"


def test_an_invalid_definition_is_refused_before_anything_is_sent(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"  # type: ignore[operator]
    broken.write_text("wf:\n  tasks:\n    t: {operator: my_operators.CopyOperator}\n")
    assert cli.main(["simulate", str(broken), "--simulator-url", "http://localhost:1"]) == 2
    assert "broken.yaml: task 't': unknown operator" in capsys.readouterr().err


def local_up(*options: str) -> tuple[subprocess.Popen[str], list[str], list[str]]:
    """`mwaa-obs local up` started on free ports; the process, its ports and what it printed until ready."""
    ports = [str(emulator.free_port()), str(emulator.free_port())]
    command = [sys.executable, "-m", "mwaa_obs_tools.cli", "local", "up", "--port", ports[0]]
    process = subprocess.Popen(
        [*command, "--simulator-port", ports[1], *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:  # blocks until the next line: no sleeping
        lines.append(line.rstrip())
        if line.startswith("ready"):
            break
    return process, ports, lines


def test_local_up_prints_its_endpoints_never_the_webhook_and_stops_cleanly_on_ctrl_c() -> None:
    process, ports, lines = local_up("--slack-webhook-url", "https://hooks.slack.com/services/T000/B000/WebhookSecret")
    try:
        assert f"AWS emulator        http://localhost:{ports[0]}" in lines
        assert any(line.startswith(f"MWAA Serverless     http://localhost:{ports[1]}") for line in lines)
        # A webhook URL is a secret: it is never printed
        assert "Slack webhook       your webhook (--slack-webhook-url)" in lines
        assert not any("WebhookSecret" in line for line in lines)
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=30)[0]
    finally:
        process.kill()
    assert process.returncode == 0
    assert rest.strip().splitlines()[-1] == "stopped"
    for port in ports:  # both servers are gone
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()


def test_no_region_configured_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    for command in (["runs", "list"], ["backfill"], ["dlq", "redrive", "events"]):
        assert cli.main(command) == 2
        assert one_error_line(capsys).startswith("mwaa-obs: no AWS region configured")
    assert cli.main(["dashboard", "render", "etl", "--out", str(tmp_path / "etl.png")]) == 2
    assert one_error_line(capsys).startswith("mwaa-obs: no AWS region configured")


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (["--fail-first", "list_objects=abc"], "--fail-first takes TASK=N with N a number, not 'list_objects=abc'"),
        (["--fail-first", "list_objects"], "--fail-first takes TASK=N with N a number, not 'list_objects'"),
        (["--duration", "list_objects=-3"], "--duration takes TASK=N with N 0 or more, not 'list_objects=-3'"),
        (
            ["--fail", "nosuchtask"],
            "--fail: the workflow has no task 'nosuchtask' (its tasks: create_object_list, list_objects)",
        ),
        (["--timeout", "nosuchtask"], "--timeout: the workflow has no task 'nosuchtask'"),
    ],
)
def test_simulate_refuses_options_the_workflow_cannot_take_before_anything_is_sent(
    options: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["simulate", SIMPLE, *options, "--simulator-url", NOWHERE, "--endpoint-url", NOWHERE]) == 2
    assert one_error_line(capsys).startswith(f"mwaa-obs: {reason}")


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["simulate", SIMPLE, "--runs", "0"], "argument --runs: must be 1 or more, not 0"),
        (["simulate", SIMPLE, "--runs", "-2"], "argument --runs: must be 1 or more, not -2"),
        (["dashboard", "render", "etl", "--out", "x.png", "--hours", "0"], "argument --hours: must be more than 0"),
        (["dashboard", "render", "etl", "--out", "x.png", "--hours", "-1"], "argument --hours: must be more than 0"),
        (["dashboard", "render", "etl", "--out", "x.png", "--period", "0"], "argument --period: must be 1 or more"),
        (["runs", "list", "--limit", "-5"], "argument --limit: must be 1 or more, not -5"),
        (["runs", "list", "--days", "x"], "argument --days: must be a whole number, not 'x'"),
        (["runs", "list", "--status", "bogus"], "argument --status: 'bogus' is not a run state (STARTING, QUEUED"),
        (["dlq", "redrive", "events", "--limit", "0"], "argument --limit: must be 1 or more, not 0"),
        (["backfill", "--since", "yesterday"], "argument --since: 'yesterday' is not an ISO-8601 date or time"),
    ],
)
def test_options_out_of_range_are_refused_with_their_reason(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert reason in refused_by_argparse(capsys, *argv)


@pytest.mark.parametrize(
    ("argv", "usage", "hint"),
    [
        (["runs", "list", "--workfow", "etl"], "usage: mwaa-obs runs list ", "(did you mean --workflow?)"),
        (["simulate", SIMPLE, "--fial", "list_objects"], "usage: mwaa-obs simulate ", "(did you mean --fail?)"),
        (["rnus", "list"], "usage: mwaa-obs ", "(did you mean runs?)"),
        (["runs", "lst"], "usage: mwaa-obs runs ", "(did you mean list?)"),
        (["dashboard", "rendr", "etl"], "usage: mwaa-obs dashboard ", "(did you mean render?)"),
    ],
)
def test_a_typo_is_refused_with_the_commands_own_usage_and_the_nearest_name(
    argv: list[str], usage: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage)
    assert err.strip().splitlines()[-1].endswith(hint)
    assert "Traceback" not in err


def test_something_unlike_any_option_gets_no_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert refused_by_argparse(capsys, "runs", "list", "--zzzz").endswith("unrecognized arguments: --zzzz")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"mwaa-obs {version('mwaa-obs')}"


def test_aws_region_is_honoured_as_by_the_aws_sdks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
                     "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", MWAA_OBS_ENDPOINT):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance to ask
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # not one with the credentials an earlier test found
    # The region is found: what is missing now is the credentials (before: "no AWS region configured")
    assert cli.main(["runs", "list"]) == 2
    assert one_error_line(capsys) == (
        "mwaa-obs: no AWS credentials found (configure them, or use --endpoint-url for the local stack)"
    )


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("http://localhost:4566/", "is `mwaa-obs local up` running?"),
        ("https://cloudformation.eu-west-1.amazonaws.com/", "check the network, a proxy, the region"),
    ],
)
def test_an_unreachable_endpoint_suggests_the_local_stack_only_when_it_is_local(url: str, hint: str) -> None:
    from mwaa_obs_tools.cli.common import _one_line

    error = botocore.exceptions.EndpointConnectionError(endpoint_url=url)
    assert _one_line(error) == f"cannot reach {url} ({hint})"


def test_a_status_is_taken_in_any_case() -> None:
    assert cli._parser().parse_args(["runs", "list", "--status", "failed"]).status == "FAILED"


def test_dashboard_render_into_a_missing_folder_is_refused_before_reading_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no-such-folder" / "etl.png"
    assert cli.main(["dashboard", "render", "etl", "--out", str(out), "--endpoint-url", NOWHERE]) == 2
    assert one_error_line(capsys) == f"mwaa-obs: --out: folder {out.parent} does not exist"


def test_every_endpoint_option_says_where_it_connects_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["simulate"], ["replay"], ["runs", "list"], ["backfill"], ["doctor"]):
        with pytest.raises(SystemExit):
            cli.main([*command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--endpoint-url ENDPOINT_URL the local stack's emulator" in text
        assert "MWAA_OBS_ENDPOINT_URL" in text
        local_only = command[0] in ("simulate", "replay")
        assert ("works only on the local stack" in text) is local_only
        assert ("unset: the deployed stack in AWS" in text) is not local_only
    with pytest.raises(SystemExit):
        cli.main(["simulate", "--help"])
    assert "$MWAA_OBS_SIMULATOR_URL, else http://localhost:4599" in " ".join(capsys.readouterr().out.split())


def test_ctrl_c_on_the_demo_stops_everything_in_one_line() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "mwaa_obs_tools.demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert demo.stdout is not None
        for line in demo.stdout:  # blocks until the next line: no sleeping
            if line.startswith("simulator"):
                break
        demo.send_signal(signal.SIGINT)
        _, err = demo.communicate(timeout=60)
    finally:
        demo.kill()
    assert demo.returncode == 2
    assert err.strip() == "demo: interrupted; everything stopped"


def test_local_up_refuses_a_taken_port_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = str(emulator.free_port())
        assert cli.main(["local", "up", "--port", free, "--simulator-port", str(port)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"mwaa-obs: port {port} is taken (")
    assert line.endswith("free it or choose another with --simulator-port")


def test_ctrl_c_on_local_up_stops_without_draining_the_queue(tmp_path: Path) -> None:
    up, ports, _ = local_up()
    try:
        # Given 600 events on their way (draining them takes over a minute)
        arn = "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/busy-GGGGGGGGGG"
        events = tmp_path / "busy.jsonl"
        events.write_text(
            "\n".join(
                json.dumps({"source": "aws.airflow-serverless", "detail-type": "MWAA Serverless Workflow Run Started",
                            "time": "2026-11-24T00:00:00Z", "resources": [arn], "detail": {"runId": f"r{n}"}})
                for n in range(600)
            )
        )  # fmt: skip
        replay = [sys.executable, "-m", "mwaa_obs_tools.cli", "replay", str(events)]  # its own process: its own env
        subprocess.run([*replay, "--endpoint-url", f"http://localhost:{ports[0]}"], check=True, capture_output=True)
        # When Ctrl-C comes while they are being ingested
        up.send_signal(signal.SIGINT)
        rest = up.communicate(timeout=120)[0].splitlines()
    finally:
        up.kill()
    # Then it says it is stopping, stops cleanly, and has not ingested them all first
    assert "stopping: events still queued stay in the emulator's queue (Ctrl-C again: at once)" in rest
    assert rest[-1] == "stopped"
    assert up.returncode == 0
    ingested = sum(int(line.split()[1]) for line in rest if line.startswith("ingested "))
    assert ingested < 600
