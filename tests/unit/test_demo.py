"""What the demo prints says what happened: percentiles within the runs' range, grouping claimed only when it was
done (issue 36: it printed p95 7,150 s over a longest run of 5,708 s, and "grouped" beside 8 failures in 8
messages)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs_tools.demo import alerts_summary, duration_figures

DURATIONS = st.lists(st.floats(min_value=1, max_value=100_000, allow_nan=False), min_size=1, max_size=40)


@given(DURATIONS)
def test_p95_is_never_above_the_longest_run_nor_p50_above_p95(durations: list[float]) -> None:
    match = re.fullmatch(r"  duration p50 (\d+) s, p95 (\d+) s", duration_figures(durations))
    assert match is not None
    p50, p95 = (int(value) for value in match.groups())
    assert round(min(durations)) <= p50 <= p95 <= round(max(durations))


def test_a_few_runs_with_one_long_one() -> None:
    # statistics.quantiles (the demo's before) extrapolated these to a p95 of 7,920 s
    durations = [1480.0, 2010.0, 2099.0, 2121.0, 2305.0, 5708.0]
    assert duration_figures(durations) == "  duration p50 2099 s, p95 5708 s"
    assert duration_figures([]) == ""


def test_no_grouping_is_claimed_when_every_failure_had_its_own_message() -> None:
    text = " ".join(alerts_summary(emails=15, slack=15, failure_alerts=8, failed_runs=8, grouped=0))
    assert "8 failed runs: 8 failure alerts and 7 'resolved'" in text
    assert "none was grouped" in text
    assert "grouped into" not in text


def test_grouped_failures_are_counted_as_such() -> None:
    text = " ".join(alerts_summary(emails=6, slack=6, failure_alerts=3, failed_runs=7, grouped=4))
    assert "7 failed runs: 3 failure alerts and 3 'resolved'" in text
    assert "4 failed runs had no message of their own" in text
    assert "none was grouped" not in text
