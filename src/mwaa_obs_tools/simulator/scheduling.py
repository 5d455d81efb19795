"""Virtual time and the scheduler: every future step (a task finishing or timing out, a retry, a cron fire) is an
action on a heap ordered by virtual time, carried out in order when the clock is advanced. Nothing waits on the
wall clock, so a simulated day takes seconds. Times are whole seconds, as EventBridge's `time` field is."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mwaa_obs.cron import Cron
from mwaa_obs_tools.simulator.model import READY, Workflow
from mwaa_obs_tools.simulator.requests import SCHEDULED

Action = Callable[[], None]


class Clock:
    """The simulator's one clock and the actions due on it."""

    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC).replace(microsecond=0)
        self._actions: list[tuple[datetime, int, Action]] = []
        self._sequence = itertools.count()  # ties at the same time keep the order they were planned in
        self._cron_sequences: set[int] = set()  # actions that are schedule fires, not work in progress

    def after(self, delay: float, action: Action) -> None:
        """Carry out `action` in `delay` seconds (rounded to whole seconds)."""
        heapq.heappush(self._actions, (self.now + timedelta(seconds=round(delay)), next(self._sequence), action))

    def at_cron_fire(self, at: datetime, action: Action) -> None:
        sequence = next(self._sequence)
        self._cron_sequences.add(sequence)
        heapq.heappush(self._actions, (at, sequence, action))

    def run_until(self, until: datetime) -> None:
        """Carry out every action due up to `until`, in time order; the clock ends at `until`."""
        while self._actions and self._actions[0][0] <= until:
            at, sequence, action = heapq.heappop(self._actions)
            self._cron_sequences.discard(sequence)
            self.now = max(self.now, at)
            action()
        self.now = max(self.now, until.replace(microsecond=0))

    def next_due(self) -> datetime | None:
        return self._actions[0][0] if self._actions else None

    def only_cron_left(self) -> bool:
        return all(sequence in self._cron_sequences for _, sequence, _ in self._actions)


class CronScheduler:
    """Fires the runs of workflows with a schedule (TriggerMode scheduled) at their cron times, within the
    definition's start_date and end_date, unless injected faults make the scheduler miss them. Only the latest
    version is scheduled: an update or a delete disarms what was armed before it ("disables scheduling on all
    previous versions to ensure only one version is actively scheduled at a time", UpdateWorkflow)."""

    def __init__(
        self, clock: Clock, is_current: Callable[[Workflow], bool], start_run: Callable[[Workflow], None]
    ) -> None:
        self._clock = clock
        self._is_current = is_current  # a deleted workflow fires no more
        self._start_run = start_run

    def arm(self, workflow: Workflow) -> None:
        """Plan the workflow's next fire after now."""
        schedule = workflow.definition.schedule
        if not schedule or workflow.trigger_mode != SCHEDULED or workflow.status != READY:
            return
        generation = workflow.schedule_generation
        now = self._clock.now
        start, end = workflow.definition.start_date, workflow.definition.end_date
        fire = Cron.parse(schedule).next_after(max(now, start - timedelta(seconds=1)) if start else now)
        if end is not None and fire > end:
            return

        def fire_run() -> None:
            if self._is_current(workflow) and workflow.schedule_generation == generation:
                if not workflow.faults.misses_schedule:
                    self._start_run(workflow)
                self.arm(workflow)

        self._clock.at_cron_fire(fire, fire_run)
