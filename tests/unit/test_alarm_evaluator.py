"""The offline alarm evaluator applies CloudWatch's documented semantics (see its module docstring for the pages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs_tools.alarm_evaluator import (
    ALARM,
    INSUFFICIENT,
    OK,
    CompositeAlarm,
    MetricAlarm,
    Second,
    Transition,
    evaluate,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
TOPIC = ("arn:aws:sns:us-east-1:123456789012:alarms",)


def insights(
    name: str = "overdue", period: int = 900, periods: int = 1, datapoints: int = 1, **extra: Any
) -> MetricAlarm:
    described = {
        "AlarmName": name,
        "Metrics": [
            {
                "Id": "q",
                "Expression": 'SELECT MAX(ScheduleOverdue) FROM SCHEMA("ns", WorkflowName) GROUP BY WorkflowName '
                "ORDER BY MAX() DESC LIMIT 500",
                "Period": period,
                "ReturnData": True,
            }
        ],
        "EvaluationPeriods": periods,
        "DatapointsToAlarm": datapoints,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": list(TOPIC),
        "OKActions": list(TOPIC),
    }
    return MetricAlarm.from_description(described | extra)


def points(*minutes_and_values: tuple[float, float]) -> list[Second]:
    return [Second(T0 + timedelta(minutes=m), v, 1, v, v) for m, v in minutes_and_values]


def every(minutes: float, until: float, value: float = 1.0, start: float = 0) -> list[Second]:
    count = int((until - start) // minutes)
    return points(*[(start + i * minutes, value) for i in range(count + 1)])


def run(alarms: list[MetricAlarm], series: dict[str, Any], hours: float = 4, composites: Any = ()) -> list[Transition]:
    return evaluate(alarms, list(composites), lambda alarm: series[alarm.name], T0, T0 + timedelta(hours=hours))


def contributor_moves(transitions: list[Transition], who: str) -> list[tuple[str | None, str]]:
    return [(t.old, t.new) for t in transitions if t.contributor == who]


# ScheduleOverdue written every 20 minutes for two hours: some 15-minute periods hold no point.
OVERDUE_TWO_HOURS = every(20, 120)


def test_one_of_one_flaps_at_every_empty_period_of_a_metric_written_every_20_minutes() -> None:
    transitions = run([insights(periods=1, datapoints=1)], {"overdue": {(("WorkflowName", "w"),): OVERDUE_TWO_HOURS}})
    pages = [t for t in transitions if t.contributor == "w" and t.paged]
    assert len(pages) > 1  # what the template's alarms did before they became 1 of 2


def test_one_of_two_stays_in_alarm_while_overdue_and_pages_once() -> None:
    transitions = run([insights(periods=2, datapoints=1)], {"overdue": {(("WorkflowName", "w"),): OVERDUE_TWO_HOURS}})
    assert contributor_moves(transitions, "w") == [(None, ALARM), (ALARM, OK)]
    assert sum(t.paged for t in transitions) == 1
    (alarmed, recovered) = [t for t in transitions if t.contributor == "w"]
    assert timedelta(hours=2) <= recovered.at - alarmed.at <= timedelta(hours=2, minutes=30)


def test_each_contributor_has_its_own_state_and_the_alarm_is_in_alarm_while_any_is() -> None:
    series = {
        "overdue": {
            (("WorkflowName", "a"),): every(15, 60),
            (("WorkflowName", "b"),): every(15, 180, start=120),
            (("WorkflowName", "quiet"),): every(15, 180, value=0.0),
        }
    }
    transitions = run([insights(periods=2)], series)
    assert contributor_moves(transitions, "a") == [(None, ALARM), (ALARM, OK)]
    assert contributor_moves(transitions, "b") == [(None, ALARM), (ALARM, OK)]
    assert contributor_moves(transitions, "quiet") == []  # OK from its first point: nothing to tell
    overall = [(t.old, t.new) for t in transitions if t.contributor is None]
    assert overall == [(INSUFFICIENT, OK), (OK, ALARM), (ALARM, OK), (OK, ALARM), (ALARM, OK)]
    assert not any(t.notified for t in transitions if t.contributor is None)  # counted per contributor


@pytest.mark.parametrize(
    ("treat", "expected"),
    [
        ("notBreaching", [OK]),
        ("breaching", [ALARM, OK, ALARM]),
        ("missing", [OK, INSUFFICIENT]),
        ("ignore", [OK]),
    ],
)
def test_missing_data_is_what_treat_missing_data_says(treat: str, expected: list[str]) -> None:
    # One good datapoint at minute 7 of an alarm created at T0, then nothing.
    plain = {
        "AlarmName": "errors", "Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum", "Period": 300,
        "EvaluationPeriods": 2, "DatapointsToAlarm": 2, "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": treat,
        "Dimensions": [{"Name": "FunctionName", "Value": "f"}],
    }  # fmt: skip
    series = {"errors": {(("FunctionName", "f"),): points((7, 0.0))}}
    transitions = run([MetricAlarm.from_description(plain)], series, hours=1)
    assert [t.new for t in transitions] == expected


def test_m_of_n_needs_m_breaching_periods() -> None:
    plain = {
        "AlarmName": "errors", "Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum", "Period": 300,
        "EvaluationPeriods": 2, "DatapointsToAlarm": 2, "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
    }  # fmt: skip
    alarm = MetricAlarm.from_description(plain)
    once = run([alarm], {"errors": {(): points((7, 1))}}, hours=1)
    twice = run([alarm], {"errors": {(): points((7, 1), (12, 1))}}, hours=1)
    assert ALARM not in [t.new for t in once]
    assert [t.new for t in twice] == [OK, ALARM, OK]


def test_sum_over_the_period_is_compared_with_the_threshold() -> None:
    storm = MetricAlarm.from_description(
        {
            "AlarmName": "storm",
            "Metrics": [
                {"Id": "r", "Period": 3600, "Expression": 'SELECT SUM(TaskUpForRetry) FROM SCHEMA("ns", WorkflowName) '
                 "GROUP BY WorkflowName"}
            ],
            "EvaluationPeriods": 1, "Threshold": 10.0, "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching", "AlarmActions": list(TOPIC),
        }
    )  # fmt: skip
    ten = run([storm], {"storm": {(("WorkflowName", "w"),): every(5, 45)}})  # 10 retries in the hour
    eleven = run([storm], {"storm": {(("WorkflowName", "w"),): every(5, 50)}})
    assert contributor_moves(ten, "w") == []
    assert contributor_moves(eleven, "w") == [(None, ALARM), (ALARM, OK)]
    assert [t.paged for t in eleven if t.contributor] == [True, False]  # no OKActions: the recovery is silent


@pytest.mark.parametrize(
    ("rule", "holds"),
    [
        ('ALARM("a") OR ALARM("b")', True),
        ('ALARM("a") AND ALARM("b")', False),
        ('ALARM(a) AND NOT OK("b")', False),
        ('(ALARM("b") OR TRUE) AND NOT ALARM("b")', True),
        ('INSUFFICIENT_DATA("unknown") AND OK("b")', True),
        ("FALSE OR NOT TRUE", False),
    ],
)
def test_composite_rules(rule: str, holds: bool) -> None:
    assert CompositeAlarm("c", rule).state({"a": ALARM, "b": OK}) == (ALARM if holds else OK)


@given(st.lists(st.integers(min_value=0, max_value=240), max_size=30, unique=True))
def test_a_contributor_alternates_alarm_and_ok_and_ends_ok_once_its_data_stops(minutes: list[int]) -> None:
    series = {"overdue": {(("WorkflowName", "w"),): points(*[(m, 1.0) for m in sorted(minutes)])}}
    moves = contributor_moves(run([insights(periods=2)], series, hours=6), "w")
    assert moves == [(None, ALARM), (ALARM, OK)] * (len(moves) // 2)
    assert bool(moves) == bool(minutes)


DEAD_LETTER_ALARMS = ("EventsDeadLetterAlarm", "NoticesDeadLetterAlarm")


def dead_letter_alarm(template: dict[str, Any], logical_id: str) -> MetricAlarm:
    properties = template["Resources"][logical_id]["Properties"]
    described = {key: value for key, value in properties.items() if key not in ("AlarmName", "Dimensions")}
    return MetricAlarm.from_description(described | {"AlarmName": "dlq", "AlarmActions": list(TOPIC)})


@pytest.mark.parametrize("logical_id", DEAD_LETTER_ALARMS)
def test_a_dead_letter_alarm_stays_in_alarm_while_its_queue_goes_quiet_and_clears_on_an_empty_queue(
    template: dict[str, Any], logical_id: str
) -> None:
    # Given messages in the DLQ for an hour (SQS reports 3 each minute), then no datapoint for five hours (SQS
    # publishes only for an "active" queue: "Monitoring Amazon SQS queues using CloudWatch"), then a redrive that
    # empties it (the API access makes it active: SQS reports 0)
    waiting = points(*[(60 + m, 3.0) for m in range(60)])
    emptied = points(*[(420 + m, 0.0) for m in range(30)])
    transitions = run([dead_letter_alarm(template, logical_id)], {"dlq": {(): waiting + emptied}}, hours=8)
    # Then it pages once, holds ALARM through the silence, and is OK only once the queue is seen empty
    assert [(t.new, t.paged) for t in transitions] == [(ALARM, True), (OK, False)]
    (alarmed, cleared) = transitions
    assert alarmed.at < T0 + timedelta(minutes=70)
    assert cleared.at >= T0 + timedelta(minutes=420)


@pytest.mark.parametrize("logical_id", DEAD_LETTER_ALARMS)
def test_an_empty_dead_letter_queue_that_goes_quiet_never_pages(template: dict[str, Any], logical_id: str) -> None:
    # Given an empty DLQ reported for its first hour, then idle (no datapoints) for a day
    transitions = run([dead_letter_alarm(template, logical_id)], {"dlq": {(): every(1, 60, value=0.0)}}, hours=24)
    assert [t.new for t in transitions] == [OK]
