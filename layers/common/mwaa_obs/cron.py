"""Five-field cron expressions (minute hour day-of-month month day-of-week), as workflow schedules use them.

Standard cron semantics (crontab(5)): times are UTC here; day-of-week 0 and 7 are Sunday; when both day-of-month
and day-of-week are restricted (neither is `*`), a day matching either one fires.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

_RANGES: Final = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_ALIASES: Final = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_HORIZON: Final = timedelta(days=366 * 5)  # long enough for a schedule that fires only on 29 February


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Cron:
    expression: str
    fields: tuple[frozenset[int], ...]
    any_day_of_month: bool = True
    any_day_of_week: bool = True

    @classmethod
    def parse(cls, expression: str) -> Cron:
        return _parse(expression)

    def _day_matches(self, at: datetime) -> bool:
        _, _, day, _, weekday = self.fields
        on_day, on_weekday = at.day in day, (at.isoweekday() % 7) in weekday
        if self.any_day_of_month or self.any_day_of_week:
            return on_day and on_weekday
        return on_day or on_weekday

    def matches(self, at: datetime) -> bool:
        minute, hour, _, month, _ = self.fields
        return at.minute in minute and at.hour in hour and at.month in month and self._day_matches(at)

    def next_after(self, at: datetime) -> datetime:
        """The first matching minute strictly after `at`, skipping whole months, days and hours that cannot match."""
        minutes, hours, _, months, _ = self.fields
        candidate = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while candidate <= at + _HORIZON:
            if candidate.month not in months:
                first = candidate.replace(day=1, hour=0, minute=0)
                candidate = (first + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(candidate):
                candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
            elif candidate.hour not in hours:
                candidate = candidate.replace(minute=0) + timedelta(hours=1)
            elif candidate.minute not in minutes:  # straight to the next matching minute of this hour, if any
                later = min((minute for minute in minutes if minute > candidate.minute), default=None)
                candidate = (
                    candidate.replace(minute=later)
                    if later is not None
                    else candidate.replace(minute=0) + timedelta(hours=1)
                )
            else:
                return candidate
        raise CronError(f"cron expression {self.expression!r} never fires")


@functools.lru_cache(maxsize=1024)  # a fleet shares few schedules; a Cron is immutable
def _parse(expression: str) -> Cron:
    text = _ALIASES.get(expression.strip(), expression.strip())
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"cron expression {expression!r} must have 5 fields")
    minute, hour, day, month, weekday = (
        _field(part, low, high) for part, (low, high) in zip(parts, _RANGES, strict=True)
    )
    weekday = frozenset(value % 7 for value in weekday)  # 7 is Sunday too
    return Cron(expression, (minute, hour, day, month, weekday), parts[2] == "*", parts[4] == "*")


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if (step_text and not step_text.isdigit()) or step == 0:
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
