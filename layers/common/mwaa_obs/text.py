"""Text that must fit a limit: cut visibly, never silently."""

from __future__ import annotations

from typing import Final

TRUNCATION_MARK: Final = "…[truncated]"


def truncate(text: str, limit: int) -> str:
    """The text itself if it fits `limit` characters, else its start and the mark, `limit` characters in all."""
    return text if len(text) <= limit else text[: max(0, limit - len(TRUNCATION_MARK))] + TRUNCATION_MARK
