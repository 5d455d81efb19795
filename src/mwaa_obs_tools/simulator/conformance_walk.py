"""A walk over the API's 15 operations, success and error paths, in raw HTTP (signed as botocore signs), each
answer checked against botocore's model (conformance.py) and against what the API reference says it should be.

    python -m mwaa_obs_tools.simulator.conformance_walk [--verbose]

prints the deviations by operation; the conformance test asserts there are none. A deviation is one violation
of the model in an answer (a member's type, a missing required member, a pattern...), a wrong HTTP status, or an
outcome other than the expected one (an error where the reference documents success, success where it documents
an error, another error, or a dropped connection).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mwaa_obs_tools.simulator.conformance import Violation, answer_violations, service_model

TARGET_PREFIX = "AmazonMWAAServerless."
BUCKET = "conformance-definitions"
ROLE = "arn:aws:iam::123456789012:role/service-role/mwaa-serverless-access-role"
OK = "ok"

ON_DEMAND = b"""conformance:
  dag_id: conformance
  schedule: null
  tasks:
    first:
      operator: airflow.providers.amazon.aws.operators.s3.S3ListOperator
      bucket: amzn-s3-demo-bucket
    second:
      operator: airflow.operators.empty.EmptyOperator
      dependencies: [first]
"""
SCHEDULED = ON_DEMAND.replace(b"schedule: null", b'schedule: "0 * * * *"')


def code_package() -> bytes:
    """A zip with one module at its root, as the user guide asks of a code package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("helpers.py", "def hello():\n    return 'hello'\n")
    return buffer.getvalue()


OBJECTS = {"on_demand.yaml": ON_DEMAND, "scheduled.yaml": SCHEDULED, "code.zip": code_package()}


@dataclass
class Call:
    operation: str
    label: str
    expected: str  # OK or the error code the reference documents
    status: int
    body: Any
    deviations: list[Violation]


@dataclass
class Walk:
    """Sends each request and records its answer with its deviations."""

    url: str
    region: str = "us-east-1"
    calls: list[Call] = field(default_factory=list)

    def call(
        self, operation: str, request: dict[str, Any] | bytes, expected: str = OK, label: str = ""
    ) -> dict[str, Any]:
        raw = request if isinstance(request, bytes) else json.dumps(request).encode()
        try:
            status, body = self._post(f"{TARGET_PREFIX}{operation}", raw)
        except (ConnectionError, http.client.HTTPException, OSError) as error:
            failure = Violation("<connection>", f"no answer: {error}", "outcome")
            self.calls.append(Call(operation, label, expected, 0, None, [failure]))
            return {}
        found = answer_violations(operation, status, body)
        code = body.get("__type", "").split("#")[-1] if isinstance(body, dict) and status != 200 else OK
        if code != expected:
            found.append(Violation("<outcome>", f"expected {expected}, got {code} (HTTP {status})", "outcome"))
        self.calls.append(Call(operation, label, expected, status, body, found))
        return body if isinstance(body, dict) and status == 200 else {}

    def _post(self, target: str, raw: bytes) -> tuple[int, Any]:
        request = AWSRequest(
            method="POST",
            url=self.url + "/",
            data=raw,
            headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
        )
        SigV4Auth(Credentials("conformance", "conformance"), "airflow-serverless", self.region).add_auth(request)
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=30)
        try:
            connection.request("POST", "/", body=raw, headers=dict(request.headers.items()))
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        try:
            return answer.status, json.loads(data or b"{}")
        except ValueError:
            return answer.status, data.decode(errors="replace")

    def by_operation(self) -> dict[str, tuple[int, int, int]]:
        """(calls, deviations, distinct deviations) by operation, every operation of the model listed. Distinct:
        the same kind of deviation at the same member (in any item of a list, in any call) counts once."""
        calls = Counter(call.operation for call in self.calls)
        deviations: Counter[str] = Counter()
        distinct: dict[str, set[tuple[str, str, str]]] = {op: set() for op in calls}
        for call in self.calls:
            deviations[call.operation] += len(call.deviations)
            expected = call.expected if call.expected != OK else OK
            distinct[call.operation] |= {(expected, v.where, v.kind) for v in call.deviations}
        return {
            op: (calls[op], deviations[op], len(distinct.get(op, ()))) for op in sorted(service_model().operation_names)
        }


@dataclass
class Names:
    """What the walk created, for the later steps."""

    arn: str = ""
    full_arn: str = ""
    version: str = ""
    run_id: str = ""

    @property
    def unknown_arn(self) -> str:
        return self.arn[:-10] + "ZZZZZZZZZZ"


LOCATION = {"Bucket": BUCKET, "ObjectKey": "on_demand.yaml"}
CREATE = {"Name": "conformance", "DefinitionS3Location": LOCATION, "RoleArn": ROLE}
TOO_MANY_TAGS = {f"k{i}": "v" for i in range(51)}
NO_VERSION = "0" * 32


