"""The simulated service: workflows, runs and task instances on a virtual clock, publishing what it does.

A discrete-event simulation: every future step (a task finishing or timing out, a retry, a cron fire) is an
action on a heap ordered by virtual time. `advance(until)` carries them out in order, publishing the matching
EventBridge events and task log lines through the sink; nothing waits on the wall clock, so a simulated day
takes seconds. Times are whole seconds, as EventBridge's `time` field is.

Run: STARTING -> QUEUED -> RUNNING -> SUCCESS | FAILED | TIMEOUT (its failures were all execution timeouts) |
STOPPED (via STOPPING).
Task attempt: SCHEDULED -> QUEUED -> RUNNING -> SUCCESS | UP_FOR_RETRY (then a new attempt) | FAILED | TIMEOUT;
tasks downstream of a failure become UPSTREAM_FAILED. Task instances exist from the run's start with status NONE.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import json
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from mwaa_obs.cron import Cron
from mwaa_obs_tools.simulator.definition import (
    DefinitionError,
    TaskDefinition,
    WorkflowDefinition,
    parse_definition,
    run_time_error,
)

EVENT_SOURCE = "aws.airflow-serverless"
RUN_DETAIL_TYPE = {
    "STARTING": "Started",
    "QUEUED": "Queued",
    "RUNNING": "Running",
    "SUCCESS": "Succeeded",
    "FAILED": "Failed",
    "STOPPED": "Stopped",
    "TIMEOUT": "Timeout",
}
TASK_DETAIL_TYPE = {
    "SCHEDULED": "Scheduled",
    "QUEUED": "Queued",
    "RUNNING": "Running",
    "SUCCESS": "Succeeded",
    "FAILED": "Failed",
    "UP_FOR_RETRY": "Up For Retry",
    "UPSTREAM_FAILED": "Upstream Failed",
    "TIMEOUT": "Timeout",
}
# The run's error when a task failed, as AWS's launch post shows GetWorkflowRun; the timeout wording is ours.
RUN_FAILED = "Workflow execution failed"
RUN_TIMED_OUT = "Workflow execution timed out"
TERMINAL_RUN = frozenset({"SUCCESS", "FAILED", "TIMEOUT", "STOPPED"})
# SKIPPED is Airflow's: the API model's TaskInstanceStatus has no such value and no event announces it, so a
# skipped task shows in the simulator's API only, and sends nothing.
FINAL_TASK = frozenset({"SUCCESS", "FAILED", "UPSTREAM_FAILED", "TIMEOUT", "SKIPPED"})
FAILED_TASK = frozenset({"FAILED", "TIMEOUT", "UPSTREAM_FAILED"})  # what Airflow's rules count as failed
ACTIVE_TASK = frozenset({"SCHEDULED", "QUEUED", "RUNNING", "UP_FOR_RETRY"})
DEFAULT_TASK_SECONDS = 45.0
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class Sink(Protocol):
    """Where the simulated service's side effects go: EventBridge events and CloudWatch Logs lines."""

    def publish(self, entries: list[dict[str, Any]]) -> None: ...

    def log(self, group: str, stream: str, at: datetime, message: str) -> None: ...


class ServiceError(Exception):
    """An API error: `code` is the error shape's name (ValidationException, ResourceNotFoundException...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Faults:
    """Failure injection for one workflow's tasks (simulator only; the real API has no such thing)."""

    fail: set[str] = field(default_factory=set)  # every attempt fails
    fail_first: dict[str, int] = field(default_factory=dict)  # the first N attempts fail
    time_out: set[str] = field(default_factory=set)  # every attempt times out
    failure_rate: dict[str, float] = field(default_factory=dict)  # chance that an attempt fails
    durations: dict[str, float] = field(default_factory=dict)  # mean seconds per task (jitter +-30 %)
    misses_schedule: bool = False  # its cron fires start no run (a scheduler outage)


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


