"""Values of a definition as the service reads them: dates and durations written by hand (`2027-01-01`, `300`) or
by AWS's dag-converter (awslabs/python-to-yaml-dag-converter-mwaa-serverless, dag_converter/cleanup.py), which
serialises a datetime as {__type__: datetime.datetime, year: ..., month: ..., day: ...} with its zero fields left
out, and a timedelta as {__type__: datetime.timedelta, seconds: 300.0} (its dev/integ_test/yaml_output_folder
shows both). The service accepts the converter's output, so the simulator reads both forms.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

DATETIME_TYPE = "datetime.datetime"
TIMEDELTA_TYPE = "datetime.timedelta"
_DATETIME_FIELDS = ("year", "month", "day", "hour", "minute", "second", "microsecond")
_TIMEDELTA_FIELDS = ("days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks")


class ValueProblem(ValueError):
    """The value is not of the form the field takes; the message says what the form is."""


def when(value: Any) -> datetime | None:
    """A DAG date (a YAML date or timestamp, an ISO string or a converter datetime), in UTC."""
    if value is None:
        return None
    if isinstance(value, dict) and value.get("__type__") == DATETIME_TYPE:
        try:
            parts = {name: int(value.get(name) or 0) for name in _DATETIME_FIELDS}
            parts["month"], parts["day"] = parts["month"] or 1, parts["day"] or 1  # never 0: never left out
            return datetime(**parts, tzinfo=UTC)
        except (TypeError, ValueError):
            raise ValueProblem(f"{value!r} is not a date") from None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueProblem(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueProblem(f"{value!r} is not a date (YYYY-MM-DD)")


def seconds(value: Any) -> float | None:
    """A duration in seconds: a number, or a converter timedelta."""
    if value is None:
        return None
    if isinstance(value, dict) and value.get("__type__") == TIMEDELTA_TYPE:
        try:
            value = timedelta(**{k: float(v) for k, v in value.items() if k in _TIMEDELTA_FIELDS}).total_seconds()
        except (TypeError, ValueError):
            raise ValueProblem("must be a number of seconds") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueProblem("must be a number of seconds")
    return float(value)
