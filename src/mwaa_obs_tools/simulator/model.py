"""The simulated service's resources (workflows, runs, task instances) and the states they pass through.

Run: STARTING -> QUEUED -> RUNNING -> SUCCESS | FAILED | TIMEOUT (its failures were all execution timeouts) |
STOPPED (via STOPPING).
Task attempt: SCHEDULED -> QUEUED -> RUNNING -> SUCCESS | UP_FOR_RETRY (then a new attempt) | FAILED | TIMEOUT;
tasks downstream of a failure become UPSTREAM_FAILED. Task instances exist from the run's start with status NONE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mwaa_obs_tools.simulator.definition import TaskDefinition, WorkflowDefinition
from mwaa_obs_tools.simulator.faults import Faults

TERMINAL_RUN = frozenset({"SUCCESS", "FAILED", "TIMEOUT", "STOPPED"})
# SKIPPED is Airflow's: the API model's TaskInstanceStatus has no such value and no event announces it, so a
# skipped task shows in the simulator's API only, and sends nothing.
FINAL_TASK = frozenset({"SUCCESS", "FAILED", "UPSTREAM_FAILED", "TIMEOUT", "SKIPPED"})
FAILED_TASK = frozenset({"FAILED", "TIMEOUT", "UPSTREAM_FAILED"})  # what Airflow's rules count as failed
ACTIVE_TASK = frozenset({"SCHEDULED", "QUEUED", "RUNNING", "UP_FOR_RETRY"})


@dataclass
class Workflow:
    arn: str
    workflow_id: str
    definition: WorkflowDefinition
    created_at: datetime
    modified_at: datetime
    role_arn: str
    definition_location: dict[str, Any]
    trigger_mode: str
    versions: list[tuple[str, datetime, WorkflowDefinition, dict[str, Any]]]
    description: str = ""
    status: str = "READY"
    tags: dict[str, str] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)

    @property
    def version(self) -> str:
        return self.versions[-1][0]

    @property
    def log_group(self) -> str:
        return f"/aws/mwaa-serverless/{self.workflow_id}/"


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


@dataclass
class Run:
    workflow: Workflow
    run_id: str
    run_type: str
    version: str
    created_at: datetime
    tasks: dict[str, TaskInstance]
    override_parameters: dict[str, str]
    state: str = "STARTING"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    modified_at: datetime | None = None
    error_message: str | None = None
    # The workflow's injected faults when the run started: a fault set for some runs does not reach later ones
    faults: Faults = field(default_factory=Faults)
