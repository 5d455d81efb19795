"""A run's life: started (by its cron or on demand), queued, running its tasks, ended by its leaf tasks' outcome or
stopped."""

from __future__ import annotations

import random
import uuid

from mwaa_obs_tools.simulator.definition import run_time_error
from mwaa_obs_tools.simulator.events import Publisher
from mwaa_obs_tools.simulator.model import FAILED_TASK, FINAL_TASK, TERMINAL_RUN, Run, TaskInstance, Workflow
from mwaa_obs_tools.simulator.scheduling import Clock
from mwaa_obs_tools.simulator.task_logs import TaskLogs
from mwaa_obs_tools.simulator.tasks import TaskExecution

# The run's error when a task failed, as AWS's launch post shows GetWorkflowRun; the timeout wording is ours.
RUN_FAILED = "Workflow execution failed"
RUN_TIMED_OUT = "Workflow execution timed out"
RUN_STOPPED = "Stopped by StopWorkflowRun"


class RunLifecycle:
    def __init__(self, clock: Clock, rng: random.Random, publisher: Publisher, logs: TaskLogs) -> None:
        self._clock = clock
        self._rng = rng
        self._publisher = publisher
        self._tasks = TaskExecution(clock, rng, publisher, logs, on_task_done=self._maybe_end)

    def start(
        self, workflow: Workflow, run_type: str, run_id: str, override_parameters: dict[str, str] | None = None
    ) -> Run:
        # Task instance ids as the launch post shows them: ex_<uuid>_<task id>_1 (one uuid per run)
        execution = uuid.UUID(int=self._rng.getrandbits(128), version=4)
        tasks = {
            task.task_id: TaskInstance(task, f"ex_{execution}_{task.task_id}_1") for task in workflow.definition.tasks
        }
        run = Run(workflow, run_id, run_type, workflow.version, self._clock.now, tasks, override_parameters or {})
        run.faults = workflow.faults
        self._publisher.run_state(run, "STARTING")
        self._clock.after(self._rng.uniform(1, 4), lambda: self._publisher.run_state(run, "QUEUED"))
        self._clock.after(self._rng.uniform(6, 30), lambda: self._begin(run))
        return run

    def stop(self, run: Run) -> None:
        self._end(run, "STOPPED", RUN_STOPPED)

    def _begin(self, run: Run) -> None:
        if run.state in TERMINAL_RUN:
            return
        run.started_at = self._clock.now
        self._publisher.run_state(run, "RUNNING")
        # A template that cannot render or an unknown XCom source fails the run before any task starts, with the
        # error on the run (as GetWorkflowRun shows it in AWS's launch post): the definition was accepted at create
        # time. There is no run-level timeout: the service ignores dagrun_timeout.
        error = run_time_error(run.workflow.definition)
        if error is not None:
            self._end(run, "FAILED", error)
            return
        self._tasks.schedule_ready(run)

    def _maybe_end(self, run: Run) -> None:
        if run.state in TERMINAL_RUN or any(i.status not in FINAL_TASK for i in run.tasks.values()):
            return
        # Airflow's rule: the run failed when a leaf task (none downstream of it) failed or was upstream-failed; a
        # failure followed by a cleanup task that ran (trigger_rule all_done) ends the run in SUCCESS.
        upstream_of_others = {dependency for i in run.tasks.values() for dependency in i.task.dependencies}
        leaves = [i for i in run.tasks.values() if i.task.task_id not in upstream_of_others]
        if not any(leaf.status in FAILED_TASK for leaf in leaves):
            self._end(run, "SUCCESS", None)
        elif all(i.status != "FAILED" for i in run.tasks.values()):  # only execution timeouts failed it (assumed)
            self._end(run, "TIMEOUT", RUN_TIMED_OUT)
        else:  # the launch post's GetWorkflowRun: the failed task instance ids, and this message on the run
            self._end(run, "FAILED", RUN_FAILED)

    def _end(self, run: Run, state: str, error: str | None) -> None:
        """End the run in `state`; the attempts still in progress end FAILED with it."""
        if run.state in TERMINAL_RUN:
            return
        self._tasks.end_attempts(run, "FAILED", error)
        if state == "STOPPED":
            run.state = "STOPPING"
        run.ended_at = self._clock.now
        run.error_message = error
        self._publisher.run_state(run, state)
