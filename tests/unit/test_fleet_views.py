"""The fleet matrix and the trends, as data and as escaped HTML."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.cron import Cron
from mwaa_obs.matrix import MATRIX_ROWS, MatrixPage, MatrixRow, MatrixRun, chosen_workflows, page_of, render_matrix
from mwaa_obs.states import RunState, RunType, TaskState
from mwaa_obs.store.schema import WorkflowItem
from mwaa_obs.trends import render_trends, scheduled_fire, trends
from mwaa_obs.widget import WidgetNavigation
from tests.unit.test_views import DIAMOND, HOSTILE, PLACE, attempt, parsed, run

SAFE_TAGS = {"div", "style", "table", "tr", "th", "td", "a", "span", "p", "b", "h4", "code", "cwdb-action", "svg",
             "circle", "title", "polyline"}  # fmt: skip
NAV = WidgetNavigation("arn:aws:lambda:eu-west-1:123456789012:function:w")


def workflow(name: str, deleted: bool = False) -> WorkflowItem:
    return WorkflowItem(
        f"WF#{name}-Ab3dE6gH9j", "WORKFLOW", deleted_at=datetime(2026, 1, 1, tzinfo=UTC) if deleted else None
    )


def test_the_matrix_keeps_live_workflows_whose_name_and_team_match_by_name() -> None:
    fleet = [workflow("sales_daily"), workflow("Sales_hourly"), workflow("orders"), workflow("sales_old", True)]
    teams = {"sales_daily": "sales", "Sales_hourly": "sales", "orders": "ops"}
    chosen = chosen_workflows(fleet, "SALES", None, teams.__getitem__)
    assert [item.workflow_name for item in chosen] == ["Sales_hourly", "sales_daily"]
    assert [i.workflow_name for i in chosen_workflows(fleet, None, "ops", teams.__getitem__)] == ["orders"]
    assert chosen_workflows(fleet, "sales", "ops", teams.__getitem__) == []


@given(st.integers(0, 260), st.integers(-3, 10))
def test_pages_cover_every_workflow_once_and_a_page_past_the_end_is_the_last(count: int, asked: int) -> None:
    fleet = [workflow(f"w{index:03d}") for index in range(count)]
    pages = page_of(fleet, 1)[1]
    assert pages == max(1, -(-count // MATRIX_ROWS))
    seen = [item for number in range(1, pages + 1) for item in page_of(fleet, number)[0]]
    assert seen == fleet
    shown, _ = page_of(fleet, asked)
    assert shown == page_of(fleet, min(max(1, asked), pages))[0]
    assert len(shown) <= MATRIX_ROWS


@pytest.mark.parametrize("text", HOSTILE)
def test_text_from_a_workflow_never_becomes_markup_in_the_matrix_and_the_trends(text: str) -> None:
    row = MatrixRow("w-1", text, text, (MatrixRun(text, RunState.FAILED, None, None),))
    matrix = render_matrix(MatrixPage((row,), 1, 1, 1, 3), {"filter": text}, NAV, PLACE)
    hostile = run("r9", RunState.FAILED, 0, [attempt("r9", text, 1, TaskState.FAILED, 0, 1, 2)])
    found = render_trends(trends(text, [hostile], "0 * * * *"), NAV, PLACE)
    for page in (matrix, found):
        tags = parsed(page)
        assert {tag for tag, _ in tags.tags} <= SAFE_TAGS
        assert not any(name.startswith("on") for _, attrs in tags.tags for name in attrs)
    assert 'data-workflow="' in matrix
    empty = render_matrix(MatrixPage((), 0, 1, 1, 3), {"filter": text}, NAV, PLACE)
    assert not any(name.startswith("on") for _, attrs in parsed(empty).tags for name in attrs)


def test_a_scheduled_run_lands_after_its_fire_and_an_on_demand_one_has_no_schedule_to_be_late_for() -> None:
    cron = Cron.parse("0 */4 * * *")
    created = datetime(2026, 12, 5, 8, 0, 3, tzinfo=UTC)
    assert scheduled_fire(cron, created) == datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    assert scheduled_fire(cron, created - timedelta(seconds=4)) == datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
    assert scheduled_fire(Cron.parse("* * * * *"), created) == datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    on_time = run("r1", RunState.SUCCESS, 0, DIAMOND)
    scheduled = replace(on_time, run_id="r2", run_type=RunType.SCHEDULED)
    found = trends("etl", [on_time, scheduled], "* * * * *")
    lates = {landing.run.run_id: landing.late_seconds for landing in found.landings}
    assert lates["r1"] is None
    assert scheduled.created_at is not None
    assert scheduled.ended_at is not None
    fire = scheduled.created_at.replace(second=0, microsecond=0)
    assert lates["r2"] == (scheduled.ended_at - fire).total_seconds()


def test_each_tasks_trend_has_a_point_per_run_with_its_first_start_to_last_end() -> None:
    first = run("r1", RunState.SUCCESS, 0, DIAMOND)
    second = run("r2", RunState.FAILED, 100, [attempt("r2", "extract", 1, TaskState.FAILED, 100, 101, 103)])
    found = trends("etl", [second, first], None)
    by_task = {trend.task_id: trend for trend in found.tasks}
    assert [point.run_id for point in by_task["extract"].points] == ["r1", "r2"]  # oldest first
    assert [point.seconds for point in by_task["extract"].points] == [240.0, 120.0]  # minutes 1-5 and 101-103
    assert [point.seconds for point in by_task["transform_long"].points] == [1440.0, None]  # retried: minutes 6 to 30
    assert found.schedule is None
