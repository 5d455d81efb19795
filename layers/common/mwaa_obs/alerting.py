"""Alert decisions: which finished run gets a message and which failures each message names, as plain functions
over the workflow's history ordered by run end time, whatever order the runs arrive in.

An incident is a maximal sequence of failed (or timed-out) runs between successes, by `ended_at`. The rules:

- Every failed run is named in exactly one message (`named_in`, set once): its own failure message, or the
  failure, summary or resolved message that names it with the other failures not told before.
- A failure that opens a new incident is told at once. Storm control: within `window` of the last failure or
  summary message (decision time, so that a person gets a bounded number of messages an hour whatever the
  backlog), a failure of an incident already told, or one that has already recovered, is held (SUPPRESSED); a
  flush when the window ends names every held failure in one summary message. A window of 0 turns grouping off:
  each failure gets a message of its own.
- A failure with a later success (by end time) is told as already recovered: it reopens nothing.
- A success resolves the incident right before it with one message, only if no failure ended after it, the
  incident was not resolved before, and somebody was told the workflow was failing (or, with grouping, it names
  the incident's failures nobody was told about). The message says since when, and lists the incident's runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Final

MAX_NAMED: Final = 25  # failures one message names (a transaction writes each): more wait for the next one


class AlertKind(Enum):
    FAILURE = "failure"  # a message about a failed run (naming the other failures not told before)
    SUPPRESSED = "suppressed"  # a failed run held for the next message (storm control)
    GROUPED = "grouped"  # a failed run another message already named
    SUMMARY = "summary"  # a message naming the held failures once the grouping window is over
    RECOVERY = "recovery"  # the incident is over
    RETRY = "retry"  # a task attempt went up for retry (opt-in)
    NONE = "none"  # nothing to tell (a success with nothing to resolve, a stopped run)

    @property
    def sends(self) -> bool:
        return self in (AlertKind.FAILURE, AlertKind.SUMMARY, AlertKind.RECOVERY, AlertKind.RETRY)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished run as the decisions see it."""

    run_id: str
    ended_at: datetime
    failed: bool  # FAILED or TIMEOUT (or STOPPED, for a workflow that alerts on it); else it succeeded
    named_in: str | None = None  # the run whose message named this failure
    told_open: bool = False  # named in a message that said the workflow was failing (not already recovered)

    @property
    def order(self) -> tuple[datetime, str]:
        return self.ended_at, self.run_id


@dataclass(frozen=True, slots=True)
class Health:
    """What the notifier keeps on the workflow item between decisions (everything else comes from the history)."""

    last_alert_at: datetime | None = None  # decision time of the last failure or summary message
    resolved_through: datetime | None = None  # end of the latest failure a resolved message covered
    last_success_at: datetime | None = None  # end of the latest successful run (the freshness check reads it)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one notice, with the incident's figures as they were when it was decided."""

    kind: AlertKind
    decided_at: datetime
    failed_runs: int = 0  # runs of the incident (for a resolved message, of the incident it closes)
    failing_since: datetime | None = None  # end of the incident's first failed run
    grouped: int = 0  # other failures this message names
    superseded: bool = False  # a later run of the workflow had already succeeded


@dataclass(frozen=True, slots=True)
class Named:
    """A failure a message names, and whether the message tells it as already recovered."""

    run_id: str
    recovered: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """A decision with what it writes: the failures it names and the workflow's health after it."""

    decision: Decision
    names: tuple[Named, ...] = ()
    health: Health = Health()
    flush: tuple[str, datetime] | None = None  # (anchor run, when): held failures to name then, by a flush notice


def incident_of(history: Sequence[Outcome], run_id: str) -> list[Outcome]:
    """The failures, by end time, of the incident a failed run belongs to, or of the one a success closes."""
    incidents: list[list[Outcome]] = [[]]
    for outcome in sorted(history, key=lambda outcome: outcome.order):
        if outcome.failed:
            incidents[-1].append(outcome)
            continue
        if outcome.run_id == run_id:
            return incidents[-1]
        incidents.append([])
    return next((incident for incident in incidents if any(o.run_id == run_id for o in incident)), [])


def _later(history: Sequence[Outcome], after: Outcome, *, failed: bool) -> bool:
    return any(outcome.failed is failed and outcome.order > after.order for outcome in history)


def _waiting(history: Sequence[Outcome]) -> list[Outcome]:
    """The failures no message has named yet, oldest first."""
    return sorted((o for o in history if o.failed and o.named_in is None), key=lambda outcome: outcome.order)


def _to_name(history: Sequence[Outcome], lead: Outcome) -> list[Outcome]:
    """What a message led by `lead` names: the lead, then the oldest other waiting failures, MAX_NAMED in all."""
    others = [outcome for outcome in _waiting(history) if outcome.run_id != lead.run_id]
    return [lead, *others[: MAX_NAMED - 1]]


def _names(history: Sequence[Outcome], named: Sequence[Outcome]) -> tuple[Named, ...]:
    return tuple(Named(outcome.run_id, _later(history, outcome, failed=False)) for outcome in named)


def incident_figures(incident: Sequence[Outcome]) -> tuple[int, datetime | None]:
    """How many runs failed, and since when (the first one's end)."""
    return len(incident), (incident[0].ended_at if incident else None)


