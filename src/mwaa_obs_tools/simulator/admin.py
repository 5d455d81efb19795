"""The simulator's own paths, under /_simulator/ (the real service has none): failure injection for workflows'
tasks and throttling of the API itself, the virtual clock moved and read. `mwaa-obs simulate` and the tests use
them; every answer is the clock's time."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.errors import ServiceError
from mwaa_obs_tools.simulator.faults import Faults

PREFIX = "/_simulator/"


@dataclass
class Traffic:
    """What the API was asked, by operation, and how many of the next requests it refuses as throttled."""

    calls: Counter[str] = field(default_factory=Counter)
    throttle_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, operation: str) -> bool:
        with self.lock:
            self.calls[operation] += 1
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return False
            return True


def answer(engines: list[Engine], traffic: Traffic, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """One request to a simulator path; `engines`: every account's and region's, the home one first."""
    engine = engines[0]
    if path == f"{PREFIX}throttle":
        with traffic.lock:
            traffic.throttle_next = int(body.get("requests", 0))
    elif path == f"{PREFIX}faults":
        _set_faults(engines, body)
    elif path == f"{PREFIX}advance":
        _advance(engines, body)
    elif path != f"{PREFIX}clock":
        raise ServiceError("ResourceNotFoundException", f"no simulator path {path}")
    return {"now": engine.now.isoformat()}


def _set_faults(engines: list[Engine], body: dict[str, Any]) -> None:
    """The faults of the named workflow, in every account that has one of that name (or only in `account`)."""
    faults = Faults.from_request(body)
    named = [e for e in engines if any(w.definition.name == body["workflow"] for w in e.workflows.values())]
    for each in named or [engines[0]]:
        if body.get("account") in {None, each.account}:
            each.set_faults(body["workflow"], faults)


def _advance(engines: list[Engine], body: dict[str, Any]) -> None:
    limit = engines[0].now + timedelta(seconds=float(body.get("seconds", 0)))
    for each in engines:
        if body.get("until_idle"):
            each.advance_until_idle(limit)
        else:
            each.advance(limit)
    latest = max(each.now for each in engines)
    for each in engines:  # one clock: every account and region ends at the same time
        each.advance(latest)
