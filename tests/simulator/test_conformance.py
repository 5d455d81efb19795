"""The simulator's raw answers against botocore's model of the service: every operation, success and error paths
(conformance_walk). When botocore's model moves, this is the test that says where the simulator drifted."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from mwaa_obs_tools.simulator import conformance
from mwaa_obs_tools.simulator.conformance_harness import serve
from mwaa_obs_tools.simulator.conformance_walk import BUCKET, OBJECTS, walk


def test_every_answer_of_the_walk_conforms_to_the_model() -> None:
    with serve(OBJECTS, BUCKET) as (url, advance):
        result = walk(url, advance)
    deviations = [f"{c.operation} [{c.label or c.expected}] {v}" for c in result.calls for v in c.deviations]
    assert deviations == []
    walked = {operation for operation, (calls, _, _) in result.by_operation().items() if calls}
    assert walked == set(conformance.service_model().operation_names)  # all 15, none left out
    errors = {c.body["__type"] for c in result.calls if c.status != 200}
    assert errors >= {"ValidationException", "ResourceNotFoundException", "ConflictException", "ThrottlingException"}


@pytest.mark.parametrize(
    ("operation", "status", "body", "expected"),
    [
        ("GetWorkflowRun", 200, {"RunDetail": {"StartedOn": 1796500154.0}}, "expected an ISO-8601 string"),
        ("GetWorkflow", 200, {"WorkflowArn": "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/a-AAAAAAAAAA",
                              "WorkflowVersion": "1"}, "length 1 is under the minimum 32"),
        ("ListWorkflows", 200, {}, "Workflows: required member missing"),
        ("GetTaskInstance", 200, {"WorkflowArn": "x", "RunId": "r", "TaskInstanceId": "t", "Status": "SKIPPED"},
         "'SKIPPED' is not one of"),
        ("CreateWorkflow", 400, {"__type": "ConflictException", "message": "taken"}, "not a member"),
        ("CreateWorkflow", 409, {"__type": "ConflictException", "Message": "m", "ResourceId": "i"},
         "ResourceType: required member missing"),
        ("ListWorkflows", 400, {"__type": "ThrottlingException", "Message": "m", "ServiceCode": "s", "QuotaCode": "q"},
         "answered with HTTP 400, not 429"),
        ("ListWorkflows", 404, {"__type": "ResourceNotFoundException", "Message": "m", "ResourceId": "i",
                                "ResourceType": "Workflow"}, "is not an error of ListWorkflows"),
    ],
)  # fmt: skip
def test_the_checker_catches_what_the_simulator_used_to_send(
    operation: str, status: int, body: dict[str, object], expected: str
) -> None:
    found = [str(v) for v in conformance.answer_violations(operation, status, body)]
    assert any(expected in line for line in found), found


def test_a_log_stream_as_aws_shows_it_passes_though_its_shape_says_otherwise() -> None:
    """The model types LogStream as IdString; AWS's launch post shows '=' and '/' in it: the example wins."""
    stream = "workflow_id=simple_s3_test-abc1234def/run_id=ABC123456789def/task_id=list_objects/attempt=1.log"
    answer = {"WorkflowArn": "arn:aws:airflow-serverless:us-east-2:111122223333:workflow/simple_s3_test-abc1234def",
              "RunId": "ABC123456789def", "TaskInstanceId": "t", "LogStream": stream}  # fmt: skip
    assert conformance.answer_violations("GetTaskInstance", 200, answer) == []
    assert conformance.answer_violations("GetTaskInstance", 200, answer | {"TaskId": "a/b"}) != []


@pytest.mark.parametrize(
    ("target", "raw", "reason"),
    [
        ("AmazonMWAAServerless.NoSuchOperation", b"{}", "unknownOperation"),
        ("AmazonMWAAServerless.ListWorkflows", b"{not json", "cannotParse"),
        ("AmazonMWAAServerless.ListWorkflows", b"[1, 2]", "cannotParse"),
    ],
)
def test_requests_the_service_cannot_take_are_validation_errors_with_their_reason(
    target: str, raw: bytes, reason: str
) -> None:
    with serve(OBJECTS, BUCKET) as (url, _):
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=10)
        connection.request("POST", "/", body=raw, headers={"X-Amz-Target": target})
        answer = connection.getresponse()
        body = json.loads(answer.read())
        connection.close()
    assert (answer.status, body["__type"], body["Reason"]) == (400, "ValidationException", reason)
