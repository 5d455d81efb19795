"""A run's life: started (by its cron or on demand) on one version of its workflow, queued, running its tasks,
ended by its leaf tasks' outcome, or stopped: STOPPING at once, STOPPED once no task of it runs any more
("transitions the workflow run to a STOPPING state and then to STOPPED once all cleanup is complete",
StopWorkflowRun)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

from mwaa_obs_tools.simulator.definition import WorkflowDefinition, run_time_error
from mwaa_obs_tools.simulator.events import Publisher
from mwaa_obs_tools.simulator.model import FAILED_TASK, FINAL_TASK, TERMINAL_RUN, Run, TaskInstance, Version, Workflow
from mwaa_obs_tools.simulator.scheduling import Clock
from mwaa_obs_tools.simulator.task_logs import TaskLogs
from mwaa_obs_tools.simulator.tasks import TaskExecution

# The run's error when a task failed, as AWS's launch post shows GetWorkflowRun; the timeout and stop wordings are
# ours (no example shows them).
RUN_FAILED = "Workflow execution failed"
RUN_TIMED_OUT = "Workflow execution timed out"
RUN_STOPPED = "Stopped by StopWorkflowRun"
RUN_DELETED = "Stopped: the workflow was deleted"
STARTED_STATES = frozenset({"STARTING", "QUEUED"})


class RunLifecycle:
    def __init__(
        self,
        clock: Clock,
        rng: random.Random,
        publisher: Publisher,
        logs: TaskLogs,
        on_run_end: Callable[[Run], None] = lambda run: None,
    ) -> None:
        self._clock = clock
        self._rng = rng
        self._publisher = publisher
        self._on_run_end = on_run_end
        self._tasks = TaskExecution(clock, rng, publisher, logs, on_task_done=self._maybe_end)

    def start(
        self,
        workflow: Workflow,
        version: Version,
        run_type: str,
        run_id: str,
        override_parameters: dict[str, Any] | None = None,
    ) -> Run:
        # Task instance ids as the launch post shows them: ex_<uuid>_<task id>_1 (one uuid per run)
        execution = uuid.UUID(int=self._rng.getrandbits(128), version=4)
        tasks = {
            task.task_id: TaskInstance(task, f"ex_{execution}_{task.task_id}_1") for task in version.definition.tasks
        }
        run = Run(workflow, run_id, run_type, version, self._clock.now, tasks, dict(override_parameters or {}))
        run.faults = workflow.faults
        self._publisher.run_state(run, "STARTING")

        def queued() -> None:
            if run.state == "STARTING":
                self._publisher.run_state(run, "QUEUED")

        self._clock.after(self._rng.uniform(1, 4), queued)
        self._clock.after(self._rng.uniform(6, 30), lambda: self._begin(run))
        return run

    def stop(self, run: Run, reason: str = RUN_STOPPED) -> None:
        """STOPPING now (no event: no detail-type exists for it); STOPPED when the last running task is done."""
        if run.state in TERMINAL_RUN or run.state == "STOPPING":
            return
        run.error_message = reason
        self._publisher.run_state(run, "STOPPING")
        self._tasks.stop(run)
        self._clock.after(self._rng.uniform(2, 6), lambda: self._maybe_end(run))  # the cleanup takes a moment

    def updated(self, run: Run, definition: WorkflowDefinition) -> None:
        """Its workflow has a new latest version: the run's tasks not begun that the version lacks are removed."""
        if run.state not in TERMINAL_RUN:
            self._tasks.remove_missing(run, definition)

    def _begin(self, run: Run) -> None:
        if run.state not in STARTED_STATES:
            return
        run.started_at = self._clock.now
        self._publisher.run_state(run, "RUNNING")
        # A template that cannot render or an unknown XCom source fails the run before any task starts, with the
        # error on the run (as GetWorkflowRun shows it in AWS's launch post): the definition was accepted at create
        # time. There is no run-level timeout: the service ignores dagrun_timeout.
        error = run_time_error(run.definition)
        if error is not None:
            self._end(run, "FAILED", error)
            return
        self._tasks.schedule_ready(run)

    def _maybe_end(self, run: Run) -> None:
        if run.state == "STOPPING":
            if not any(i.status == "RUNNING" for i in run.tasks.values()):
                self._end(run, "STOPPED", run.error_message)
            return
        if run.state != "RUNNING" or any(i.status not in FINAL_TASK for i in run.tasks.values()):
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
        if run.state in TERMINAL_RUN:
            return
        run.ended_at = self._clock.now
        run.error_message = error
        self._publisher.run_state(run, state)
        self._on_run_end(run)
