"""The fleet matrix, as data and as escaped HTML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.matrix import MATRIX_ROWS, MatrixPage, MatrixRow, MatrixRun, chosen_workflows, page_of, render_matrix
from mwaa_obs.states import RunState
from mwaa_obs.store.schema import WorkflowItem
from mwaa_obs.widget import WidgetNavigation
from tests.unit.test_views import HOSTILE, PLACE, parsed

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
def test_text_from_a_workflow_never_becomes_markup_in_the_matrix(text: str) -> None:
    row = MatrixRow("w-1", text, text, (MatrixRun(text, RunState.FAILED, None, None),))
    matrix = render_matrix(MatrixPage((row,), 1, 1, 1, 3), {"filter": text}, NAV, PLACE)
    tags = parsed(matrix)
    assert {tag for tag, _ in tags.tags} <= SAFE_TAGS
    assert not any(name.startswith("on") for _, attrs in tags.tags for name in attrs)
    assert 'data-workflow="' in matrix
    empty = render_matrix(MatrixPage((), 0, 1, 1, 3), {"filter": text}, NAV, PLACE)
    assert not any(name.startswith("on") for _, attrs in parsed(empty).tags for name in attrs)
