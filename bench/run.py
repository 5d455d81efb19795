"""Benchmarks of the pipeline (`make bench`): prints a table and writes bench/results.json.

- calls: AWS API calls per event for a simulated day of the example workflows, counted on every botocore client
  against the emulator, plus the cost of replaying the whole day again (duplicates); then the notify handler's
  calls for the notices that day owed. Also events/s through the ingest handler against moto server, which is
  bounded by the emulator (reported only).
- pipeline: the deployed pipeline in the local stack for the example day (as `make demo`), every AWS and MWAA
  Serverless API call counted per function; the scheduled functions' calls while nothing happens (idle); a backfill
  of that day into an empty table.
- load: 10,000 events of 125 workflows, shuffled, a fifth delivered twice, through the ingest handler against the
  emulator: stored states and metric counts must be exact (its time is bounded by the emulator).
- cpu: ingest CPU time per event at batch sizes 1, 10 and 100 with DynamoDB stubbed in-process, against a floor
  measured in the same run: json.loads of each SQS body plus one stubbed UpdateItem through a boto3 client.
- metrics: distinct custom metrics (name + dimensions) a workflow publishes, for 5 and 50 tasks.
- latency: in the local stack, PutEvents of a failed run to the run stored and to its Slack message (p50/p95).
- discovery: the reconciler's pass with and without discovery over 10, 100 and 1,000 workflows: the calls
  discovery adds per pass and per day at its default hourly cadence.
- memory: peak RSS of the ingest handler over 10,000 events (AWS stubbed), in a fresh process.
- cold: import time of each function's handler in a fresh interpreter against `import boto3` plus one client.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import io
import json
import logging
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers/common"), str(ROOT / "src")]

from mwaa_obs_tools import emulator, sample_events  # noqa: E402
from mwaa_obs_tools.factories import FunctionEnvironment  # noqa: E402
from mwaa_obs_tools.sample_events import HOME  # noqa: E402

FUNCTIONS = FunctionEnvironment(emulator.free_port(), "mwaa-obs-bench")
PORT = FUNCTIONS.port
emulator.use_offline(PORT)
os.environ.update(FUNCTIONS.variables())
os.environ.update({"POWERTOOLS_METRICS_NAMESPACE": "MWAAServerless/Bench", "POWERTOOLS_LOG_LEVEL": "INFO"})
os.environ.pop("SLACK_WEBHOOK_SECRET_ARN")  # the bench counts the email channel only

import boto3  # noqa: E402 - the floor's client, as the target defines it
import botocore.client  # noqa: E402
import botocore.session  # noqa: E402
from botocore.awsrequest import AWSResponse, HTTPHeaders  # noqa: E402

from mwaa_obs import SERVICE  # noqa: E402
from mwaa_obs.aws import dynamodb_client  # noqa: E402
from mwaa_obs.stats import percentile  # noqa: E402
from mwaa_obs.store.runs import Runs  # noqa: E402
from mwaa_obs.store.transitions import Transitions  # noqa: E402
from mwaa_obs_tools.factories import fleet_history, metric_totals, shuffled_with_duplicates, sqs_event  # noqa: E402
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext, load_handler, poll_sqs_once  # noqa: E402

# The ingest function as Lambda loads it, from its CodeUri: its clients point at the bench's emulator (PORT).
ingest: Any = sys.modules[load_handler(emulator.load_template(), "IngestFunction", ROOT).__module__]

TARGET_CPU_MULTIPLE = 3.0
TARGET_COLD_MULTIPLE = 1.25
TARGET_SIMULATOR_MS = 5
TARGET_EMULATOR_GROWTH_MB = 200
TARGET_WRITES_PER_EVENT = 2.0


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def _quiet() -> None:
    """Logs and EMF still get formatted (that is part of the cost) but are thrown away."""
    for handler in logging.getLogger(SERVICE).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(_Discard())
    sys.stdout = _Discard()


# --- calls ---------------------------------------------------------------------------------------------------------


class _CallCounter:
    """Counts every AWS API call made through any botocore client, pynamodb's included, by service and operation.

    With `caller` set, calls are keyed "caller|service:Operation"; with it None, they are not counted (the local
    stack's own plumbing: the emulated event source mappings, EventBridge delivery, EMF forwarding).
    """

    def __init__(self, caller: str | None = "") -> None:
        self.calls: Counter[str] = Counter()
        self.caller = caller
        self._client_class: Any = vars(botocore.client)["BaseClient"]  # typed Any: its private method is replaced
        self._original = self._client_class._make_api_call

    def __enter__(self) -> _CallCounter:
        counter, original = self, self._original

        def counted(client: Any, operation: str, params: Any) -> Any:
            if counter.caller is not None:
                call = f"{client.meta.service_model.service_name}:{operation}"
                counter.calls[f"{counter.caller}|{call}" if counter.caller else call] += 1
            return original(client, operation, params)

        self._client_class._make_api_call = counted
        return self

    def __exit__(self, *_: object) -> None:
        self._client_class._make_api_call = self._original

    def take(self) -> dict[str, int]:
        taken = dict(sorted(self.calls.items()))
        self.calls.clear()
        return taken


def bench_calls() -> dict[str, Any]:
    with emulator.moto_server(PORT) as endpoint:
        session: Any = botocore.session.get_session()
        emulator.create_state_table(session.create_client("dynamodb", endpoint_url=endpoint), FUNCTIONS.table_name)
        sqs: Any = session.create_client("sqs", endpoint_url=endpoint)
        notices_url = sqs.create_queue(QueueName=FUNCTIONS.notices_queue)["QueueUrl"]
        notices_arn = sqs.get_queue_attributes(QueueUrl=notices_url, AttributeNames=["QueueArn"])["Attributes"]
        session.create_client("sns", endpoint_url=endpoint).create_topic(Name=FUNCTIONS.alert_topic)
        session.create_client("ssm", endpoint_url=endpoint).put_parameter(
            Name=FUNCTIONS.settings_parameter, Value="{}", Type="String"
        )
        notify = load_handler(emulator.load_template(), "NotifyFunction", ROOT)
        freshness = load_handler(emulator.load_template(), "FreshnessFunction", ROOT)
        day = sample_events.day_of_events()
        context = FakeLambdaContext()

        def deliver(events: list[dict[str, Any]]) -> float:
            started = time.perf_counter()
            for start in range(0, len(events), 10):
                ingest.lambda_handler(sqs_event(events[start : start + 10]), context)
            return time.perf_counter() - started

        with _CallCounter() as counter:
            seconds = deliver(day)
            first = counter.take()
            notices = sqs.get_queue_attributes(QueueUrl=notices_url, AttributeNames=["ApproximateNumberOfMessages"])
            counter.take()
            while poll_sqs_once(sqs, notices_url, notices_arn["QueueArn"], notify, 1).received:
                pass
            notified = {op: n for op, n in counter.take().items() if not op.startswith("sqs:ReceiveMessage")}
            freshness({"time": "2026-11-25T12:00:00+00:00"}, context)
            checked = counter.take()
            replay = list(day)
            random.Random(1).shuffle(replay)
            deliver(replay)
            duplicate = counter.take()
    writes = sum(first.get(f"dynamodb:{op}", 0) for op in ("UpdateItem", "PutItem", "BatchWriteItem"))
    reads = sum(first.get(f"dynamodb:{op}", 0) for op in ("GetItem", "Query", "Scan", "BatchGetItem"))
    notice_count = int(notices["Attributes"]["ApproximateNumberOfMessages"])
    # The mapping's own receive/delete calls are not the function's (and are not billed per call to it).
    handled = {op: n for op, n in notified.items() if not op.startswith("sqs:")}
    return {
        "events": len(day),
        "calls_by_operation": first,
        "writes_per_event": round(writes / len(day), 3),
        "reads_per_event": reads / len(day),
        "cloudwatch_calls": sum(n for op, n in first.items() if op.startswith(("monitoring:", "cloudwatch:"))),
        "notices": notice_count,
        "notices_per_event": round(notice_count / len(day), 3),
        "notify_calls_by_operation": handled,
        "notify_calls_per_notice": round(sum(handled.values()) / notice_count, 2),
        "freshness_calls_by_operation": checked,
        "workflows": len({event["resources"][0] for event in day}),
        "duplicate_calls_by_operation": duplicate,
        "calls_per_duplicate": round(sum(duplicate.values()) / len(day), 3),
        "events_per_second_against_moto": round(len(day) / seconds, 1),
    }


# --- load ----------------------------------------------------------------------------------------------------------

LOAD_WORKFLOWS, LOAD_RUNS, LOAD_TASKS, LOAD_DUPLICATES = 125, 5, 3, 0.2  # 10,000 events, 12,000 deliveries


def bench_load() -> dict[str, Any]:
    """10,000 events of 125 workflows, shuffled, a fifth delivered twice, through the ingest handler against the
    emulator (batches of 10): the stored states and the metric counts must come out exact."""
    events, truth, counts = fleet_history(LOAD_WORKFLOWS, LOAD_RUNS, LOAD_TASKS, seed=11)
    delivered = shuffled_with_duplicates(events, LOAD_DUPLICATES, seed=11)
    with emulator.moto_server(PORT) as endpoint:
        _point_ingest_at_empty_emulator(endpoint)
        started = time.perf_counter()
        failures, documents = _ingest_capturing_emf(delivered)
        seconds = time.perf_counter() - started
        runs = Runs(ingest.dynamodb, FUNCTIONS.table_name)
        wrong_states = sum(
            1 for (workflow_id, run_id), status in truth.items() if _stored_status(runs, workflow_id, run_id) != status
        )
    emitted: Counter[str] = Counter()
    for workflow in {workflow_id.rsplit("-", 1)[0] for workflow_id, _ in truth}:
        emitted.update(metric_totals(documents, workflow))
    wrong_counts = {name: (emitted[name], owed) for name, owed in counts.items() if emitted[name] != owed}
    return {
        "events": len(events),
        "deliveries": len(delivered),
        "workflows": LOAD_WORKFLOWS,
        "runs": len(truth),
        "batch_failures": failures,
        "runs_in_wrong_state": wrong_states,
        "metric_counts_off": wrong_counts,
        "exact": failures == 0 and wrong_states == 0 and not wrong_counts,
        "seconds_against_moto": round(seconds, 1),
    }


def _ingest_capturing_emf(events: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """Every event through the ingest handler in batches of 10: the records it reported failed, and the EMF
    documents it printed."""
    printed, real = io.StringIO(), sys.stdout
    sys.stdout = printed
    failures = 0
    try:
        for start in range(0, len(events), 10):
            response = ingest.lambda_handler(sqs_event(events[start : start + 10]), FakeLambdaContext())
            failures += len(response["batchItemFailures"])
    finally:
        sys.stdout = real
    return failures, [json.loads(line) for line in printed.getvalue().splitlines() if line.startswith('{"_aws"')]


def _point_ingest_at_empty_emulator(endpoint: str) -> None:
    """An empty state table and notices queue on the emulator, where the ingest handler writes.

    moto's state outlives a server stopped in this process (an earlier section ran one): start from nothing.
    """
    emulator.reset(endpoint)
    session: Any = botocore.session.get_session()
    emulator.create_state_table(session.create_client("dynamodb", endpoint_url=endpoint), FUNCTIONS.table_name)
    session.create_client("sqs", endpoint_url=endpoint).create_queue(QueueName=FUNCTIONS.notices_queue)


def _stored_status(runs: Runs, workflow_id: str, run_id: str) -> str | None:
    run, _ = runs.load(workflow_id, run_id)
    return None if run is None else run.status


# --- pipeline ------------------------------------------------------------------------------------------------------

IDLE_HOURS = 24


def bench_pipeline() -> dict[str, Any]:
    """The whole deployed pipeline in the local stack for the example day (what `make demo` runs), every AWS and
    MWAA Serverless API call counted per function; then the scheduled functions' calls while nothing happens; then a
    backfill of the same day into an empty table."""
    from mwaa_obs_tools import localstack  # noqa: PLC0415 - the whole local stack, only for this figure
    from mwaa_obs_tools.demo import create_workflows  # noqa: PLC0415

    with localstack.running(port=PORT) as stack, _CallCounter(caller=None) as counter:
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


def _attributed(counter: _CallCounter, name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
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


def _backfill_calls(stack: Any, counter: _CallCounter) -> dict[str, Any]:
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


# --- cpu -----------------------------------------------------------------------------------------------------------


def _stub_update_item(client: Any) -> None:
    """Answer UpdateItem in-process, after botocore has validated and serialised the request, as Stubber does.

    The answer is the steady state: an existing item whose run already noted its workflow.
    """

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        key = json.loads(params["body"])["Key"]
        kind = "run" if key["sk"]["S"] == "RUN" else "task"
        old = {**key, "kind": {"S": kind}, "workflow_noted": {"BOOL": True}}
        return AWSResponse("", 200, HTTPHeaders(), None), {"Attributes": old}

    client.meta.events.register("before-call.dynamodb.UpdateItem", answer)


def _cpu_seconds(action: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        action()
        samples.append(time.process_time() - started)
    return statistics.median(samples)


def _stub_send_message(client: Any) -> None:
    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("", 200, HTTPHeaders(), None), {"MessageId": "bench", "MD5OfMessageBody": ""}

    client.meta.events.register("before-call.sqs.SendMessage", answer)


def _stub_ingest_clients() -> None:
    """The ingest function's own clients answered in-process: no AWS (nor emulator) time in what is measured."""
    _stub_update_item(ingest.dynamodb)
    _stub_send_message(ingest.sqs)


def bench_cpu(repeat: int) -> dict[str, Any]:
    _stub_ingest_clients()
    floor_client = boto3.client("dynamodb", endpoint_url="http://localhost:1")
    _stub_update_item(floor_client)
    floor_request = {
        "TableName": FUNCTIONS.table_name,
        "Key": {"pk": {"S": "RUN#wf#run"}, "sk": {"S": "RUN"}},
        "UpdateExpression": "SET #s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": "RUNNING"}},
    }
    day = sample_events.day_of_events()
    context = FakeLambdaContext()
    results: dict[str, Any] = {}
    for batch in (1, 10, 100):
        events = (day * (1 + batch // len(day)))[:batch]
        delivered = sqs_event(events)
        bodies = [record["body"] for record in delivered["Records"]]

        def floor(bodies: list[str] = bodies) -> None:
            for body in bodies:
                json.loads(body)
                floor_client.update_item(**floor_request)

        def handler(delivered: dict[str, Any] = delivered) -> None:
            response = ingest.lambda_handler(delivered, context)
            assert response == {"batchItemFailures": []}, response

        runs = max(5, repeat // batch)
        floor_s = _cpu_seconds(floor, runs) / batch
        ours_s = _cpu_seconds(handler, runs) / batch
        results[f"batch_{batch}"] = {
            "ingest_us_per_event": round(ours_s * 1e6, 1),
            "floor_us_per_event": round(floor_s * 1e6, 1),
            "multiple_of_floor": round(ours_s / floor_s, 2),
        }
    return results


# --- metrics -------------------------------------------------------------------------------------------------------


def _run_with_tasks(
    workflow: str, tasks: int, run_id: str = "r1", start: datetime = datetime(2026, 11, 24, tzinfo=UTC)
) -> list[dict[str, Any]]:
    """One failed run of a workflow with `tasks` tasks: one retried then failed, one timed out, one skipped."""
    arn = f"arn:aws:airflow-serverless:us-east-1:123456789012:workflow/{workflow}-BENCHBENCH"
    events = []

    def event(kind: str, minute: int, **detail: Any) -> None:
        body = {"workflowArn": arn, "runId": run_id, **detail}
        events.append(sample_events.envelope(kind, body, start + timedelta(minutes=minute), arn))

    for minute, state in enumerate(("Started", "Queued", "Running")):
        event(f"MWAA Serverless Workflow Run {state}", minute)
    for index in range(tasks):
        task = {"taskId": f"t{index}", "taskInstanceId": f"ti{index}"}
        ending = {0: "Up For Retry", 1: "Timeout", 2: "Upstream Failed"}.get(index, "Succeeded")
        for minute, state in enumerate(("Scheduled", "Queued", "Running", ending), start=3):
            event(f"MWAA Serverless Task {state}", minute, **task, attemptNumber=1)
        if index == 0:
            for minute, state in enumerate(("Scheduled", "Queued", "Running", "Failed"), start=8):
                event(f"MWAA Serverless Task {state}", minute, **task, attemptNumber=2)
    event("MWAA Serverless Workflow Run Failed", 20)
    return events


def bench_metrics() -> dict[str, Any]:
    """Distinct custom metrics (name + dimensions) a workflow publishes: they must not grow with its task count.

    Against the emulator, not the stub: which durations are owed depends on what the table already holds.
    """
    with emulator.moto_server(PORT) as endpoint:
        _point_ingest_at_empty_emulator(endpoint)
        return _count_metrics()


def _count_metrics() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for tasks in (5, 50):
        events = _run_with_tasks(f"wf{tasks}", tasks)
        _, documents = _ingest_capturing_emf(events)
        distinct = {
            (metric["Name"], tuple(dimensions))
            for document in documents
            for directive in document["_aws"]["CloudWatchMetrics"]
            for metric in directive["Metrics"]
            for dimensions in directive["Dimensions"]
        }
        results[f"tasks_{tasks}"] = {
            "events": len(events),
            "per_workflow": sum(1 for _, dimensions in distinct if dimensions),
            "fleet": sum(1 for _, dimensions in distinct if not dimensions),
        }
    return results


# --- latency -------------------------------------------------------------------------------------------------------

LATENCY_RUNS = 20


def bench_latency() -> dict[str, Any]:
    """Wall time in the local stack from PutEvents of a failed run's events to the run stored, and to its Slack
    message delivered: the pipeline's own processing, bounded by the emulator (no SQS batching window, no
    AlertDelaySeconds, no Lambda start-up)."""
    from mwaa_obs_tools import localstack  # noqa: PLC0415 - the whole local stack, only for this figure

    stored_ms: list[float] = []
    alerted_ms: list[float] = []
    with localstack.running(port=PORT) as stack:
        assert stack.slack is not None
        events = localstack.client(stack.endpoint, "events")
        ingest, notify = stack.functions
        for n in range(LATENCY_RUNS):
            # A workflow of its own for each run, so that no failure is grouped into an earlier alert.
            batch = _run_with_tasks(f"latency{n}", 3)
            entries = [
                {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]),
                 "Resources": e["resources"], "Time": datetime.fromisoformat(e["time"]), "EventBusName": "default"}
                for e in batch
            ]  # fmt: skip
            delivered = len(stack.slack.delivered())
            started = time.perf_counter()
            for first in range(0, len(entries), 10):
                events.put_events(Entries=entries[first : first + 10])
            stack.drain(ingest)
            stored_ms.append((time.perf_counter() - started) * 1000)
            stack.drain(notify)
            assert len(stack.slack.delivered()) == delivered + 1
            alerted_ms.append((time.perf_counter() - started) * 1000)
    return {
        "runs": LATENCY_RUNS,
        "events_per_run": len(entries),
        "stored_ms": _percentiles(stored_ms),
        "alerted_ms": _percentiles(alerted_ms),
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(samples, 50), 1), "p95": round(percentile(samples, 95), 1)}


