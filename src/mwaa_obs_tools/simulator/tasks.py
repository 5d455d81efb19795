"""Task execution: which waiting task runs (Airflow's trigger rules), and each attempt of it on the clock, with
its retries, its execution_timeout, the injected faults and its task log (the states: model.py).

Every step of an attempt first checks that the attempt is still the current one of a running run: a stop, the run's
end or a retry may have overtaken it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from mwaa_obs_tools.simulator.events import Publisher
from mwaa_obs_tools.simulator.model import ACTIVE_TASK, FAILED_TASK, FINAL_TASK, Run, TaskInstance
from mwaa_obs_tools.simulator.scheduling import Clock
from mwaa_obs_tools.simulator.task_logs import TaskLogs, log_stream

DEFAULT_TASK_SECONDS = 45.0


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
        self._on_task_done = on_task_done  # a task reached its final state: the run may be over

    def schedule_ready(self, run: Run) -> None:
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
                now = self._clock.now
                instance.status, instance.modified_at, instance.ended_at = "SKIPPED", now, now
            elif decision == "UPSTREAM_FAILED":
                instance.ended_at = self._clock.now
                self._publisher.task_state(run, instance, "UPSTREAM_FAILED")

    def end_attempts(self, run: Run, state: str, error: str | None) -> None:
        """The run is ending: each attempt still in progress ends in `state`."""
        for instance in run.tasks.values():
            if instance.status == "UP_FOR_RETRY":  # no next try: its last attempt's end and error stand
                self._publisher.task_state(run, instance, state)
            elif instance.status in ACTIVE_TASK:  # cut short by a stop or the run's timeout
                instance.ended_at = self._clock.now
                instance.error_message = error
                self._publisher.task_state(run, instance, state)

    def _start_attempt(self, run: Run, instance: TaskInstance) -> None:
        instance.attempt += 1
        instance.started_at = instance.ended_at = None
        instance.error_message = None
        attempt = instance.attempt
        instance.log_stream = log_stream(run, instance)
        self._publisher.task_state(run, instance, "SCHEDULED")

        def still_current() -> bool:
            return run.state == "RUNNING" and instance.attempt == attempt and instance.status in ACTIVE_TASK

        def queued() -> None:
            if still_current():
                self._publisher.task_state(run, instance, "QUEUED")

        def running() -> None:
            if still_current():
                instance.started_at = self._clock.now
                self._publisher.task_state(run, instance, "RUNNING")
                self._logs.started(run, instance)
                duration, limit = self._duration(run, instance), instance.task.execution_timeout
                self._clock.after(min(duration, limit), lambda: finish(timed_out=duration >= limit))

        def finish(timed_out: bool) -> None:
            if still_current():
                self._finish_attempt(run, instance, timed_out)

        self._clock.after(self._rng.uniform(1, 3), queued)
        self._clock.after(self._rng.uniform(4, 10), running)

    def _duration(self, run: Run, instance: TaskInstance) -> float:
        """How long the attempt's work would take; at the task's execution_timeout or beyond it times out."""
        faults = run.faults
        task = instance.task
        if task.task_id in faults.time_out:
            return task.execution_timeout
        mean = faults.durations.get(task.task_id, DEFAULT_TASK_SECONDS)
        return max(1.0, mean * self._rng.uniform(0.7, 1.3))

    def _fails(self, run: Run, instance: TaskInstance) -> bool:
        """Whether the injected faults fail this attempt (the chance is drawn only when nothing else decides)."""
        faults = run.faults
        task_id = instance.task.task_id
        return (
            task_id in faults.fail
            or instance.attempt <= faults.fail_first.get(task_id, 0)
            or self._rng.random() < faults.failure_rate.get(task_id, 0.0)
        )

    def _finish_attempt(self, run: Run, instance: TaskInstance, timed_out: bool) -> None:
        instance.ended_at = self._clock.now
        failed = self._fails(run, instance)
        if not (timed_out or failed):
            self._logs.succeeded(run, instance)
            self._publisher.task_state(run, instance, "SUCCESS")
            self.schedule_ready(run)
            self._on_task_done(run)
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
        self._logs.failed(run, instance)
        if instance.attempt <= instance.task.retries:
            self._publisher.task_state(run, instance, "UP_FOR_RETRY")

            def retry() -> None:
                if run.state == "RUNNING":
                    self._start_attempt(run, instance)

            self._clock.after(instance.task.retry_delay, retry)
            return
        self._publisher.task_state(run, instance, "TIMEOUT" if timed_out else "FAILED")
        self.schedule_ready(run)
        self._on_task_done(run)


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
