"""The ingest handler under AWS faults, on moto: every metric is counted exactly once.

A day of runs (duplicated, shuffled) goes through an SQS queue and the ingest handler twice: once on a quiet AWS
(the reference), once with faults under botocore (mwaa_obs_tools.aws_faults): writes applied whose answer is lost or
turned into a 500 (botocore sends them again), writes applied and then refused on every retry (the message fails and
comes back), writes refused, notices refused. The metric totals must be the reference's exactly.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest

from mwaa_obs import telemetry
from mwaa_obs.aws import client, dynamodb_client
from mwaa_obs.notices import NoticeQueue
from mwaa_obs.store.samples import EventSamples
from mwaa_obs.store.transitions import Transitions
from mwaa_obs_tools.aws_faults import Fault, faults
from mwaa_obs_tools.factories import fleet_history, shuffled_with_duplicates
from mwaa_obs_tools.lambda_emulation import poll_sqs_once
from tests.conftest import Printed

ATTEMPTS_PER_CALL = 5  # aws_config(): 4 retries after the first attempt


def day_of(prefix: str) -> list[dict[str, Any]]:
    """The same day of runs of 3 workflows (30 % fail, 2 tasks a run), a third delivered twice, named `prefix`_..."""
    events, _, _ = fleet_history(workflows=3, runs_per_workflow=4, tasks_per_run=2, seed=37)
    delivered = shuffled_with_duplicates(events, 0.3, seed=37)
    return [json.loads(json.dumps(event).replace("load_", f"{prefix}_")) for event in delivered]


class FaultPlan:
    """Which fault each request gets: drawn once per request (its body), in the order requests come, so the same
    scenario plays on every run; a request sent again by botocore, or by a retried message, is the same body."""

    def __init__(self, seed: int, weights: dict[tuple[Fault, ...], float]) -> None:
        self._draw = random.Random(seed)
        self._weights = weights
        self._plans: dict[bytes, list[Fault]] = {}
        self.attempts: Counter[bytes] = Counter()

    def __call__(self, body: bytes) -> Fault | None:
        if body not in self._plans:
            roll, plan = self._draw.random(), []
            for faults_in_order, weight in self._weights.items():
                if roll < weight:
                    plan = list(faults_in_order)
                    break
                roll -= weight
            self._plans[body] = plan
        attempt = self.attempts[body]
        self.attempts[body] += 1
        plan = self._plans[body]
        return plan[attempt] if attempt < len(plan) else None


EXHAUSTED = ATTEMPTS_PER_CALL - 1  # after one fault that applied the write, refusals on every retry botocore makes
WRITE_FAULTS: dict[tuple[Fault, ...], float] = {
    (Fault.ANSWER_LOST,): 0.08,  # applied; botocore sends it again and finds it written
    (Fault.APPLIED_THEN_500,): 0.06,
    (Fault.ANSWER_LOST,) + (Fault.REFUSED_500,) * EXHAUSTED: 0.04,  # applied; the message fails and comes back
    (Fault.REFUSED_500,) * ATTEMPTS_PER_CALL: 0.04,  # never applied; the message comes back
}
NOTICE_FAULTS: dict[tuple[Fault, ...], float] = {
    (Fault.REFUSED_500,) * ATTEMPTS_PER_CALL: 0.15,  # the transition is stored, its notice is not sent
    (Fault.APPLIED_THEN_500,): 0.05,  # the notice is sent twice (harmless: the notifier makes it one message)
}


@pytest.fixture
def events_queue(sqs: Any) -> Iterator[tuple[str, str]]:
    url: str = sqs.create_queue(QueueName="ingest-faults-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield url, arn
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def container(ingest_handler: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The ingest handler with clients of its own, as in a new Lambda container: the faults drain botocore's retry
    quota (standard mode: 500 tokens, 5 a retried 500, 10 a timeout), which the module's shared clients would keep,
    refusing the retries the next tests count on."""
    config = ingest_handler.config
    dynamodb, sqs = dynamodb_client(), client("sqs")
    monkeypatch.setattr(ingest_handler, "dynamodb", dynamodb)
    monkeypatch.setattr(ingest_handler, "sqs", sqs)
    transitions = Transitions(dynamodb, config.table_name, config.history_ttl, home=config.home)
    monkeypatch.setattr(ingest_handler, "transitions", transitions)
    monkeypatch.setattr(ingest_handler, "notices", NoticeQueue(sqs, config.notices_queue_url))
    samples = EventSamples(dynamodb, config.table_name, clock=lambda: telemetry.clock())  # noqa: PLW0108 - set later
    monkeypatch.setattr(ingest_handler, "samples", samples)
    return ingest_handler


def ingest_through_the_queue(sqs: Any, queue: tuple[str, str], handler: Any, events: list[dict[str, Any]]) -> int:
    """Send the events, then poll as the event source mapping does (batches of 10) until the queue is empty;
    returns how many records failed and came back."""
    url, arn = queue
    for start in range(0, len(events), 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps(e)} for i, e in enumerate(events[start : start + 10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    failed = 0
    while (result := poll_sqs_once(sqs, url, arn, handler, 10)).received:
        failed += result.failed
    return failed


def totals_of(printed: Printed, prefix: str) -> Counter[str]:
    """Each metric's count (values for durations) over the per-workflow EMF documents of the workflows named so."""
    counts: Counter[str] = Counter()
    for document in printed.emf:
        if not str(document.get("WorkflowName", "")).startswith(prefix):
            continue
        for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            values = document[definition["Name"]]
            counts[definition["Name"]] += len(values) if isinstance(values, list) else 1
    return counts


def test_every_metric_is_counted_exactly_once_whatever_answers_are_lost(
    state_table: str,
    sqs: Any,
    events_queue: tuple[str, str],
    container: ModuleType,
    printed: Callable[[], Printed],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda seconds: None))  # no backoff waits
    handler = container.lambda_handler
    # Given the day ingested on a quiet AWS
    assert ingest_through_the_queue(sqs, events_queue, handler, day_of("quiet")) == 0
    reference = totals_of(printed(), "quiet_")
    # When the same day (other workflow names) is ingested with faults on its writes and its notices
    writes, notices = FaultPlan(37, WRITE_FAULTS), FaultPlan(38, NOTICE_FAULTS)
    with (
        faults(container.dynamodb, "UpdateItem", writes) as on_writes,
        faults(container.sqs, "SendMessage", notices) as on_notices,
    ):
        retried = ingest_through_the_queue(sqs, events_queue, handler, day_of("faulted"))
    # Then every fault happened, some messages came back, and each metric was counted as on the quiet AWS
    assert set(on_writes) == {Fault.ANSWER_LOST, Fault.APPLIED_THEN_500, Fault.REFUSED_500}
    assert Fault.REFUSED_500 in on_notices
    assert retried > 0
    assert reference  # whichever metrics ingest owes (the catalog is not this test's business), it owed some
    assert totals_of(printed(), "faulted_") == reference