# --- the local stack: simulator latency, emulator memory, demo and test wall times --------------------------------

SIMULATOR_CALLS = 300
EMULATOR_MILESTONES = (1_000, 5_000, 20_000)


DISCOVERY_FLEETS = (10, 100, 1000)


def bench_discovery() -> dict[str, Any]:
    """The reconciler's pass with and without discovery over fleets of 10, 100 and 1,000 workflows known to the
    table, nothing lost (no run in the last day: a listed run costs no call more while it fits a page of 100):
    calls per pass by operation, and what discovery adds a day at its default hourly cadence."""
    from mwaa_obs.mwaa_api import MwaaApi, api_client  # noqa: PLC0415
    from mwaa_obs.notices import NoticeQueue  # noqa: PLC0415
    from mwaa_obs.reconcile import Reconciler  # noqa: PLC0415
    from mwaa_obs.store.workflows import Workflows  # noqa: PLC0415
    from mwaa_obs.telemetry import MetricSink  # noqa: PLC0415
    from mwaa_obs_tools.simulator.api import ApiServer  # noqa: PLC0415
    from mwaa_obs_tools.simulator.engine import Engine  # noqa: PLC0415

    class Nowhere:
        def publish(self, entries: list[dict[str, Any]]) -> None: ...

        def log(self, group: str, stream: str, at: datetime, message: str) -> None: ...

    definition = (ROOT / "examples/workflows/simple_s3_test.yaml").read_text(encoding="utf-8")
    fleets: dict[str, Any] = {}
    with emulator.moto_server(PORT) as endpoint:
        for size in DISCOVERY_FLEETS:
            _point_ingest_at_empty_emulator(endpoint)
            dynamodb = dynamodb_client(endpoint)
            notices = NoticeQueue(
                boto3.client("sqs", endpoint_url=endpoint), FUNCTIONS.variables()["NOTICES_QUEUE_URL"]
            )
            now = datetime(2026, 11, 24, 12, tzinfo=UTC)
            engine = Engine(Nowhere(), lambda _: definition, start=now - timedelta(days=2))
            for number in range(size):
                location = {"Bucket": "definitions", "ObjectKey": f"w{number}.yaml"}
                engine.create_workflow({"Name": f"wf_{number:05d}", "DefinitionS3Location": location, "RoleArn": "r"})
            server = ApiServer(engine).start()
            os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"] = server.url
            try:
                reconciler = Reconciler(
                    MwaaApi(api_client()),
                    Transitions(dynamodb, FUNCTIONS.table_name, timedelta(days=90), home=HOME),
                    Runs(dynamodb, FUNCTIONS.table_name),
                    Workflows(dynamodb, FUNCTIONS.table_name),
                    notices,
                    settle=timedelta(hours=1),
                )
                reconciler.run_pass(now, MetricSink(), discover=True)  # first sight: every workflow described
                passes: dict[str, dict[str, Any]] = {}
                with _CallCounter() as counter:
                    for label, discover in (("pass", False), ("discovery pass", True)):
                        started = time.perf_counter()
                        reconciler.run_pass(now + timedelta(hours=1), MetricSink(), discover=discover)
                        passes[label] = {"calls": counter.take(), "seconds": round(time.perf_counter() - started, 2)}
            finally:
                server.stop()
                del os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"]
            added = sum(passes["discovery pass"]["calls"].values()) - sum(passes["pass"]["calls"].values())
            fleets[str(size)] = passes | {"discovery_calls_per_pass": added, "discovery_calls_per_day": added * 24}
    return {"fleets": fleets, "cadence": "hourly (DiscoveryIntervalMinutes 60)"}


