"""Who did what without AWS: CloudTrail's records read, and a failure linked to the definition change before it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mwaa_obs.api_calls import CLOUDTRAIL_DETAIL_TYPE, is_api_call, parse_api_call, short_caller
from mwaa_obs.changes import change_note
from mwaa_obs.events import InvalidEvent, Place
from mwaa_obs.states import RunState
from mwaa_obs.store.schema import RunItem, WorkflowChangeItem
from mwaa_obs_tools.simulator import cloudtrail

HOME = Place("111122223333", "eu-west-1")
WORKFLOW_ID = "etl-AbCdEfGhIj"
ARN = f"arn:aws:airflow-serverless:eu-west-1:111122223333:workflow/{WORKFLOW_ID}"
T0 = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
ROLE = "arn:aws:sts::111122223333:assumed-role/deployer/ci-1234"


def delivered(name: str, request: dict[str, Any], response: dict[str, Any], **detail: Any) -> dict[str, Any]:
    """The EventBridge event of a call, its detail as the simulator writes CloudTrail's record."""
    record = cloudtrail.record(name, request, response, access_key="alice", account=HOME.account,
                               region=HOME.region, at=T0, request_id="r-1")  # fmt: skip
    return {"source": "aws.airflow-serverless", "detail-type": CLOUDTRAIL_DETAIL_TYPE, "detail": record | detail}


def test_a_started_run_is_read_with_who_started_it() -> None:
    event = delivered(
        "StartWorkflowRun", {"WorkflowArn": ARN, "ClientToken": "t"}, {"RunId": "r1", "Status": "STARTING"}
    )
    assert is_api_call(event)
    call = parse_api_call(event, HOME)
    assert call is not None
    assert (call.name, call.workflow.workflow_id, call.run_id, call.at) == ("StartWorkflowRun", WORKFLOW_ID, "r1", T0)
    assert call.by == "arn:aws:iam::111122223333:user/alice"
    assert event["detail"]["requestParameters"] == {"workflowArn": ARN}  # the token is not recorded


@pytest.mark.parametrize("camel", [True, False])
def test_members_are_read_in_camel_or_pascal_case(camel: bool) -> None:
    def first(key: str) -> str:
        return key[:1].lower() + key[1:] if camel else key

    detail = {
        "eventSource": "airflow-serverless.amazonaws.com",
        "eventName": "UpdateWorkflow",
        "eventTime": "2026-12-05T06:00:00Z",
        "eventID": "e1",
        "userIdentity": {"type": "AssumedRole", "arn": ROLE},
        "requestParameters": {first("WorkflowArn"): ARN},
        "responseElements": {first("WorkflowVersion"): "v2"},
    }
    call = parse_api_call({"detail-type": CLOUDTRAIL_DETAIL_TYPE, "detail": detail}, HOME)
    assert call is not None
    assert (call.version, short_caller(call.by), call.event_id) == ("v2", "deployer/ci-1234", "e1")


def test_a_refused_call_or_another_services_changed_nothing() -> None:
    event = delivered("StopWorkflowRun", {"WorkflowArn": ARN, "RunId": "r1"}, {})
    assert parse_api_call(event | {"detail": event["detail"] | {"errorCode": "AccessDenied"}}, HOME) is None
    assert parse_api_call(event | {"detail": event["detail"] | {"eventName": "GetWorkflowRun"}}, HOME) is None
    assert parse_api_call(event | {"detail": event["detail"] | {"eventSource": "s3.amazonaws.com"}}, HOME) is None


def test_a_record_that_cannot_be_read_is_invalid() -> None:
    event = delivered("StopWorkflowRun", {"WorkflowArn": "not-an-arn", "RunId": "r1"}, {})
    with pytest.raises(InvalidEvent, match="no workflow ARN"):
        parse_api_call(event, HOME)
    with pytest.raises(InvalidEvent, match="no RunId"):
        parse_api_call(delivered("StopWorkflowRun", {"WorkflowArn": ARN}, {}), HOME)
    with pytest.raises(InvalidEvent, match="detail object"):
        parse_api_call({"detail-type": CLOUDTRAIL_DETAIL_TYPE}, HOME)


def test_a_workflow_of_another_account_gets_its_qualified_id() -> None:
    elsewhere = ARN.replace("111122223333", "444455556666")
    call = parse_api_call(delivered("DeleteWorkflow", {"WorkflowArn": elsewhere}, {}), HOME)
    assert call is not None
    assert call.workflow.workflow_id == f"444455556666/eu-west-1/{WORKFLOW_ID}"


def test_sensitive_members_are_hidden_in_the_simulators_record() -> None:
    request = {"WorkflowArn": ARN, "OverrideParameters": {"password": "x"}}
    record = cloudtrail.record(
        "StartWorkflowRun", request, {"RunId": "r1"}, access_key="a", account="1", region="r", at=T0, request_id="q"
    )
    assert record["requestParameters"]["overrideParameters"] == cloudtrail.HIDDEN


def failed(run_id: str, started: float, version: str | None = "v2", status: str = RunState.FAILED) -> RunItem:
    start = T0 + timedelta(hours=started)
    return RunItem(pk=f"RUN#{WORKFLOW_ID}#{run_id}", sk="RUN", status=status, workflow_version=version,
                   started_at=start, ended_at=start + timedelta(minutes=5))  # fmt: skip


def change(call: str, at: float, version: str | None = "v2") -> WorkflowChangeItem:
    return WorkflowChangeItem(
        pk=f"WF#{WORKFLOW_ID}",
        sk=f"CHANGE#{at}",
        call=call,
        changed_by=ROLE,
        changed_at=T0 + timedelta(hours=at),
        workflow_version=version,
    )


def test_the_first_failure_after_an_update_says_so_and_the_next_counts() -> None:
    changes = [change("CreateWorkflow", -30, "v1"), change("UpdateWorkflow", 1)]
    first, second = failed("r1", 2), failed("r2", 3)
    assert change_note(first, [first], changes) == (
        "First failure since version v2 (UpdateWorkflow by deployer/ci-1234, 2026-12-05 07:00:00 UTC)"
    )
    assert (change_note(second, [first, second], changes) or "").startswith("Failure 2 since version v2 ")


@pytest.mark.parametrize(
    ("run", "changes"),
    [
        (failed("r1", 26), [change("UpdateWorkflow", 1)]),  # more than a day later
        (failed("r1", 2, version="v1"), [change("UpdateWorkflow", 1)]),  # a run of another version
        (failed("r1", 2, status=RunState.SUCCESS), [change("UpdateWorkflow", 1)]),  # not a failure
        (failed("r1", 2), [change("DeleteWorkflow", 1)]),  # no definition made
        (failed("r1", 0), [change("UpdateWorkflow", 1)]),  # the run started before the change
    ],
)
def test_no_note_when_the_failure_does_not_follow_a_definition_change(
    run: RunItem, changes: list[WorkflowChangeItem]
) -> None:
    assert change_note(run, [run], changes) is None
