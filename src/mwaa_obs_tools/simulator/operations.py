"""The service's 15 operations: each takes the engine of the request's account and region and the request's JSON
body (already admitted against the model: requests.py), and answers with the operation's output shape (shapes.py)
or raises ServiceError.

ListWorkflowVersions, ListWorkflowRuns and ListTaskInstances list no ResourceNotFoundException in the model: for a
workflow or run the service does not have they answer an empty list (ASSUMED).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mwaa_obs_tools.simulator import requests, shapes
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.errors import invalid

Operation = Callable[[Engine, dict[str, Any]], dict[str, Any]]


def create_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return shapes.workflow_created(engine.create_workflow(body))


def get_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        workflow = engine.workflow(body["WorkflowArn"])
        return shapes.workflow_detail(workflow, engine.version_of(workflow, body.get("WorkflowVersion")))


def update_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return shapes.workflow_updated(engine.update_workflow(body))


def delete_workflow(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return shapes.workflow_deleted(*engine.delete_workflow(body["WorkflowArn"], body.get("WorkflowVersion")))


def list_workflows(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        summaries = [shapes.workflow_summary(w) for w in engine.workflows.values()]
    page, token = requests.page(summaries, body, "ListWorkflows")
    return shapes.clean({"Workflows": page, "NextToken": token})


def list_workflow_versions(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    arn = body["WorkflowArn"]
    with engine.lock:
        workflow = engine.workflows.get(arn)
        versions = shapes.workflow_versions(workflow) if workflow else []
    page, token = requests.page(versions, body, f"ListWorkflowVersions {arn}")
    return shapes.clean({"WorkflowVersions": page, "NextToken": token})


def start_workflow_run(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    run = engine.start_run(
        body["WorkflowArn"], body.get("OverrideParameters"), version=body.get("WorkflowVersion"), request=body
    )
    return shapes.run_started(run)


def stop_workflow_run(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return shapes.run_stopped(engine.stop_run(body["WorkflowArn"], body["RunId"]))


def get_workflow_run(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        return shapes.workflow_run(engine.run(body["WorkflowArn"], body["RunId"]))


def list_workflow_runs(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    """Newest first; WorkflowVersion filters ("If not specified, runs for all versions")."""
    arn, version = body["WorkflowArn"], body.get("WorkflowVersion")
    with engine.lock:
        runs = [r for (a, _), r in engine.runs.items() if a == arn and version in {None, r.version_id}]
        runs.sort(key=lambda r: r.created_at, reverse=True)
        summaries = [shapes.run_summary(run) for run in runs]
    page, token = requests.page(summaries, body, f"ListWorkflowRuns {arn} {version}")
    return shapes.clean({"WorkflowRuns": page, "NextToken": token})


def list_task_instances(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    arn, run_id = body["WorkflowArn"], body["RunId"]
    with engine.lock:
        run = engine.runs.get((arn, run_id))
        items = [shapes.task_instance(run, i, full=False) for i in run.tasks.values()] if run else []
    page, token = requests.page(items, body, f"ListTaskInstances {arn} {run_id}")
    return shapes.clean({"TaskInstances": page, "NextToken": token})


def get_task_instance(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        run = engine.run(body["WorkflowArn"], body["RunId"])
        return shapes.task_instance(run, engine.task_instance(run, body["TaskInstanceId"]), full=True)


def list_tags_for_resource(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        return {"Tags": dict(engine.workflow(body["ResourceArn"]).tags)}


def tag_resource(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        tags = engine.workflow(body["ResourceArn"]).tags
        merged = tags | body["Tags"]
        if len(merged) > MAX_TAGS:  # the Tags map of any resource holds at most 50 (the model's Tags shape)
            raise invalid(
                f"A resource has at most {MAX_TAGS} tags: this would make {len(merged)}",
                [("Tags", f"Member must have at most {MAX_TAGS} entries")],
            )
        tags.update(body["Tags"])
    return {}


def untag_resource(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    with engine.lock:
        tags = engine.workflow(body["ResourceArn"]).tags
        for key in body["TagKeys"]:
            tags.pop(key, None)
    return {}


MAX_TAGS = 50

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
