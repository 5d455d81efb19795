"""What the CLI prints reaches the terminal with its control characters escaped (mwaa_obs_tools.cli.terminal)."""

from __future__ import annotations

import argparse
import io
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs_tools.cli.common import CliError, run
from mwaa_obs_tools.cli.terminal import TerminalSafe, terminal_safe

BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def obeyed(char: str) -> bool:
    """A character a terminal acts on (or that reorders what follows) rather than shows."""
    code = ord(char)
    return (code < 0x20 and char not in "\n\t\r") or 0x7F <= code < 0xA0 or code in BIDI


@given(st.text())
def test_no_character_a_terminal_would_obey_is_left_and_the_rest_is_kept(text: str) -> None:
    shown = terminal_safe(text)
    assert not any(obeyed(char) for char in shown)
    if not any(obeyed(char) for char in text):
        assert shown == text


def test_a_sequence_is_shown_as_its_escaped_characters() -> None:
    assert terminal_safe("\x1b]0;title\x07 \x9b2J \u202eabc\n") == "\\x1b]0;title\\x07 \\x9b2J \\u202eabc\n"


def test_a_command_output_and_its_one_line_error_are_terminal_safe(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def command(_: argparse.Namespace) -> int:
        print("run r1 failed: \x1b[2J")
        sys.stdout.writelines(["\x1b]52;c;cm0=\x07\n"])
        raise CliError("no workflow '\x1b]0;pwned\x07'")

    assert run(command, argparse.Namespace()) == 2
    printed = capsys.readouterr()
    assert printed.out == "run r1 failed: \\x1b[2J\n\\x1b]52;c;cm0=\\x07\n"
    assert printed.err == "mwaa-obs: no workflow '\\x1b]0;pwned\\x07'\n"
    assert not isinstance(sys.stdout, TerminalSafe)  # given back after the command


def test_the_stream_it_wraps_answers_for_the_rest() -> None:
    stream = io.StringIO()
    safe = TerminalSafe(stream)
    assert safe.write("\x07") == 1
    assert (safe.getvalue(), safe.isatty()) == ("\\x07", False)
