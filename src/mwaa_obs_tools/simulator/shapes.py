"""The API's answers: each structure of the service model (botocore's mwaa-serverless service-2.json) built from
the engine's resources. Timestamps are ISO-8601 strings with microseconds and offset, as the model's
`timestampFormat: iso8601` and AWS's examples (`2025-11-03T13:12:09.904466+00:00`) have them; absent members are
left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mwaa_obs_tools.simulator.model import Run, TaskInstance, Version, Workflow


def iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="microseconds") if at else None


def clean(shape: dict[str, Any]) -> dict[str, Any]:
    """Drop absent members (None, or an empty map), as the service does."""
    return {key: value for key, value in shape.items() if value is not None and value != {}}


# --- workflows -----------------------------------------------------------------------------------------------------


def workflow_created(workflow: Workflow) -> dict[str, Any]:
    # Warnings: the parameters the definition gives that the service ignores (ASSUMED: what the model calls
    # "Warning messages generated during workflow creation").
    ignored = workflow.latest.definition.ignored
    return clean(
        {
            "WorkflowArn": workflow.arn,
            "CreatedAt": iso(workflow.created_at),
            "RevisionId": workflow.revision_id,
            "WorkflowStatus": workflow.status,
            "WorkflowVersion": workflow.versions[0].version_id,
            "IsLatestVersion": True,
            "Warnings": [f"MWAA Serverless ignores {name}" for name in ignored] or None,
        }
    )


def workflow_detail(workflow: Workflow, version: Version) -> dict[str, Any]:
    """GetWorkflow's answer for one version."""
    schedule = version.definition.schedule
    code = version.code
    return clean(
        {
            "WorkflowArn": workflow.arn,
            "WorkflowVersion": version.version_id,
            "Name": workflow.name,
            "Description": version.description,
            "CreatedAt": iso(workflow.created_at),
            "ModifiedAt": iso(version.created_at),
            "EncryptionConfiguration": workflow.encryption,
            "LoggingConfiguration": {"LogGroupName": workflow.log_group(version)},
            "EngineVersion": version.engine_version,
            "WorkflowStatus": workflow.status,
            "DefinitionS3Location": version.definition_location,
            "Code": {"S3Location": version.code_location} if version.code_location else None,
            "CodeSnapshottedAt": iso(code.snapshotted_at) if code else None,
            "ScheduleConfiguration": {"CronExpression": schedule} if schedule else None,
            "RoleArn": version.role_arn,
            "NetworkConfiguration": version.network,
            # "GetWorkflow returns the variables ... in plain text" (user guide, workflows-environment-variables)
            "Environment": {"Variables": version.environment} if version.environment is not None else None,
            "TriggerMode": version.trigger_mode,
            "WorkflowDefinition": version.definition.text,
        }
    )


def workflow_updated(workflow: Workflow) -> dict[str, Any]:
    ignored = workflow.latest.definition.ignored
    return clean(
        {
            "WorkflowArn": workflow.arn,
            "ModifiedAt": iso(workflow.modified_at),
            "WorkflowVersion": workflow.version,
            "Warnings": [f"MWAA Serverless ignores {name}" for name in ignored] or None,
        }
    )


def workflow_deleted(workflow: Workflow, version: str) -> dict[str, Any]:
    return {"WorkflowArn": workflow.arn, "WorkflowVersion": version}


def workflow_summary(workflow: Workflow) -> dict[str, Any]:
    latest = workflow.latest
    return clean(
        {
            "WorkflowArn": workflow.arn,
            "WorkflowVersion": latest.version_id,
            "Name": workflow.name,
            "Description": latest.description,
            "CreatedAt": iso(workflow.created_at),
            "ModifiedAt": iso(workflow.modified_at),
            "WorkflowStatus": workflow.status,
            "TriggerMode": latest.trigger_mode,
        }
    )


def workflow_versions(workflow: Workflow) -> list[dict[str, Any]]:
    """Oldest first (ASSUMED: the order is not documented)."""
    return [
        clean(
            {
                "WorkflowVersion": v.version_id,
                "WorkflowArn": workflow.arn,
                "IsLatestVersion": v is workflow.latest,
                "CreatedAt": iso(v.created_at),
                "ModifiedAt": iso(v.created_at),
                "DefinitionS3Location": v.definition_location,
                "ScheduleConfiguration": {"CronExpression": v.definition.schedule} if v.definition.schedule else None,
                "TriggerMode": v.trigger_mode,
            }
        )
        for v in workflow.versions
    ]


# --- runs ----------------------------------------------------------------------------------------------------------


def run_started(run: Run) -> dict[str, Any]:
    return {"RunId": run.run_id, "Status": run.state, "StartedAt": iso(run.created_at)}


def run_stopped(run: Run) -> dict[str, Any]:
    return {
        "WorkflowArn": run.workflow.arn,
        "WorkflowVersion": run.version_id,
        "RunId": run.run_id,
        "Status": run.state,
    }


def workflow_run(run: Run) -> dict[str, Any]:
    """GetWorkflowRun's answer."""
    return clean(
        {
            "WorkflowArn": run.workflow.arn,
            "WorkflowVersion": run.version_id,
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
            "WorkflowVersion": run.version_id,
            "RunId": run.run_id,
            "RunType": run.run_type,
            "StartedOn": iso(run.started_at),
            "CreatedAt": iso(run.created_at),
            "CompletedOn": iso(run.ended_at),
            "ModifiedAt": iso(run.modified_at),
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
            "WorkflowVersion": run.version_id,
            "RunType": run.run_type,
            "RunDetailSummary": clean(
                {
                    "Status": run.state,
                    "CreatedOn": iso(run.created_at),
                    "StartedAt": iso(run.started_at),
                    "EndedAt": iso(run.ended_at),
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
        "WorkflowVersion": run.version_id,
        "RunId": run.run_id,
        "TaskInstanceId": instance.task_instance_id,
        "Status": instance.status,
        "DurationInSeconds": duration,
        "OperatorName": instance.task.operator_name,
    }
    if full:
        shape |= {
            "ModifiedAt": iso(instance.modified_at),
            "StartedAt": iso(instance.started_at),
            "EndedAt": iso(instance.ended_at),
            "AttemptNumber": instance.attempt,
            "ErrorMessage": instance.error_message,
            "TaskId": instance.task.task_id,
            "LogStream": instance.log_stream,
        }
    return clean(shape)
