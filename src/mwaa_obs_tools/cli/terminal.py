"""Terminal-safe output: the control characters of what a command prints are shown escaped, never obeyed.

Error messages, detail-types and sample bodies come from workflows and from whoever can put an event on the bus;
printed raw, an escape sequence in one would retitle the window, write the clipboard (OSC 52), clear the screen or
hide text. Every command's stdout and stderr pass through TerminalSafe while it runs (common.run), so no printing
path can forget it. Newline, tab and carriage return pass: the CLI's own lines and its progress line use them, and
no sequence starts with them (a table cell folds them into spaces). --json needs nothing: json.dumps escapes them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final, TextIO, cast

_CONTROLS: Final = [*range(0x20), 0x7F, *range(0x80, 0xA0)]  # C0, DEL, C1 (0x9B alone starts a sequence)
# Bidirectional embeddings, overrides and isolates reorder what follows them on screen: text reads unlike it is.
_BIDI: Final = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPED: Final = {code: f"\\x{code:02x}" for code in _CONTROLS if chr(code) not in "\n\t\r"} | {
    code: f"\\u{code:04x}" for code in _BIDI
}


def terminal_safe(text: str) -> str:
    """`text` with each control character (but newline, tab, carriage return) and bidi control written escaped."""
    return text.translate(_ESCAPED)


class TerminalSafe:
    """A text stream that writes what it is given terminal-safe to `stream`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(terminal_safe(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding...: the stream's own
        return getattr(self._stream, name)


@contextmanager
def terminal_safe_output() -> Iterator[None]:
    """stdout and stderr terminal-safe while open."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = cast("TextIO", TerminalSafe(out)), cast("TextIO", TerminalSafe(err))
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