def _raw_partitions(dynamodb: Any, found: list[Any]) -> list[list[dict[str, Any]]]:
    """Each run's partition as the widget's Query returns it: raw items, run and task attempts."""
    return [
        dynamodb.query(
            TableName=FUNCTIONS.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": run.pk}},
        )["Items"]
        for run in found
    ]


def _run_view_of(items: list[dict[str, Any]]) -> Any:
    from mwaa_obs.store.schema import RunItem, item_from_raw  # noqa: PLC0415
    from mwaa_obs.views import run_view  # noqa: PLC0415

    parsed = [item_from_raw(item) for item in items]
    (run,) = [item for item in parsed if isinstance(item, RunItem)]
    return run_view(run, [item for item in parsed if not isinstance(item, RunItem)])  # type: ignore[misc]


WIDGET_RUNS, WIDGET_TASKS, WIDGET_RENDERS = 25, 50, 20
LAMBDA_FULL_VCPU_MB = 1769  # Lambda: "at 1,769 MB, a function has the equivalent of one vCPU" (configuration-memory)
WIDGET_MEMORY_MB = int(emulator.load_template()["Resources"]["WidgetFunction"]["Properties"]["MemorySize"])
TARGET_WIDGET_MS = 1000


def bench_widget() -> dict[str, Any]:
    """The runs widget's grid and Gantt over 25 runs of 50 tasks (one retried, one timed out, one upstream-failed
    each), stored through the ingest handler: reads per render, the CPU of building and rendering the page (scaled
    to the function's share of a vCPU), the page's size, and the wall time against the emulator (emulator-bound)."""
    from mwaa_obs.store.workflows import Workflows  # noqa: PLC0415
    from mwaa_obs.view_html import Viewer, render_gantt, render_grid  # noqa: PLC0415
    from mwaa_obs.views import gantt, grid  # noqa: PLC0415
    from mwaa_obs.widget import ViewReader, ViewRequest, render  # noqa: PLC0415
    from mwaa_obs_tools.ui import LocalNavigation  # noqa: PLC0415

    start = datetime(2026, 11, 24, tzinfo=UTC)
    events = [
        e
        for r in range(WIDGET_RUNS)
        for e in _run_with_tasks("wide", WIDGET_TASKS, f"r{r:02d}", start + timedelta(hours=r))
    ]
    viewer, nav = Viewer("us-east-1", "mwaa-obs"), LocalNavigation({})
    end = start + timedelta(hours=WIDGET_RUNS + 1)
    with emulator.moto_server(PORT) as endpoint:
        _point_ingest_at_empty_emulator(endpoint)
        failures, _ = _ingest_capturing_emf(events)
        dynamodb = dynamodb_client(endpoint)
        runs, workflows = Runs(dynamodb, FUNCTIONS.table_name), Workflows(dynamodb, FUNCTIONS.table_name)
        figures: dict[str, Any] = {"events_stored": len(events), "failed_records": failures}
        for view in ("grid", "gantt"):
            request = ViewRequest.of({"view": view, "workflow": "wide", "runs": WIDGET_RUNS}, start, end, "light")
            reader = ViewReader(runs, workflows)
            started = time.perf_counter()
            page = render(request, reader, nav, viewer, end)
            wall = time.perf_counter() - started
            raw = _raw_partitions(dynamodb, runs.between("wide-BENCHBENCH", start, end, WIDGET_RUNS))

            def build(view: str = view, raw: list[list[dict[str, Any]]] = raw) -> None:
                """What the function does with the items read: parse them, build the view, write the page."""
                views = [_run_view_of(items) for items in (raw if view == "grid" else raw[:1])]
                if view == "grid":
                    render_grid("wide", grid(views), nav, viewer)
                else:
                    render_gantt(gantt(views[0], end), viewer)

            cpu = _cpu_seconds(build, WIDGET_RENDERS)  # the median render
            scaled = cpu * LAMBDA_FULL_VCPU_MB / WIDGET_MEMORY_MB
            figures[view] = {
                "reads": reader.reads,
                "page_kb": round(len(page.encode()) / 1024, 1),
                "cpu_ms_here": round(cpu * 1000, 1),
                f"cpu_ms_at_{WIDGET_MEMORY_MB}_mb": round(scaled * 1000, 1),
                "wall_ms_against_emulator": round(wall * 1000, 1),
            }
    return figures | {"runs": WIDGET_RUNS, "tasks": WIDGET_TASKS, "target_ms": TARGET_WIDGET_MS}


