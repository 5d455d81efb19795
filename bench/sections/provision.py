"""Section "provision": the provision function under CloudWatch's request rates, on moto server behind the
emulator's throttle (mwaa_obs_tools.throttle), with time modelled rather than waited.

- dedicated: 1,000 workflows set to dedicated, provisioned from nothing by the hourly pass until all their resources
  exist (each a pass of the function's timeout, stopping before its deadline), then a pass with nothing to change:
  per pass the workflows done and left, resources written, calls by operation, the modelled time and the calls the
  throttle refused.
- onboarding: 10,000 new workflows (shared alarms) reaching the function through the table's stream in batches of
  100 (the mapping's BatchSize), as on a first deploy over a busy account: reads of the workflow list (none: each
  new workflow comes in its stream record; before, every batch read the whole list: `list_items_before`, the items
  those reads returned), CloudWatch calls and modelled time per batch.

The modelled clock: what the pacer and the throttle wait passes at once, every request adds an assumed latency
(CLOUDWATCH_REQUEST_SECONDS for CloudWatch's control plane, month.REQUEST_SECONDS for DynamoDB and SSM), and the
function's own CPU (its thread's, measured) is added; the function's deadline is its template Timeout on that clock.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import boto3
from harness import FUNCTIONS, PORT, ROOT, Options, Row, empty_state, kept_environment
from month import REQUEST_SECONDS

from mwaa_obs.store.schema import WORKFLOWS_PARTITION, WorkflowItem, workflow_key
from mwaa_obs_tools import dashboards, emulator, throttle
from mwaa_obs_tools.lambda_emulation import load_handler

DEDICATED_FLEET: Final = 1_000
ONBOARDING_FLEET: Final = 10_000
STREAM_BATCH: Final = 100  # template.yaml, ProvisionFunction FirstSight BatchSize
CLOUDWATCH_REQUEST_SECONDS: Final = 0.03  # assumed latency of a CloudWatch control-plane call (not measurable here)
MAX_PASSES: Final = 24
START: Final = datetime(2026, 12, 1, tzinfo=UTC)


class ModelClock:
    """Seconds that pass only when told: waits, request latencies, the function's CPU."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Context:
    """The Lambda context of one invocation, its deadline on the modelled clock."""

    def __init__(self, clock: ModelClock, timeout: float) -> None:
        self._clock, self._deadline = clock, clock() + timeout
        self.aws_request_id, self.function_name = "bench", "mwaa-obs-provision"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:mwaa-obs-provision"
        self.memory_limit_in_mb = 256

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - self._clock()) * 1000)


def run(options: Options) -> dict[str, Any]:
    template = emulator.load_template()
    timeout = float(template["Resources"]["ProvisionFunction"]["Properties"]["Timeout"])
    with emulator.moto_server(PORT) as endpoint:
        empty_state(endpoint)
        dedicated = _converge(endpoint, template, timeout)
        empty_state(endpoint)
        onboarding = _onboard(endpoint, template, timeout)
    return {"timeout_seconds": timeout, "dedicated": dedicated, "onboarding": onboarding}


def _function(endpoint: str, template: dict[str, Any], clock: ModelClock, settings: dict[str, Any]) -> Any:
    """The provision function's module as Lambda loads it, on the modelled clock, with the shared workflow dashboard
    deployed and the settings written."""
    import sys  # noqa: PLC0415

    exempt = throttle.exempt(boto3.client("cloudwatch", endpoint_url=endpoint))  # CloudFormation's, as deployed
    fill = {
        "MetricNamespace": "MWAAServerless/Bench", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws", "AWS::StackName": "mwaa-obs", "ResourcePrefix": "mwaa-obs",
        "DurationAlarmSeconds": 3600,
        "WidgetFunction.Arn": "arn:aws:lambda:us-east-1:123456789012:function:mwaa-obs-widget",
    }  # fmt: skip
    body = dashboards.fill(dashboards.body_template("WorkflowDashboard"), fill)
    exempt.put_dashboard(DashboardName=FUNCTIONS.variables()["WORKFLOW_DASHBOARD"], DashboardBody=json.dumps(body))
    boto3.client("ssm", endpoint_url=endpoint).put_parameter(
        Name=FUNCTIONS.settings_parameter, Value=json.dumps(settings), Type="String", Overwrite=True
    )
    handler = load_handler(template, "ProvisionFunction", ROOT)
    module = sys.modules[handler.__module__]
    module.pacer.clock, module.pacer.sleep = clock, clock.sleep  # the function's pacer waits on the modelled clock
    for client, latency in ((module.cloudwatch, CLOUDWATCH_REQUEST_SECONDS), (module.dynamodb, REQUEST_SECONDS)):
        client.meta.events.register("before-send", lambda latency=latency, **_: clock.sleep(latency))
    return module


def _invoke(module: Any, event: dict[str, Any], clock: ModelClock, timeout: float) -> tuple[dict[str, Any], float]:
    started, cpu = clock(), time.thread_time()
    summary = module.lambda_handler(event, Context(clock, timeout))
    clock.sleep(time.thread_time() - cpu)
    return summary, clock() - started


