"""Cron schedules: next fire times as crontab(5) defines them, found without scanning minute by minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mwaa_obs.cron import Cron, CronError

AT = datetime(2026, 11, 24, 13, 7, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 0 * * *", datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2026, 11, 24, 13, 15, tzinfo=UTC)),
        ("@hourly", datetime(2026, 11, 24, 14, 0, tzinfo=UTC)),
        ("@yearly", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("0 9 * * 1-5", datetime(2026, 11, 25, 9, 0, tzinfo=UTC)),
        ("0 9 * * 7", datetime(2026, 11, 29, 9, 0, tzinfo=UTC)),  # 7 is Sunday, as 0 is
        # Both day fields restricted: either one fires (the 1st of the month or any Friday)
        ("0 6 1 * 5", datetime(2026, 11, 27, 6, 0, tzinfo=UTC)),
        ("0 0 29 2 *", datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_fire_time(expression: str, expected: datetime) -> None:
    assert Cron.parse(expression).next_after(AT) == expected


@pytest.mark.parametrize("expression", ["None", "61 * * * *", "* * * *", "*/0 * * * *", "0 0 31 2 *"])
def test_what_is_not_a_schedule_is_refused(expression: str) -> None:
    with pytest.raises(CronError):
        Cron.parse(expression).next_after(AT)


def _brute_force(cron: Cron, at: datetime) -> datetime:
    candidate = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while not cron.matches(candidate):
        candidate += timedelta(minutes=1)
    return candidate


@settings(max_examples=60, deadline=None)
@given(
    minute=st.sampled_from(["*", "*/20", "0", "45", "5,35"]),
    hour=st.sampled_from(["*", "*/6", "0", "13-15"]),
    day=st.sampled_from(["*", "1", "15-17", "*/10"]),
    weekday=st.sampled_from(["*", "1-5", "0", "6,7"]),
    offset=st.integers(min_value=0, max_value=60 * 24 * 40),
)
def test_the_skipping_search_agrees_with_a_minute_by_minute_scan(
    minute: str, hour: str, day: str, weekday: str, offset: int
) -> None:
    cron = Cron.parse(f"{minute} {hour} {day} * {weekday}")
    at = AT + timedelta(minutes=offset)
    assert cron.next_after(at) == _brute_force(cron, at)