def bench_simulator() -> dict[str, Any]:
    """Per-call latency of the MWAA Serverless simulator's API through botocore, as every caller pays it."""
    from mwaa_obs.mwaa_api import api_client  # noqa: PLC0415
    from mwaa_obs_tools.simulator.api import ApiServer  # noqa: PLC0415
    from mwaa_obs_tools.simulator.engine import Engine  # noqa: PLC0415

    class Nowhere:
        def publish(self, entries: list[dict[str, Any]]) -> None: ...

        def log(self, group: str, stream: str, at: datetime, message: str) -> None: ...

    engine = Engine(Nowhere(), lambda _: "", start=datetime(2026, 11, 24, tzinfo=UTC))
    server = ApiServer(engine).start()
    os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"] = server.url
    try:
        client = api_client()
        client.list_workflows()  # connection and model loading out of the samples
        samples = []
        for _ in range(SIMULATOR_CALLS):
            started = time.perf_counter()
            client.list_workflows()
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        server.stop()
        del os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"]
    return {"calls": SIMULATOR_CALLS, "operation": "ListWorkflows", "ms": _percentiles(samples)}


def bench_emulator() -> dict[str, Any]:
    """RSS of this process (moto server runs in it, with the handlers) while 20,000 events of a fleet, 30 % of
    whose runs fail, go through the local stack: PutEvents, the rule, the events queue, ingest, the notices queue,
    notify (one transaction per finished run)."""
    from mwaa_obs_tools import localstack  # noqa: PLC0415

    workflows = EMULATOR_MILESTONES[-1] // (LOAD_RUNS * 16) + 1  # a run of 3 tasks is 16 events
    events, _, _ = fleet_history(workflows, LOAD_RUNS, LOAD_TASKS, seed=7)
    rss: dict[str, float] = {}
    started = time.perf_counter()
    with localstack.running(port=PORT) as stack:
        bus = localstack.client(stack.endpoint, "events")
        ingest_target, notify_target = stack.functions
        sent = 0
        for milestone in EMULATOR_MILESTONES:
            while sent < milestone:
                chunk = events[sent : min(milestone, sent + 100)]
                for first in range(0, len(chunk), 10):
                    bus.put_events(Entries=[_entry(event) for event in chunk[first : first + 10]])
                stack.drain(ingest_target)
                stack.drain(notify_target)
                sent += len(chunk)
            rss[f"{milestone}_events_mb"] = _rss_mb()
    return {
        "events": sent,
        "rss": rss,
        "growth_1k_to_20k_mb": round(rss[f"{EMULATOR_MILESTONES[-1]}_events_mb"] - rss["1000_events_mb"], 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _entry(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
        "Time": datetime.fromisoformat(event["time"]),
        "EventBusName": "default",
    }


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text(encoding="ascii")
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return round(int(line.split()[1]) / 1024, 1)


def bench_walltimes() -> dict[str, Any]:
    """`make demo` and the test suite as CI runs them (pytest over tests/), each timed; the ten slowest tests."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mwaa_obs_tools.demo"], cwd=ROOT, capture_output=True, check=True)
    demo = time.perf_counter() - started
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    suite = time.perf_counter() - started
    slowest = [
        {"seconds": float(line.split("s", 1)[0]), "test": line.split()[-1]}
        for line in run.stdout.splitlines()
        if re.match(r"^\d+\.\d+s (call|setup|teardown) ", line)
    ]
    return {
        "demo_seconds": round(demo, 1),
        "test_suite_seconds": round(suite, 1),
        "test_suite_passed": run.returncode == 0,
        "slowest_tests": slowest,
    }


# --- memory --------------------------------------------------------------------------------------------------------

MEMORY_EVENTS = 10_000


def _memory_child() -> None:
    """In a fresh process: RSS after the handler's import, and its peak over 10,000 events (AWS stubbed)."""

    def rss_mb() -> float:
        """The process's peak RSS (VmHWM: unlike getrusage's maximum, it does not carry the parent's over exec)."""
        status = Path("/proc/self/status").read_text(encoding="ascii")
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024  # kB

    after_import = rss_mb()
    _stub_ingest_clients()
    _quiet()
    day = sample_events.day_of_events()
    events = (day * (1 + MEMORY_EVENTS // len(day)))[:MEMORY_EVENTS]
    context = FakeLambdaContext()
    for start in range(0, len(events), 10):
        ingest.lambda_handler(sqs_event(events[start : start + 10]), context)
    print(json.dumps({"after_import_mb": round(after_import, 1), "peak_mb": round(rss_mb(), 1)}), file=sys.__stdout__)


def bench_memory() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__)), "--memory-child"], capture_output=True, text=True, check=True
    )
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return {"events": MEMORY_EVENTS, **figures, "lambda_memory_mb": 256}


