"""Time in and out: the one parser of the times events and API answers carry, and the formats the pipeline writes.

Every time inside the pipeline is an aware UTC datetime.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_MILLISECONDS_FROM = 100_000_000_000  # an epoch number this large counts milliseconds (seconds would be year 5138)


def parse_time(value: Any) -> datetime | None:
    """A datetime, ISO-8601 text or epoch seconds/milliseconds as an aware UTC datetime; None if it is none of them.

    Naive values are taken as UTC.
    """
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value / 1000 if value > _MILLISECONDS_FROM else value, UTC)
        if isinstance(value, str):
            return parse_time(datetime.fromisoformat(value))
    except (ValueError, OverflowError, OSError):
        return None
    return None


def event_time(at: datetime) -> str:
    """The EventBridge envelope's format: ISO-8601 to the second, Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sort_key_time(at: datetime) -> str:
    """For index sort keys: fixed width to the microsecond, so that text order is time order."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def readable_time(at: datetime | None) -> str:
    """For people (messages, the CLI's tables)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "unknown"


def invocation_time(event: Mapping[str, Any]) -> datetime:
    """When a scheduled invocation was due: the schedule event's own time (the local stack fires it on the
    simulator's clock), else now."""
    return parse_time(event.get("time")) or datetime.now(UTC)


def human_duration(seconds: float) -> str:
    """A span for people, in its two largest units at most: `45s`, `3m 5s`, `1h 2m`, `2d 3h`; never negative."""
    seconds = round(max(0.0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes and not days:
        parts.append(f"{minutes}m")
    if not (days or hours) and (secs or not minutes):
        parts.append(f"{secs}s")
    return " ".join(parts)
