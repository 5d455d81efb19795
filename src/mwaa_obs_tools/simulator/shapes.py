"""The API's answers: each structure of the service model (botocore's mwaa-serverless service-2.json) built from
the engine's resources. Times are epoch seconds, as the JSON protocol sends timestamps; absent members are left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mwaa_obs_tools.simulator.model import Run, TaskInstance, Workflow


def epoch(at: datetime | None) -> float | None:
    return at.timestamp() if at else None


def clean(shape: dict[str, Any]) -> dict[str, Any]:
    """Drop absent members (None, or an empty map), as the service does."""
    return {key: value for key, value in shape.items() if value is not None and value != {}}


# --- workflows -----------------------------------------------------------------------------------------------------


def workflow_created(workflow: Workflow) -> dict[str, Any]:
    return {
        "WorkflowArn": workflow.arn,
        "CreatedAt": epoch(workflow.created_at),
        "RevisionId": workflow.version,
        "WorkflowStatus": workflow.status,
        "WorkflowVersion": workflow.version,
        "IsLatestVersion": True,
    }


def workflow_detail(workflow: Workflow) -> dict[str, Any]:
    schedule = workflow.definition.schedule
    return clean(
        {
            "WorkflowArn": workflow.arn,
            "WorkflowVersion": workflow.version,
            "Name": workflow.definition.name,
            "Description": workflow.description,
            "CreatedAt": epoch(workflow.created_at),
            "ModifiedAt": epoch(workflow.modified_at),
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


def workflow_updated(workflow: Workflow) -> dict[str, Any]:
    return {
        "WorkflowArn": workflow.arn,
        "ModifiedAt": epoch(workflow.modified_at),
        "WorkflowVersion": workflow.version,
    }


def workflow_deleted(workflow: Workflow) -> dict[str, Any]:
    return {"WorkflowArn": workflow.arn, "WorkflowVersion": workflow.version}


def workflow_summary(workflow: Workflow) -> dict[str, Any]:
    return clean(
        {
            "WorkflowArn": workflow.arn,
            "WorkflowVersion": workflow.version,
            "Name": workflow.definition.name,
            "Description": workflow.description,
            "CreatedAt": epoch(workflow.created_at),
            "ModifiedAt": epoch(workflow.modified_at),
            "WorkflowStatus": workflow.status,
            "TriggerMode": workflow.trigger_mode,
        }
    )


def workflow_versions(workflow: Workflow) -> list[dict[str, Any]]:
    return [
        clean(
            {
                "WorkflowVersion": version,
                "WorkflowArn": workflow.arn,
                "IsLatestVersion": version == workflow.version,
                "CreatedAt": epoch(created),
                "ModifiedAt": epoch(created),
                "DefinitionS3Location": location,
                "ScheduleConfiguration": {"CronExpression": d.schedule} if d.schedule else None,
                "TriggerMode": workflow.trigger_mode,
            }
        )
        for version, created, d, location in workflow.versions
    ]


# --- runs ----------------------------------------------------------------------------------------------------------


def run_started(run: Run) -> dict[str, Any]:
    return {"RunId": run.run_id, "Status": run.state, "StartedAt": epoch(run.created_at)}


def run_stopped(run: Run) -> dict[str, Any]:
    return {"WorkflowArn": run.workflow.arn, "WorkflowVersion": run.version, "RunId": run.run_id, "Status": run.state}


def workflow_run(run: Run) -> dict[str, Any]:
    """GetWorkflowRun's answer."""
    return clean(
        {
            "WorkflowArn": run.workflow.arn,
            "WorkflowVersion": run.version,
            "RunId": run.run_id,
            "RunType": run.run_type,
            "OverrideParameters": run.override_parameters,
            "RunDetail": _run_detail(run),
        }
    )


def _run_detail(run: Run) -> dict[str, Any]:
    duration = int((run.ended_at - run.started_at).total_seconds()) if run.ended_at and run.started_at else None
    return clean(
        {
            "WorkflowArn": run.workflow.arn,
            "WorkflowVersion": run.version,
            "RunId": run.run_id,
            "RunType": run.run_type,
            "StartedOn": epoch(run.started_at),
            "CreatedAt": epoch(run.created_at),
            "CompletedOn": epoch(run.ended_at),
            "ModifiedAt": epoch(run.modified_at),
            "Duration": duration,
            "ErrorMessage": run.error_message,
            # the task instances that have begun (none for a run failed by its definition, as in AWS's launch post)
            "TaskInstances": [i.task_instance_id for i in run.tasks.values() if i.status != "NONE"],
            "RunState": run.state,
        }
    )


def run_summary(run: Run) -> dict[str, Any]:
    return clean(
        {
            "RunId": run.run_id,
            "WorkflowArn": run.workflow.arn,
            "WorkflowVersion": run.version,
            "RunType": run.run_type,
            "RunDetailSummary": clean(
                {
                    "Status": run.state,
                    "CreatedOn": epoch(run.created_at),
                    "StartedAt": epoch(run.started_at),
                    "EndedAt": epoch(run.ended_at),
                }
            ),
        }
    )


# --- task instances ------------------------------------------------------------------------------------------------


def task_instance(run: Run, instance: TaskInstance, *, full: bool) -> dict[str, Any]:
    """GetTaskInstance's answer (`full`), or an item of ListTaskInstances."""
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
            "ModifiedAt": epoch(instance.modified_at),
            "StartedAt": epoch(instance.started_at),
            "EndedAt": epoch(instance.ended_at),
            "AttemptNumber": instance.attempt,
            "ErrorMessage": instance.error_message,
            "TaskId": instance.task.task_id,
            "LogStream": instance.log_stream,
        }
    return clean(shape)
