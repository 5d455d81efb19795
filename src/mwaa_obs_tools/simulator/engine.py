"""The simulated service: workflows, runs and task instances on a virtual clock, publishing what it does.

The engine holds the service's resources of one account and region and answers the API's requests on them; the
rooms it is made of: `workflows` (versions made from requests), `scheduling` (the clock and cron fires), `runs`,
`tasks` and `attempts` (execution), `events` (what is published), `task_logs`, `idempotency` (ClientTokens).
`advance(until)` carries out every step due on the clock, then publishes.

Deleting a workflow ("including stopping any running executions, removing scheduled triggers, and cleaning up
execution history", DeleteWorkflow): its schedule is disarmed, its runs in progress stop (STOPPING, then STOPPED
with their event), and it shows WorkflowStatus DELETING until the last of them has stopped; then it is gone, its
runs with it. ASSUMED (not documented): with no run in progress it is gone at once; while DELETING, starting or
updating it is a ConflictException; deleting one version of several deletes that version only, stops its runs
and leaves the other versions unscheduled; deleting the only version deletes the workflow.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime
from typing import Any

from mwaa_obs_tools.simulator import cloudtrail
from mwaa_obs_tools.simulator.errors import (
    TASK_INSTANCE,
    WORKFLOW,
    WORKFLOW_RUN,
    WORKFLOW_VERSION,
    ServiceError,
    conflict,
    not_found,
)
from mwaa_obs_tools.simulator.events import Publisher, Sink
from mwaa_obs_tools.simulator.faults import Faults
from mwaa_obs_tools.simulator.idempotency import ClientTokens
from mwaa_obs_tools.simulator.model import DELETING, READY, TERMINAL_RUN, Run, TaskInstance, Version, Workflow
from mwaa_obs_tools.simulator.requests import DISABLED
from mwaa_obs_tools.simulator.runs import RUN_DELETED, RunLifecycle
from mwaa_obs_tools.simulator.scheduling import Clock, CronScheduler
from mwaa_obs_tools.simulator.task_logs import TaskLogs
from mwaa_obs_tools.simulator.workflows import ObjectReader, VersionMaker, new_id, version_id


class Engine:
    def __init__(
        self,
        sink: Sink,
        read_object: ObjectReader,
        *,
        start: datetime,
        region: str = "us-east-1",
        account: str = "123456789012",
        seed: int = 1,
    ) -> None:
        self.region, self.account = region, account
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not security
        self._clock = Clock(start)
        self._publisher = Publisher(sink, self._clock)
        self._versions = VersionMaker(read_object, self._rng)
        logs = TaskLogs(sink, self._clock)
        self._runs = RunLifecycle(self._clock, self._rng, self._publisher, logs, on_run_end=self._run_ended)
        self._cron = CronScheduler(self._clock, self._is_current, self._start_scheduled_run)
        self._tokens = ClientTokens()
        self._purge_after_end: set[tuple[str, str]] = set()  # runs of a deleted version: gone once stopped
        # What a ClientToken made, to answer a retried request with it: workflows by id, runs by run id.
        self._made_workflows: dict[str, Workflow] = {}
        self._made_runs: dict[str, Run] = {}
        self.lock = threading.RLock()
        self.workflows: dict[str, Workflow] = {}
        self.runs: dict[tuple[str, str], Run] = {}

    # --- time ------------------------------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self._clock.now

    def advance(self, until: datetime) -> None:
        """Carry out every action due up to `until`, in time order, then publish what happened."""
        with self.lock:
            self._clock.run_until(until)
            self.flush()

    def advance_until_idle(self, limit: datetime) -> None:
        """Advance until no run is in progress or `limit` is reached (cron fires beyond it are left pending)."""
        with self.lock:
            while (due := self._clock.next_due()) is not None and due <= limit:
                self.advance(due)
                if (
                    not any(run.state not in TERMINAL_RUN for run in self.runs.values())
                    and self._clock.only_cron_left()
                ):
                    break

    def flush(self) -> None:
        self._publisher.flush()

    def record_call(
        self, name: str, request: dict[str, Any], response: dict[str, Any], access_key: str, request_id: str
    ) -> None:
        """Publish CloudTrail's record of a successful management call (simulator.cloudtrail)."""
        if name not in cloudtrail.RECORDED:
            return
        arn = str(request.get("WorkflowArn") or response.get("WorkflowArn") or "")
        with self.lock:
            detail = cloudtrail.record(name, request, response, access_key=access_key, account=self.account,
                                       region=self.region, at=self.now, request_id=request_id)  # fmt: skip
            self._publisher.api_call(detail, arn)
            self.flush()

    # --- workflows -------------------------------------------------------------------------------------------------

    def create_workflow(self, request: dict[str, Any]) -> Workflow:
        with self.lock:
            earlier = self._tokens.made("CreateWorkflow", request, self.now)
            if earlier is not None:
                return self._made_workflows[earlier]
            name = request["Name"]
            taken = next((w for w in self.workflows.values() if w.name == name), None)
            if taken is not None:
                raise conflict(WORKFLOW, taken.workflow_id, f"A workflow named {name} already exists")
            version = self._versions.make(request, name, self.now)
            workflow_id = f"{name}-{new_id(self._rng, 10)}"
            workflow = Workflow(
                arn=f"arn:aws:airflow-serverless:{self.region}:{self.account}:workflow/{workflow_id}",
                workflow_id=workflow_id,
                name=name,
                created_at=self.now,
                modified_at=self.now,
                versions=[version],
                revision_id=version_id(self._rng),
                encryption=request.get("EncryptionConfiguration"),
                tags=dict(request.get("Tags", {})),
            )
            self.workflows[workflow.arn] = workflow
            if request.get("ClientToken"):
                self._tokens.remember("CreateWorkflow", request, self.now, WORKFLOW, workflow.workflow_id)
                self._made_workflows[workflow.workflow_id] = workflow
            self._cron.arm(workflow)
            return workflow

    def update_workflow(self, request: dict[str, Any]) -> Workflow:
        with self.lock:
            workflow = self._ready(request["WorkflowArn"])
            version = self._versions.make(request, workflow.name, self.now, previous=workflow.latest)
            workflow.versions.append(version)
            workflow.modified_at = self.now
            workflow.revision_id = version_id(self._rng)
            workflow.schedule_generation += 1
            self._cron.arm(workflow)
            for run in self._runs_of(workflow):
                self._runs.updated(run, version.definition)
            self.flush()
            return workflow

    def delete_workflow(self, arn: str, version: str | None = None) -> tuple[Workflow, str]:
        """Delete the workflow, or one of its versions; answers the workflow and the version deleted."""
        with self.lock:
            workflow = self.workflow(arn)
            if version is not None and workflow.version_named(version) is None:
                raise not_found(WORKFLOW_VERSION, version, f"Workflow {workflow.workflow_id} has no version {version}")
            if version is not None and len(workflow.versions) > 1:
                self._delete_version(workflow, version)
                return workflow, version
            deleted = workflow.version
            if workflow.status != DELETING:
                workflow.status = DELETING
                workflow.schedule_generation += 1
                for run in self._runs_of(workflow):
                    self._runs.stop(run, RUN_DELETED)
                self._purge_if_done(workflow)
                self.flush()
            return workflow, deleted

    def _delete_version(self, workflow: Workflow, version: str) -> None:
        was_latest = workflow.version == version
        workflow.versions = [v for v in workflow.versions if v.version_id != version]
        if was_latest:
            workflow.schedule_generation += 1  # the previous version becomes the latest, unscheduled (ASSUMED)
        for run in self._runs_of(workflow):
            if run.version_id == version:
                self._purge_after_end.add((workflow.arn, run.run_id))
                self._runs.stop(run, RUN_DELETED)
        for key, run in list(self.runs.items()):
            if run.workflow is workflow and run.version_id == version and run.state in TERMINAL_RUN:
                del self.runs[key]
        self.flush()

    def workflow(self, arn: str) -> Workflow:
        workflow = self.workflows.get(arn)
        if workflow is None:
            raise not_found(WORKFLOW, arn.rsplit("/", 1)[-1], f"Workflow {arn} not found")
        return workflow

    def version_of(self, workflow: Workflow, version: str | None) -> Version:
        found = workflow.version_named(version)
        if found is None:
            raise not_found(WORKFLOW_VERSION, str(version), f"Workflow {workflow.workflow_id} has no version {version}")
        return found

    def set_faults(self, name: str, faults: Faults) -> None:
        with self.lock:
            for workflow in self.workflows.values():
                if workflow.name == name:
                    workflow.faults = faults
                    return
            raise not_found(WORKFLOW, name, f"No workflow named {name}")

    def _ready(self, arn: str) -> Workflow:
        workflow = self.workflow(arn)
        if workflow.status != READY:
            raise conflict(WORKFLOW, workflow.workflow_id, f"Workflow {workflow.workflow_id} is being deleted")
        return workflow

    def _is_current(self, workflow: Workflow) -> bool:
        return self.workflows.get(workflow.arn) is workflow

    def _runs_of(self, workflow: Workflow) -> list[Run]:
        return [r for r in self.runs.values() if r.workflow is workflow and r.state not in TERMINAL_RUN]

    def _run_ended(self, run: Run) -> None:
        key = (run.workflow.arn, run.run_id)
        if key in self._purge_after_end:
            self._purge_after_end.discard(key)
            self.runs.pop(key, None)
        if run.workflow.status == DELETING:
            self._purge_if_done(run.workflow)

    def _purge_if_done(self, workflow: Workflow) -> None:
        """A deleting workflow whose runs have all stopped is gone, its execution history with it."""
        if self._runs_of(workflow) or not self._is_current(workflow):
            return
        del self.workflows[workflow.arn]
        for key in [key for key, run in self.runs.items() if run.workflow is workflow]:
            del self.runs[key]

    # --- runs ------------------------------------------------------------------------------------------------------

    def start_run(
        self,
        arn: str,
        override_parameters: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        request: dict[str, Any] | None = None,
    ) -> Run:
        """Start a run on demand (`request`: the StartWorkflowRun body, for its ClientToken)."""
        with self.lock:
            request = request or {}
            earlier = self._tokens.made("StartWorkflowRun", request, self.now)
            if earlier is not None:
                return self._made_runs[earlier]
            workflow = self._ready(arn)
            if workflow.trigger_mode == DISABLED:
                raise conflict(WORKFLOW, workflow.workflow_id, f"Workflow {workflow.workflow_id} is disabled")
            run = self._start_run(workflow, self.version_of(workflow, version), "ON_DEMAND", override_parameters)
            if request.get("ClientToken"):
                self._tokens.remember("StartWorkflowRun", request, self.now, WORKFLOW_RUN, run.run_id)
                self._made_runs[run.run_id] = run
            self.flush()
            return run

    def stop_run(self, arn: str, run_id: str) -> Run:
        """STOPPING, then STOPPED (runs.py). Stopping a stopping or stopped run answers its state again (the
        operation is idempotent); a run that ended otherwise cannot be stopped: a ValidationException (ASSUMED:
        StopWorkflowRun lists no ConflictException)."""
        with self.lock:
            run = self.run(arn, run_id)
            if run.state in TERMINAL_RUN and run.state != "STOPPED":
                raise ServiceError(
                    "ValidationException",
                    f"Run {run_id} already ended {run.state}: it cannot be stopped",
                    Reason="other",
                )
            self._runs.stop(run)
            self.flush()
            return run

    def run(self, arn: str, run_id: str) -> Run:
        run = self.runs.get((arn, run_id))
        if run is None:
            raise not_found(WORKFLOW_RUN, run_id, f"Run {run_id} of {arn} not found")
        return run

    def task_instance(self, run: Run, task_instance_id: str) -> TaskInstance:
        for instance in run.tasks.values():
            if instance.task_instance_id == task_instance_id:
                return instance
        raise not_found(TASK_INSTANCE, task_instance_id, f"Task instance {task_instance_id} not found")

    def _start_scheduled_run(self, workflow: Workflow) -> None:
        self._start_run(workflow, workflow.latest, "SCHEDULED")

    def _start_run(
        self, workflow: Workflow, version: Version, run_type: str, override_parameters: dict[str, Any] | None = None
    ) -> Run:
        run = self._runs.start(workflow, version, run_type, self._new_run_id(), override_parameters)
        self.runs[(workflow.arn, run.run_id)] = run
        return run

    def _new_run_id(self) -> str:
        """Opaque, as the service's are (`d58cxqdClpTVjeN` in AWS's launch post), not Airflow's readable
        `manual__<time>`: nothing may rely on a run id saying when or how its run started."""
        while True:
            run_id = new_id(self._rng, 15)
            if all(known != run_id for _, known in self.runs):
                return run_id
