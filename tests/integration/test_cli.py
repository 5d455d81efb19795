"""CLI failure modes: one clear line and a non-zero exit code."""

from __future__ import annotations

import socket

import pytest

from mwaa_obs_tools import cli, emulator


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
    broken.write_text("wf:\n  tasks:\n    t: {operator: airflow.operators.bash.BashOperator}\n")
    assert cli.main(["simulate", str(broken), "--simulator-url", "http://localhost:1"]) == 2
    assert "broken.yaml: task 't': unknown operator" in capsys.readouterr().err


def test_local_up_prints_its_endpoints_and_stops_cleanly_on_ctrl_c() -> None:
    import signal
    import subprocess
    import sys

    ports = [str(emulator.free_port()), str(emulator.free_port())]
    command = [
        sys.executable,
        "-m",
        "mwaa_obs_tools.cli",
        "local",
        "up",
        "--port",
        ports[0],
        "--simulator-port",
        ports[1],
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:  # blocks until the next line: no sleeping
            lines.append(line.rstrip())
            if line.startswith("ready"):
                break
        assert f"AWS emulator        http://localhost:{ports[0]}" in lines
        assert any(line.startswith(f"MWAA Serverless     http://localhost:{ports[1]}") for line in lines)
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=30)[0]
    finally:
        process.kill()
    assert process.returncode == 0
    assert rest.strip().splitlines()[-1] == "stopped"
    for port in ports:  # both servers are gone
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
