"""Missed-schedule verdicts: due at the cron schedule's next fire after the last success, or (no schedule read)
after the cadence learned from scheduled run starts; overdue once grace has passed too."""

from __future__ import annotations

from datetime import datetime, timedelta

from mwaa_obs.cron import Cron
from mwaa_obs.freshness import check_all, judge, observed_cadence
from mwaa_obs.settings import parse_settings
from mwaa_obs.store.schema import HealthAttribute, RunItem, WorkflowItem
from mwaa_obs.telemetry import MetricSink
from mwaa_obs_tools.factories import T0, minutes

HOURLY = [T0 + timedelta(hours=n, minutes=jitter) for n, jitter in enumerate([0, 2, -1, 3, 0, 1])]


def test_a_regular_schedule_gives_its_cadence_whatever_the_order_and_the_jitter() -> None:
    cadence = observed_cadence(list(reversed(HOURLY)))
    assert cadence is not None
    assert abs(cadence - timedelta(hours=1)) <= timedelta(minutes=3)


def test_too_few_or_irregular_runs_have_no_cadence() -> None:
    assert observed_cadence(HOURLY[:3]) is None
    by_hand = [T0, T0 + minutes(5), T0 + minutes(190), T0 + minutes(200), T0 + minutes(900)]
    assert observed_cadence(by_hand) is None


def test_overdue_once_the_cadence_and_grace_have_passed_since_the_last_success() -> None:
    last_success = HOURLY[-1] + minutes(10)
    grace = timedelta(minutes=30)
    on_time = judge("etl", schedule=None, run_starts=HOURLY, last_success=last_success, first_seen=T0, grace=grace,
                    now=last_success + minutes(89))  # fmt: skip
    assert not on_time.overdue
    late = judge("etl", schedule=None, run_starts=HOURLY, last_success=last_success, first_seen=T0, grace=grace,
                 now=last_success + minutes(95))  # fmt: skip
    assert late.overdue
    assert late.due_by is not None
    assert late.cadence is not None
    assert late.due_by == last_success + late.cadence + grace


def test_a_workflow_that_never_succeeded_counts_from_when_it_was_first_seen() -> None:
    verdict = judge("etl", schedule=None, run_starts=HOURLY, last_success=None, first_seen=T0, grace=timedelta(0),
                    now=T0 + minutes(50))  # fmt: skip
    assert not verdict.overdue
    assert judge("etl", schedule=None, run_starts=HOURLY, last_success=None, first_seen=T0, grace=timedelta(0),
                 now=T0 + minutes(70)).overdue  # fmt: skip


def test_with_a_cron_schedule_a_run_is_due_at_the_next_fire_after_the_last_success() -> None:
    # Weekdays at 06:00; the last success ended on a Friday (T0 is Tuesday 2026-11-24)
    weekdays = Cron.parse("0 6 * * 1-5")
    friday = T0.replace(hour=6, minute=12) + timedelta(days=3)
    grace = timedelta(minutes=30)

    def at(now: datetime) -> bool:
        return judge("etl", schedule=weekdays, run_starts=[], last_success=friday, first_seen=T0, grace=grace,
                     now=now).overdue  # fmt: skip

    monday_six = friday.replace(hour=6, minute=0) + timedelta(days=3)
    # Quiet over the weekend (a cadence observed from weekday runs would call Saturday overdue) ...
    assert not at(friday + timedelta(days=1, hours=2))
    assert not at(monday_six + minutes(29))
    # ... and overdue once Monday's run has not succeeded within the grace
    assert at(monday_six + minutes(31))


def test_a_schedule_counts_from_when_the_workflow_was_first_seen_until_it_succeeds() -> None:
    hourly = Cron.parse("0 * * * *")
    verdict = judge("etl", schedule=hourly, run_starts=[], last_success=None, first_seen=T0.replace(minute=10),
                    grace=minutes(20), now=T0.replace(minute=10) + minutes(71))  # fmt: skip
    assert verdict.overdue
    assert verdict.due_by == T0.replace(minute=0) + timedelta(hours=1) + minutes(20)
    assert verdict.cadence == timedelta(hours=1)


class Fleet:
    """Workflows.all() and Runs.recent() over given items, counting the run Queries."""

    def __init__(self, workflows: list[WorkflowItem], runs: dict[str, list[RunItem]]) -> None:
        self.workflows, self.runs = workflows, runs
        self.queried: list[str] = []

    def all(self) -> list[WorkflowItem]:
        return self.workflows

    def recent(self, workflow_id: str, limit: int = 20) -> list[RunItem]:
        self.queried.append(workflow_id)
        return self.runs.get(workflow_id, [])[:limit]


def described(workflow_id: str, last_success: datetime | None) -> WorkflowItem:
    return WorkflowItem(
        pk=f"WF#{workflow_id}", sk="WORKFLOW", described_at=T0, schedule="0 6 * * *",
        first_seen_at=T0 - timedelta(days=9), health=HealthAttribute(last_success_at=last_success),  # type: ignore[no-untyped-call]
    )  # fmt: skip


def test_a_workflow_on_time_by_its_recorded_success_costs_no_query_and_a_late_one_is_confirmed_by_its_runs() -> None:
    now = T0.replace(hour=12, minute=0)
    on_time = described("daily-AAAAAAAAAA", now.replace(hour=6, minute=20))
    unknown = described("fresh-BBBBBBBBBB", None)
    # The notifier has yet to decide the 06:00 run of `late`, but the run is stored, succeeded: not overdue
    late = described("late-CCCCCCCCCC", now.replace(hour=6, minute=20) - timedelta(days=1))
    stored = RunItem(pk="RUN#late-CCCCCCCCCC#r1", sk="RUN", status="SUCCESS", run_type="SCHEDULED",
                     started_at=now.replace(hour=6), ended_at=now.replace(hour=6, minute=25))  # fmt: skip
    fleet = Fleet([on_time, unknown, late], {"late-CCCCCCCCCC": [stored]})
    sink = MetricSink()
    verdicts = check_all(now, parse_settings("{}"), fleet, fleet, sink)  # type: ignore[arg-type]
    assert fleet.queried == ["fresh-BBBBBBBBBB", "late-CCCCCCCCCC"]
    assert [verdict.overdue for verdict in verdicts] == [False, True, False]  # unknown: due since first seen
    assert [point.workflow for point in sink.points] == ["fresh"]
