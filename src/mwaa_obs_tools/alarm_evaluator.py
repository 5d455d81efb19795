"""CloudWatch alarms evaluated offline, over the metrics the local stack's functions emitted (moto stores alarms but
never evaluates one).

The semantics are CloudWatch's, as documented:
- A metric alarm evaluates, every minute, its last EvaluationPeriods periods (aligned to the period) and goes to
  ALARM when at least DatapointsToAlarm of them breach (M out of N); TreatMissingData says what an empty period is:
  notBreaching good, breaching bad, ignore keeps the state when all are empty, missing goes INSUFFICIENT_DATA then
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html, "Evaluating an alarm"
  and "Configuring how CloudWatch alarms treat missing data").
- A Metrics Insights alarm with GROUP BY has one state per contributor (each time series the query returns); a
  contributor is only ALARM or OK, never INSUFFICIENT_DATA, and the alarm is in ALARM while any contributor is
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Acting_Alarm_Changes.html). Notifications are
  counted per contributor transition: the alarm-level change the first contributor causes is not counted again.
- A composite alarm is ALARM while its rule holds over the other alarms' states (ALARM(), OK(),
  INSUFFICIENT_DATA(), AND, OR, NOT, TRUE, FALSE, parentheses: API_PutCompositeAlarm.html).
- A transition notifies when the alarm has actions for the new state (AlarmActions, OKActions,
  InsufficientDataActions); a page is a notification of ALARM.

Metric math other than the Metrics Insights queries is not evaluated: no alarm of the stack uses it (the dashboards
do, and `render` evaluates theirs). Data is read through GetMetricStatistics at one-second resolution and
aggregated here, because moto buckets periods from the first datapoint instead of aligning them.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
ALARM: Final = "ALARM"
OK: Final = "OK"
INSUFFICIENT: Final = "INSUFFICIENT_DATA"
EVALUATION_INTERVAL: Final = timedelta(minutes=1)

_INSIGHTS = re.compile(r'SELECT (SUM|MAX|MIN|AVG|COUNT)\((\w+)\) FROM SCHEMA\("([^"]+)", (\w+)\) GROUP BY (\w+)')
_STATISTIC_OF = {"SUM": "Sum", "MAX": "Maximum", "MIN": "Minimum", "AVG": "Average", "COUNT": "SampleCount"}
_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


@dataclass(frozen=True, slots=True)
class Second:
    """What one second of a series holds, enough to aggregate any statistic over a period."""

    at: datetime
    total: float
    count: float
    maximum: float
    minimum: float


def between(series: Sequence[Second], start: datetime, stop: datetime) -> Sequence[Second]:
    """The seconds of a series (sorted by time) from start, before stop."""
    return series[bisect_left(series, start, key=_time) : bisect_left(series, stop, key=_time)]


def _time(point: Second) -> datetime:
    return point.at


def aggregate(points: Iterable[Second], statistic: str) -> float | None:
    chosen = list(points)
    if not chosen:
        return None
    if statistic == "Sum":
        return sum(point.total for point in chosen)
    if statistic == "Maximum":
        return max(point.maximum for point in chosen)
    if statistic == "Minimum":
        return min(point.minimum for point in chosen)
    if statistic == "SampleCount":
        return sum(point.count for point in chosen)
    if statistic == "Average":
        return sum(point.total for point in chosen) / sum(point.count for point in chosen)
    raise ValueError(f"statistic not evaluated offline: {statistic}")


@dataclass(frozen=True, slots=True)
class MetricAlarm:
    name: str
    namespace: str
    metric: str
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing: str
    dimensions: tuple[tuple[str, str], ...] = ()
    group_by: str | None = None  # a Metrics Insights query: one contributor per value of this dimension
    actions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_description(cls, alarm: Mapping[str, Any]) -> MetricAlarm:
        """From a DescribeAlarms MetricAlarms entry: a plain metric, or one Metrics Insights GROUP BY query."""
        common = {
            "name": alarm["AlarmName"],
            "evaluation_periods": int(alarm["EvaluationPeriods"]),
            "datapoints_to_alarm": int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"]),
            "threshold": float(alarm["Threshold"]),
            "comparison": alarm["ComparisonOperator"],
            "treat_missing": alarm.get("TreatMissingData", "missing"),
            "actions": _actions(alarm),
        }
        if alarm.get("Metrics"):
            (query,) = [metric for metric in alarm["Metrics"] if metric.get("ReturnData", True)]
            match = _INSIGHTS.search(query["Expression"])
            if not match:
                raise ValueError(f"{alarm['AlarmName']}: only Metrics Insights GROUP BY queries are evaluated offline")
            function, metric, namespace, schema_dimension, group_by = match.groups()
            if schema_dimension != group_by:
                raise ValueError(f"{alarm['AlarmName']}: GROUP BY a dimension other than the schema's")
            return cls(
                namespace=namespace,
                metric=metric,
                statistic=_STATISTIC_OF[function],
                period=int(query["Period"]),
                group_by=group_by,
                **common,
            )
        return cls(
            namespace=alarm["Namespace"],
            metric=alarm["MetricName"],
            statistic=alarm["Statistic"],
            period=int(alarm["Period"]),
            dimensions=tuple((d["Name"], d["Value"]) for d in alarm.get("Dimensions", [])),
            **common,
        )

    def state(self, series: Sequence[Second], at: datetime, current: State | None) -> State | None:
        """The state at `at` from one series; None: keep the current state (ignore, with nothing to evaluate)."""
        end = floor_to_period(at, self.period)
        values = []
        for back in range(self.evaluation_periods, 0, -1):
            start = end - timedelta(seconds=back * self.period)
            stop = start + timedelta(seconds=self.period)
            values.append(aggregate(between(series, start, stop), self.statistic))
        present = [value for value in values if value is not None]
        breaching = sum(_COMPARE[self.comparison](value, self.threshold) for value in present)
        if self.treat_missing == "breaching":
            breaching += len(values) - len(present)
        elif self.treat_missing in ("ignore", "missing") and not present:
            return current if self.treat_missing == "ignore" else INSUFFICIENT
        return ALARM if breaching >= self.datapoints_to_alarm else OK

    def window_start(self, at: datetime) -> datetime:
        return floor_to_period(at, self.period) - timedelta(seconds=self.evaluation_periods * self.period)


@dataclass(frozen=True, slots=True)
class CompositeAlarm:
    name: str
    rule: str
    actions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_description(cls, alarm: Mapping[str, Any]) -> CompositeAlarm:
        return cls(alarm["AlarmName"], alarm["AlarmRule"], _actions(alarm))

    def state(self, states: Mapping[str, State]) -> State:
        return ALARM if _RuleParser(self.rule, states).parse() else OK


def _actions(alarm: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    return {
        ALARM: tuple(alarm.get("AlarmActions") or ()),
        OK: tuple(alarm.get("OKActions") or ()),
        INSUFFICIENT: tuple(alarm.get("InsufficientDataActions") or ()),
    }


class _RuleParser:
    """Recursive descent over a composite alarm rule: NOT binds tightest, then AND, then OR."""

    _TOKEN = re.compile(r'\s*(\(|\)|(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*"?[^")]+"?\s*\)|AND|OR|NOT|TRUE|FALSE)')

    def __init__(self, rule: str, states: Mapping[str, State]) -> None:
        self._tokens: list[str] = []
        position = 0
        while position < len(rule.rstrip()):
            match = self._TOKEN.match(rule, position)
            if not match:
                raise ValueError(f"alarm rule not understood at {position}: {rule!r}")
            self._tokens.append(match.group(1))
            position = match.end()
        self._states = states

    def parse(self) -> bool:
        value = self._or()
        if self._tokens:
            raise ValueError(f"alarm rule has more after its end: {self._tokens}")
        return value

    def _or(self) -> bool:
        value = self._and()
        while self._tokens[:1] == ["OR"]:
            self._tokens.pop(0)
            value = self._and() or value
        return value

    def _and(self) -> bool:
        value = self._not()
        while self._tokens[:1] == ["AND"]:
            self._tokens.pop(0)
            value = self._not() and value
        return value

    def _not(self) -> bool:
        word = self._tokens.pop(0)
        if word == "NOT":
            return not self._not()
        if word == "(":
            value = self._or()
            if self._tokens.pop(0) != ")":
                raise ValueError("alarm rule: unbalanced parentheses")
            return value
        if word in ("TRUE", "FALSE"):
            return word == "TRUE"
        wanted, name = word.split("(", 1)
        return self._states.get(name.strip(' ")'), INSUFFICIENT) == wanted


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime
    alarm: str
    contributor: str | None  # the GROUP BY value, for a contributor's own transition
    old: State | None  # None: a contributor appearing
    new: State
    notified: bool  # the alarm has actions for the new state

    @property
    def paged(self) -> bool:
        return self.notified and self.new == ALARM

    def line(self) -> str:
        who = f"{self.alarm} [{self.contributor}]" if self.contributor else self.alarm
        told = " -> paged" if self.paged else (" -> notified" if self.notified else "")
        return f"{self.at:%H:%M} {who}: {self.old or 'none'} -> {self.new}{told}"


Series = dict[tuple[tuple[str, str], ...], list[Second]]  # dimensions -> its seconds


def evaluate(
    metric_alarms: Sequence[MetricAlarm],
    composites: Sequence[CompositeAlarm],
    data: Callable[[MetricAlarm], Series],
    start: datetime,
    end: datetime,
) -> list[Transition]:
    """Every transition of these alarms from `start` (all INSUFFICIENT_DATA, as when created) to `end`."""
    series = {alarm.name: data(alarm) for alarm in metric_alarms}
    names = [alarm.name for alarm in metric_alarms] + [composite.name for composite in composites]
    states: dict[str, State] = dict.fromkeys(names, INSUFFICIENT)
    contributors: dict[str, dict[str, State]] = {alarm.name: {} for alarm in metric_alarms}
    transitions: list[Transition] = []
    at = start
    while at <= end:
        for alarm in metric_alarms:
            if alarm.group_by is None:
                seconds = next(iter(series[alarm.name].values()), [])
                new = alarm.state(seconds, at, states[alarm.name]) or states[alarm.name]
                _move(transitions, states, alarm.name, actions=alarm.actions, at=at, new=new, notify=True)
                continue
            new_states = _contributors(alarm, series[alarm.name], contributors[alarm.name], at, transitions)
            contributors[alarm.name] = new_states
            overall: State = ALARM if ALARM in new_states.values() else OK
            _move(transitions, states, alarm.name, actions=alarm.actions, at=at, new=overall, notify=False)
        for composite in composites:
            new = composite.state(states)
            _move(transitions, states, composite.name, actions=composite.actions, at=at, new=new, notify=True)
        at += EVALUATION_INTERVAL
    return transitions


def _contributors(
    alarm: MetricAlarm, series: Series, known: Mapping[str, State], at: datetime, transitions: list[Transition]
) -> dict[str, State]:
    """Each contributor with data in the evaluation range, and each in ALARM until it is OK again."""
    window = alarm.window_start(at)
    states: dict[str, State] = {}
    for dimensions, seconds in series.items():
        contributor = dict(dimensions)[alarm.group_by or ""]
        in_range = between(seconds, window, floor_to_period(at, alarm.period))  # the complete periods evaluated
        if not in_range and known.get(contributor) != ALARM:
            continue
        new = alarm.state(in_range, at, known.get(contributor)) or known.get(contributor) or OK
        new = ALARM if new == ALARM else OK  # a contributor is never INSUFFICIENT_DATA
        old = known.get(contributor)
        if new != old and (old is not None or new == ALARM):
            transitions.append(Transition(at, alarm.name, contributor, old, new, bool(alarm.actions.get(new))))
        if in_range or new == ALARM:
            states[contributor] = new
    return states


def _move(
    transitions: list[Transition],
    states: dict[str, State],
    name: str,
    *,
    actions: Mapping[str, tuple[str, ...]],
    at: datetime,
    new: State,
    notify: bool,
) -> None:
    if states[name] != new:
        transitions.append(Transition(at, name, None, states[name], new, notify and bool(actions.get(new))))
        states[name] = new


def floor_to_period(at: datetime, period: int) -> datetime:
    seconds = int(at.timestamp()) // period * period
    return datetime.fromtimestamp(seconds, UTC)


# --- over the emulator ---------------------------------------------------------------------------------------------


class EmulatorAlarms:
    """The alarms of an emulator (metric and composite, from DescribeAlarms) and their data, read through the
    CloudWatch API."""

    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch
        described = cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        self.metric_alarms = [MetricAlarm.from_description(alarm) for alarm in described["MetricAlarms"]]
        self.composites = [CompositeAlarm.from_description(alarm) for alarm in described["CompositeAlarms"]]
        self._start = datetime.now(UTC)
        self._end = self._start

    def transitions(self, start: datetime, end: datetime) -> list[Transition]:
        self._start, self._end = start - timedelta(hours=3), end
        return evaluate(self.metric_alarms, self.composites, self._series, start, end)

    def _series(self, alarm: MetricAlarm) -> Series:
        if alarm.group_by is None:
            return {alarm.dimensions: self._seconds(alarm, alarm.dimensions)}
        found = self._cloudwatch.list_metrics(Namespace=alarm.namespace, MetricName=alarm.metric)["Metrics"]
        series: Series = {}
        for metric in found:
            dimensions = tuple((d["Name"], d["Value"]) for d in metric["Dimensions"])
            if [name for name, _ in dimensions] == [alarm.group_by]:  # SCHEMA(ns, dim): exactly that dimension set
                series[dimensions] = self._seconds(alarm, dimensions)
        return series

    def _seconds(self, alarm: MetricAlarm, dimensions: tuple[tuple[str, str], ...]) -> list[Second]:
        answer = self._cloudwatch.get_metric_statistics(
            Namespace=alarm.namespace,
            MetricName=alarm.metric,
            Dimensions=[{"Name": name, "Value": value} for name, value in dimensions],
            StartTime=self._start,
            EndTime=self._end,
            Period=1,
            Statistics=["Sum", "SampleCount", "Maximum", "Minimum"],
        )
        return sorted(
            (
                Second(p["Timestamp"], p["Sum"], p["SampleCount"], p["Maximum"], p["Minimum"])
                for p in answer["Datapoints"]
            ),
            key=lambda point: point.at,
        )
