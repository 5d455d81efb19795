"""docs/COST.md is the render of the simulated month `make bench` measured (bench/month.json): no figure in it is
written by hand, and the month meets the cost target it states."""

from __future__ import annotations

import json

from mwaa_obs_tools import cost_doc
from mwaa_obs_tools.emulator import load_template


def month() -> dict:  # type: ignore[type-arg]
    loaded: dict = json.loads(cost_doc.MONTH_JSON.read_text(encoding="utf-8"))  # type: ignore[type-arg]
    return loaded


def test_the_cost_page_is_the_render_of_the_measured_month() -> None:
    expected = cost_doc.render(month(), load_template())
    assert cost_doc.COST_MD.read_text(encoding="utf-8") == expected, (
        "run `make bench` (or python -m mwaa_obs_tools.cost_doc)"
    )


def test_a_workflow_that_does_nothing_costs_nothing_and_a_daily_one_meets_the_target_at_1000() -> None:
    measured = month()
    assert measured["workflows"]["idle"]["metric_hours"] == 0
    assert sum(measured["priced"]["idle"].values()) == 0
    fixed = sum(cost_doc.fixed_lines(measured, load_template()).values())
    per_workflow = sum(measured["priced"][cost_doc.TARGET_KIND].values()) + fixed / 1_000
    assert per_workflow <= cost_doc.TARGET_DOLLARS
