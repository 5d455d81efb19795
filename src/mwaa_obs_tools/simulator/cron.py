"""Five-field cron expressions (minute hour day-of-month month day-of-week), as workflow schedules use them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Cron:
    expression: str
    fields: tuple[frozenset[int], ...]

    @classmethod
    def parse(cls, expression: str) -> Cron:
        text = _ALIASES.get(expression.strip(), expression.strip())
        parts = text.split()
        if len(parts) != 5:
            raise CronError(f"cron expression {expression!r} must have 5 fields")
        return cls(expression, tuple(_field(part, low, high) for part, (low, high) in zip(parts, _RANGES, strict=True)))

    def matches(self, at: datetime) -> bool:
        minute, hour, day, month, weekday = self.fields
        return (
            at.minute in minute
            and at.hour in hour
            and at.day in day
            and at.month in month
            and (at.isoweekday() % 7) in weekday
        )

    def next_after(self, at: datetime) -> datetime:
        """The first matching minute strictly after `at` (searches up to a year ahead)."""
        candidate = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60):
            if self.matches(candidate):
                return candidate
            candidate += timedelta(minutes=1)
        raise CronError(f"cron expression {self.expression!r} never fires")


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if step_text and not step_text.isdigit():
            raise CronError(f"bad step in {text!r}")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, low, high), _number(last, low, high)
        else:
            start = _number(base, low, high)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _number(text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise CronError(f"{text!r} is not a number from {low} to {high}")
    return int(text)
