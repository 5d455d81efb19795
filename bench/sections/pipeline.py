"""Section "pipeline": the whole deployed pipeline in the local stack for the example day (what `make demo` runs),
every AWS and MWAA Serverless API call counted per function; then the scheduled functions' calls while nothing
happens (idle); then a backfill of the same day into an empty table."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
from harness import PORT, CallCounter, Options, Row, kept_environment

from mwaa_obs.aws import dynamodb_client
from mwaa_obs.store.transitions import Transitions
from mwaa_obs_tools import emulator, sample_events
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext
from mwaa_obs_tools.sample_events import HOME

IDLE_HOURS = 24


def run(options: Options) -> dict[str, Any]:
    from mwaa_obs_tools import localstack  # noqa: PLC0415 - the whole local stack, only for this figure
    from mwaa_obs_tools.demo import create_workflows  # noqa: PLC0415

    with kept_environment(), localstack.running(port=PORT) as stack, CallCounter(caller=None) as counter:
        assert stack.slack is not None
        targets: list[Any] = [*stack.functions, *stack.scheduled, *stack.streams]
        for target in targets:
            target.handler = _attributed(counter, _function_name(target), target.handler)
        service = boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1")
        arns = create_workflows(stack)
        ingested: list[int] = []
        sample_events.run_example_day(
            stack.engine,
            arns,
            lambda arn: service.start_workflow_run(WorkflowArn=arn),
            lambda: ingested.append(stack.pump()),
        )
        day = _by_function(counter.take())
        slack_posts = len(stack.slack.received)
        # Idle: no run starts. Each scheduled function's pass, once everything has settled, times its passes a day.
        later = stack.engine.now + timedelta(hours=3)
        for target in stack.scheduled:
            target.handler({"time": later.isoformat(), **target.input}, FakeLambdaContext())
        counter.take()
        idle_pass: dict[str, dict[str, int]] = {}
        idle_day: dict[str, int] = {}
        for target in stack.scheduled:
            target.handler({"time": (later + target.every).isoformat(), **target.input}, FakeLambdaContext())
            name = _function_name(target)
            calls = _by_function(counter.take()).get(name, {})
            # The reconciler has two schedules: its pass, and its discovery pass ({"discover": true}).
            label = name + (" (discovery)" if target.input.get("discover") else "")
            idle_pass[label] = calls
            idle_day[label] = sum(calls.values()) * int(timedelta(hours=IDLE_HOURS) / target.every)
        backfilled = _backfill_calls(stack, counter)
    events = sum(ingested)
    runs = backfilled.pop("runs")
    return {
        "events": events,
        "workflows": len(arns),
        "runs": runs,
        "day_calls_by_function": day,
        "day_calls_per_event": {name: round(sum(calls.values()) / events, 3) for name, calls in day.items()},
        "slack_posts": slack_posts,
        "reconcile_api_calls_per_run": round(_run_api_calls(day.get("reconcile", {})) / runs, 2),
        "idle_calls_per_pass": idle_pass,
        "idle_calls_per_day": idle_day,
        "backfill_calls": backfilled["calls"],
        "backfill_calls_per_run": round(sum(backfilled["calls"].values()) / runs, 2),
    }


def _function_name(target: Any) -> str:
    """ingest, notify, ...: from the module load_handler gave the handler (mwaa_obs_functions.<LogicalId>.app)."""
    logical_id: str = target.handler.__module__.split(".")[1]
    return logical_id.removesuffix("Function").lower()


def _attributed(counter: CallCounter, name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        counter.caller = name
        try:
            return handler(event, context)
        finally:
            counter.caller = None

    return invoke


def _by_function(calls: dict[str, int]) -> dict[str, dict[str, int]]:
    grouped: dict[str, dict[str, int]] = {}
    for key, count in calls.items():
        function, call = key.split("|", 1)
        grouped.setdefault(function, {})[call] = count
    return grouped


def _run_api_calls(calls: dict[str, int]) -> int:
    """The API calls made for runs (not the per-pass ListWorkflows, nor GetWorkflow of a changed workflow)."""
    per_workflow = ("mwaa-serverless:ListWorkflows", "mwaa-serverless:GetWorkflow")
    return sum(n for call, n in calls.items() if call.startswith("mwaa-serverless:") and call not in per_workflow)


def _backfill_calls(stack: Any, counter: CallCounter) -> dict[str, Any]:
    from mwaa_obs.mwaa_api import MwaaApi, api_client  # noqa: PLC0415
    from mwaa_obs_tools import localstack  # noqa: PLC0415
    from mwaa_obs_tools.backfill import backfill  # noqa: PLC0415

    table = "mwaa-obs-bench-backfill"
    emulator.create_state_table(localstack.client(stack.endpoint, "dynamodb"), table, stack.template)
    store = Transitions(dynamodb_client(stack.endpoint), table, timedelta(days=90), home=HOME)
    counter.caller = "backfill"
    try:
        report = backfill(MwaaApi(api_client()), store)
    finally:
        counter.caller = None
    return {"runs": report.runs, "calls": _by_function(counter.take()).get("backfill", {})}


def rows(pipeline: dict[str, Any]) -> list[Row]:
    per_event = pipeline["day_calls_per_event"]
    lines: list[Row] = [
        (
            f"local stack day: AWS+API calls per event, {function}",
            f"{per_event[function]} ({sum(calls.values())} over {pipeline['events']} events)",
            "reported",
        )
        for function, calls in pipeline["day_calls_by_function"].items()
    ]
    reconcile = f"{pipeline['reconcile_api_calls_per_run']}"
    lines.append(("reconciler: API calls per finished run (nothing lost)", reconcile, "reported"))
    lines += [
        (
            f"idle: calls a day, {function}",
            f"{calls} ({sum(pipeline['idle_calls_per_pass'][function].values())} a pass)",
            "reported",
        )
        for function, calls in pipeline["idle_calls_per_day"].items()
    ]
    lines.append(("backfill: calls per run (API + DynamoDB)", f"{pipeline['backfill_calls_per_run']}", "reported"))
    return lines
