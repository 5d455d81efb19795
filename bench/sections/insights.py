"""Section "insights": the Metrics Insights limits checked against the metric design at a fleet of 10,000 workflows,
from the simulated month (bench/month.json, section "month"): for each shared alarm, the share of its evaluations in
which a workflow of a kind is one of the query's series (it sent the alarm's metric in the 3 hours looked at), and so
the series a query matches at 10,000 workflows of that kind, on average and at a 1-in-1,000 evaluation (binomial),
against CloudWatch's 500 series returned and 10,000 metrics matched per query (alarm-limits.html). The too-slow
alarm is also shown as it was, on RunDuration (what a workflow with full metrics still sends)."""

from __future__ import annotations

import json
import math
from typing import Any, Final

from harness import Options, Row
from month import MONTH_JSON, SHARED_ALARMS

FLEET: Final = 10_000
KINDS: Final = ("hourly_5", "daily_5", "hourly_50")
SERIES_RETURNED: Final = 500  # "If the Metrics Insights query returns more than 500 time series": PARTIAL_DATA
METRICS_MATCHED: Final = 10_000  # "If the Metrics Insights query matches more than 10,000 metrics": PARTIAL_DATA
Z_ONE_IN_1000: Final = 3.09


def _series(share: float) -> tuple[float, int]:
    """Series of a query over FLEET workflows each in it with probability `share`: the mean and a 1-in-1,000 high."""
    mean = FLEET * share
    return round(mean, 1), min(FLEET, math.ceil(mean + Z_ONE_IN_1000 * math.sqrt(mean * (1 - share))))


def run(options: Options) -> dict[str, Any]:
    month = json.loads(MONTH_JSON.read_text(encoding="utf-8"))
    hours = month["days"] * 24
    figures: dict[str, Any] = {"fleet": FLEET, "series_returned_limit": SERIES_RETURNED,
                               "metrics_matched_limit": METRICS_MATCHED, "kinds": {}}  # fmt: skip
    for kind in KINDS:
        analysed = month["workflows"][kind]["alarm_analysed_metric_hours"]
        alarms = {}
        for alarm in SHARED_ALARMS:
            mean, high = _series(min(1.0, analysed[alarm] / hours))
            alarms[alarm] = {"share": round(analysed[alarm] / hours, 4), "mean": mean, "one_in_1000": high}
        full = month["workflows"].get(f"{kind}_full", {}).get("run_duration_analysed_hours")
        if full is not None:  # the too-slow alarm as it was: MAX(RunDuration) of every workflow that ended a run
            mean, high = _series(min(1.0, full / hours))
            alarms["workflows-too-slow (was: RunDuration)"] = {"share": round(full / hours, 4), "mean": mean,
                                                              "one_in_1000": high}  # fmt: skip
        figures["kinds"][kind] = alarms
    return figures


def rows(insights: dict[str, Any]) -> list[Row]:
    lines: list[Row] = []
    limits = f"<= {insights['series_returned_limit']} returned, <= {insights['metrics_matched_limit']:,} matched"
    for kind, alarms in insights["kinds"].items():
        for alarm, figures in alarms.items():
            lines.append(
                (
                    f"Metrics Insights, {insights['fleet']:,} {kind} workflows, {alarm}: series a query matches "
                    "(mean; 1 in 1,000)",
                    f"{figures['mean']:g}; {figures['one_in_1000']:,}",
                    limits,
                )
            )
    return lines
