"""Task logs: each attempt writes to its own stream of the workflow's log group in CloudWatch Logs, as the
service does (the stream is named in the task's events and in GetTaskInstance's LogStream). Every line an attempt
writes is worded here.

Each event is one Airflow 3 task log record as its task runner writes it, structlog JSON: `timestamp`, `level`,
`event`, `logger`, and for an exception `error_detail`, the traceback as structured frames, most recent call last
(the fields AWS's own sample reads from MWAA Serverless task logs: `level`, `event`, `error_detail[].exc_value`,
aws-samples/amazon-mwaa-examples, serverless/; /work/research/mwaa-serverless.md 2.6). An attempt writes its start,
its operator's output, then its end: success, an exception with its traceback (a failure), a timeout notice and
AirflowTaskTimeout (a timeout), and the state it is marked with (FAILED, TIMEOUT, or UP_FOR_RETRY with the retry's
time).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mwaa_obs_tools.simulator.code_tasks import EXECUTE_FRAMES, SITE, Frame
from mwaa_obs_tools.simulator.model import Run, TaskInstance
from mwaa_obs_tools.simulator.scheduling import Clock

if TYPE_CHECKING:
    from mwaa_obs_tools.simulator.code_tasks import PythonFailure
    from mwaa_obs_tools.simulator.events import Sink

RUNNER = "airflow.sdk.execution_time.task_runner"
STDOUT = "task.stdout"
TIMEOUT_EXCEPTION = "airflow.sdk.exceptions.AirflowTaskTimeout"
CLIENT_ERROR = "botocore.exceptions.ClientError"


def log_stream(run: Run, instance: TaskInstance) -> str:
    """The stream of the instance's current attempt."""
    return (
        f"workflow_id={run.workflow.workflow_id}/run_id={run.run_id}/task_id={instance.task.task_id}"
        f"/attempt={instance.attempt}.log"
    )


def error_detail(exception: str, value: str, frames: tuple[Frame, ...]) -> list[dict[str, Any]]:
    """structlog's structured traceback of one exception (no cause)."""
    return [
        {
            "exc_type": exception,
            "exc_value": value,
            "exc_notes": [],
            "syntax_error": None,
            "is_cause": False,
            "frames": [{"filename": f.path, "lineno": f.line, "name": f.function} for f in frames],
            "is_group": False,
            "exceptions": [],
        }
    ]


class TaskLogs:
    """The records an attempt writes, at the clock's time."""

    def __init__(self, sink: Sink, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock

    def started(self, run: Run, instance: TaskInstance) -> None:
        task = instance.task
        tries = task.retries + 1 + instance.extra_attempts
        self._write(run, instance, "info", "Task instance is in running state", RUNNER)
        self._write(
            run, instance, "info", f"Executing {task.operator_name} (attempt {instance.attempt} of {tries})", RUNNER
        )
        self._write(run, instance, "info", f"{task.operator_name}: starting {task.task_id}", STDOUT)

    def succeeded(self, run: Run, instance: TaskInstance) -> None:
        self._write(run, instance, "info", f"{instance.task.operator_name}: {instance.task.task_id} done", STDOUT)
        self._write(run, instance, "info", "Task succeeded", RUNNER)
        self._write(run, instance, "info", "Marking task as SUCCESS.", RUNNER)

    def failed(self, run: Run, instance: TaskInstance) -> None:
        """An operator's call refused (the error message says by what): its exception from inside the operator."""
        module = instance.task.operator.rsplit(".", 1)[0].replace(".", "/")
        operator = Frame(f"{SITE}/{module}.py", 120, "execute")
        self._raised(run, instance, CLIENT_ERROR, instance.error_message or "", (*EXECUTE_FRAMES, operator))

    def timed_out(self, run: Run, instance: TaskInstance) -> None:
        """The attempt outlasted its execution_timeout: Airflow's timeout notice, then AirflowTaskTimeout."""
        notice = f"Process timed out after {instance.task.execution_timeout:.0f} s (execution_timeout), PID: 4242"
        self._write(run, instance, "error", notice, "airflow.sdk.execution_time.timeout")
        self._raised(run, instance, TIMEOUT_EXCEPTION, instance.error_message or "Timeout, PID: 4242", EXECUTE_FRAMES)

    def raised(self, run: Run, instance: TaskInstance, failure: PythonFailure) -> None:
        """A task of code failed: Airflow logs the exception with its traceback."""
        self._raised(run, instance, failure.exception, failure.value, failure.frames)

    def marked(self, run: Run, instance: TaskInstance, state: str, retry_in: float | None = None) -> None:
        """The state the failed attempt ends in; with a retry, when it comes (the retry notice)."""
        task = instance.task
        ids = f"dag_id={run.workflow.name}, task_id={task.task_id}, run_id={run.run_id}, try_number={instance.attempt}"
        retry = f" The next try in {retry_in:.0f} s." if retry_in is not None else ""
        self._write(run, instance, "info", f"Marking task as {state}. {ids}.{retry}", RUNNER)

    def skipped(self, run: Run, instance: TaskInstance, reason: str) -> None:
        self._write(run, instance, "info", reason, RUNNER)

    def deferred(self, run: Run, instance: TaskInstance) -> None:
        self._write(run, instance, "info", "Pausing task as DEFERRED", RUNNER)

    def resumed(self, run: Run, instance: TaskInstance) -> None:
        self._write(run, instance, "info", "Resuming after deferral", RUNNER)

    def rescheduled(self, run: Run, instance: TaskInstance, poke_interval: float) -> None:
        self._write(
            run,
            instance,
            "info",
            f"Rescheduling task, marking task as UP_FOR_RESCHEDULE (next poke in {poke_interval:.0f} s)",
            RUNNER,
        )

    def terminated(self, run: Run, instance: TaskInstance) -> None:
        """The run was stopped while the attempt ran: its worker is told to stop."""
        self._write(run, instance, "error", "Received SIGTERM. Terminating subprocesses.", RUNNER)

    def restarted(self, run: Run, instance: TaskInstance) -> None:
        self._write(run, instance, "warning", "The task's worker was replaced: the task will be restarted", RUNNER)

    def _raised(self, run: Run, instance: TaskInstance, exception: str, value: str, frames: tuple[Frame, ...]) -> None:
        detail = error_detail(exception, value, frames)
        self._write(run, instance, "error", "Task failed with exception", "task", error_detail=detail)

    def _write(self, run: Run, instance: TaskInstance, level: str, event: str, logger: str, **more: Any) -> None:
        if instance.log_stream:
            at = self._clock.now
            record = {"timestamp": at.isoformat().replace("+00:00", "Z"), "level": level, "event": event}
            message = json.dumps(record | {"logger": logger} | more)
            self._sink.log(run.workflow.log_group(run.version), instance.log_stream, at, message)
