"""Discovery at scale: a fleet larger than one pass can list is listed in turns, one a UTC hour, and consecutive
hours cover every workflow exactly once."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from mwaa_obs.reconcile import DISCOVERY_PER_PASS, discovery_turn
from mwaa_obs.store.schema import WorkflowItem

NOW = datetime(2026, 12, 1, 12, 5, tzinfo=UTC)


def fleet(size: int) -> list[WorkflowItem]:
    return [WorkflowItem(pk=f"WF#wf_{n:05d}-ABCDEFGHIJ", sk="WORKFLOW") for n in range(size)]


def test_a_fleet_that_fits_one_pass_is_listed_whole_every_pass() -> None:
    workflows = fleet(DISCOVERY_PER_PASS)
    assert discovery_turn(workflows, NOW) == workflows


def test_a_larger_fleet_is_listed_in_turns_that_cover_it_in_as_many_hours() -> None:
    workflows = fleet(10_000)
    count = math.ceil(10_000 / DISCOVERY_PER_PASS)
    assert count > 1
    turns = [discovery_turn(workflows, NOW + timedelta(hours=hour)) for hour in range(count)]
    assert all(len(turn) <= DISCOVERY_PER_PASS for turn in turns)
    listed = [item.pk for turn in turns for item in turn]
    assert sorted(listed) == sorted(item.pk for item in workflows)  # each exactly once
    # passes within one hour list the same turn; the next hour, the next one
    assert discovery_turn(workflows, NOW + timedelta(minutes=30)) == turns[0]
    assert discovery_turn(workflows, NOW + timedelta(hours=count)) == turns[0]