def walk(url: str, advance: Callable[[float], None]) -> Walk:
    """Every operation, success and error paths, against a simulator whose object store holds OBJECTS in BUCKET;
    `advance(seconds)` moves its clock."""
    w, names = Walk(url), Names()
    _create(w, names)
    _read_and_update(w, names)
    _runs(w, names, advance)
    _stop(w, names, advance)
    _tags(w, names)
    _delete(w, names, advance)
    _admin(url, "throttle", {"requests": 1})
    w.call("ListWorkflows", {}, "ThrottlingException")
    w.call("ListWorkflows", b"{}", label="after the throttle")
    return w


def _create(w: Walk, names: Names) -> None:
    names.arn = w.call("CreateWorkflow", CREATE | {"ClientToken": "token-1"}).get("WorkflowArn", "")
    w.call("CreateWorkflow", CREATE | {"ClientToken": "token-1"}, label="retried with its ClientToken")
    w.call("CreateWorkflow", CREATE, "ConflictException", "a name taken")
    full = {
        "Name": "conformance_full",
        "DefinitionS3Location": {"Bucket": BUCKET, "ObjectKey": "scheduled.yaml"},
        "RoleArn": ROLE,
        "Description": "every member",
        "Tags": {"team": "data"},
        "TriggerMode": "scheduled",
        "EngineVersion": 1,
        "LoggingConfiguration": {"LogGroupName": "/custom/conformance"},
        "NetworkConfiguration": {"SecurityGroupIds": ["sg-0123abcd"], "SubnetIds": ["subnet-0123abcd"]},
        "EncryptionConfiguration": {"Type": "AWS_MANAGED_KEY"},
        "Environment": {"Variables": {"STAGE": "test"}},
        "Code": {"S3Location": {"Bucket": BUCKET, "ObjectKey": "code.zip"}},
    }
    names.full_arn = w.call("CreateWorkflow", full, label="every member").get("WorkflowArn", "")
    invalid = "ValidationException"
    w.call("CreateWorkflow", CREATE | {"Name": "bad name!"}, invalid, "a name off its pattern")
    w.call("CreateWorkflow", CREATE | {"Name": "x2", "RoleArn": "arn:aws:iam::1:role/r"}, invalid, "a role ARN")
    w.call("CreateWorkflow", CREATE | {"Name": "x3", "Tags": TOO_MANY_TAGS}, invalid, "51 tags")
    env = {"Variables": {"AWS_REGION": "us-east-1"}}
    w.call("CreateWorkflow", CREATE | {"Name": "x4", "Environment": env}, invalid, "a reserved variable name")
    missing = {"Bucket": "no-such-bucket", "ObjectKey": "on_demand.yaml"}
    w.call("CreateWorkflow", CREATE | {"Name": "x5", "DefinitionS3Location": missing}, invalid, "no such bucket")
    w.call("CreateWorkflow", {"Name": "x6", "RoleArn": ROLE}, invalid, "a required member missing")
    w.call("CreateWorkflow", b"{not json", invalid, "a body that is not JSON")


def _read_and_update(w: Walk, names: Names) -> None:
    arn = names.arn
    names.version = w.call("GetWorkflow", {"WorkflowArn": arn}).get("WorkflowVersion", "")
    w.call("GetWorkflow", {"WorkflowArn": arn, "WorkflowVersion": names.version}, label="a version")
    w.call("GetWorkflow", {"WorkflowArn": names.full_arn}, label="every member")
    not_found = "ResourceNotFoundException"
    w.call("GetWorkflow", {"WorkflowArn": arn, "WorkflowVersion": NO_VERSION}, not_found, "an unknown version")
    w.call("GetWorkflow", {"WorkflowArn": names.unknown_arn}, not_found, "an unknown workflow")
    w.call("GetWorkflow", {"WorkflowArn": "arn:aws:s3:::bucket"}, "ValidationException", "not a workflow ARN")
    update = {"WorkflowArn": names.full_arn, "DefinitionS3Location": LOCATION, "RoleArn": ROLE}
    w.call("UpdateWorkflow", update | {"Description": "updated"})
    w.call("UpdateWorkflow", update | {"WorkflowArn": names.unknown_arn}, not_found)
    w.call("UpdateWorkflow", update | {"RoleArn": "not-a-role"}, "ValidationException", "a role ARN")
    first = w.call("ListWorkflows", {"MaxResults": 1})
    w.call("ListWorkflows", {"MaxResults": 1, "NextToken": first.get("NextToken", "")}, label="second page")
    w.call("ListWorkflows", {"MaxResults": 101}, "ValidationException", "MaxResults over 100")
    w.call("ListWorkflows", {"NextToken": "garbage"}, "ValidationException", "a NextToken it never gave")
    w.call("ListWorkflowVersions", {"WorkflowArn": names.full_arn})
    w.call("ListWorkflowVersions", {"WorkflowArn": names.full_arn, "MaxResults": 0}, "ValidationException")


