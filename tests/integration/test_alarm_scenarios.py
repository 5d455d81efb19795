"""The alarms of the deployed stack, evaluated offline with CloudWatch's semantics over the metrics the pipeline
emitted, page the way docs/ALARMS.md ("One page per condition") says: one failure, a dedicated workflow failing,
a retry storm (and retries that are none: ten, one of them redelivered; two workflows' six each), a workflow overdue
for two hours, one started by hand (never overdue), a run slower than its own threshold, and the recoveries; and a
healthy workflow writes no series of its own."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from mwaa_obs_tools import localstack
from mwaa_obs_tools.alarm_evaluator import ALARM, OK, EmulatorAlarms, Transition
from mwaa_obs_tools.factories import run_event, task_event
from mwaa_obs_tools.sample_events import EXAMPLES
from mwaa_obs_tools.simulator.faults import Faults

ONE_FAILURE, DEDICATED, STORM, HOURLY, SLOW = "one_failure", "dedicated_etl", "retry_storm", "hourly_job", "slow_etl"
SETTINGS = {
    "defaults": {"group_window_minutes": 0},
    "workflows": [
        {"match": DEDICATED, "alarms": "dedicated"},
        {"match": SLOW, "duration_threshold_seconds": 120},  # its runs take 5 minutes: each one too slow
    ],
}
BY_HAND = "by_hand"  # on demand, started by someone every hour
# Retries within one clock hour: 10 (the last one delivered twice), and 6 + 6 over two workflows
TEN, SPLIT = "ten_retries", ("split_one", "split_two")


def send(stack: localstack.LocalStack, events: list[dict[str, Any]]) -> None:
    stack.sink.publish(
        [
            {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]),
             "Resources": e["resources"], "Time": datetime.fromisoformat(e["time"])}
            for e in events
        ]
    )  # fmt: skip
    stack.pump()


def run(arn: str, run_id: str, at: datetime, outcome: str) -> list[dict[str, Any]]:
    events = [run_event("Started", run_id, at, arn=arn), run_event("Running", run_id, at, arn=arn)]
    if outcome == "Failed":
        events.append(task_event("Failed", run_id, "load", at + timedelta(minutes=4), arn=arn, errorMessage="boom"))
    return [*events, run_event(outcome, run_id, at + timedelta(minutes=5), arn=arn)]


def _s3_key(location: dict[str, str]) -> dict[str, str]:
    return {"Bucket": location["Bucket"], "Key": location["ObjectKey"]}


def advance(stack: localstack.LocalStack, hours: float, step_minutes: int = 15) -> None:
    """The simulator's clock moved on in steps of the freshness schedule (15 minutes), so that every alarm period
    holds one datapoint wherever the start falls (20-minute steps left some periods empty and the alarm's timing
    depended on the minute the test started)."""
    for _ in range(int(hours * 60 // step_minutes)):
        stack.engine.advance(stack.engine.now + timedelta(minutes=step_minutes))
        stack.pump()


@pytest.fixture(scope="module")
def day(stack: localstack.LocalStack) -> tuple[list[Transition], list[dict[str, Any]], datetime]:
    """The day's alarm transitions, the alert topic's messages, and when the overdue workflow ran again."""
    localstack.client(stack.endpoint, "ssm").put_parameter(
        Name=stack.outputs["SettingsParameterName"], Value=json.dumps(SETTINGS), Type="String", Overwrite=True
    )
    # The workflows exist in the service (the reconciler marks the others deleted, and deleted ones are never
    # overdue): four on demand, and one scheduled every hour whose scheduler misses its fires for a while
    service = boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1")
    on_demand = (EXAMPLES / "create_s3_objects.yaml").read_text("utf-8")
    hourly = on_demand.replace("create_s3_objects", HOURLY).replace("schedule: null", 'schedule: "0 * * * *"')
    arn = {}
    for name in (ONE_FAILURE, DEDICATED, STORM, BY_HAND, HOURLY, SLOW, TEN, *SPLIT):
        definition = hourly if name == HOURLY else on_demand
        location = localstack.definition_location(EXAMPLES / f"{name}.yaml")
        localstack.client(stack.endpoint, "s3").put_object(Body=definition.encode(), **_s3_key(location))
        created = service.create_workflow(
            Name=name, DefinitionS3Location=location, RoleArn=localstack.WORKFLOW_ROLE_ARN
        )
        arn[name] = created["WorkflowArn"]
    stack.engine.set_faults(HOURLY, Faults(misses_schedule=True))
    # A fixed place in the hour: the alarms' periods are aligned to the clock, so a start taken from the wall
    # clock made when the overdue alarm fired depend on the minute the test ran.
    aligned = (stack.engine.now + timedelta(hours=1)).replace(minute=7, second=0, microsecond=0)
    stack.engine.advance(aligned)
    stack.pump()
    start = stack.engine.now
    # The hourly workflow's last six runs succeeded, the last one an hour ago
    send(stack, [e for k in range(6) for e in run(arn[HOURLY], f"h{k}", start - timedelta(hours=6 - k), "Succeeded")])
    send(stack, [e for k in range(6) for e in run(arn[BY_HAND], f"m{k}", start - timedelta(hours=6 - k), "Succeeded")])
    send(stack, run(arn[ONE_FAILURE], "f1", start, "Failed"))
    send(stack, run(arn[SLOW], "slow1", start, "Succeeded"))
    send(stack, run(arn[DEDICATED], "d0", start, "Succeeded"))  # first sight: its dedicated alarms are provisioned
    send(stack, run(arn[DEDICATED], "d1", start + timedelta(minutes=10), "Failed"))

    def retries(name: str, count: int) -> list[dict[str, Any]]:
        at = [start + timedelta(minutes=4 * a) for a in range(count)]
        events = [task_event("Up For Retry", "s1", "flaky", t, attempt=a + 1, arn=arn[name]) for a, t in enumerate(at)]
        return run(arn[name], "s1", start, "Succeeded")[:2] + events

    send(stack, retries(STORM, 11))
    send(stack, retries(TEN, 10))
    send(stack, retries(TEN, 10)[-1:])  # the tenth again: redelivered, it is not an eleventh
    send(stack, retries(SPLIT[0], 6) + retries(SPLIT[1], 6))
    advance(stack, hours=3.5)  # the hourly workflow overdue from an hour after its missed run: about two hours
    now = stack.engine.now
    send(stack, run(arn[HOURLY], "h6", now, "Succeeded") + run(arn[ONE_FAILURE], "f2", now, "Succeeded"))
    stack.engine.set_faults(HOURLY, Faults())  # its scheduler fires again
    advance(stack, hours=1.5)
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    transitions = EmulatorAlarms(cloudwatch).transitions(start, stack.engine.now)
    return transitions, stack.alerts(), now


def of(transitions: list[Transition], alarm: str, contributor: str | None = None) -> list[tuple[Any, str]]:
    return [(t.old, t.new) for t in transitions if t.alarm == alarm and t.contributor == contributor]


def messages(alerts: list[dict[str, Any]], workflow: str) -> list[str]:
    return [alert["Subject"] for alert in alerts if f" {workflow} " in alert["Subject"]]


def pages(transitions: list[Transition], workflow: str) -> int:
    return sum(t.paged for t in transitions if t.contributor == workflow or (workflow in t.alarm))


def test_one_failure_is_one_page_and_its_recovery_one_message(day: tuple[list[Transition], Any, datetime]) -> None:
    transitions, alerts, _ = day
    assert of(transitions, "mwaa-obs-workflows-failed", ONE_FAILURE) == [(None, ALARM), (ALARM, OK)]
    assert pages(transitions, ONE_FAILURE) == 0  # the alarm has no actions: the message is the page
    (failure, resolved) = messages(alerts, ONE_FAILURE)
    assert " failed at " in failure
    assert "RESOLVED" in resolved


def test_a_dedicated_workflow_failing_pages_once_through_its_message(
    day: tuple[list[Transition], Any, datetime],
) -> None:
    transitions, alerts, _ = day
    assert of(transitions, f"mwaa-obs-{DEDICATED}-failed")[-2:] == [(OK, ALARM), (ALARM, OK)]
    assert ALARM not in [new for _, new in of(transitions, f"mwaa-obs-{DEDICATED}-health")]
    assert pages(transitions, DEDICATED) == 0
    assert [subject for subject in messages(alerts, DEDICATED) if " failed at " in subject] == [
        f"[mwaa-obs] {DEDICATED} failed at load: boom (run d1)"
    ]


def test_a_retry_storm_pages_once(day: tuple[list[Transition], Any, datetime]) -> None:
    transitions, alerts, _ = day
    # 11 retries of one workflow in an hour (the stack's RetryStormThreshold is 10)
    assert of(transitions, "mwaa-obs-workflows-retry-storm", STORM) == [(None, ALARM), (ALARM, OK)]
    assert pages(transitions, STORM) == 1
    assert messages(alerts, STORM) == []  # retry messages are opt-in (retry_alerts)


def test_ten_retries_one_of_them_redelivered_or_retries_spread_over_two_workflows_page_nothing(
    day: tuple[list[Transition], Any, datetime],
) -> None:
    transitions, _, _ = day
    storms = {t.contributor for t in transitions if t.alarm == "mwaa-obs-workflows-retry-storm" and t.contributor}
    assert storms == {STORM}
    for workflow in (TEN, *SPLIT):
        assert pages(transitions, workflow) == 0


def test_a_workflow_overdue_for_two_hours_pages_once_and_tells_its_recovery(
    day: tuple[list[Transition], Any, datetime],
) -> None:
    transitions, _, ran_again = day
    moves = [t for t in transitions if t.alarm == "mwaa-obs-workflows-overdue" and t.contributor == HOURLY]
    # On time it writes nothing (no contributor, no cost); overdue once, it appears in ALARM; on time again, OK:
    # no flapping between
    assert [(t.old, t.new) for t in moves] == [(None, ALARM), (ALARM, OK)]
    alarmed, recovered = moves
    # Overdue before the workflow ran again, back to OK only once it had (how long the alarm lasts depends on how
    # the start falls on the alarm's periods: its edges, not a fixed span, are what can be asserted)
    assert alarmed.at < ran_again <= recovered.at
    assert alarmed.paged
    assert recovered.notified


def test_a_workflow_without_a_schedule_is_never_overdue_however_regularly_it_is_started(
    day: tuple[list[Transition], Any, datetime],
) -> None:
    transitions, _, _ = day
    # Its six hourly runs would make a cadence, and it has not run for hours: GetWorkflow says it has no schedule
    assert of(transitions, "mwaa-obs-workflows-overdue", BY_HAND) == []


def test_a_run_slower_than_its_own_threshold_pages_once_and_others_of_that_length_do_not(
    day: tuple[list[Transition], Any, datetime],
) -> None:
    transitions, _, _ = day
    # Five minutes against its 120 s: too slow; the same five minutes against the stack's 3,600 s: not
    assert of(transitions, "mwaa-obs-workflows-too-slow", SLOW) == [(None, ALARM), (ALARM, OK)]
    assert pages(transitions, SLOW) == 1
    slow_ones = {t.contributor for t in transitions if t.alarm == "mwaa-obs-workflows-too-slow" and t.contributor}
    assert slow_ones == {SLOW}


def test_a_healthy_workflow_has_no_series_of_its_own_and_an_unhealthy_one_only_what_went_wrong(
    stack: localstack.LocalStack, day: tuple[list[Transition], Any, datetime]
) -> None:
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")

    def own(workflow: str) -> set[str]:
        found = cloudwatch.list_metrics(Dimensions=[{"Name": "WorkflowName", "Value": workflow}])["Metrics"]
        return {metric["MetricName"] for metric in found}

    # Six successful runs, started by hand: nothing of its own (the fleet series counted them)
    assert own(BY_HAND) == set()
    assert own(ONE_FAILURE) == {"RunFailed", "TaskFailed", "NotificationsSent"}
    assert own(SLOW) == {"RunTooSlow"}
    # Retries feed the fleet's series; only a workflow whose retries passed its threshold has a series of it
    # (their runs, never ended, are closed by the reconciler: RunStopped)
    assert "RetryStorm" in own(STORM)
    assert all("TaskUpForRetry" not in own(workflow) for workflow in (STORM, TEN, *SPLIT))
    assert all("RetryStorm" not in own(workflow) for workflow in (TEN, *SPLIT))
    # A dedicated workflow has full metrics: its own too-slow alarm reads its RunDuration
    assert {"RunStarted", "RunSucceeded", "RunDuration", "RunFailed"} <= own(DEDICATED)
