"""Text that must fit a limit (cut visibly, never silently), and counts in words."""

from __future__ import annotations

import re
from typing import Final

TRUNCATION_MARK: Final = "…[truncated]"


def truncate(text: str, limit: int) -> str:
    """The text itself if it fits `limit` characters, else its start and the mark, `limit` characters in all."""
    return text if len(text) <= limit else text[: max(0, limit - len(TRUNCATION_MARK))] + TRUNCATION_MARK


# A Python string holds a surrogate only when it is lone (JSON's "\\ud800" decodes to one): UTF-8 cannot encode
# it, so neither DynamoDB nor a log line can take it.
LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def unicode_text(text: str) -> str:
    """The text with each lone surrogate replaced by U+FFFD."""
    return LONE_SURROGATE.sub("\ufffd", text)


def counted(count: int, noun: str) -> str:
    """`1 run`, `2 runs`: the count and its noun, plural unless it is one."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def first_line(text: str, limit: int) -> str:
    """The first line of a (multi-line) text such as an error, cut to `limit` characters."""
    return truncate(text.strip().splitlines()[0] if text.strip() else "", limit)
