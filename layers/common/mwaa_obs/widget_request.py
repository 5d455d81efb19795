"""A runs widget request, read from CloudWatch's custom widget event (or mwaa-obs ui's query): the view, the
workflow, the time range and theme, each parameter checked; what cannot be shown is a RequestError, said in the
widget."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mwaa_obs import WORKFLOW_PATTERN
from mwaa_obs.matrix import MATRIX_RUNS

VIEWS = ("grid", "gantt", "graph", "charts", "log", "failures", "matrix")
# Views merged into another, still answered for the dashboards and links that name them: `trends` (issue 35) is
# drawn by `charts`, under its graphs (each task's duration per run, the latest runs' landing vs their schedule).
MERGED_VIEWS = {"trends": "charts"}
WORKFLOWLESS_VIEWS = ("failures", "matrix")  # the fleet's views: no workflow picked
DEFAULT_RUNS = 25
MAX_RUNS = 100
DEFAULT_RANGE = timedelta(days=7)


class RequestError(ValueError):
    """A widget parameter that cannot be shown; said in the widget, never an error of the function."""


@dataclass(frozen=True, slots=True)
class ViewRequest:
    view: str
    workflow: str | None
    runs: int
    run_id: str | None
    threshold: float | None  # the too-slow threshold the charts draw (a dedicated dashboard's); None: the settings'
    start: datetime
    end: datetime
    theme: str
    task: str | None = None  # a log view's task and attempt
    attempt: int | None = None
    name_filter: str | None = None  # the matrix's: a part of the workflows' names
    team: str | None = None  # the matrix's: the team the settings give the workflows
    page: int = 1  # the matrix's page of workflows

    @classmethod
    def of(cls, params: Mapping[str, Any], start: datetime, end: datetime, theme: str) -> ViewRequest:
        view = str(params.get("view") or "grid")
        view = MERGED_VIEWS.get(view, view)
        if view not in VIEWS:
            raise RequestError(f"view {view!r} is not one of {', '.join(VIEWS)}")
        try:
            runs = int(params.get("runs") or (MATRIX_RUNS if view == "matrix" else DEFAULT_RUNS))
        except (TypeError, ValueError, OverflowError):
            raise RequestError(f"runs {params.get('runs')!r} is not a whole number") from None
        if not 1 <= runs <= MAX_RUNS:
            raise RequestError(f"runs must be from 1 to {MAX_RUNS}, not {runs}")
        workflow = _name(params, "workflow")
        # An unfilled dashboard variable arrives as its pattern: no workflow picked yet (the views list them)
        if workflow == WORKFLOW_PATTERN:
            workflow = None
        run_id, task = _name(params, "runId"), _name(params, "task")
        threshold = params.get("threshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)):
            raise RequestError(f"threshold {threshold!r} is not a number of seconds")
        attempt = _attempt_number(params.get("attempt"))
        if view == "log" and (run_id is None or task is None or attempt is None):
            raise RequestError("a log view needs runId, task and attempt")
        try:
            page_number = int(params.get("page") or 1)
        except (TypeError, ValueError, OverflowError):
            raise RequestError(f"page {params.get('page')!r} is not a whole number") from None
        theme = "dark" if theme == "dark" else "light"
        return cls(
            view, workflow, runs, run_id, float(threshold) if threshold else None, start, end, theme, task, attempt,
            name_filter=str(params["filter"]) if params.get("filter") else None,
            team=str(params["team"]) if params.get("team") else None,
            page=page_number,
        )  # fmt: skip

    @classmethod
    def from_widget_event(cls, event: Any, now: datetime) -> ViewRequest:
        """A CloudWatch custom widget call: its parameters (top level, or the widget's own), time range and theme
        from `widgetContext` (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
        add_custom_widget_dashboard_about.html). Any part of another shape is a RequestError."""
        if not isinstance(event, Mapping):
            raise RequestError("the widget's event is not a JSON object")
        context = _object(event.get("widgetContext"), "widgetContext")
        top = {key: value for key, value in event.items() if key != "widgetContext"}
        params = {**_object(context.get("params"), "params"), **top}
        time_range = _object(context.get("timeRange"), "timeRange")
        window = _object(time_range.get("zoom"), "timeRange.zoom") or time_range
        start = _epoch_ms(window.get("start"), "start") or now - DEFAULT_RANGE
        end = _epoch_ms(window.get("end"), "end") or now
        if start >= end:
            raise RequestError("the time range ends before it starts")
        return cls.of(params, start, end, theme_of(event))


def _attempt_number(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise RequestError(f"attempt {value!r} is not a whole number") from None
    if number < 1:
        raise RequestError(f"attempt must be 1 or more, not {number}")
    return number


def theme_of(event: Any) -> str:
    """The dashboard's theme, "dark" or "light", from a widget event of any shape."""
    context = event.get("widgetContext") if isinstance(event, Mapping) else None
    return "dark" if isinstance(context, Mapping) and context.get("theme") == "dark" else "light"


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise RequestError(f"{name} is not a JSON object")
    return value


# The ids the API takes (NameString, IdString in botocore's mwaa-serverless model): at most 255 characters. A longer
# one names nothing, and could not be a DynamoDB key.
MAX_ID_LENGTH = 255


def _name(params: Mapping[str, Any], key: str) -> str | None:
    value = str(params[key]) if params.get(key) else None
    if value is not None and len(value) > MAX_ID_LENGTH:
        raise RequestError(f"{key} is longer than {MAX_ID_LENGTH} characters")
    return value


# Far inside datetime's range (years 1 to 9999), where the views' date arithmetic cannot overflow.
_LATEST_MS = datetime(9000, 1, 1, tzinfo=UTC).timestamp() * 1000


def _epoch_ms(value: Any, name: str) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if not (math.isfinite(value) and 0 <= value <= _LATEST_MS):
        raise RequestError(f"timeRange {name} {value!r} is not a time (milliseconds since 1970)")
    return datetime.fromtimestamp(value / 1000, UTC)
