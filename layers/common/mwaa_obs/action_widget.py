"""The actions function: the dashboards' Re-run and Stop buttons, answered in the widget's pop-up.

A button is a `<cwdb-action action="call" confirmation=...>` whose JSON body is the request: CloudWatch asks the
viewer to confirm, then invokes this function with the viewer's credentials, so pressing a button takes
`lambda:InvokeFunction` on this function, a permission apart from the read-only widget function's
(docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/add_custom_widget_dashboard_interactivity.html).

The function acts only on workflows of its own account and region: the workflow's ARN is built from the function's
own and the request's workflow id, never taken from the request, and its role may start and stop runs of
`workflow/*` there and nowhere else. Who asked is what CloudWatch passes: every call's `widgetContext` carries the
calling account, the dashboard and the widget, not the IAM principal
(aws-samples/cloudwatch-custom-widgets-samples, README, "Is the Custom Widget passed any information by
default?"); the principal is in CloudTrail's record of the Invoke (a Lambda data event) and is logged nowhere else.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from mwaa_obs.actions import ACTIONS, ActionRefused, Outcome, act
from mwaa_obs.events import PLACE_SEPARATOR, workflow_name_of

# The service model's IdString ([a-zA-Z0-9]+[a-zA-Z0-9\.\-_]*, 1..255) for run ids; a workflow id is a name of the
# same alphabet and its 10-character suffix (WorkflowArn's pattern).
RUN_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
WORKFLOW_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}-[A-Za-z0-9]{10}")

DESCRIPTION = """## mwaa-obs actions
Re-run and Stop for the runs widget's buttons: starts an ended run's workflow again (once, however often clicked)
or stops a run, for workflows of this account and region.

Parameters (JSON): `action` (`rerun` or `stop`), `workflowId`, `runId`.

Pressing a button needs `lambda:InvokeFunction` on this function (docs/VIEWS.md, "Re-run and Stop").
"""


@dataclass(frozen=True, slots=True)
class ActionRequest:
    action: str
    workflow_id: str
    run_id: str

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> ActionRequest:
        action, workflow_id, run_id = (str(params.get(key) or "") for key in ("action", "workflowId", "runId"))
        if action not in ACTIONS:
            raise ActionRefused(f"action {action!r} is not one of {', '.join(ACTIONS)}")
        if PLACE_SEPARATOR in workflow_id:
            raise ActionRefused(
                f"workflow {workflow_id} is of another account or region: act on it from there "
                "(mwaa-obs runs rerun / stop with that account's credentials)"
            )
        if not WORKFLOW_ID.fullmatch(workflow_id):
            raise ActionRefused(f"workflowId {workflow_id!r} is not a workflow id")
        if not RUN_ID.fullmatch(run_id):
            raise ActionRefused(f"runId {run_id!r} is not a run id")
        return cls(action, workflow_id, run_id)

    def workflow_arn(self, function_arn: str) -> str:
        """The workflow's ARN in the function's own partition, region and account."""
        _, partition, _, region, account = function_arn.split(":")[:5]
        return f"arn:{partition}:airflow-serverless:{region}:{account}:workflow/{self.workflow_id}"


def asked_by(event: Mapping[str, Any]) -> dict[str, str | None]:
    """Who asked, as far as CloudWatch says: the calling account, the dashboard and the widget."""
    context = event.get("widgetContext") or {}
    return {key: _text(context.get(key)) for key in ("accountId", "dashboardName", "widgetId")}


def _text(value: Any) -> str | None:
    return str(value)[:256] if value not in (None, "") else None


def handle(
    event: Mapping[str, Any], function_arn: str, api: Callable[[], Any], log: Callable[[str, dict[str, Any]], None]
) -> str:
    """One button press: the action done (or refused) and said in a sentence of HTML; every press logged with who
    asked. A fault of the API is said too: the pop-up is where the person who pressed the button looks."""
    if event.get("describe"):
        return DESCRIPTION
    asker = asked_by(event)
    try:
        request = ActionRequest.of(event)
        outcome = act(api(), request.action, request.workflow_arn(function_arn), request.run_id)
    except ActionRefused as refused:
        log("action refused", {"reason": str(refused), "asked_by": asker, "params": _params(event)})
        return _answer(str(refused), ok=False)
    except (ClientError, BotoCoreError) as error:
        code = error.response["Error"].get("Code") if isinstance(error, ClientError) else type(error).__name__
        log("action failed", {"error": str(error), "code": code, "asked_by": asker, "params": _params(event)})
        return _answer(f"not done: {code}: {error}", ok=False)
    log(
        "action done",
        {"action": outcome.action, "workflow_arn": outcome.workflow_arn, "run_id": outcome.run_id}
        | {"state": outcome.state, "new_run_id": outcome.new_run_id, "asked_by": asker},
    )
    return _answer(_said(outcome, workflow_name_of(request.workflow_id)), ok=True)


def _params(event: Mapping[str, Any]) -> dict[str, str | None]:
    return {key: _text(event.get(key)) for key in ("action", "workflowId", "runId")}


def _said(outcome: Outcome, name: str) -> str:
    if outcome.action == "rerun":
        return (
            f"Re-run of {name} run {outcome.run_id}: run {outcome.new_run_id} ({outcome.state}). Clicking again "
            "answers this same run."
        )
    return f"{name} run {outcome.run_id}: {outcome.state}."


def _answer(sentence: str, *, ok: bool) -> str:
    mark = "✓" if ok else "✗"
    kind = "done" if ok else "refused"
    return f'<p class="mo-action" data-outcome="{kind}">{mark} {html.escape(sentence)}</p>'
