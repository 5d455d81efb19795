"""The ingest Lambda handler, in-process, against the emulator: partial batch failures, bad input, DLQ."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import botocore.endpoint
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders

from mwaa_obs.sqs import EntireBatchFailed
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.samples import EventSamples, SampleKind
from mwaa_obs_tools import cli, emulator
from mwaa_obs_tools.factories import T0, metric_totals, minutes, run_event, sqs_event, task_event
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext, poll_sqs_once
from tests.conftest import Printed

BAD_EVENTS = sorted((Path(__file__).resolve().parents[1] / "events" / "bad").iterdir())
WORKFLOW_ID = "simple_s3_test-Ab3dE6gH9j"


def a_failed_run(run_id: str) -> list[dict[str, Any]]:
    return [
        run_event("Started", run_id, T0),
        run_event("Queued", run_id, T0 + minutes(1)),
        run_event("Running", run_id, T0 + minutes(2)),
        task_event("Running", run_id, "load", T0 + minutes(3)),
        task_event("Failed", run_id, "load", T0 + minutes(5), errorMessage="AccessDenied"),
        run_event("Failed", run_id, T0 + minutes(6)),
    ]


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


class Throttle:
    """Makes DynamoDB refuse every write for chosen run ids, as a throttled table would (moto cannot throttle)."""

    def __init__(self, exceptions: Any) -> None:
        self._exceptions = exceptions
        self.run_ids: set[str] = set()
        self.refusals: Counter[str] = Counter()

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        for run_id in self.run_ids:
            if params["Key"]["pk"]["S"].endswith(f"#{run_id}"):
                self.refusals[run_id] += 1
                raise self._exceptions.ProvisionedThroughputExceededException(
                    {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}},
                    "UpdateItem",
                )


class ServerErrors:
    """Answers DynamoDB writes with HTTP 500 before they leave the client, as a failing DynamoDB would.

    Hooked on before-send, so botocore's own retries see real 500 responses (moto cannot fail on demand).
    """

    def __init__(self, times: int) -> None:
        self.times = times
        self.answered = 0

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if self.answered >= self.times:
            return None
        self.answered += 1
        body = b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}'
        return AWSResponse(request.url, 500, HTTPHeaders(), _Body(body))


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.content


# aws_config(): 4 retries after the first attempt.
ATTEMPTS_PER_WRITE = 5


@pytest.fixture
def server_errors(
    state_table: str, monkeypatch: pytest.MonkeyPatch, ingest_handler: ModuleType
) -> Iterator[Callable[[int], ServerErrors]]:
    # botocore's backoff between attempts is skipped (only in botocore's endpoint module).
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda seconds: None))
    hooks: list[ServerErrors] = []
    events = ingest_handler.dynamodb.meta.events

    def fail(times: int) -> ServerErrors:
        hooks.append(ServerErrors(times))
        events.register("before-send.dynamodb.UpdateItem", hooks[-1])
        return hooks[-1]

    yield fail
    for hook in hooks:
        events.unregister("before-send.dynamodb.UpdateItem", hook)


@pytest.fixture
def throttle(state_table: str, ingest_handler: ModuleType) -> Iterator[Throttle]:
    hook = Throttle(ingest_handler.dynamodb.exceptions)
    events = ingest_handler.dynamodb.meta.events
    events.register("provide-client-params.dynamodb.UpdateItem", hook)
    yield hook
    events.unregister("provide-client-params.dynamodb.UpdateItem", hook)


def test_a_good_batch_is_stored_and_acknowledged(
    state_table: str, context: Any, printed: Callable[[], Printed], ingest_handler: ModuleType, runs: Runs
) -> None:
    # Given a batch with a whole failed run
    event = sqs_event(a_failed_run("run-1"))
    # When the handler runs
    response = ingest_handler.lambda_handler(event, context)
    # Then every record is acknowledged, the run is stored, and its metrics are emitted once
    assert response == {"batchItemFailures": []}
    run, attempts = runs.load(WORKFLOW_ID, "run-1")
    assert run is not None
    assert run.status == "FAILED"
    assert [(item.task_id, item.status, item.error_message) for item in attempts] == [
        ("load", "FAILED", "AccessDenied")
    ]
    emf = printed().emf
    # The fleet series count the whole run; the workflow's own series only what went wrong (no settings: the
    # default, metrics by exception)
    fleet = Counter(metric_totals(emf, None)) + Counter(metric_totals(emf, "simple_s3_test"))  # every document's
    assert fleet == {
        "RunStarted": 1,
        "RunFailed": 1,
        "RunQueueDelay": 60,
        "RunDuration": 240,
        "TaskFailed": 1,
        "TaskDuration": 120,
    }
    assert metric_totals(emf, "simple_s3_test") == {"RunFailed": 1, "TaskFailed": 1}


def test_redelivering_a_batch_changes_nothing_and_counts_nothing(
    state_table: str, context: Any, printed: Callable[[], Printed], dynamodb: Any, ingest_handler: ModuleType
) -> None:
    ingest_handler.lambda_handler(sqs_event(a_failed_run("run-1")), context)
    before = dynamodb.scan(TableName=state_table)["Items"]
    printed()
    # The same events again, in other messages (EventBridge's at-least-once delivery). The same messages again after
    # a success that published its metrics would count them again: SQS redelivers a message only when it was not
    # deleted, and ingest counts a message's metrics again when it finds its own write (docs/METRICS.md).
    assert ingest_handler.lambda_handler(sqs_event(a_failed_run("run-1")), context) == {"batchItemFailures": []}
    assert printed().emf == []
    assert dynamodb.scan(TableName=state_table)["Items"] == before


def test_each_transition_line_names_its_account_so_a_source_accounts_volume_can_be_counted(
    state_table: str, context: Any, printed: Callable[[], Printed], ingest_handler: ModuleType
) -> None:
    # Given, in central mode, events of the stack's own account and of a source account (docs/CENTRAL.md's query)
    other = "arn:aws:airflow-serverless:eu-west-1:210987654321:workflow/orders_etl-Zz9Yy8Xx7W"
    events = [run_event("Started", "own-1", T0), *(run_event("Started", f"other-{n}", T0, arn=other) for n in range(3))]
    ingest_handler.lambda_handler(sqs_event(events), context)
    # Then `stats count(*) by account` over the transition lines counts each account's events
    lines = [line for line in printed().logs if line["message"].startswith("transition ")]
    assert Counter(line["account"] for line in lines) == {"123456789012": 1, "210987654321": 3}


def test_bad_records_are_logged_once_counted_and_acknowledged_without_failing_the_batch(
    state_table: str,
    context: Any,
    printed: Callable[[], Printed],
    ingest_handler: ModuleType,
    runs: Runs,
    dynamodb: Any,
) -> None:
    # Given the bad-input corpus mixed into a good batch
    bodies = [path.read_text(encoding="utf-8") for path in BAD_EVENTS]
    event = sqs_event([*bodies, run_event("Started", "run-ok", T0)])
    # When the handler runs
    response = ingest_handler.lambda_handler(event, context)
    # Then nothing is retried, the good record is stored
    assert response == {"batchItemFailures": []}
    assert runs.load(WORKFLOW_ID, "run-ok")[0] is not None
    output = printed()
    # And each bad record gave exactly one warning with a reason, and one count: an unknown detail-type apart
    # (the records' own warnings: another of the invocation, e.g. a settings read timing out under load, is not theirs)
    record_warnings = {"unknown event type", "invalid event rejected"}
    warnings = [line for line in output.logs if line["level"] == "WARNING" and line["message"] in record_warnings]
    assert len(warnings) == len(BAD_EVENTS)
    unknown = [line for line in warnings if line["message"] == "unknown event type"]
    assert [line["detail_type"] for line in unknown] == ["MWAA Serverless Workflow Run Paused"]
    assert all(line["reason"] for line in warnings)
    assert len(warnings) - len(unknown) == len(BAD_EVENTS) - 1
    totals = metric_totals(output.emf)
    assert (totals["InvalidEvents"], totals["UnknownEventTypes"]) == (len(BAD_EVENTS) - 1, 1)
    # And every one was sampled (the first of its kind and detail-type today), with its reason and its body
    samples = EventSamples(dynamodb, state_table).recent()
    kept = [(item.sample_kind, record.reason) for item in samples for record in item.samples or []]
    assert len(kept) == len(BAD_EVENTS)
    assert ("unknown", "unknown detail-type 'MWAA Serverless Workflow Run Paused'") in kept


def test_samples_keep_the_first_three_a_day_per_kind_and_detail_type(state_table: str, dynamodb: Any) -> None:
    samples = EventSamples(dynamodb, state_table, clock=lambda: T0)
    kept = [samples.keep(SampleKind.UNKNOWN, "Run State Change", f"reason {n}", f"body {n}") for n in range(5)]
    assert kept == [True, True, True, False, False]
    # A fresh function instance (no memory of the full slot) is refused by the table's condition
    again = EventSamples(dynamodb, state_table, clock=lambda: T0)
    assert not again.keep(SampleKind.UNKNOWN, "Run State Change", "reason 5", "body 5")
    assert again.keep(SampleKind.INVALID, "Run State Change", "other kind", "body")
    tomorrow = EventSamples(dynamodb, state_table, clock=lambda: T0 + timedelta(days=1))
    assert tomorrow.keep(SampleKind.UNKNOWN, "Run State Change", "a new day", "body")
    (item,) = [item for item in samples.recent() if item.sample_kind == "unknown"]
    assert [record.body for record in item.samples or []] == ["body 0", "body 1", "body 2"]


def test_a_transient_error_fails_only_its_own_record(
    state_table: str, context: Any, throttle: Throttle, ingest_handler: ModuleType, runs: Runs
) -> None:
    # Given writes for one run are throttled
    throttle.run_ids.add("run-throttled")
    event = sqs_event([run_event("Started", "run-ok", T0), run_event("Started", "run-throttled", T0)])
    # When the batch is handled
    response = ingest_handler.lambda_handler(event, context)
    # Then only that record is reported for retry
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert runs.load(WORKFLOW_ID, "run-ok")[0] is not None


def test_a_dynamodb_5xx_is_retried_by_the_client_and_the_event_is_stored(
    state_table: str, context: Any, server_errors: Callable[[int], ServerErrors], ingest_handler: ModuleType, runs: Runs
) -> None:
    # Given DynamoDB answering the first two writes with HTTP 500
    errors = server_errors(2)
    # When a batch is handled
    response = ingest_handler.lambda_handler(sqs_event([run_event("Started", "run-5xx", T0)]), context)
    # Then the client's retries got through: nothing is reported for retry and the run is stored
    assert errors.answered == 2
    assert response == {"batchItemFailures": []}
    assert runs.load(WORKFLOW_ID, "run-5xx")[0] is not None


def test_a_dynamodb_that_keeps_failing_sends_the_records_to_sqs_retry_and_then_the_dlq_counted(
    endpoint: str,
    state_table: str,
    template: dict[str, Any],
    server_errors: Callable[[int], ServerErrors],
    printed: Callable[[], Printed],
    ingest_handler: ModuleType,
    runs: Runs,
) -> None:
    # Given the template's queues holding two events, and DynamoDB answering every write with HTTP 500
    sqs: Any = botocore.session.get_session().create_client("sqs", endpoint_url=endpoint)
    queues = emulator.create_event_queues(sqs, template, prefix="5xx-test")
    for run_id in ("run-a", "run-b"):
        sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps(run_event("Started", run_id, T0)))
    errors = server_errors(10_000)
    max_receive = emulator.parameter_default(template, "MaxReceiveCount")
    assert ingest_handler.config.max_receive_count == max_receive
    # When the event source mapping polls until the queue is empty
    polls = 0
    while poll_sqs_once(sqs, queues.url, queues.arn, ingest_handler.lambda_handler).received:
        polls += 1
        assert polls <= max_receive + 1
    # Then both events sit in the DLQ after maxReceiveCount receives of 4 attempts each, counted once each
    dead = sqs.receive_message(QueueUrl=queues.dead_letter_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(message["Body"])["detail"]["runId"] for message in dead) == ["run-a", "run-b"]
    assert errors.answered == 2 * max_receive * ATTEMPTS_PER_WRITE
    assert metric_totals(printed().emf).get("EventsDeadLettered", 0) == 2
    assert runs.load(WORKFLOW_ID, "run-a")[0] is None


def test_a_batch_that_fails_entirely_raises_so_lambda_retries_it(
    state_table: str, context: Any, throttle: Throttle, ingest_handler: ModuleType
) -> None:
    throttle.run_ids.add("run-x")
    with pytest.raises(EntireBatchFailed):
        ingest_handler.lambda_handler(sqs_event([run_event("Started", "run-x", T0)]), context)


def test_a_record_that_keeps_failing_ends_in_the_dead_letter_queue(
    endpoint: str,
    state_table: str,
    template: dict[str, Any],
    throttle: Throttle,
    printed: Callable[[], Printed],
    ingest_handler: ModuleType,
    runs: Runs,
) -> None:
    # Given the template's queues, and a run whose writes always fail
    sqs: Any = botocore.session.get_session().create_client("sqs", endpoint_url=endpoint)
    queues = emulator.create_event_queues(sqs, template, prefix="dlq-test")
    throttle.run_ids.add("run-poison")
    sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps(run_event("Started", "run-poison", T0)))
    sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps(run_event("Started", "run-ok", T0)))
    max_receive = emulator.parameter_default(template, "MaxReceiveCount")
    # When the event source mapping polls until the queue is empty
    polls = 0
    while poll_sqs_once(sqs, queues.url, queues.arn, ingest_handler.lambda_handler).received:
        polls += 1
        assert polls <= max_receive + 1
    # Then the good event is stored and the poison one sits in the DLQ, after exactly maxReceiveCount tries
    assert runs.load(WORKFLOW_ID, "run-ok")[0] is not None
    dead = sqs.receive_message(QueueUrl=queues.dead_letter_url)["Messages"]
    assert [json.loads(message["Body"])["detail"]["runId"] for message in dead] == ["run-poison"]
    assert throttle.refusals["run-poison"] == max_receive
    assert metric_totals(printed().emf).get("EventsDeadLettered", 0) == 1


def test_a_lone_surrogate_in_an_error_is_stored_replaced_not_retried(
    state_table: str, context: Any, ingest_handler: ModuleType, runs: Runs
) -> None:
    # Given a failed run whose error holds a lone surrogate (JSON "\ud800": valid JSON, not encodable as UTF-8)
    body = json.dumps(run_event("Failed", "run-surrogate", T0, errorMessage="disk \ud800 full"))
    # When it is ingested
    response = ingest_handler.lambda_handler(sqs_event([body]), context)
    # Then it is stored, the surrogate replaced, and nothing is retried
    assert response == {"batchItemFailures": []}
    run, _ = runs.load(WORKFLOW_ID, "run-surrogate")
    assert run is not None
    assert run.error_message == "disk \ufffd full"


def test_replay_names_the_line_and_the_reason_of_an_event_ingest_would_refuse(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file whose second event can never be stored (an attempt number in superscript digits)
    poison = task_event("Running", "run-1", "load", T0)
    poison["detail"]["attemptNumber"] = "²"
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(run_event("Started", "run-1", T0)) + "\n" + json.dumps(poison) + "\n")
    # When it is replayed through the local bus
    code = cli.main(["replay", str(path), "--endpoint-url", endpoint])
    # Then both were sent, and the refusal names its line and why, with no traceback
    output = capsys.readouterr()
    assert code == 0
    assert "line 2: attemptNumber is not a whole number from 0 to 9999" in output.out
    assert "Traceback" not in output.out + output.err