class Engine:
    def __init__(
        self,
        sink: Sink,
        read_definition: Callable[[dict[str, Any]], str],
        *,
        start: datetime,
        region: str = "us-east-1",
        account: str = "123456789012",
        seed: int = 1,
    ) -> None:
        self._sink = sink
        self._read_definition = read_definition
        self.now = start.astimezone(UTC).replace(microsecond=0)
        self.region, self.account = region, account
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not security
        self._actions: list[tuple[datetime, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._cron_sequences: set[int] = set()  # actions that are schedule fires, not work in progress
        self._events: list[dict[str, Any]] = []
        self.lock = threading.RLock()
        self.workflows: dict[str, Workflow] = {}
        self.runs: dict[tuple[str, str], Run] = {}

    # --- time ------------------------------------------------------------------------------------------------------

    def advance(self, until: datetime) -> None:
        """Carry out every action due up to `until`, in time order, then publish what happened."""
        with self.lock:
            while self._actions and self._actions[0][0] <= until:
                at, sequence, action = heapq.heappop(self._actions)
                self._cron_sequences.discard(sequence)
                self.now = max(self.now, at)
                action()
            self.now = max(self.now, until.replace(microsecond=0))
            self.flush()

    def advance_until_idle(self, limit: datetime) -> None:
        """Advance until no run is in progress or `limit` is reached (cron fires beyond it are left pending)."""
        with self.lock:
            while self._actions and self._actions[0][0] <= limit:
                self.advance(self._actions[0][0])
                if not any(run.state not in TERMINAL_RUN for run in self.runs.values()) and self._only_cron_left():
                    break

    def _only_cron_left(self) -> bool:
        return all(sequence in self._cron_sequences for _, sequence, _ in self._actions)

    def flush(self) -> None:
        while self._events:
            batch, self._events = self._events[:10], self._events[10:]
            self._sink.publish(batch)

    def _at(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._actions, (self.now + timedelta(seconds=round(delay)), next(self._sequence), action))

    # --- workflows -------------------------------------------------------------------------------------------------

    def create_workflow(self, request: dict[str, Any]) -> Workflow:
        with self.lock:
            name = request["Name"]
            if any(w.definition.name == name or w.arn.endswith(f"/{name}") for w in self.workflows.values()):
                raise ServiceError("ConflictException", f"A workflow named {name} already exists")
            definition = self._definition(request["DefinitionS3Location"])
            definition = dataclasses.replace(definition, name=name)
            workflow_id = f"{name}-{''.join(self._rng.choices(_ID_ALPHABET, k=10))}"
            arn = f"arn:aws:airflow-serverless:{self.region}:{self.account}:workflow/{workflow_id}"
            location = dict(request["DefinitionS3Location"])
            workflow = Workflow(
                arn=arn,
                workflow_id=workflow_id,
                definition=definition,
                created_at=self.now,
                modified_at=self.now,
                role_arn=request["RoleArn"],
                definition_location=location,
                trigger_mode=request.get("TriggerMode", "SCHEDULED" if definition.schedule else "MANUAL_ONLY"),
                versions=[("1", self.now, definition, location)],
                description=request.get("Description", ""),
                tags=dict(request.get("Tags", {})),
            )
            self.workflows[arn] = workflow
            self._schedule_next_cron(workflow)
            return workflow

    def update_workflow(self, request: dict[str, Any]) -> Workflow:
        with self.lock:
            workflow = self.workflow(request["WorkflowArn"])
            definition = self._definition(request["DefinitionS3Location"])
            definition = dataclasses.replace(definition, name=workflow.definition.name)
            location = dict(request["DefinitionS3Location"])
            workflow.versions.append((str(len(workflow.versions) + 1), self.now, definition, location))
            workflow.definition, workflow.definition_location = definition, location
            workflow.role_arn = request["RoleArn"]
            workflow.trigger_mode = request.get("TriggerMode", workflow.trigger_mode)
            workflow.modified_at = self.now
            return workflow

    def delete_workflow(self, arn: str) -> Workflow:
        with self.lock:
            workflow = self.workflow(arn)
            del self.workflows[arn]
            return workflow

    def workflow(self, arn: str) -> Workflow:
        workflow = self.workflows.get(arn)
        if workflow is None:
            raise ServiceError("ResourceNotFoundException", f"Workflow {arn} not found")
        return workflow

    def set_faults(self, name: str, faults: Faults) -> None:
        with self.lock:
            for workflow in self.workflows.values():
                if workflow.definition.name == name:
                    workflow.faults = faults
                    return
            raise ServiceError("ResourceNotFoundException", f"No workflow named {name}")

    def _definition(self, location: dict[str, Any]) -> WorkflowDefinition:
        source = f"s3://{location['Bucket']}/{location['ObjectKey']}"
        try:
            return parse_definition(self._read_definition(location), source, now=self.now)
        except DefinitionError as error:
            raise ServiceError("ValidationException", str(error)) from None
        except KeyError:
            raise ServiceError("ValidationException", f"{source}: definition file not found") from None

    def _schedule_next_cron(self, workflow: Workflow) -> None:
        schedule = workflow.definition.schedule
        if not schedule or workflow.trigger_mode != "SCHEDULED":
            return
        start, end = workflow.definition.start_date, workflow.definition.end_date
        fire = Cron.parse(schedule).next_after(max(self.now, start - timedelta(seconds=1)) if start else self.now)
        if end is not None and fire > end:
            return

        def fire_run() -> None:
            if self.workflows.get(workflow.arn) is workflow:
                if not workflow.faults.misses_schedule:
                    self._start_run(workflow, "SCHEDULED", self._new_run_id())
                self._schedule_next_cron(workflow)

        sequence = next(self._sequence)
        self._cron_sequences.add(sequence)
        heapq.heappush(self._actions, (fire, sequence, fire_run))

    # --- runs ------------------------------------------------------------------------------------------------------

    def start_run(self, arn: str, override_parameters: dict[str, str] | None = None) -> Run:
        with self.lock:
            workflow = self.workflow(arn)
            run = self._start_run(workflow, "ON_DEMAND", self._new_run_id(), override_parameters or {})
            self.flush()
            return run

    def stop_run(self, arn: str, run_id: str) -> Run:
        with self.lock:
            run = self.run(arn, run_id)
            if run.state not in TERMINAL_RUN:
                self._end_run(run, "STOPPED", "Stopped by StopWorkflowRun", attempt_state="FAILED")
                self.flush()
            return run

    def run(self, arn: str, run_id: str) -> Run:
        run = self.runs.get((arn, run_id))
        if run is None:
            raise ServiceError("ResourceNotFoundException", f"Run {run_id} of {arn} not found")
        return run

    def _new_run_id(self) -> str:
        """Opaque, as the service's are (`d58cxqdClpTVjeN` in AWS's launch post), not Airflow's readable
        `manual__<time>`: nothing may rely on a run id saying when or how its run started."""
        while True:
            run_id = "".join(self._rng.choices(_ID_ALPHABET, k=15))
            if all(known != run_id for _, known in self.runs):
                return run_id

    def _start_run(
        self, workflow: Workflow, run_type: str, run_id: str, override_parameters: dict[str, str] | None = None
    ) -> Run:
        # Task instance ids as the launch post shows them: ex_<uuid>_<task id>_1 (one uuid per run)
        execution = uuid.UUID(int=self._rng.getrandbits(128), version=4)
        tasks = {
            task.task_id: TaskInstance(task, f"ex_{execution}_{task.task_id}_1") for task in workflow.definition.tasks
        }
        run = Run(workflow, run_id, run_type, workflow.version, self.now, tasks, override_parameters or {})
        self.runs[(workflow.arn, run_id)] = run
        self._run_state(run, "STARTING")
        self._at(self._rng.uniform(1, 4), lambda: self._run_state(run, "QUEUED"))
        self._at(self._rng.uniform(6, 30), lambda: self._begin(run))
        return run

    def _begin(self, run: Run) -> None:
        if run.state in TERMINAL_RUN:
            return
        run.started_at = self.now
        self._run_state(run, "RUNNING")
        # A template that cannot render or an unknown XCom source fails the run before any task starts, with the
        # error on the run (as GetWorkflowRun shows it in AWS's launch post): the definition was accepted at create
        # time. There is no run-level timeout: the service ignores dagrun_timeout.
        error = run_time_error(run.workflow.definition)
        if error is not None:
            self._end_run(run, "FAILED", error, attempt_state="FAILED")
            return
        self._schedule_ready(run)

    def _schedule_ready(self, run: Run) -> None:
        """Decide every waiting task whose trigger rule can be decided now (tasks are in dependency order, so one
        pass settles a skipped or upstream-failed chain)."""
        for instance in run.tasks.values():
            if instance.status != "NONE":
                continue
            upstream = [run.tasks[dependency].status for dependency in instance.task.dependencies]
            decision = trigger_decision(instance.task.trigger_rule, upstream)
            if decision == "run":
                self._start_attempt(run, instance)
            elif decision == "SKIPPED":
                instance.status, instance.modified_at, instance.ended_at = "SKIPPED", self.now, self.now
            elif decision == "UPSTREAM_FAILED":
                instance.ended_at = self.now
                self._task_state(run, instance, "UPSTREAM_FAILED")

    def _start_attempt(self, run: Run, instance: TaskInstance) -> None:
        instance.attempt += 1
        instance.started_at = instance.ended_at = None
        instance.error_message = None
        attempt = instance.attempt
        instance.log_stream = (
            f"workflow_id={run.workflow.workflow_id}/run_id={run.run_id}/task_id={instance.task.task_id}"
            f"/attempt={attempt}.log"
        )
        self._task_state(run, instance, "SCHEDULED")

        def still_current() -> bool:
            return run.state == "RUNNING" and instance.attempt == attempt and instance.status in ACTIVE_TASK

        def queued() -> None:
            if still_current():
                self._task_state(run, instance, "QUEUED")

        def running() -> None:
            if still_current():
                instance.started_at = self.now
                self._task_state(run, instance, "RUNNING")
                self._log(run, instance, f"Executing {instance.task.operator_name} (attempt {attempt})")
                duration, limit = self._duration(run, instance), instance.task.execution_timeout
                self._at(min(duration, limit), lambda: finish(timed_out=duration >= limit))

        def finish(timed_out: bool) -> None:
            if still_current():
                self._finish_attempt(run, instance, timed_out)

        self._at(self._rng.uniform(1, 3), queued)
        self._at(self._rng.uniform(4, 10), running)

    def _duration(self, run: Run, instance: TaskInstance) -> float:
        """How long the attempt's work would take; at the task's execution_timeout or beyond it times out."""
        faults = run.workflow.faults
        task = instance.task
        if task.task_id in faults.time_out:
            return task.execution_timeout
        mean = faults.durations.get(task.task_id, DEFAULT_TASK_SECONDS)
        return max(1.0, mean * self._rng.uniform(0.7, 1.3))

    def _finish_attempt(self, run: Run, instance: TaskInstance, timed_out: bool) -> None:
        faults = run.workflow.faults
        task_id = instance.task.task_id
        instance.ended_at = self.now
        failed = (
            task_id in faults.fail
            or instance.attempt <= faults.fail_first.get(task_id, 0)
            or self._rng.random() < faults.failure_rate.get(task_id, 0.0)
        )
        if not (timed_out or failed):
            self._log(run, instance, "Task succeeded")
            self._task_state(run, instance, "SUCCESS")
            self._schedule_ready(run)
            self._maybe_end(run)
            return
        if timed_out:
            instance.error_message = (
                f"Task exceeded its execution_timeout of {instance.task.execution_timeout:.0f} s "
                f"on attempt {instance.attempt}"
            )
        else:
            instance.error_message = (
                f"An error occurred (AccessDenied) when calling {instance.task.operator_name}: "
                f"simulated failure of attempt {instance.attempt}"
            )
        self._log(run, instance, f"ERROR - {instance.error_message}")
        if instance.attempt <= instance.task.retries:
            self._task_state(run, instance, "UP_FOR_RETRY")

            def retry() -> None:
                if run.state == "RUNNING":
                    self._start_attempt(run, instance)

            self._at(instance.task.retry_delay, retry)
            return
        self._task_state(run, instance, "TIMEOUT" if timed_out else "FAILED")
        self._schedule_ready(run)
        self._maybe_end(run)

    def _maybe_end(self, run: Run) -> None:
        if run.state in TERMINAL_RUN or any(i.status not in FINAL_TASK for i in run.tasks.values()):
            return
        # Airflow's rule: the run failed when a leaf task (none downstream of it) failed or was upstream-failed; a
        # failure followed by a cleanup task that ran (trigger_rule all_done) ends the run in SUCCESS.
        upstream_of_others = {dependency for i in run.tasks.values() for dependency in i.task.dependencies}
        leaves = [i for i in run.tasks.values() if i.task.task_id not in upstream_of_others]
        if not any(leaf.status in FAILED_TASK for leaf in leaves):
            self._end_run(run, "SUCCESS", None, attempt_state="FAILED")
        elif all(i.status != "FAILED" for i in run.tasks.values()):  # only execution timeouts failed it (assumed)
            self._end_run(run, "TIMEOUT", RUN_TIMED_OUT, attempt_state="FAILED")
        else:  # the launch post's GetWorkflowRun: the failed task instance ids, and this message on the run
            self._end_run(run, "FAILED", RUN_FAILED, attempt_state="FAILED")

    def _end_run(self, run: Run, state: str, error: str | None, attempt_state: str) -> None:
        if run.state in TERMINAL_RUN:
            return
        for instance in run.tasks.values():
            if instance.status == "UP_FOR_RETRY":  # no next try: its last attempt's end and error stand
                self._task_state(run, instance, attempt_state)
            elif instance.status in ACTIVE_TASK:  # cut short by a stop or the run's timeout
                instance.ended_at = self.now
                instance.error_message = error
                self._task_state(run, instance, attempt_state)
        if state == "STOPPED":
            run.state = "STOPPING"
        run.ended_at = self.now
        run.error_message = error
        self._run_state(run, state)

    # --- side effects ----------------------------------------------------------------------------------------------

    def _run_state(self, run: Run, state: str) -> None:
        if run.state in TERMINAL_RUN:
            return
        run.state, run.modified_at = state, self.now
        detail: dict[str, Any] = {
            "workflowArn": run.workflow.arn,
            "workflowVersion": run.version,
            "runId": run.run_id,
            "runType": run.run_type,
            "status": state,
        }
        _add_times(detail, run.started_at, run.ended_at if state in TERMINAL_RUN else None)
        if run.error_message and state in TERMINAL_RUN:
            detail["errorMessage"] = run.error_message
        self._emit(f"MWAA Serverless Workflow Run {RUN_DETAIL_TYPE[state]}", detail, run.workflow.arn)

    def _task_state(self, run: Run, instance: TaskInstance, state: str) -> None:
        instance.status, instance.modified_at = state, self.now
        detail: dict[str, Any] = {
            "workflowArn": run.workflow.arn,
            "workflowVersion": run.version,
            "runId": run.run_id,
            "taskId": instance.task.task_id,
            "taskInstanceId": instance.task_instance_id,
            "attemptNumber": instance.attempt,
            "operatorName": instance.task.operator_name,
            "status": state,
        }
        if instance.log_stream:
            detail["logStream"] = instance.log_stream
        _add_times(detail, instance.started_at, instance.ended_at if state in FINAL_TASK | {"UP_FOR_RETRY"} else None)
        if instance.error_message and state in {"FAILED", "TIMEOUT", "UP_FOR_RETRY"}:
            detail["errorMessage"] = instance.error_message
        self._emit(f"MWAA Serverless Task {TASK_DETAIL_TYPE[state]}", detail, run.workflow.arn)

    def _emit(self, detail_type: str, detail: dict[str, Any], arn: str) -> None:
        self._events.append(
            {
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "Resources": [arn],
                "Time": self.now,
            }
        )

    def _log(self, run: Run, instance: TaskInstance, message: str) -> None:
        if instance.log_stream:
            self._sink.log(run.workflow.log_group, instance.log_stream, self.now, message)


def _add_times(detail: dict[str, Any], started: datetime | None, ended: datetime | None) -> None:
    if started:
        detail["startedAt"] = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    if ended:
        detail["endedAt"] = ended.strftime("%Y-%m-%dT%H:%M:%SZ")


def trigger_decision(rule: str, upstream: list[str]) -> str:
    """What Airflow does with a waiting task given its upstream tasks' states: "run", "SKIPPED", "UPSTREAM_FAILED",
    or "wait" (airflow.ti_deps.deps.trigger_rule_dep)."""
    done = all(state in FINAL_TASK for state in upstream)
    succeeded = sum(state == "SUCCESS" for state in upstream)
    failed = sum(state in FAILED_TASK for state in upstream)
    skipped = sum(state == "SKIPPED" for state in upstream)
    decisions = {
        "always": "run",
        "all_success": "UPSTREAM_FAILED" if failed else "SKIPPED" if skipped else "run" if done else "wait",
        "all_failed": "SKIPPED" if succeeded or skipped else "run" if done else "wait",
        "all_done": "run" if done else "wait",
        "one_success": "run" if succeeded else "wait" if not done else "UPSTREAM_FAILED" if failed else "SKIPPED",
        "one_failed": "run" if failed else "wait" if not done else "SKIPPED",
        "none_failed": "UPSTREAM_FAILED" if failed else "run" if done else "wait",
        "none_skipped": "SKIPPED" if skipped else "run" if done else "wait",
    }
    return decisions[rule]
