"""What the sections of `make bench` share: the offline process they run in, the ingest function loaded for one
section, an empty emulator, the call counter, and the events and figures several sections build.

The runner (bench/run.py) runs each section in a process of its own, set up by `offline_process`; within it, a
section scopes what it changes to the block that needs it (its own ingest function and its stubs, the call counter's
hook, environment variables), so that sections can also run one after another in a process (tests/unit/test_bench.py).
"""

from __future__ import annotations

import io
import json
import logging
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers/common"), str(ROOT / "src")]

import botocore.client  # noqa: E402
import botocore.session  # noqa: E402
from botocore.awsrequest import AWSResponse, HTTPHeaders  # noqa: E402

from mwaa_obs import SERVICE, aws  # noqa: E402
from mwaa_obs.stats import percentile  # noqa: E402
from mwaa_obs_tools import emulator, sample_events  # noqa: E402
from mwaa_obs_tools.factories import FunctionEnvironment, sqs_event  # noqa: E402
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext, load_handler  # noqa: E402

FUNCTIONS = FunctionEnvironment(emulator.free_port(), "mwaa-obs-bench")
PORT = FUNCTIONS.port
Row = tuple[str, str, str]  # a line of the printed table: figure, measured, target


@dataclass(frozen=True)
class Options:
    repeat: int = 200  # handler invocations per CPU sample (batch 1)
    cold_samples: int = 15


def offline_process() -> None:
    """Point this process at the bench's emulator, with the functions' environment: once, before a section runs."""
    emulator.use_offline(PORT)
    os.environ.update(FUNCTIONS.variables())
    os.environ.update({"POWERTOOLS_METRICS_NAMESPACE": "MWAAServerless/Bench", "POWERTOOLS_LOG_LEVEL": "INFO"})
    os.environ.pop("SLACK_WEBHOOK_SECRET_ARN")  # the bench counts the email channel only
    # The functions' clients wait 5 s for an answer, a budget for AWS; the emulator on a loaded 2-core machine took
    # longer to answer a Query over a 1,000-workflow partition, four times in a row, and failed a whole section. The
    # bench counts calls and work, it does not time AWS's answers: its clients wait as long as the emulator needs.
    aws.READ_TIMEOUT_SECONDS = 120


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def quiet() -> None:
    """Logs and EMF still get formatted (that is part of the cost) but are thrown away."""
    for handler in logging.getLogger(SERVICE).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(_Discard())
    sys.stdout = _Discard()


@contextmanager
def ingest_function() -> Iterator[Any]:
    """The ingest function's module as Lambda loads it from its CodeUri, with clients of its own (pointing where the
    environment says): what a section stubs on them is gone with them at the end of the block, and the module a
    process had under the function's name before is back."""
    prefix = "mwaa_obs_functions.IngestFunction."
    before = {name: module for name, module in sys.modules.items() if name.startswith(prefix)}
    handler = load_handler(emulator.load_template(), "IngestFunction", ROOT)
    try:
        yield sys.modules[handler.__module__]
    finally:
        sys.modules.pop(handler.__module__, None)
        sys.modules.update(before)


@contextmanager
def kept_environment(**variables: str) -> Iterator[None]:
    """The environment as it is, with `variables` set for the block, and put back after it (the local stack sets its
    functions' variables for good)."""
    before = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


@contextmanager
def empty_emulator() -> Iterator[str]:
    """moto server on the bench's port, emptied (its state outlives a server stopped in this process), with the state
    table and the notices queue where the ingest function writes; yields its endpoint."""
    with emulator.moto_server(PORT) as endpoint:
        empty_state(endpoint)
        yield endpoint


def empty_state(endpoint: str) -> None:
    emulator.reset(endpoint)
    session: Any = botocore.session.get_session()
    emulator.create_state_table(session.create_client("dynamodb", endpoint_url=endpoint), FUNCTIONS.table_name)
    session.create_client("sqs", endpoint_url=endpoint).create_queue(QueueName=FUNCTIONS.notices_queue)


class CallCounter:
    """Counts every AWS API call made through any botocore client, pynamodb's included, by service and operation.

    With `caller` set, calls are keyed "caller|service:Operation"; with it None, they are not counted (the local
    stack's own plumbing: the emulated event source mappings, EventBridge delivery, EMF forwarding).
    """

    def __init__(self, caller: str | None = "") -> None:
        self.calls: Counter[str] = Counter()
        self.caller = caller
        self._client_class: Any = vars(botocore.client)["BaseClient"]  # typed Any: its private method is replaced
        self._original = self._client_class._make_api_call

    def __enter__(self) -> CallCounter:
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


# --- AWS answered in-process (after botocore has validated and serialised the request, as Stubber does) ----------


def stub_update_item(client: Any) -> None:
    """UpdateItem's answer is the steady state: an existing item whose run already noted its workflow."""

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        key = json.loads(params["body"])["Key"]
        kind = "run" if key["sk"]["S"] == "RUN" else "task"
        old = {**key, "kind": {"S": kind}, "workflow_noted": {"BOOL": True}}
        return AWSResponse("", 200, HTTPHeaders(), None), {"Attributes": old}

    client.meta.events.register("before-call.dynamodb.UpdateItem", answer)


def stub_send_message(client: Any) -> None:
    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("", 200, HTTPHeaders(), None), {"MessageId": "bench", "MD5OfMessageBody": ""}

    client.meta.events.register("before-call.sqs.SendMessage", answer)


def stub_settings(client: Any, document: str = "{}") -> None:
    """GetParameter of the settings answers this document (the default: none, metrics by exception)."""

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        name = json.loads(params["body"])["Name"]
        return AWSResponse("", 200, HTTPHeaders(), None), {"Parameter": {"Name": name, "Value": document}}

    client.meta.events.register("before-call.ssm.GetParameter", answer)


def stub_ingest_clients(ingest: Any) -> None:
    """The ingest function's own clients answered in-process: no AWS (nor emulator) time in what is measured."""
    stub_update_item(ingest.dynamodb)
    stub_send_message(ingest.sqs)
    stub_settings(ingest.ssm)


# --- events and figures --------------------------------------------------------------------------------------------


def ingest_capturing_emf(ingest: Any, events: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
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


def run_with_tasks(
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


def put_events_entry(event: dict[str, Any]) -> dict[str, Any]:
    """An event as PutEvents takes it, on the default bus."""
    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
        "Time": datetime.fromisoformat(event["time"]),
        "EventBusName": "default",
    }


class Nowhere:
    """Where the simulator's engine sends events and task logs when nobody reads them."""

    def publish(self, entries: list[dict[str, Any]]) -> None: ...

    def log(self, group: str, stream: str, at: datetime, message: str) -> None: ...


def cpu_seconds(action: Callable[[], Any], repeat: int) -> float:
    """The median CPU time of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        action()
        samples.append(time.process_time() - started)
    return statistics.median(samples)


def percentiles(samples: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(samples, 50), 1), "p95": round(percentile(samples, 95), 1)}


def status_line(name: str) -> int:
    """kB of one line of /proc/self/status (VmRSS, VmHWM)."""
    status = Path("/proc/self/status").read_text(encoding="ascii")
    return int(next(line for line in status.splitlines() if line.startswith(f"{name}:")).split()[1])
