"""The simulated service's resources (workflows and their versions, runs, task instances) and the states they pass
through (the API model's WorkflowRunStatus and TaskInstanceStatus).

Run: STARTING -> QUEUED -> RUNNING -> SUCCESS | FAILED | TIMEOUT (its failures were all execution timeouts);
StopWorkflowRun (or deleting the workflow) -> STOPPING -> STOPPED once no task is running any more.

Task instance: NONE until its upstream tasks allow it, then each attempt SCHEDULED -> QUEUED -> RUNNING ->
SUCCESS | UP_FOR_RETRY (a new attempt follows) | FAILED | TIMEOUT; downstream of a failure UPSTREAM_FAILED.
A sensor in reschedule mode goes RUNNING -> UP_FOR_RESCHEDULE -> SCHEDULED -> ... between pokes, and a deferrable
task RUNNING -> DEFERRED -> SCHEDULED -> ... while its trigger waits: the same attempt throughout (Airflow keeps the
try number). An attempt interrupted by the service (a worker replaced: the `restart` fault) goes RESTARTING, and a
new attempt follows that does not count against its retries. A stopped run's unfinished task instances end
CANCELLED (ASSUMED: the API has the state and no page says which state they take); a task instance a newer
version of the workflow no longer has, not yet begun when the update came, ends REMOVED (as Airflow's
verify_integrity does). Task instances that never began stay NONE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mwaa_obs_tools.simulator.code_package import CodePackage
from mwaa_obs_tools.simulator.definition import TaskDefinition, WorkflowDefinition
from mwaa_obs_tools.simulator.faults import Faults

TERMINAL_RUN = frozenset({"SUCCESS", "FAILED", "TIMEOUT", "STOPPED"})
# SKIPPED is Airflow's: the API model's TaskInstanceStatus has no such value and no event announces it, so a
# skipped task shows in the simulator's API only, and sends nothing.
FINAL_TASK = frozenset({"SUCCESS", "FAILED", "UPSTREAM_FAILED", "TIMEOUT", "SKIPPED", "CANCELLED", "REMOVED"})
FAILED_TASK = frozenset({"FAILED", "TIMEOUT", "UPSTREAM_FAILED"})  # what Airflow's rules count as failed
# An attempt under way: waiting for a worker, on one, or between the pokes or the trigger of a sensor.
ACTIVE_TASK = frozenset({"SCHEDULED", "QUEUED", "RUNNING", "UP_FOR_RETRY", "UP_FOR_RESCHEDULE", "DEFERRED"})
ACTIVE_TASK |= {"RESTARTING"}

READY, DELETING = "READY", "DELETING"  # WorkflowStatus


@dataclass(frozen=True)
class Version:
    """One immutable version of a workflow: CreateWorkflow makes the first, each UpdateWorkflow another."""

    version_id: str  # 32 lowercase alphanumerics, as WorkflowVersion's pattern and AWS's examples
    created_at: datetime
    definition: WorkflowDefinition
    definition_location: dict[str, Any]  # as given, VersionId included
    role_arn: str
    trigger_mode: str
    description: str | None = None
    environment: dict[str, str] | None = None  # Environment.Variables (replaced whole by an update)
    code_location: dict[str, Any] | None = None  # Code.S3Location as given
    code: CodePackage | None = None  # what the service copied from it at the request
    logging: dict[str, Any] | None = None  # LoggingConfiguration as given
    network: dict[str, Any] | None = None
    engine_version: int = 1


@dataclass
class Workflow:
    arn: str
    workflow_id: str  # <Name>-<10 alphanumerics>, the ARN's last segment
    name: str
    created_at: datetime
    modified_at: datetime
    versions: list[Version]  # oldest first; the last is the latest
    revision_id: str
    encryption: dict[str, Any] | None = None  # workflow-wide: UpdateWorkflow has no EncryptionConfiguration
    status: str = READY
    tags: dict[str, str] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    schedule_generation: int = 0  # each update or delete disarms the cron fires planned before it

    @property
    def latest(self) -> Version:
        return self.versions[-1]

    @property
    def version(self) -> str:
        return self.latest.version_id

    @property
    def definition(self) -> WorkflowDefinition:
        return self.latest.definition

    @property
    def trigger_mode(self) -> str:
        return self.latest.trigger_mode

    def version_named(self, version_id: str | None) -> Version | None:
        """The version of that id; None: the latest."""
        if version_id is None:
            return self.latest
        return next((v for v in self.versions if v.version_id == version_id), None)

    def log_group(self, version: Version | None = None) -> str:
        """The group task logs go to: the LoggingConfiguration's, else the one the service creates (user guide,
        "Viewing logs": /aws/mwaa-serverless/<workflow id>/, trailing slash included)."""
        logging = (version or self.latest).logging
        return logging["LogGroupName"] if logging else f"/aws/mwaa-serverless/{self.workflow_id}/"


@dataclass
class TaskInstance:
    task: TaskDefinition
    task_instance_id: str
    status: str = "NONE"
    attempt: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    modified_at: datetime | None = None
    error_message: str | None = None
    log_stream: str | None = None
    extra_attempts: int = 0  # attempts the service restarted, which its retries do not count


@dataclass
class Run:
    workflow: Workflow
    run_id: str
    run_type: str
    version: Version
    created_at: datetime
    tasks: dict[str, TaskInstance]
    override_parameters: dict[str, Any]
    state: str = "STARTING"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    modified_at: datetime | None = None
    error_message: str | None = None
    # The workflow's injected faults when the run started: a fault set for some runs does not reach later ones
    faults: Faults = field(default_factory=Faults)

    @property
    def version_id(self) -> str:
        return self.version.version_id

    @property
    def definition(self) -> WorkflowDefinition:
        return self.version.definition