def _runs(w: Walk, names: Names, advance: Callable[[float], None]) -> None:
    arn, version, not_found = names.arn, names.version, "ResourceNotFoundException"
    names.run_id = w.call("StartWorkflowRun", {"WorkflowArn": arn, "ClientToken": "run-1"}).get("RunId", "")
    w.call("StartWorkflowRun", {"WorkflowArn": arn, "ClientToken": "run-1"}, label="retried with its ClientToken")
    w.call("StartWorkflowRun", {"WorkflowArn": arn, "WorkflowVersion": version}, label="a version")
    w.call("StartWorkflowRun", {"WorkflowArn": arn, "WorkflowVersion": NO_VERSION}, not_found, "unknown version")
    w.call("StartWorkflowRun", {"WorkflowArn": names.unknown_arn}, not_found, "an unknown workflow")
    w.call("StartWorkflowRun", {"WorkflowArn": arn, "OverrideParameters": {"day": "2026-01-01"}}, label="parameters")
    advance(3600)
    run = {"WorkflowArn": arn, "RunId": names.run_id}
    w.call("GetWorkflowRun", run)
    w.call("GetWorkflowRun", run | {"RunId": "NoSuchRun000000"}, not_found)
    w.call("ListWorkflowRuns", {"WorkflowArn": arn})
    w.call("ListWorkflowRuns", {"WorkflowArn": arn, "WorkflowVersion": version}, label="a version")
    w.call("ListWorkflowRuns", {"WorkflowArn": arn, "NextToken": "garbage"}, "ValidationException", "NextToken")
    tasks = w.call("ListTaskInstances", run).get("TaskInstances", [{}])
    w.call("ListTaskInstances", run | {"MaxResults": 101}, "ValidationException", "MaxResults over 100")
    task_instance = run | {"TaskInstanceId": tasks[0].get("TaskInstanceId", "x")}
    w.call("GetTaskInstance", task_instance)
    w.call("GetTaskInstance", task_instance | {"TaskInstanceId": "no_such_task"}, not_found)


def _stop(w: Walk, names: Names, advance: Callable[[float], None]) -> None:
    running = w.call("StartWorkflowRun", {"WorkflowArn": names.arn}).get("RunId", "")
    advance(30)
    run = {"WorkflowArn": names.arn, "RunId": running}
    w.call("StopWorkflowRun", run)
    w.call("StopWorkflowRun", run, label="again")
    w.call("StopWorkflowRun", run | {"RunId": "NoSuchRun000000"}, "ResourceNotFoundException")
    advance(600)
    w.call("GetWorkflowRun", run, label="stopped")


def _tags(w: Walk, names: Names) -> None:
    arn, not_found = names.arn, "ResourceNotFoundException"
    w.call("TagResource", {"ResourceArn": arn, "Tags": {"owner": "me"}})
    w.call("TagResource", {"ResourceArn": arn, "Tags": TOO_MANY_TAGS}, "ValidationException", "51 tags")
    w.call("TagResource", {"ResourceArn": names.unknown_arn, "Tags": {"a": "b"}}, not_found)
    w.call("ListTagsForResource", {"ResourceArn": arn})
    w.call("ListTagsForResource", {"ResourceArn": names.unknown_arn}, not_found)
    w.call("UntagResource", {"ResourceArn": arn, "TagKeys": ["owner"]})
    w.call("UntagResource", {"ResourceArn": arn, "TagKeys": []}, "ValidationException", "no keys")


def _delete(w: Walk, names: Names, advance: Callable[[float], None]) -> None:
    not_found = "ResourceNotFoundException"
    w.call("DeleteWorkflow", {"WorkflowArn": names.arn, "WorkflowVersion": NO_VERSION}, not_found, "unknown version")
    w.call("DeleteWorkflow", {"WorkflowArn": names.full_arn})
    w.call("DeleteWorkflow", {"WorkflowArn": names.arn})
    advance(600)
    w.call("DeleteWorkflow", {"WorkflowArn": names.arn}, not_found, "deleted")


def _admin(url: str, path: str, body: dict[str, Any]) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=30)
    try:
        connection.request("POST", f"/_simulator/{path}", body=json.dumps(body).encode())
        connection.getresponse().read()
    finally:
        connection.close()


def report(result: Walk, verbose: bool) -> str:
    lines = [f"{'operation':<22} {'calls':>5} {'deviations':>10} {'distinct':>8}"]
    totals = [0, 0]
    for name, (calls, deviations, distinct) in result.by_operation().items():
        lines.append(f"{name:<22} {calls:>5} {deviations:>10} {distinct:>8}")
        totals = [totals[0] + deviations, totals[1] + distinct]
    lines.append(f"{'total':<22} {len(result.calls):>5} {totals[0]:>10} {totals[1]:>8}")
    if verbose:
        for call in result.calls:
            for deviation in call.deviations:
                lines.append(f"  {call.operation} [{call.label or call.expected}] {deviation}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="list every deviation")
    args = parser.parse_args(argv)
    from mwaa_obs_tools.simulator.conformance_harness import serve  # noqa: PLC0415 - the engine only when run

    with serve(OBJECTS, BUCKET) as (url, advance):
        print(report(walk(url, advance), args.verbose))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
