"""Task logs: each attempt writes to its own stream of the workflow's log group in CloudWatch Logs, as the
service does (the stream is named in the task's events and in GetTaskInstance's LogStream). Every line an attempt
writes is worded here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mwaa_obs_tools.simulator.model import Run, TaskInstance
from mwaa_obs_tools.simulator.scheduling import Clock

if TYPE_CHECKING:
    from mwaa_obs_tools.simulator.code_tasks import PythonFailure
    from mwaa_obs_tools.simulator.events import Sink


def log_stream(run: Run, instance: TaskInstance) -> str:
    """The stream of the instance's current attempt."""
    return (
        f"workflow_id={run.workflow.workflow_id}/run_id={run.run_id}/task_id={instance.task.task_id}"
        f"/attempt={instance.attempt}.log"
    )


def traceback_text(failure: PythonFailure) -> str:
    """The traceback as Python 3.12 prints it: most recent call last, each frame's source line under it."""
    lines = ["Traceback (most recent call last):"]
    for frame in failure.frames:
        lines.append(f'  File "{frame.path}", line {frame.line}, in {frame.function}')
        if frame.code:
            lines.append(f"    {frame.code}")
    lines.append(failure.message)
    return "\n".join(lines)


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

    def raised(self, run: Run, instance: TaskInstance, failure: PythonFailure) -> None:
        """A task of code failed: Airflow logs the exception with its traceback, then the failure."""
        self._write(run, instance, f"ERROR - Task failed with exception\n{traceback_text(failure)}")

    def skipped(self, run: Run, instance: TaskInstance, reason: str) -> None:
        self._write(run, instance, f"INFO - {reason}")

    def deferred(self, run: Run, instance: TaskInstance) -> None:
        self._write(run, instance, "INFO - Pausing task as DEFERRED")

    def resumed(self, run: Run, instance: TaskInstance) -> None:
        self._write(run, instance, "INFO - Resuming after deferral")

    def rescheduled(self, run: Run, instance: TaskInstance, poke_interval: float) -> None:
        self._write(
            run,
            instance,
            f"INFO - Rescheduling task, marking task as UP_FOR_RESCHEDULE (next poke in {poke_interval:.0f} s)",
        )

    def terminated(self, run: Run, instance: TaskInstance) -> None:
        """The run was stopped while the attempt ran: its worker is told to stop."""
        self._write(run, instance, "ERROR - Received SIGTERM. Terminating subprocesses.")

    def restarted(self, run: Run, instance: TaskInstance) -> None:
        self._write(run, instance, "WARNING - The task's worker was replaced: the task will be restarted")

    def _write(self, run: Run, instance: TaskInstance, message: str) -> None:
        if instance.log_stream:
            self._sink.log(run.workflow.log_group(run.version), instance.log_stream, self._clock.now, message)
