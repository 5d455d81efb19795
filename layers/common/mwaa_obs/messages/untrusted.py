"""Untrusted text made inert for each markup a message uses.

Every piece of text that comes from a workflow (names, run ids, error messages) is untrusted. In plain text it
loses its control characters. In Slack mrkdwn (Slack, and Amazon Q Developer's client-markdown) it is escaped
(`&`, `<`, `>`), `@here`-style words are broken and text objects are `verbatim`, so a message can neither ping a
channel nor carry a link of its author's making; code blocks and inline code spans cannot be closed from inside.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from mwaa_obs.text import TRUNCATION_MARK

INLINE_BACKTICK: Final = "\u02cb"  # stands for a backtick inside an inline code span

_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
# Control characters (C0 but newline and tab, DEL, C1), Unicode's line and paragraph separators (a line break to
# some readers), and the bidirectional embeddings, overrides and isolates (text shown in an order unlike its own:
# "gnp.exe" read as "exe.png").
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """Untrusted text made safe for plain-text channels: no control characters except newlines and tabs, no
    line separators, no bidirectional controls."""
    return _UNPRINTABLE.sub("?", text)


def one_line(text: str) -> str:
    """Untrusted text for a one-line field (a task id, an operator): its line breaks and tabs become spaces, so it
    cannot start a line of the message's own making."""
    return plain(" ".join(text.split()))


def plain_inert(text: str) -> str:
    """Untrusted text for a Slack plain_text object (the header, a button): Slack parses no markup there, yet it is
    shown where a mention would be read as one, so angle brackets become look-alikes (‹ ›) and broadcast words are
    broken as in mrkdwn."""
    inert = plain(text).replace("<", "\u2039").replace(">", "\u203a")
    return _BROADCAST.sub(lambda match: "@\u200b" + match.group(1), inert)


def escape_mrkdwn(text: str) -> str:
    """Untrusted text made inert in Slack mrkdwn: entities for & < >, broadcast words broken with a zero-width space."""
    escaped = plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda match: "@\u200b" + match.group(1), escaped)


def fit_mrkdwn(text: str, limit: int, code: bool = False) -> str:
    """Escape, and cut so that the escaped text (with its code fence) fits the limit; never splits an entity."""
    if code:
        # Three backticks inside a code block would close it: each gets a zero-width joiner.
        return f"```\n{_fit(text, limit - 8, lambda raw: escape_mrkdwn(raw).replace('`', '`\u200d'))}\n```"
    return _fit(text, limit, escape_mrkdwn)


def inline_code(text: str, limit: int) -> str:
    """Untrusted text as an inline code span: any backtick in it would end the span, so it is shown as U+02CB (a
    grave accent that does not)."""
    return f"`{_fit(text, limit - 2, lambda raw: escape_mrkdwn(raw).replace('`', INLINE_BACKTICK))}`"


def _fit(text: str, budget: int, render: Callable[[str], str]) -> str:
    escaped = render(text)
    if len(escaped) > budget:
        room = budget - len(TRUNCATION_MARK)
        # The longest start of the raw text whose rendering fits (rendering only grows with the text): bisected, as
        # a character can grow to several when escaped (< to &lt;), so the overflow alone says little of the cut.
        low, high = 0, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if len(render(text[:middle])) <= room:
                low = middle
            else:
                high = middle - 1
        escaped = render(text[:low]) + TRUNCATION_MARK
    return escaped
