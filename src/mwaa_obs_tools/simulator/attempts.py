"""One attempt of a task on the clock: scheduled, queued, running (and, for a sensor in reschedule mode or a
deferrable task, the cycles between: UP_FOR_RESCHEDULE or DEFERRED, then SCHEDULED, QUEUED, RUNNING again, the
same attempt), until its work is done, its execution_timeout passes, the service restarts it, or its run stops.

Every step first checks that the attempt is still the current one and that its run lets it go on: a stop, the
run's end or a retry may have overtaken it. While a run is STOPPING, an attempt already running may still finish
("In-flight tasks may complete or be terminated depending on their current execution state", StopWorkflowRun),
but nothing new starts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mwaa_obs_tools.simulator import code_tasks
from mwaa_obs_tools.simulator.code_tasks import Outcome, PythonFailure
from mwaa_obs_tools.simulator.events import Publisher
from mwaa_obs_tools.simulator.model import ACTIVE_TASK, Run, TaskInstance
from mwaa_obs_tools.simulator.scheduling import Clock
from mwaa_obs_tools.simulator.task_logs import TaskLogs, log_stream

DEFAULT_TASK_SECONDS = 45.0
IMPORT_FAILURE_SECONDS = 3.0  # a task whose code cannot be imported fails as soon as its worker starts


@dataclass(frozen=True)
class Ending:
    """How an attempt's work ended: `outcome` (a failure of its code, a skip, or None) unless `timed_out`."""

    timed_out: bool
    outcome: Outcome
    restarted: bool = False


class Attempt:
    def __init__(
        self,
        run: Run,
        instance: TaskInstance,
        *,
        clock: Clock,
        rng: random.Random,
        publisher: Publisher,
        logs: TaskLogs,
        on_end: Callable[[Run, TaskInstance, Ending], None],
    ) -> None:
        self.run, self.instance = run, instance
        self._clock, self._rng, self._publisher, self._logs = clock, rng, publisher, logs
        self._on_end = on_end
        instance.attempt += 1
        instance.started_at = instance.ended_at = None
        instance.error_message = None
        instance.log_stream = log_stream(run, instance)
        self.number = instance.attempt
        self._work_started: datetime | None = None
        self._work = 0.0  # seconds of work (or of waiting, for a sensor) the attempt needs
        self._outcome: Outcome = None

    def begin(self) -> None:
        self._publisher.task_state(self.run, self.instance, "SCHEDULED")
        self._to_worker()

    def _current(self, *, stopping_too: bool = False) -> bool:
        states = {"RUNNING", "STOPPING"} if stopping_too else {"RUNNING"}
        instance = self.instance
        return self.run.state in states and instance.attempt == self.number and instance.status in ACTIVE_TASK

    def _to_worker(self) -> None:
        """From SCHEDULED: queued, then running on a worker."""

        def queued() -> None:
            if self._current():
                self._publisher.task_state(self.run, self.instance, "QUEUED")

        self._clock.after(self._rng.uniform(1, 3), queued)
        self._clock.after(self._rng.uniform(4, 10), self._running)

    def _running(self) -> None:
        if not self._current():
            return
        instance, task = self.instance, self.instance.task
        resumed = instance.started_at is not None
        if not resumed:
            instance.started_at = self._clock.now
        self._publisher.task_state(self.run, instance, "RUNNING")
        if resumed:
            if task.deferrable:
                self._logs.resumed(self.run, instance)
        else:
            self._logs.started(self.run, instance)
            self._plan_work()
        faults = self.run.faults
        if not resumed and self.number <= faults.restart.get(task.task_id, 0):
            self._after(min(self._work, self._rng.uniform(5, 15)), lambda: self._end(Ending(False, None, True)))
        elif task.deferrable and not resumed and self._outcome is None:
            self._after(self._rng.uniform(2, 5), self._defer)
        elif task.is_sensor and task.mode == "reschedule" and self._outcome is None:
            self._after(self._rng.uniform(1, 3), self._poke)
        else:
            self._finish_work()

    def _plan_work(self) -> None:
        """How long the work takes, and what it comes to when it is code."""
        task, faults = self.instance.task, self.run.faults
        self._work_started = self._clock.now
        environment = {**(self.run.version.environment or {}), **self.run.override_parameters}
        self._outcome = code_tasks.outcome(task, self.run.version.code, environment)
        if isinstance(self._outcome, PythonFailure) and self._outcome.frames[0].function == "main":
            self._work = IMPORT_FAILURE_SECONDS
        elif task.task_id in faults.time_out:
            self._work = max(task.execution_timeout, task.sensor_timeout if task.mode == "reschedule" else 0)
        else:
            mean = faults.durations.get(task.task_id, DEFAULT_TASK_SECONDS)
            self._work = max(1.0, mean * self._rng.uniform(0.7, 1.3))

    def _elapsed(self) -> float:
        return (self._clock.now - self._work_started).total_seconds() if self._work_started else 0.0

    def _finish_work(self) -> None:
        """The rest of the work on this worker, cut by the execution_timeout."""
        remaining = max(1.0, self._work - self._elapsed()) if self._outcome is None else self._work
        limit = self.instance.task.execution_timeout - self._elapsed()
        if remaining >= limit:
            self._after(max(0.0, limit), lambda: self._end(Ending(True, None)), stopping_too=True)
        else:
            self._after(remaining, lambda: self._end(Ending(False, self._outcome)), stopping_too=True)

    def _defer(self) -> None:
        """A deferrable task hands its wait to the triggerer and frees its worker."""
        self._publisher.task_state(self.run, self.instance, "DEFERRED")
        self._logs.deferred(self.run, self.instance)
        limit = self.instance.task.execution_timeout - self._elapsed()
        wait = self._work - self._elapsed()
        if wait >= limit:  # Airflow counts the deferral in the execution_timeout
            self._after(max(0.0, limit), lambda: self._end(Ending(True, None)))
            return
        self._work = self._elapsed() + wait + self._rng.uniform(1, 3)  # the resumed part: a moment
        self._after(wait, self._back_to_scheduled)

    def _poke(self) -> None:
        """A sensor in reschedule mode checks; not yet true, it frees its worker until the next poke."""
        task = self.instance.task
        if self._elapsed() >= self._work:
            self._end(Ending(False, self._outcome))
            return
        if self._elapsed() + task.poke_interval > task.sensor_timeout:
            failure = code_tasks.sensor_timeout(self._elapsed(), task.sensor_timeout)
            self._end(Ending(False, failure))
            return
        self._publisher.task_state(self.run, self.instance, "UP_FOR_RESCHEDULE")
        self._logs.rescheduled(self.run, self.instance, task.poke_interval)
        self._after(task.poke_interval, self._back_to_scheduled)

    def _back_to_scheduled(self) -> None:
        self._publisher.task_state(self.run, self.instance, "SCHEDULED")
        self._to_worker()

    def _after(self, delay: float, step: Callable[[], None], *, stopping_too: bool = False) -> None:
        def guarded() -> None:
            if self._current(stopping_too=stopping_too):
                step()

        self._clock.after(delay, guarded)

    def _end(self, ending: Ending) -> None:
        self.instance.ended_at = self._clock.now
        self._on_end(self.run, self.instance, ending)
