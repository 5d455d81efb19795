"""The watcher end to end on the local stack, its alarms evaluated offline with CloudWatch's semantics: events in a
shape this version cannot read are counted, sampled and alarmed on; when every event is lost before the bus while
workflows keep running, discovery imports the runs and the events-missing and events-stopped alarms page, then
clear once events flow again. None of these alarms moves while the pipeline is healthy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from mwaa_obs.store.samples import EventSamples, SampleKind
from mwaa_obs_tools import localstack
from mwaa_obs_tools.alarm_evaluator import ALARM, OK, EmulatorAlarms, Transition
from tests.integration.test_end_to_end import create_example_workflows

INVALID, UNKNOWN = "mwaa-obs-pipeline-invalid-events", "mwaa-obs-pipeline-unknown-event-types"
MISSING, STOPPED = "mwaa-obs-pipeline-events-missing", "mwaa-obs-pipeline-events-stopped"
WATCHERS = (INVALID, UNKNOWN, MISSING, STOPPED)
RENAMED = "MWAA Serverless Workflow Run Failed"  # a known detail-type whose detail names its fields otherwise
NEW_TYPE = "MWAA Serverless Workflow Run State Change"  # the EventBridge reference's own example name


@dataclass(frozen=True)
class Day:
    start: datetime
    bad_events_at: datetime
    outage: tuple[datetime, datetime]
    end: datetime
    transitions: list[Transition]
    samples: dict[tuple[str, str], int]  # (kind, detail-type) -> samples kept
    runs_in_outage: list[str]
    discovered: set[str]


def step(stack: localstack.LocalStack, service: Any, arn: str, until: datetime, started: list[str]) -> None:
    """Move the simulator's clock in steps of the freshness schedule, starting a run every 30 minutes."""
    while stack.engine.now < until:
        if stack.engine.now.minute % 30 == 7:
            started.append(service.start_workflow_run(WorkflowArn=arn)["RunId"])
        stack.engine.advance(stack.engine.now + timedelta(minutes=15))
        stack.pump()


@pytest.fixture(scope="module")
def day(stack: localstack.LocalStack) -> Day:
    arns = create_example_workflows(stack, {"defaults": {"group_window_minutes": 0}})
    service = boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1")
    arn = arns["simple_s3_test"]
    # A fixed place in the hour: the alarms' hourly periods are aligned to the clock.
    stack.engine.advance((stack.engine.now + timedelta(hours=1)).replace(minute=7, second=0, microsecond=0))
    stack.pump()
    start = stack.engine.now
    started: list[str] = []
    step(stack, service, arn, start + timedelta(hours=1), started)
    # Given an hour in which the service sends a new detail-type twice and six events whose fields were renamed
    bad_events_at = stack.engine.now
    renamed = {"workflow_arn": arn, "run": "r-renamed", "state_reason": "boom"}
    entries = [(NEW_TYPE, {"workflowArn": arn, "runId": "r-new", "state": "FAILED"})] * 2 + [(RENAMED, renamed)] * 6
    stack.sink.publish(
        [
            {"Source": "aws.airflow-serverless", "DetailType": kind, "Detail": json.dumps(detail), "Resources": [],
             "Time": stack.engine.now}
            for kind, detail in entries
        ]
    )  # fmt: skip
    step(stack, service, arn, start + timedelta(hours=2), started)
    # And then four hours in which every event is lost before the bus while the workflow keeps running
    outage_start = stack.engine.now
    before_outage = len(started)
    stack.sink.on_the_way = lambda entry: None
    try:
        step(stack, service, arn, start + timedelta(hours=6), started)
    finally:
        stack.sink.on_the_way = lambda entry: entry
    outage_end = stack.engine.now
    step(stack, service, arn, start + timedelta(hours=9), started)
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    transitions = EmulatorAlarms(cloudwatch).transitions(start, stack.engine.now)
    samples = EventSamples(localstack.client(stack.endpoint, "dynamodb"), stack.outputs["StateTableName"]).recent(2)
    workflow_id = arn.rsplit("/", 1)[1]
    discovered = {run.run_id for run in stack.runs.recent(workflow_id, limit=100) if run.discovered_at is not None}
    return Day(
        start=start,
        bad_events_at=bad_events_at,
        outage=(outage_start, outage_end),
        end=stack.engine.now,
        transitions=transitions,
        samples={(item.sample_kind, item.detail_type): len(item.samples or []) for item in samples},
        runs_in_outage=started[before_outage : len(started) - 6],  # not the last ones: they started after it
        discovered=discovered,
    )


def moves(day: Day, alarm: str) -> list[Transition]:
    return [t for t in day.transitions if t.alarm == alarm and t.new in (ALARM, OK) and t.old is not None]


def alarmed(day: Day, alarm: str) -> list[Transition]:
    return [t for t in day.transitions if t.alarm == alarm and t.new == ALARM]


def test_no_watcher_alarm_moves_while_the_pipeline_is_healthy(day: Day) -> None:
    early = [t for t in day.transitions if t.alarm in WATCHERS and t.at < day.bad_events_at and t.new == ALARM]
    assert early == []


def test_a_new_detail_type_is_counted_sampled_and_pages_once(day: Day) -> None:
    (fired,) = alarmed(day, UNKNOWN)
    assert day.bad_events_at <= fired.at <= day.bad_events_at + timedelta(hours=1, minutes=1)
    assert fired.paged
    assert [t.new for t in moves(day, UNKNOWN) if t.at > fired.at][-1] == OK  # clears in the next quiet hour
    assert day.samples[(SampleKind.UNKNOWN, NEW_TYPE)] == 2


def test_renamed_fields_are_counted_sampled_three_a_day_and_page_once(day: Day) -> None:
    (fired,) = alarmed(day, INVALID)  # six in an hour: at least 5 an hour is the threshold
    assert day.bad_events_at <= fired.at <= day.bad_events_at + timedelta(hours=1, minutes=1)
    assert fired.paged
    assert day.samples[(SampleKind.INVALID, RENAMED)] == 3


def test_runs_no_event_brought_are_discovered_and_events_missing_pages(day: Day) -> None:
    assert day.runs_in_outage
    assert set(day.runs_in_outage) <= day.discovered
    fired = alarmed(day, MISSING)
    assert fired
    assert all(day.outage[0] < t.at <= day.outage[1] + timedelta(hours=2) for t in fired)
    assert fired[0].paged
    assert moves(day, MISSING)[-1].new == OK


def test_events_stopped_pages_after_its_hours_and_clears_once_events_flow(day: Day) -> None:
    (fired,) = alarmed(day, STOPPED)
    # Three hours of settled runs (created over an hour ago) with none by events: not before the outage's 4th hour
    assert day.outage[0] + timedelta(hours=3) <= fired.at <= day.outage[1] + timedelta(hours=2)
    assert fired.paged
    assert moves(day, STOPPED)[-1].new == OK
    assert moves(day, STOPPED)[-1].at < day.end
