"""CLI failure modes: one clear line and a non-zero exit code."""

from __future__ import annotations

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