# --- cold ----------------------------------------------------------------------------------------------------------

_COLD_HANDLER = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
_COLD_BASELINE = (
    "import time; t = time.perf_counter(); import boto3; boto3.client('dynamodb'); print(time.perf_counter() - t)"
)
LAMBDA_SITE = ROOT / "bench/.lambda-site"


def _lambda_site() -> Path:
    """What a python3.13 Lambda function sees: the runtime's boto3 and the layer's wheels, nothing else.

    The dev venv also holds awscrt and pyOpenSSL (from aws-sam-cli), which botocore imports when present and
    which would inflate both sides of the comparison.
    """
    if not (LAMBDA_SITE / "boto3").is_dir():
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
        subprocess.run(
            [*pip, str(LAMBDA_SITE), "--no-deps", "-r", str(ROOT / "layers/common/requirements.txt")], check=True
        )
        subprocess.run([*pip, str(LAMBDA_SITE), "-c", str(ROOT / "requirements-dev.lock"), "boto3"], check=True)
    return LAMBDA_SITE


def bench_cold(samples: int) -> dict[str, Any]:
    site = _lambda_site()
    results: dict[str, Any] = {}
    for function in ("ingest", "notify", "freshness", "reconcile", "provision", "widget"):
        env = {**os.environ, "PYTHONPATH": f"{site}:{ROOT / 'layers/common'}:{ROOT / 'functions' / function}"}
        env.pop("AWS_ENDPOINT_URL", None)
        handler: list[float] = []
        baseline: list[float] = []
        for _ in range(samples):  # interleaved, so that machine noise hits both alike
            for code, sink in ((_COLD_HANDLER, handler), (_COLD_BASELINE, baseline)):
                command = [sys.executable, "-S", "-c", code]  # -S: no site-packages, only the Lambda-like path
                out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                sink.append(float(out.stdout.strip()))
        ours, floor = statistics.median(handler), statistics.median(baseline)
        results[function] = {
            "handler_import_ms": round(ours * 1000, 1),
            "boto3_plus_client_ms": round(floor * 1000, 1),
            "multiple": round(ours / floor, 2),
            "samples": samples,
        }
    return results


