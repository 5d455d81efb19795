"""The MWAA Serverless API over HTTP, as botocore speaks it: JSON 1.0, `X-Amz-Target: AmazonMWAAServerless.<Op>`.

`boto3.client("mwaa-serverless", endpoint_url=server.url)` works unchanged against it. One server can answer for
several accounts and regions, one engine each: a request goes to the engine of its signature's region and of the
account its access key belongs to (moto's, for the assumed-role keys of the local stack). Besides the 15
operations, a few simulator-only paths under /_simulator/ set failure injection (of workflows' tasks, and
throttling of the API itself) and move the virtual clock. `ApiServer.traffic` counts the requests by operation.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mwaa_obs_tools.simulator.engine import Engine, Faults, Run, ServiceError, TaskInstance, Workflow

TARGET_PREFIX = "AmazonMWAAServerless."
MAX_RESULTS = 100


def _epoch(at: datetime | None) -> float | None:
    return at.timestamp() if at else None


def _clean(shape: dict[str, Any]) -> dict[str, Any]:
    """Drop absent members (None, or an empty map), as the service does."""
    return {key: value for key, value in shape.items() if value is not None and value != {}}


def _page(items: list[Any], body: dict[str, Any]) -> tuple[list[Any], str | None]:
    size = min(int(body.get("MaxResults") or MAX_RESULTS), MAX_RESULTS)
    token = body.get("NextToken")
    start = int(token) if token and str(token).isdigit() else 0
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _workflow(engine: Engine, body: dict[str, Any]) -> Workflow:
    return engine.workflow(body["WorkflowArn"])


def _run_shape(run: Run) -> dict[str, Any]:
    duration = int((run.ended_at - run.started_at).total_seconds()) if run.ended_at and run.started_at else None
    return _clean(
        {
            "WorkflowArn": run.workflow.arn,
            "WorkflowVersion": run.version,
            "RunId": run.run_id,
            "RunType": run.run_type,
            "StartedOn": _epoch(run.started_at),
            "CreatedAt": _epoch(run.created_at),
            "CompletedOn": _epoch(run.ended_at),
            "ModifiedAt": _epoch(run.modified_at),
            "Duration": duration,
            "ErrorMessage": run.error_message,
            # the task instances that have begun (none for a run failed by its definition, as in AWS's launch post)
            "TaskInstances": [i.task_instance_id for i in run.tasks.values() if i.status != "NONE"],
            "RunState": run.state,
        }
    )


def _task_shape(run: Run, instance: TaskInstance, *, full: bool) -> dict[str, Any]:
    duration = (
        int((instance.ended_at - instance.started_at).total_seconds())
        if instance.ended_at and instance.started_at
        else None
    )
    shape: dict[str, Any] = {
        "WorkflowArn": run.workflow.arn,
        "WorkflowVersion": run.version,
        "RunId": run.run_id,
        "TaskInstanceId": instance.task_instance_id,
        "Status": instance.status,
        "DurationInSeconds": duration,
        "OperatorName": instance.task.operator_name,
    }
    if full:
        shape |= {
            "ModifiedAt": _epoch(instance.modified_at),
            "StartedAt": _epoch(instance.started_at),
            "EndedAt": _epoch(instance.ended_at),
            "AttemptNumber": instance.attempt,
            "ErrorMessage": instance.error_message,
            "TaskId": instance.task.task_id,
            "LogStream": instance.log_stream,
        }
    return _clean(shape)


def _instance(run: Run, task_instance_id: str) -> TaskInstance:
    for instance in run.tasks.values():
        if instance.task_instance_id == task_instance_id:
            return instance
    raise ServiceError("ResourceNotFoundException", f"Task instance {task_instance_id} not found")


def create_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    workflow = engine.create_workflow(body)
    return {
        "WorkflowArn": workflow.arn,
        "CreatedAt": _epoch(workflow.created_at),
        "RevisionId": workflow.version,
        "WorkflowStatus": workflow.status,
        "WorkflowVersion": workflow.version,
        "IsLatestVersion": True,
    }


def get_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    workflow = _workflow(engine, body)
    schedule = workflow.definition.schedule
    return _clean(
        {
            "WorkflowArn": workflow.arn,
            "WorkflowVersion": workflow.version,
            "Name": workflow.definition.name,
            "Description": workflow.description,
            "CreatedAt": _epoch(workflow.created_at),
            "ModifiedAt": _epoch(workflow.modified_at),
            "LoggingConfiguration": {"LogGroupName": workflow.log_group},
            "EngineVersion": 1,
            "WorkflowStatus": workflow.status,
            "DefinitionS3Location": workflow.definition_location,
            "ScheduleConfiguration": {"CronExpression": schedule} if schedule else None,
            "RoleArn": workflow.role_arn,
            "TriggerMode": workflow.trigger_mode,
            "WorkflowDefinition": workflow.definition.text,
        }
    )


def update_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    workflow = engine.update_workflow(body)
    return {
        "WorkflowArn": workflow.arn,
        "ModifiedAt": _epoch(workflow.modified_at),
        "WorkflowVersion": workflow.version,
    }


def delete_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    workflow = engine.delete_workflow(body["WorkflowArn"])
    return {"WorkflowArn": workflow.arn, "WorkflowVersion": workflow.version}


def list_workflows(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        summaries = [
            _clean(
                {
                    "WorkflowArn": w.arn,
                    "WorkflowVersion": w.version,
                    "Name": w.definition.name,
                    "Description": w.description,
                    "CreatedAt": _epoch(w.created_at),
                    "ModifiedAt": _epoch(w.modified_at),
                    "WorkflowStatus": w.status,
                    "TriggerMode": w.trigger_mode,
                }
            )
            for w in engine.workflows.values()
        ]
    page, token = _page(summaries, body)
    return _clean({"Workflows": page, "NextToken": token})


def list_workflow_versions(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    workflow = _workflow(engine, body)
    versions = [
        _clean(
            {
                "WorkflowVersion": version,
                "WorkflowArn": workflow.arn,
                "IsLatestVersion": version == workflow.version,
                "CreatedAt": _epoch(created),
                "ModifiedAt": _epoch(created),
                "DefinitionS3Location": location,
                "ScheduleConfiguration": {"CronExpression": d.schedule} if d.schedule else None,
                "TriggerMode": workflow.trigger_mode,
            }
        )
        for version, created, d, location in workflow.versions
    ]
    page, token = _page(versions, body)
    return _clean({"WorkflowVersions": page, "NextToken": token})


def start_workflow_run(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    run = engine.start_run(body["WorkflowArn"], body.get("OverrideParameters"))
    return {"RunId": run.run_id, "Status": run.state, "StartedAt": _epoch(run.created_at)}


def stop_workflow_run(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    run = engine.stop_run(body["WorkflowArn"], body["RunId"])
    return {"WorkflowArn": run.workflow.arn, "WorkflowVersion": run.version, "RunId": run.run_id, "Status": run.state}


def get_workflow_run(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        run = engine.run(body["WorkflowArn"], body["RunId"])
        return _clean(
            {
                "WorkflowArn": run.workflow.arn,
                "WorkflowVersion": run.version,
                "RunId": run.run_id,
                "RunType": run.run_type,
                "OverrideParameters": run.override_parameters,
                "RunDetail": _run_shape(run),
            }
        )


def list_workflow_runs(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        arn = _workflow(engine, body).arn
        runs = sorted((r for (a, _), r in engine.runs.items() if a == arn), key=lambda r: r.created_at, reverse=True)
        summaries = [
            _clean(
                {
                    "RunId": run.run_id,
                    "WorkflowArn": arn,
                    "WorkflowVersion": run.version,
                    "RunType": run.run_type,
                    "RunDetailSummary": _clean(
                        {
                            "Status": run.state,
                            "CreatedOn": _epoch(run.created_at),
                            "StartedAt": _epoch(run.started_at),
                            "EndedAt": _epoch(run.ended_at),
                        }
                    ),
                }
            )
            for run in runs
        ]
    page, token = _page(summaries, body)
    return _clean({"WorkflowRuns": page, "NextToken": token})


def list_task_instances(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        run = engine.run(body["WorkflowArn"], body["RunId"])
        shapes = [_task_shape(run, instance, full=False) for instance in run.tasks.values()]
    page, token = _page(shapes, body)
    return _clean({"TaskInstances": page, "NextToken": token})


def get_task_instance(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        run = engine.run(body["WorkflowArn"], body["RunId"])
        return _task_shape(run, _instance(run, body["TaskInstanceId"]), full=True)


def list_tags_for_resource(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": dict(engine.workflow(body["ResourceArn"]).tags)}


def tag_resource(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        engine.workflow(body["ResourceArn"]).tags.update(body["Tags"])
    return {}


def untag_resource(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        tags = engine.workflow(body["ResourceArn"]).tags
        for key in body["TagKeys"]:
            tags.pop(key, None)
    return {}


OPERATIONS: dict[str, Callable[[Engine, dict[str, Any]], dict[str, Any]]] = {
    "CreateWorkflow": create_workflow,
    "DeleteWorkflow": delete_workflow,
    "GetTaskInstance": get_task_instance,
    "GetWorkflow": get_workflow,
    "GetWorkflowRun": get_workflow_run,
    "ListTagsForResource": list_tags_for_resource,
    "ListTaskInstances": list_task_instances,
    "ListWorkflowRuns": list_workflow_runs,
    "ListWorkflowVersions": list_workflow_versions,
    "ListWorkflows": list_workflows,
    "StartWorkflowRun": start_workflow_run,
    "StopWorkflowRun": stop_workflow_run,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "UpdateWorkflow": update_workflow,
}


@dataclass
class Traffic:
    """What the API was asked, by operation, and how many of the next requests it refuses as throttled."""

    calls: Counter[str] = field(default_factory=Counter)
    throttle_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, operation: str) -> bool:
        with self.lock:
            self.calls[operation] += 1
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return False
            return True


_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[a-z0-9-]+)/")


def _account_of(access_key: str, default: str) -> str:
    """The account an access key belongs to, as moto knows it when it serves in this process (else `default`)."""
    try:
        from moto.iam.models import get_account_id_from  # noqa: PLC0415 - the simulator runs without moto too
    except ImportError:
        return default
    return get_account_id_from(access_key)


class Engines:
    """The engines a server answers for, by (account, region); with one engine, every request is its."""

    def __init__(self, engines: Sequence[Engine]) -> None:
        self.all = list(engines)
        self._by_place = {(engine.account, engine.region): engine for engine in engines}

    def for_request(self, authorization: str) -> Engine:
        if len(self.all) == 1:
            return self.all[0]
        match = _CREDENTIAL.search(authorization)
        if match is None:
            raise ServiceError("AccessDeniedException", "the request is not signed")
        account = _account_of(match["key"], self.all[0].account)
        engine = self._by_place.get((account, match["region"]))
        if engine is None:
            raise ServiceError("AccessDeniedException", f"no simulated account {account} in {match['region']}")
        return engine


def _admin(engines: Engines, traffic: Traffic, path: str, body: dict[str, Any]) -> dict[str, Any]:
    engine = engines.all[0]
    if path == "/_simulator/throttle":
        with traffic.lock:
            traffic.throttle_next = int(body.get("requests", 0))
    elif path == "/_simulator/faults":
        faults = Faults(
            fail=set(body.get("fail", [])),
            fail_first={k: int(v) for k, v in body.get("fail_first", {}).items()},
            time_out=set(body.get("time_out", [])),
            failure_rate={k: float(v) for k, v in body.get("failure_rate", {}).items()},
            durations={k: float(v) for k, v in body.get("durations", {}).items()},
        )
        named = [e for e in engines.all if any(w.definition.name == body["workflow"] for w in e.workflows.values())]
        for each in named or [engine]:
            if body.get("account") in {None, each.account}:
                each.set_faults(body["workflow"], faults)
    elif path == "/_simulator/advance":
        limit = engine.now + timedelta(seconds=float(body.get("seconds", 0)))
        for each in engines.all:
            if body.get("until_idle"):
                each.advance_until_idle(limit)
            else:
                each.advance(limit)
        latest = max(each.now for each in engines.all)
        for each in engines.all:  # one clock: every account and region ends at the same time
            each.advance(latest)
    elif path != "/_simulator/clock":
        raise ServiceError("ResourceNotFoundException", f"no simulator path {path}")
    return {"now": engine.now.isoformat()}


class ApiServer:
    """Serves an engine on loopback; optionally moves its clock at `speed` virtual seconds per real second."""

    def __init__(self, engine: Engine, port: int = 0, speed: float = 0.0, *, more: Sequence[Engine] = ()) -> None:
        self.engine = engine
        self.engines = Engines([engine, *more])
        self._speed = speed
        self._stopped = threading.Event()
        self.traffic = Traffic()
        handler = _handler_for(self.engines, self.traffic)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._threads = [threading.Thread(target=self._server.serve_forever, daemon=True)]
        if speed > 0:
            self._threads.append(threading.Thread(target=self._tick, daemon=True))

    @property
    def url(self) -> str:
        return f"http://localhost:{self._server.server_address[1]}"

    def start(self) -> ApiServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; safe before start (shutdown() alone would wait forever for a serve_forever never begun)."""
        self._stopped.set()
        if self._threads[0].is_alive():
            self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=5)

    def _tick(self, interval: float = 0.1) -> None:
        while not self._stopped.wait(interval):
            until = self.engine.now + timedelta(seconds=interval * self._speed)
            for engine in self.engines.all:
                engine.advance(until)


def _handler_for(engines: Engines, traffic: Traffic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate small writes: with Nagle's algorithm on, the body waits for the
        # client's delayed ACK, about 40 ms per call on loopback (make bench: simulator latency).
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.startswith("/_simulator/"):
                    self._send(200, _admin(engines, traffic, self.path, body))
                    return
                target = self.headers.get("X-Amz-Target", "")
                name = target.removeprefix(TARGET_PREFIX)
                operation = OPERATIONS.get(name)
                if operation is None:
                    raise ServiceError("UnknownOperationException", f"unknown operation {target!r}")
                if not traffic.admit(name):
                    raise ServiceError("ThrottlingException", "Rate exceeded")
                self._send(200, operation(engines.for_request(self.headers.get("Authorization", "")), body))
            except ServiceError as error:
                status = 404 if error.code == "ResourceNotFoundException" else 400
                self._send(status, {"__type": error.code, "message": str(error)})
            except (KeyError, ValueError, TypeError) as error:
                self._send(400, {"__type": "ValidationException", "message": f"invalid request: {error}"})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(time.monotonic_ns()))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: one line per request would drown the CLI's output."""

    return Handler