def decide_failure(history: Sequence[Outcome], run_id: str, health: Health, now: datetime, window: timedelta) -> Plan:
    current = next(outcome for outcome in history if outcome.run_id == run_id)
    incident = incident_of(history, run_id)
    failed_runs, since = incident_figures(incident)
    superseded = _later(history, current, failed=False)
    if current.named_in is not None:
        return Plan(Decision(AlertKind.GROUPED, now, failed_runs, since, superseded=superseded), health=health)
    grouping = window > timedelta(0)
    known = any(outcome.named_in is not None for outcome in incident)
    quiet = health.last_alert_at is None or now - health.last_alert_at >= window
    if grouping and not quiet and (superseded or known):
        due = (health.last_alert_at or now) + window
        decision = Decision(AlertKind.SUPPRESSED, now, failed_runs, since, superseded=superseded)
        return Plan(decision, health=health, flush=(run_id, due))
    named = _to_name(history, current) if grouping else [current]
    names = _names(history, named)
    decision = Decision(AlertKind.FAILURE, now, failed_runs, since, grouped=len(names) - 1, superseded=superseded)
    return Plan(decision, names, replace(health, last_alert_at=now), _overflow(history, named, now + window))


def _overflow(history: Sequence[Outcome], named: Sequence[Outcome], due: datetime) -> tuple[str, datetime] | None:
    """A flush for the waiting failures a message had no room for: anchored on the oldest of them."""
    left = [outcome for outcome in _waiting(history) if outcome not in named]
    return (left[0].run_id, due) if left else None


def decide_flush(history: Sequence[Outcome], anchor: str, health: Health, now: datetime, window: timedelta) -> Plan:
    """What a flush notice owes: once the window is over, one summary message led by the anchor (a held failure no
    message has named yet), naming it and the other held failures. Nothing is recorded on the anchor's own notice:
    the message is the anchor's `named_in`."""
    pending = _waiting(history)
    lead = next((outcome for outcome in pending if outcome.run_id == anchor), None)
    if lead is None or window <= timedelta(0):
        return Plan(Decision(AlertKind.NONE, now), health=health)
    if health.last_alert_at is not None and now - health.last_alert_at < window:
        return Plan(Decision(AlertKind.NONE, now), health=health, flush=(anchor, health.last_alert_at + window))
    named = _to_name(history, lead)
    names = _names(history, named)
    failed_runs, since = incident_figures(incident_of(history, lead.run_id))
    decision = Decision(AlertKind.SUMMARY, now, failed_runs, since, grouped=len(names) - 1)
    return Plan(decision, names, replace(health, last_alert_at=now), _overflow(history, named, now + window))


def decide_success(history: Sequence[Outcome], run_id: str, health: Health, now: datetime, window: timedelta) -> Plan:
    current = next(outcome for outcome in history if outcome.run_id == run_id)
    latest = max(filter(None, (health.last_success_at, current.ended_at)))
    healthy = replace(health, last_success_at=latest)
    incident = incident_of(history, run_id)
    if not incident or _later(history, current, failed=True):
        return Plan(Decision(AlertKind.NONE, now), health=healthy)
    if health.resolved_through is not None and incident[-1].ended_at <= health.resolved_through:
        return Plan(Decision(AlertKind.NONE, now), health=healthy)
    unnamed = [outcome for outcome in incident if outcome.named_in is None] if window > timedelta(0) else []
    if not unnamed and not any(outcome.told_open for outcome in incident):
        return Plan(Decision(AlertKind.NONE, now), health=healthy)  # everyone was told it had recovered
    failed_runs, since = incident_figures(incident)
    named = unnamed[:MAX_NAMED]
    decision = Decision(AlertKind.RECOVERY, now, failed_runs, since, grouped=len(named))
    resolved = replace(healthy, resolved_through=incident[-1].ended_at)
    return Plan(decision, tuple(Named(outcome.run_id, True) for outcome in named), resolved)


def held_for_account(plan: Plan, run_id: str, health: Health, due: datetime) -> Plan:
    """A failure whose own message would pass its account's bound for the hour (central mode): held like a storm's,
    for a summary once the account has room again (`due`: the next hour), naming nothing now."""
    decision = replace(plan.decision, kind=AlertKind.SUPPRESSED, grouped=0)
    return Plan(decision, health=health, flush=(run_id, due))


def closes_nothing(ended_at: datetime | None, health: Health, failed_through: datetime | None) -> bool:
    """Whether a success that ended at `ended_at` surely closes no incident, from what the workflow item keeps: it
    ended after the latest success decided, and every run that ended other than SUCCESS (its latest end kept as
    `failed_through`; None: not known) ended before that success. decide_success then owes nothing whatever the
    history holds, so the notifier need not read it: its incident is empty (no failure between the two successes)."""
    last = health.last_success_at
    return ended_at is not None and last is not None and failed_through is not None and failed_through < last < ended_at


def decide_quiet(now: datetime) -> Decision:
    """A final state that tells nothing (STOPPED unless the workflow's settings alert on it)."""
    return Decision(AlertKind.NONE, now)
