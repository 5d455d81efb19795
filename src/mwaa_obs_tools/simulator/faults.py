"""Failure injection (simulator only; the real API has no such thing): what `mwaa-obs simulate` and the tests set
through /_simulator/faults, and the demo and the bench in-process. A run takes its workflow's faults when it starts
and keeps them (`mwaa-obs simulate` sets them for its runs only, then clears them); task execution (tasks.py)
applies them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    """Failure injection for one workflow's tasks."""

    fail: set[str] = field(default_factory=set)  # every attempt fails
    fail_first: dict[str, int] = field(default_factory=dict)  # the first N attempts fail
    time_out: set[str] = field(default_factory=set)  # every attempt times out
    failure_rate: dict[str, float] = field(default_factory=dict)  # chance that an attempt fails
    durations: dict[str, float] = field(default_factory=dict)  # mean seconds per task (jitter +-30 %)
    restart: dict[str, int] = field(default_factory=dict)  # the first N attempts lose their worker (RESTARTING)
    misses_schedule: bool = False  # its cron fires start no run (a scheduler outage)

    @classmethod
    def from_request(cls, body: dict[str, Any]) -> Faults:
        """The faults of a /_simulator/faults request body (a scheduler outage is set in-process only)."""
        return cls(
            fail=set(body.get("fail", [])),
            fail_first={k: int(v) for k, v in body.get("fail_first", {}).items()},
            time_out=set(body.get("time_out", [])),
            failure_rate={k: float(v) for k, v in body.get("failure_rate", {}).items()},
            durations={k: float(v) for k, v in body.get("durations", {}).items()},
            restart={k: int(v) for k, v in body.get("restart", {}).items()},
        )
