"""Re-run and Stop without AWS: the buttons each run gets, what a button's request may name, who asked."""

from __future__ import annotations

import json
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

import pytest

from mwaa_obs.action_widget import DESCRIPTION, ActionRequest, asked_by, handle
from mwaa_obs.actions import TOKEN_PREFIX, ActionRefused, rerun_token
from mwaa_obs.states import TERMINAL_RUN_STATES, RunState
from mwaa_obs.store.schema import RunItem
from mwaa_obs.view_html import run_buttons
from mwaa_obs.views import run_view
from mwaa_obs.widget import WidgetNavigation

WIDGET = "arn:aws:lambda:eu-west-1:111122223333:function:mwaa-obs-widget"
ACTIONS = "arn:aws:lambda:eu-west-1:111122223333:function:mwaa-obs-actions"
WORKFLOW_ID = "etl-AbCdEfGhIj"


def view(state: str, run_id: str = "r1") -> Any:
    return run_view(RunItem(pk=f"RUN#{WORKFLOW_ID}#{run_id}", sk="RUN", status=state), [])


class Actions(HTMLParser):
    """Each <cwdb-action> with its attributes and JSON body."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "cwdb-action":
            self._open = dict(attrs)

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.found.append((self._open, data))
            self._open = None


def cwdb_actions(page: str) -> list[tuple[dict[str, str | None], dict[str, Any]]]:
    parser = Actions()
    parser.feed(page)
    return [(attrs, json.loads(body)) for attrs, body in parser.found]


@pytest.mark.parametrize("state", list(RunState))
def test_an_ended_run_gets_re_run_and_any_other_stop_each_calling_the_actions_function_once_confirmed(
    state: RunState,
) -> None:
    ((attrs, body),) = cwdb_actions(run_buttons(view(state), WidgetNavigation(WIDGET, ACTIONS)))
    assert attrs["endpoint"] == ACTIONS  # never the read-only widget function
    assert attrs["action"] == "call"
    assert attrs["display"] == "popup"
    expected = "rerun" if state in TERMINAL_RUN_STATES else "stop"
    assert body == {"workflowId": WORKFLOW_ID, "runId": "r1", "action": expected}
    assert (attrs["confirmation"] or "").startswith("Start etl again" if expected == "rerun" else "Stop etl run r1?")


def test_no_actions_function_no_buttons() -> None:
    assert run_buttons(view(RunState.FAILED), WidgetNavigation(WIDGET)) == ""


def test_a_hostile_run_id_stays_text_in_the_button() -> None:
    hostile = 'r"><img src=x onerror=alert(1)>'
    page = run_buttons(view(RunState.FAILED, hostile), WidgetNavigation(WIDGET, ACTIONS))
    assert "<img" not in page
    ((attrs, body),) = cwdb_actions(page)
    assert body["runId"] == hostile
    assert hostile in (attrs["confirmation"] or "")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"action": "delete", "workflowId": WORKFLOW_ID, "runId": "r1"}, "action 'delete' is not one of rerun, stop"),
        ({"action": "rerun", "workflowId": f"444455556666/us-west-2/{WORKFLOW_ID}", "runId": "r1"}, "another account"),
        ({"action": "rerun", "workflowId": "etl", "runId": "r1"}, "workflowId 'etl' is not a workflow id"),
        ({"action": "stop", "workflowId": WORKFLOW_ID, "runId": "r 1"}, "runId 'r 1' is not a run id"),
        ({"action": "stop", "workflowId": WORKFLOW_ID}, "runId '' is not a run id"),
    ],
)
def test_a_request_naming_what_the_function_may_not_act_on_is_refused(params: Mapping[str, Any], reason: str) -> None:
    with pytest.raises(ActionRefused, match=reason):
        ActionRequest.of(params)


def test_the_workflow_is_always_of_the_functions_own_account_and_region() -> None:
    request = ActionRequest.of({"action": "rerun", "workflowId": WORKFLOW_ID, "runId": "r1"})
    assert request.workflow_arn(ACTIONS) == f"arn:aws:airflow-serverless:eu-west-1:111122223333:workflow/{WORKFLOW_ID}"
    china = "arn:aws-cn:lambda:cn-north-1:111122223333:function:f"
    assert request.workflow_arn(china).startswith("arn:aws-cn:airflow-serverless:cn-north-1:111122223333:")


def test_who_asked_is_the_account_dashboard_and_widget_cloudwatch_passes() -> None:
    event = {"widgetContext": {"accountId": "111122223333", "dashboardName": "ops", "widgetId": "widget-3"}}
    assert asked_by(event) == {"accountId": "111122223333", "dashboardName": "ops", "widgetId": "widget-3"}
    assert asked_by({}) == {"accountId": None, "dashboardName": None, "widgetId": None}


def test_a_refusal_is_said_in_the_pop_up_logged_and_asks_nothing_of_the_api() -> None:
    logged: list[tuple[str, dict[str, Any]]] = []

    def no_api() -> Any:
        raise AssertionError("the API was asked")

    event = {"action": "rerun", "workflowId": "<b>x</b>", "runId": "r1", "widgetContext": {"accountId": "1"}}
    answer = handle(event, ACTIONS, no_api, lambda message, fields: logged.append((message, fields)))
    assert 'data-outcome="refused"' in answer
    assert "<b>" not in answer
    ((message, fields),) = logged
    assert message == "action refused"
    assert fields["asked_by"]["accountId"] == "1"
    assert handle({"describe": True}, ACTIONS, no_api, lambda *_: None) == DESCRIPTION


def test_the_rerun_token_is_one_per_run_and_fits_the_api() -> None:
    arn = f"arn:aws:airflow-serverless:eu-west-1:111122223333:workflow/{WORKFLOW_ID}"
    token = rerun_token(arn, "r1")
    assert token == rerun_token(arn, "r1")
    assert token != rerun_token(arn, "r2")
    assert token != rerun_token(arn.replace("eu-west-1", "us-east-1"), "r1")
    long_id = "r" * 255
    assert token.startswith(TOKEN_PREFIX)
    assert len(rerun_token(arn, long_id)) <= 128
    assert all(0x21 <= ord(c) <= 0x7E for c in rerun_token(arn, long_id))


@pytest.mark.parametrize("state", [RunState.FAILED, RunState.RUNNING])
def test_a_member_accounts_run_gets_the_command_to_run_there_not_a_button_the_function_would_refuse(
    state: RunState,
) -> None:
    # Central mode: the run is of another account's workflow, which the actions function may not act on
    placed = run_view(RunItem(pk=f"RUN#444455556666/us-west-2/{WORKFLOW_ID}#r1", sk="RUN", status=state), [])
    page = run_buttons(placed, WidgetNavigation(WIDGET, ACTIONS))
    assert cwdb_actions(page) == []
    action = "rerun" if state in TERMINAL_RUN_STATES else "stop"
    assert "in 444455556666/us-west-2, with credentials that may act there" in page
    assert f"<code>mwaa-obs runs {action} r1 --workflow 444455556666/us-west-2/etl</code>" in page