# --- report --------------------------------------------------------------------------------------------------------


SECTIONS = [
    "calls", "pipeline", "load", "cpu", "metrics", "memory", "latency", "simulator", "discovery", "widget", "month",
    "scale", "emulator", "cold", "walltimes",
]  # fmt: skip


def main() -> int:
    if sys.argv[1:] == ["--memory-child"]:
        _memory_child()
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=SECTIONS, action="append")
    parser.add_argument("--repeat", type=int, default=200, help="handler invocations per CPU sample (batch 1)")
    parser.add_argument("--cold-samples", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results.json")
    args = parser.parse_args()
    wanted = set(args.only or SECTIONS)
    report = sys.stdout
    _quiet()
    results: dict[str, Any] = {"python": sys.version.split()[0]}
    if "calls" in wanted:
        results["calls"] = bench_calls()
    if "pipeline" in wanted:
        results["pipeline"] = bench_pipeline()
    if "load" in wanted:
        results["load"] = bench_load()
    if "cpu" in wanted:
        results["cpu"] = bench_cpu(args.repeat)
    if "metrics" in wanted:
        results["metrics"] = bench_metrics()
    if "memory" in wanted:
        results["memory"] = bench_memory()
    if "latency" in wanted:
        results["latency"] = bench_latency()
    if "simulator" in wanted:
        results["simulator"] = bench_simulator()
    if "discovery" in wanted:
        results["discovery"] = bench_discovery()
    if "widget" in wanted:
        results["widget"] = bench_widget()
    if "month" in wanted:
        month: Any = importlib.import_module("month")  # bench/month.py, beside this script
        from mwaa_obs_tools import cost_doc  # noqa: PLC0415

        results["month"] = month.run(ingest)
        cost_doc.main([])  # docs/COST.md from bench/month.json
    if "scale" in wanted:
        scaling: Any = importlib.import_module("month")
        properties = emulator.load_template()["Resources"]["FreshnessFunction"]["Properties"]
        memory = int(properties.get("MemorySize", emulator.load_template()["Globals"]["Function"]["MemorySize"]))
        results["scale"] = scaling.scale(memory, int(properties["Timeout"]))
        reconcile = emulator.load_template()["Resources"]["ReconcileFunction"]["Properties"]
        reconcile_memory = int(
            reconcile.get("MemorySize", emulator.load_template()["Globals"]["Function"]["MemorySize"])
        )
        results["scale"] |= scaling.reconcile_scale(int(reconcile["Timeout"]), reconcile_memory)
    if "emulator" in wanted:
        results["emulator"] = bench_emulator()
    if "cold" in wanted:
        results["cold"] = bench_cold(args.cold_samples)
    if "walltimes" in wanted:
        results["walltimes"] = bench_walltimes()
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    _print_table(results, report)
    print(f"\nwritten: {args.out}", file=report)
    return 0


def _print_table(results: dict[str, Any], out: Any) -> None:
    rows: list[tuple[str, str, str]] = []
    if calls := results.get("calls"):
        rows += [
            (
                "DynamoDB writes per event (simulated day)",
                f"{calls['writes_per_event']}",
                f"<= {TARGET_WRITES_PER_EVENT}",
            ),
            ("DynamoDB reads per event", f"{calls['reads_per_event']}", "0"),
            ("CloudWatch API calls", f"{calls['cloudwatch_calls']}", "0 (EMF)"),
            ("calls per duplicate event (day replayed)", f"{calls['calls_per_duplicate']}", "<= 1"),
            ("notices per event (finished runs, retries)", f"{calls['notices_per_event']}", "reported"),
            ("notify AWS calls per notice", f"{calls['notify_calls_per_notice']}", "reported"),
            (
                "freshness check: AWS calls per run",
                f"{sum(calls['freshness_calls_by_operation'].values())} for {calls['workflows']} workflows",
                "1 + 1 per workflow",
            ),
            ("events/s through handler vs moto", f"{calls['events_per_second_against_moto']}", "emulator-bound"),
        ]
    if pipeline := results.get("pipeline"):
        per_event = pipeline["day_calls_per_event"]
        rows += [
            (
                f"local stack day: AWS+API calls per event, {function}",
                f"{per_event[function]} ({sum(calls.values())} over {pipeline['events']} events)",
                "reported",
            )
            for function, calls in pipeline["day_calls_by_function"].items()
        ]
        reconcile = f"{pipeline['reconcile_api_calls_per_run']}"
        rows.append(("reconciler: API calls per finished run (nothing lost)", reconcile, "reported"))
        rows += [
            (
                f"idle: calls a day, {function}",
                f"{calls} ({sum(pipeline['idle_calls_per_pass'][function].values())} a pass)",
                "reported",
            )
            for function, calls in pipeline["idle_calls_per_day"].items()
        ]
        rows.append(("backfill: calls per run (API + DynamoDB)", f"{pipeline['backfill_calls_per_run']}", "reported"))
    if load := results.get("load"):
        rows.append(
            (
                f"load: {load['events']:,} events, {load['deliveries']:,} deliveries, {load['workflows']} workflows",
                f"{'exact' if load['exact'] else 'NOT EXACT'} in {load['seconds_against_moto']} s",
                "exact; time emulator-bound",
            )
        )
    for batch, figures in results.get("cpu", {}).items():
        rows.append(
            (
                f"ingest CPU/event, {batch.replace('_', ' ')}",
                f"{figures['ingest_us_per_event']} us = {figures['multiple_of_floor']}x floor "
                f"({figures['floor_us_per_event']} us)",
                f"<= {TARGET_CPU_MULTIPLE}x at batch 10" if batch == "batch_10" else "",
            )
        )
    for tasks, figures in results.get("metrics", {}).items():
        rows.append(
            (
                f"custom metrics of a workflow with {tasks.removeprefix('tasks_')} tasks",
                f"{figures['per_workflow']} per workflow + {figures['fleet']} fleet-wide",
                "same for 5 and 50",
            )
        )
    if memory := results.get("memory"):
        growth = round(memory["peak_mb"] - memory["after_import_mb"], 1)
        rows.append(
            (
                f"ingest RSS growth over {memory['events']:,} events",
                f"{growth} MB (peak {memory['peak_mb']} MB, bench imports in)",
                f"well inside {memory['lambda_memory_mb']} MB",
            )
        )
    if latency := results.get("latency"):
        for what, label in (("stored_ms", "run stored"), ("alerted_ms", "Slack message delivered")):
            figures = latency[what]
            rows.append(
                (
                    f"local stack: PutEvents to {label}",
                    f"p50 {figures['p50']} ms, p95 {figures['p95']} ms ({latency['events_per_run']} events a run)",
                    "emulator-bound",
                )
            )
    if discovery := results.get("discovery"):
        rows += [
            (
                f"discovery, {size} workflows: calls it adds to a pass / a day (hourly)",
                f"{fleet['discovery_calls_per_pass']} / {fleet['discovery_calls_per_day']:,}; "
                f"pass {fleet['discovery pass']['seconds']} s against the emulator",
                "2 per workflow",
            )
            for size, fleet in discovery["fleets"].items()
        ]
    if month := results.get("month"):
        from mwaa_obs_tools import cost_doc  # noqa: PLC0415

        fixed = sum(cost_doc.fixed_lines(month, emulator.load_template()).values())
        target = sum(month["priced"][cost_doc.TARGET_KIND].values())
        rows += [
            (
                f"month: {name} workflow, $ a month ({month['workflows'][name]['metric_hours']} metric-hours)",
                f"{sum(priced.values()):.4f}",
                "$0 when idle" if name == "idle" else "reported",
            )
            for name, priced in sorted(month["priced"].items())
        ]
        bill: Counter[str] = Counter()
        for priced in month["priced"].values():
            bill.update(priced)
        rows += [
            (f"month: the fleet's bill, {line}, $", f"{dollars:.4f}", "reported") for line, dollars in bill.items()
        ]
        rows += [
            ("month: fixed per stack, $ a month", f"{fixed:.2f}", "reported"),
            (
                f"month: {cost_doc.TARGET_KIND} at 1,000 workflows, $ per workflow-month (alarms in)",
                f"{target + fixed / 1000:.3f}",
                f"<= {cost_doc.TARGET_DOLLARS}",
            ),
        ]
    if scale := results.get("scale"):
        rows += [
            (
                f"freshness pass, {int(size):,} daily workflows: Queries; CPU here; modeled s in Lambda "
                f"({scale['freshness_memory_mb']} MB); peak MB",
                f"{fleet['queries']:,}; {fleet['cpu_seconds_here']} s; {fleet['modeled_lambda_seconds']} s; "
                f"{fleet['peak_mb']}",
                f"<= {fleet['half_timeout_seconds']:g} s (half the timeout)",
            )
            for size, fleet in scale["freshness"].items()
        ]
        rows += [
            (
                f"discovery pass, {int(size):,} idle workflows: API calls; Queries; modeled s in Lambda",
                f"{sum(fleet['api_calls'].values()):,}; {fleet['queries']:,}; {fleet['modeled_lambda_seconds']} s "
                f"({fleet['workflows_listed']:,} listed)",
                f"<= {fleet['half_timeout_seconds']:g} s, else the pass ends at its deadline",
            )
            for size, fleet in scale.get("reconcile", {}).items()
        ]
    if widget := results.get("widget"):
        rows += [
            (
                f"runs widget {view}, {widget['runs']} runs x {widget['tasks']} tasks: reads; CPU ms at "
                f"{WIDGET_MEMORY_MB} MB",
                f"{widget[view]['reads']} reads; {widget[view][f'cpu_ms_at_{WIDGET_MEMORY_MB}_mb']} ms "
                f"({widget[view]['page_kb']} KB page; {widget[view]['wall_ms_against_emulator']} ms vs emulator)",
                f"CPU + reads < {widget['target_ms']} ms",
            )
            for view in ("grid", "gantt")
        ]
    if simulator := results.get("simulator"):
        figures = simulator["ms"]
        rows.append(
            (
                f"simulator: {simulator['operation']} per call",
                f"p50 {figures['p50']} ms, p95 {figures['p95']} ms ({simulator['calls']} calls)",
                f"p50 < {TARGET_SIMULATOR_MS} ms",
            )
        )
    if emulator_memory := results.get("emulator"):
        rss = ", ".join(f"{key.split('_')[0]}: {value} MB" for key, value in emulator_memory["rss"].items())
        rows.append(("local stack RSS after events (emulator in-process)", rss, "reported"))
        rows.append(
            (
                "local stack RSS growth, 1k to 20k events",
                f"{emulator_memory['growth_1k_to_20k_mb']} MB ({emulator_memory['seconds']} s)",
                f"< {TARGET_EMULATOR_GROWTH_MB} MB",
            )
        )
    for function, cold in results.get("cold", {}).items():
        measured = f"{cold['handler_import_ms']} ms = {cold['multiple']}x ({cold['boto3_plus_client_ms']} ms)"
        target = f"<= {TARGET_COLD_MULTIPLE}x"
        rows.append((f"cold import of {function} handler vs boto3 + client", measured, target))
    if walltimes := results.get("walltimes"):
        rows.append(("make demo wall time", f"{walltimes['demo_seconds']} s", "< 120 s"))
        suite = f"{walltimes['test_suite_seconds']} s ({'green' if walltimes['test_suite_passed'] else 'RED'})"
        rows.append(("test suite wall time (pytest tests/)", suite, "reported"))
        rows += [
            (f"  slow test: {slow['test'][:70]}", f"{slow['seconds']} s", "") for slow in walltimes["slowest_tests"]
        ]
    width = max(len(row[0]) for row in rows)
    print(f"{'figure'.ljust(width)}  {'measured':<52}  target", file=out)
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:<52}  {target}", file=out)


if __name__ == "__main__":
    sys.exit(main())
