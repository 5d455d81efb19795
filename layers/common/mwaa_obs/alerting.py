"""Alert decisions: which finished run gets a message, as plain functions over a workflow's health.

A workflow is healthy or failing. The first failed run of an incident is alerted at once; later failures of the
same incident are alerted at most once per grouping window, the others counted and reported in the next alert and
in the resolved message. The first success after the failures resolves the incident with one message. Every
change of health is told, so the last message about a workflow is always true. Runs are ordered by their end time,
not by arrival: a failure that ended before the latest success is reported without reopening an incident, and a
success that ended before the latest failure does not resolve it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum


class AlertKind(Enum):
    FAILURE = "failure"  # a message about a failed run
    SUPPRESSED = "suppressed"  # a failed run grouped into the incident's next message
    RECOVERY = "recovery"  # the incident is over
    RETRY = "retry"  # a task attempt went up for retry (opt-in)
    NONE = "none"  # nothing to tell (a success with no incident, a stopped run)

    @property
    def sends(self) -> bool:
        return self in (AlertKind.FAILURE, AlertKind.RECOVERY, AlertKind.RETRY)


@dataclass(frozen=True, slots=True)
class Health:
    """What the notifier remembers about one workflow between runs."""

    failing_since: datetime | None = None  # end of the first failed run of the open incident
    failed_runs: int = 0  # failed runs in the open incident
    unalerted: int = 0  # failed runs of the incident not alerted since the last alert
    last_failure_at: datetime | None = None  # end of the latest failed run
    last_alert_at: datetime | None = None
    last_success_at: datetime | None = None  # end of the latest successful run


@dataclass(frozen=True, slots=True)
class Decision:
    """The message a run owes, with the incident's figures as they were when it was decided."""

    kind: AlertKind
    decided_at: datetime
    failed_runs: int = 0
    failing_since: datetime | None = None
    grouped: int = 0  # failed runs not alerted before this message, now summarised in it
    superseded: bool = False  # a later run of the workflow had already succeeded


def decide_failure(health: Health, ended_at: datetime, now: datetime, window: timedelta) -> tuple[Decision, Health]:
    superseded = health.last_success_at is not None and ended_at <= health.last_success_at
    opens = not superseded and health.failing_since is None
    latest = max(ended_at, health.last_failure_at) if health.last_failure_at else ended_at
    after = replace(health, last_failure_at=latest)
    if opens:
        after = replace(after, failing_since=ended_at, failed_runs=1)
    elif not superseded:
        since = min(health.failing_since, ended_at) if health.failing_since else ended_at
        after = replace(after, failing_since=since, failed_runs=health.failed_runs + 1)

    quiet = health.last_alert_at is None or now - health.last_alert_at >= window
    if opens or quiet:
        decision = Decision(
            AlertKind.FAILURE,
            now,
            failed_runs=after.failed_runs,
            failing_since=after.failing_since,
            grouped=0 if opens else health.unalerted,
            superseded=superseded,
        )
        return decision, replace(after, last_alert_at=now, unalerted=0)
    decision = Decision(AlertKind.SUPPRESSED, now, failed_runs=after.failed_runs, failing_since=after.failing_since)
    return decision, replace(after, unalerted=health.unalerted + 1)


def decide_success(health: Health, ended_at: datetime, now: datetime) -> tuple[Decision, Health]:
    latest = max(ended_at, health.last_success_at) if health.last_success_at else ended_at
    if health.failing_since is not None and health.last_failure_at is not None and ended_at > health.last_failure_at:
        decision = Decision(AlertKind.RECOVERY, now, failed_runs=health.failed_runs, failing_since=health.failing_since)
        healthy = Health(last_alert_at=health.last_alert_at, last_failure_at=health.last_failure_at)
        return decision, replace(healthy, last_success_at=latest)
    return Decision(AlertKind.NONE, now), replace(health, last_success_at=latest)


def decide_quiet(now: datetime) -> Decision:
    """A final state that tells nothing (STOPPED unless the workflow's settings alert on it)."""
    return Decision(AlertKind.NONE, now)
