"""Task execution: which waiting task runs (Airflow's trigger rules), what each attempt's end means (success,
a retry, a failure, a restart), and what a stop or an update does to a run's task instances (the states:
model.py; one attempt's steps: attempts.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from mwaa_obs_tools.simulator import code_tasks
from mwaa_obs_tools.simulator.attempts import Attempt, Ending
from mwaa_obs_tools.simulator.code_tasks import PythonFailure, Skipped
from mwaa_obs_tools.simulator.definition import WorkflowDefinition
from mwaa_obs_tools.simulator.events import Publisher
from mwaa_obs_tools.simulator.model import ACTIVE_TASK, FAILED_TASK, FINAL_TASK, Run, TaskInstance
from mwaa_obs_tools.simulator.scheduling import Clock
from mwaa_obs_tools.simulator.task_logs import TaskLogs

MAX_ERROR_MESSAGE = 255  # GetTaskInstance's ErrorMessage is a GenericString: 1 to 255 characters


class TaskExecution:
    def __init__(
        self,
        clock: Clock,
        rng: random.Random,
        publisher: Publisher,
        logs: TaskLogs,
        on_task_done: Callable[[Run], None],
    ) -> None:
        self._clock = clock
        self._rng = rng
        self._publisher = publisher
        self._logs = logs
        self._on_task_done = on_task_done  # a task reached its final state, or stopped running: the run may be over

    def schedule_ready(self, run: Run) -> None:
        """Decide every waiting task whose trigger rule can be decided now (tasks are in dependency order, so one
        pass settles a skipped or upstream-failed chain). Nothing starts once the run is stopping."""
        if run.state != "RUNNING":
            return
        for instance in run.tasks.values():
            if instance.status != "NONE":
                continue
            upstream = [run.tasks[dependency].status for dependency in instance.task.dependencies]
            decision = trigger_decision(instance.task.trigger_rule, upstream)
            if decision == "run":
                self._start_attempt(run, instance)
            elif decision == "SKIPPED":
                self._publisher.task_state(run, instance, "SKIPPED", ended=True)
            elif decision == "UPSTREAM_FAILED":
                self._publisher.task_state(run, instance, "UPSTREAM_FAILED", ended=True)

    def stop(self, run: Run) -> None:
        """The run is STOPPING: what waits for a worker, a retry, a poke or a trigger is cancelled at once; what
        runs on a worker gets a few seconds to finish, then its worker is terminated and it is cancelled."""
        for instance in run.tasks.values():
            if instance.status == "RUNNING":
                attempt = instance.attempt

                def terminate(instance: TaskInstance = instance, attempt: int = attempt) -> None:
                    if instance.status == "RUNNING" and instance.attempt == attempt:
                        self._logs.terminated(run, instance)
                        self._publisher.task_state(run, instance, "CANCELLED", ended=True)
                        self._on_task_done(run)

                self._clock.after(self._rng.uniform(5, 20), terminate)
            elif instance.status in ACTIVE_TASK:
                self._publisher.task_state(run, instance, "CANCELLED", ended=instance.started_at is not None)

    def remove_missing(self, run: Run, definition: WorkflowDefinition) -> None:
        """A newer version no longer has some of the run's tasks: those not begun are REMOVED."""
        kept = {task.task_id for task in definition.tasks}
        removed = [i for i in run.tasks.values() if i.status == "NONE" and i.task.task_id not in kept]
        for instance in removed:
            self._publisher.task_state(run, instance, "REMOVED")
        if removed:
            self.schedule_ready(run)
            self._on_task_done(run)

    def _start_attempt(self, run: Run, instance: TaskInstance) -> None:
        Attempt(
            run, instance, clock=self._clock, rng=self._rng, publisher=self._publisher, logs=self._logs,
            on_end=self._attempt_ended,
        ).begin()  # fmt: skip

    def _fails(self, run: Run, instance: TaskInstance) -> bool:
        """Whether the injected faults fail this attempt (the chance is drawn only when nothing else decides)."""
        faults = run.faults
        task_id = instance.task.task_id
        return (
            task_id in faults.fail
            or instance.attempt <= faults.fail_first.get(task_id, 0)
            or self._rng.random() < faults.failure_rate.get(task_id, 0.0)
        )

    def _attempt_ended(self, run: Run, instance: TaskInstance, ending: Ending) -> None:
        if ending.restarted:
            self._restart(run, instance)
            return
        outcome = ending.outcome
        if isinstance(outcome, Skipped):
            self._logs.skipped(run, instance, outcome.reason)
            self._publisher.task_state(run, instance, "SKIPPED")
            self._settled(run)
            return
        failure = outcome if isinstance(outcome, PythonFailure) else None
        if not ending.timed_out and failure is None and self._fails(run, instance):
            value = f"simulated failure of attempt {instance.attempt}"
            failure = code_tasks.injected(instance.task, run.version.code, value)
            if failure is None:
                instance.error_message = (
                    f"An error occurred (AccessDenied) when calling {instance.task.operator_name}: {value}"
                )
                self._logs.failed(run, instance)
        if not ending.timed_out and failure is None and instance.error_message is None:
            self._logs.succeeded(run, instance)
            self._publisher.task_state(run, instance, "SUCCESS")
            self._settled(run)
            return
        if ending.timed_out:
            instance.error_message = (
                f"Task exceeded its execution_timeout of {instance.task.execution_timeout:.0f} s "
                f"on attempt {instance.attempt}"
            )
            self._logs.timed_out(run, instance)
        elif failure is not None:
            instance.error_message = _shortened(failure.message)
            self._logs.raised(run, instance, failure)
        retries_left = instance.attempt <= instance.task.retries + instance.extra_attempts
        no_retry = failure is not None and failure.exception.endswith("AirflowSensorTimeout")
        if retries_left and not no_retry and run.state == "RUNNING":
            self._logs.marked(run, instance, "UP_FOR_RETRY", instance.task.retry_delay)
            self._publisher.task_state(run, instance, "UP_FOR_RETRY")

            def retry() -> None:
                if run.state == "RUNNING" and instance.status == "UP_FOR_RETRY":
                    self._start_attempt(run, instance)

            self._clock.after(instance.task.retry_delay, retry)
            return
        final = "TIMEOUT" if ending.timed_out else "FAILED"
        self._logs.marked(run, instance, final)
        self._publisher.task_state(run, instance, final)
        self._settled(run)

    def _restart(self, run: Run, instance: TaskInstance) -> None:
        """The service lost the attempt's worker: RESTARTING, then a new attempt its retries do not count."""
        self._logs.restarted(run, instance)
        self._publisher.task_state(run, instance, "RESTARTING")
        instance.extra_attempts += 1

        def again() -> None:
            if run.state == "RUNNING" and instance.status == "RESTARTING":
                self._start_attempt(run, instance)

        self._clock.after(self._rng.uniform(2, 5), again)

    def _settled(self, run: Run) -> None:
        self.schedule_ready(run)
        self._on_task_done(run)


def _shortened(message: str) -> str:
    return message if len(message) <= MAX_ERROR_MESSAGE else message[: MAX_ERROR_MESSAGE - 1] + "…"


def trigger_decision(rule: str, upstream: list[str]) -> str:
    """What Airflow does with a waiting task given its upstream tasks' states: "run", "SKIPPED", "UPSTREAM_FAILED",
    or "wait" (airflow.ti_deps.deps.trigger_rule_dep). An upstream task REMOVED by a newer version counts as done
    and as a success (ASSUMED: the task it fed no longer depends on it in that version)."""
    upstream = ["SUCCESS" if state == "REMOVED" else state for state in upstream]
    done = all(state in FINAL_TASK for state in upstream)
    succeeded = sum(state == "SUCCESS" for state in upstream)
    failed = sum(state in FAILED_TASK for state in upstream)
    skipped = sum(state in {"SKIPPED", "CANCELLED"} for state in upstream)
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
