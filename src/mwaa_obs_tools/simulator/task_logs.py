"""Task logs: each attempt writes to its own stream of the workflow's log group in CloudWatch Logs, as the
service does (the stream is named in the task's events and in GetTaskInstance's LogStream)."""

from __future__ import annotations

from mwaa_obs_tools.simulator.events import Sink
from mwaa_obs_tools.simulator.model import Run, TaskInstance
from mwaa_obs_tools.simulator.scheduling import Clock


def log_stream(run: Run, instance: TaskInstance) -> str:
    """The stream of the instance's current attempt."""
    return (
        f"workflow_id={run.workflow.workflow_id}/run_id={run.run_id}/task_id={instance.task.task_id}"
        f"/attempt={instance.attempt}.log"
    )


class TaskLogs:
    """The lines an attempt writes, at the clock's time."""

    def __init__(self, sink: Sink, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock

    def started(self, run: Run, instance: TaskInstance) -> None:
        self._write(run, instance, f"Executing {instance.task.operator_name} (attempt {instance.attempt})")

    def succeeded(self, run: Run, instance: TaskInstance) -> None:
        self._write(run, instance, "Task succeeded")

    def failed(self, run: Run, instance: TaskInstance) -> None:
        self._write(run, instance, f"ERROR - {instance.error_message}")

    def _write(self, run: Run, instance: TaskInstance, message: str) -> None:
        if instance.log_stream:
            self._sink.log(run.workflow.log_group, instance.log_stream, self._clock.now, message)
