"""The service's 15 operations: each takes the engine of the request's account and region and the request's JSON
body, and answers with the operation's output shape (shapes.py) or raises ServiceError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mwaa_obs_tools.simulator import shapes
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.errors import ServiceError
from mwaa_obs_tools.simulator.model import Run, TaskInstance, Workflow

MAX_RESULTS = 100

Operation = Callable[[Engine, dict[str, Any]], dict[str, Any]]


def _page(items: list[Any], body: dict[str, Any]) -> tuple[list[Any], str | None]:
    size = min(int(body.get("MaxResults") or MAX_RESULTS), MAX_RESULTS)
    token = body.get("NextToken")
    start = int(token) if token and str(token).isdigit() else 0
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _workflow(engine: Engine, body: dict[str, Any]) -> Workflow:
    return engine.workflow(body["WorkflowArn"])


def _instance(run: Run, task_instance_id: str) -> TaskInstance:
    for instance in run.tasks.values():
        if instance.task_instance_id == task_instance_id:
            return instance
    raise ServiceError("ResourceNotFoundException", f"Task instance {task_instance_id} not found")


def create_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return shapes.workflow_created(engine.create_workflow(body))


def get_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return shapes.workflow_detail(_workflow(engine, body))


def update_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return shapes.workflow_updated(engine.update_workflow(body))


def delete_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return shapes.workflow_deleted(engine.delete_workflow(body["WorkflowArn"]))


def list_workflows(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        summaries = [shapes.workflow_summary(w) for w in engine.workflows.values()]
    page, token = _page(summaries, body)
    return shapes.clean({"Workflows": page, "NextToken": token})


def list_workflow_versions(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    page, token = _page(shapes.workflow_versions(_workflow(engine, body)), body)
    return shapes.clean({"WorkflowVersions": page, "NextToken": token})


def start_workflow_run(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return shapes.run_started(engine.start_run(body["WorkflowArn"], body.get("OverrideParameters")))


def stop_workflow_run(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return shapes.run_stopped(engine.stop_run(body["WorkflowArn"], body["RunId"]))


def get_workflow_run(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        return shapes.workflow_run(engine.run(body["WorkflowArn"], body["RunId"]))


def list_workflow_runs(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        arn = _workflow(engine, body).arn
        runs = sorted((r for (a, _), r in engine.runs.items() if a == arn), key=lambda r: r.created_at, reverse=True)
        summaries = [shapes.run_summary(run) for run in runs]
    page, token = _page(summaries, body)
    return shapes.clean({"WorkflowRuns": page, "NextToken": token})


def list_task_instances(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        run = engine.run(body["WorkflowArn"], body["RunId"])
        items = [shapes.task_instance(run, instance, full=False) for instance in run.tasks.values()]
    page, token = _page(items, body)
    return shapes.clean({"TaskInstances": page, "NextToken": token})


def get_task_instance(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        run = engine.run(body["WorkflowArn"], body["RunId"])
        return shapes.task_instance(run, _instance(run, body["TaskInstanceId"]), full=True)


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


OPERATIONS: dict[str, Operation] = {
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