def _workflow_items(dynamodb: Any, count: int, prefix: str) -> list[dict[str, Any]]:
    """`count` workflow items as ingest writes them at a workflow's first event (their raw DynamoDB form)."""
    items = []
    for number in range(count):
        workflow_id = f"{prefix}_{number:05d}-ABCDEFGHIJ"
        items.append(
            WorkflowItem(
                pk=workflow_key(workflow_id), sk="WORKFLOW", gsi1pk=WORKFLOWS_PARTITION, gsi1sk=workflow_id,
                workflow_arn=f"arn:aws:airflow-serverless:us-east-1:123456789012:workflow/{workflow_id}",
                first_seen_at=START,
            ).serialize()
        )  # fmt: skip
    for start in range(0, count, 25):  # BatchWriteItem takes 25 items
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={FUNCTIONS.table_name: batch})
    return items


def _counted(module: Any) -> Counter[str]:
    calls: Counter[str] = Counter()
    for client in (module.cloudwatch, module.dynamodb):
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(
            f"before-send.{service}", lambda event_name, **_: calls.update([event_name.split(".", 1)[1]])
        )
    return calls


def _converge(endpoint: str, template: dict[str, Any], timeout: float) -> dict[str, Any]:
    """DEDICATED_FLEET dedicated workflows provisioned from nothing, pass after hourly pass."""
    clock = ModelClock()
    throttle.THROTTLE.clock = clock
    throttle.THROTTLE.reset()
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    _workflow_items(dynamodb, DEDICATED_FLEET, "critical")
    settings = {"workflows": [{"match": "critical_*", "alarms": "dedicated", "team": "platform"}]}
    with kept_environment():
        module = _function(endpoint, template, clock, settings)
        calls = _counted(module)
        passes: list[dict[str, Any]] = []
        for hour in range(MAX_PASSES):
            event = {"source": "aws.events", "time": (START + timedelta(hours=hour)).isoformat()}
            summary, seconds = _invoke(module, event, clock, timeout)
            passes.append(_pass(summary, seconds, calls))
            if summary["left"] == 0 and summary["written"] == 0:
                break
    converged = next((n for n, one in enumerate(passes, 1) if one["left"] == 0), None)
    return {
        "workflows": DEDICATED_FLEET,
        "passes": passes,
        "passes_to_converge": converged,
        "calls_to_converge": sum(sum(one["calls"].values()) for one in passes[:converged]),
        "modelled_hours_to_converge": converged,  # one pass an hour
        "refused": dict(throttle.THROTTLE.refused),
    }


def _pass(summary: dict[str, Any], seconds: float, calls: Counter[str]) -> dict[str, Any]:
    taken = dict(sorted(calls.items()))
    calls.clear()
    return {**summary, "seconds": round(seconds, 1), "calls": taken}


def _onboard(endpoint: str, template: dict[str, Any], timeout: float) -> dict[str, Any]:
    """ONBOARDING_FLEET new workflows reaching the function through the stream, in batches of STREAM_BATCH."""
    clock = ModelClock()
    throttle.THROTTLE.clock = clock
    throttle.THROTTLE.reset()
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    with kept_environment():
        module = _function(endpoint, template, clock, {"workflows": []})
        calls = _counted(module)
        seconds: list[float] = []
        written = 0
        for start in range(0, ONBOARDING_FLEET, STREAM_BATCH):
            items = _workflow_items(dynamodb, STREAM_BATCH, f"wf{start // STREAM_BATCH:03d}")
            records = [
                {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": item["pk"], "sk": item["sk"]}, "NewImage": item}}
                for item in items
            ]
            summary, took = _invoke(module, {"Records": records}, clock, timeout)
            seconds.append(took)
            written += summary["workflows"]
    batches = ONBOARDING_FLEET // STREAM_BATCH
    list_reads = sum(count for call, count in calls.items() if call == "dynamodb.Query")
    return {
        "workflows": ONBOARDING_FLEET,
        "batches": batches,
        "checked": written,
        "calls": dict(sorted(calls.items())),
        "list_reads": list_reads,
        # Before: each batch read the whole list as it stood (the items known so far), N(N+B)/2B items in all
        "list_items_before": sum(batch * STREAM_BATCH for batch in range(1, batches + 1)),
        "batch_seconds_p50": round(sorted(seconds)[len(seconds) // 2], 1),
        "batch_seconds_max": round(max(seconds), 1),
        "modelled_seconds": round(sum(seconds), 1),
        "refused": dict(throttle.THROTTLE.refused),
    }


def rows(figures: dict[str, Any]) -> list[Row]:
    dedicated, onboarding = figures["dedicated"], figures["onboarding"]
    first = dedicated["passes"][0]
    steady = dedicated["passes"][-1]
    return [
        (
            f"provision, {dedicated['workflows']:,} dedicated workflows under CloudWatch's rates: passes to converge",
            f"{dedicated['passes_to_converge']} hourly passes, {dedicated['calls_to_converge']:,} calls "
            f"(first pass {first['workflows']} done, {first['left']} left, {first['seconds']} s); "
            f"refused {sum(dedicated['refused'].values())}",
            f"each pass within its {figures['timeout_seconds']:.0f} s",
        ),
        (
            "provision, the pass after: nothing to change",
            f"{sum(steady['calls'].values()):,} calls, {steady['seconds']} s",
            f"within {figures['timeout_seconds']:.0f} s",
        ),
        (
            f"provision, onboarding {onboarding['workflows']:,} workflows from the stream: workflow-list reads",
            f"{onboarding['list_reads']} (before: one per batch, {onboarding['list_items_before']:,} items); "
            f"batch of {STREAM_BATCH} p50 {onboarding['batch_seconds_p50']} s, max {onboarding['batch_seconds_max']} s",
            "none; a batch within the timeout",
        ),
    ]
