"""What moves the deployed functions along on the simulator's clock: `Pump` delivers the queues to their functions
(events first, then the notices they caused), releases the notices delayed on that clock, feeds the table's stream
to its function and invokes the scheduled functions when their time has come (workarounds 5, 8 and 10 of the
package's list)."""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mwaa_obs.notices import Notice
from mwaa_obs_tools import emulator
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext, Handler, matches_filter
from mwaa_obs_tools.localstack.deployment import Deployment
from mwaa_obs_tools.localstack.functions import FunctionHost, FunctionTarget
from mwaa_obs_tools.simulator.engine import Engine


@dataclass
class ScheduledTarget:
    """A function on an EventBridge schedule, invoked by pump() on the simulator's clock."""

    handler: Handler
    every: timedelta
    log_group: str
    input: dict[str, Any] = field(default_factory=dict)  # the schedule's Input, merged into the event
    next_due: datetime | None = None


@dataclass
class StreamTarget:
    """A function on the table's stream with FilterCriteria, fed by pump() as the event source mapping would."""

    handler: Handler
    stream_arn: str
    filters: list[dict[str, Any]]
    log_group: str
    streams: Any  # a DynamoDB Streams client signed with the function's role, as the mapping reads the stream
    iterators: dict[str, str] = field(default_factory=dict)  # shard id -> next iterator


class SimulatedDelays:
    """SQS message delays on the simulator's clock: moto holds a delayed message back for that long in wall time,
    which a simulated day never waits out. The notifier's delayed notices (flushes of held failures) wait here and
    go to the notices queue once the simulated clock has reached them."""

    def __init__(self, sqs: Callable[[], Any], queue_url: Callable[[], str], clock: Callable[[], datetime]) -> None:
        """`sqs`: the client the notices are sent with, the notifier's own (signed with its role)."""
        self._sqs, self._queue_url, self._clock = sqs, queue_url, clock
        self._waiting: list[tuple[datetime, int, str]] = []
        self._order = itertools.count()

    def send(self, notice: Notice, delay_seconds: int | None = None) -> None:
        due = self._clock() + timedelta(seconds=delay_seconds or 0)
        heapq.heappush(self._waiting, (due, next(self._order), notice.to_body()))

    def release(self) -> int:
        """Send every notice now due; how many."""
        sent = 0
        while self._waiting and self._waiting[0][0] <= self._clock():
            _, _, body = heapq.heappop(self._waiting)
            self._sqs().send_message(QueueUrl=self._queue_url(), MessageBody=body)
            sent += 1
        return sent


class Pump:
    """The functions wired to their triggers, and the one loop that runs them."""

    def __init__(
        self,
        functions: FunctionHost,
        engine: Engine,
        other_engines: Sequence[Engine],
        delayed_notices: SimulatedDelays,
    ) -> None:
        self._functions = functions
        self._engine = engine
        self._other_engines = other_engines
        self._delayed_notices = delayed_notices
        self.queues: list[FunctionTarget] = []  # in pump order: ingest, then notify
        self.scheduled: list[ScheduledTarget] = []
        self.streams: list[StreamTarget] = []

    def wire(self, deployment: Deployment) -> None:
        """Each function to what triggers it, as the template says."""
        self.queues = [
            self._functions.wire_queue("IngestFunction", "EventsQueueUrl"),
            self._functions.wire_queue("NotifyFunction", "NoticesQueueUrl"),
        ]
        self.scheduled = [
            target
            for logical_id in ("FreshnessFunction", "ProvisionFunction", "ReconcileFunction")
            for target in self._wire_schedules(deployment, logical_id)
        ]
        self.streams = [self._wire_stream(deployment, "ProvisionFunction")]

    def pump(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Deliver each function's queue to its handler (events first, then the notices they caused) until all are
        empty; returns the events ingested. The other accounts' simulators first catch up with the home one's clock
        (one clock for every account and region)."""
        assert self.queues, "deploy() first"
        for engine in self._other_engines:
            engine.advance(self._engine.now)
        ingested = 0
        while not should_stop():
            handled = [self._functions.drain(target, should_stop) for target in self.queues]
            ingested += handled[0]
            if not any(handled) and not self._delayed_notices.release():
                self.run_streams()
                self.run_schedules()
                return ingested
        return ingested  # asked to stop: what is still queued stays in the queue

    def run_streams(self) -> int:
        """Feed each stream target the new records that pass its filters; returns the records handed over."""
        handed = 0
        for target in self.streams:
            for shard, iterator in list(target.iterators.items()):
                answer = target.streams.get_records(ShardIterator=iterator)
                target.iterators[shard] = answer.get("NextShardIterator") or iterator
                records = [r for r in answer["Records"] if any(matches_filter(f, r) for f in target.filters)]
                if records:
                    context = FakeLambdaContext(aws_request_id=f"stream-{shard}")
                    self._functions.invoke(target.handler, {"Records": records}, context, target.log_group)
                    handed += len(records)
        return handed

    def run_schedules(self) -> int:
        """Invoke each scheduled function whose time has come on the simulator's clock; returns the invocations."""
        invoked = 0
        for target in self.scheduled:
            now = self._engine.now
            if target.next_due is not None and now < target.next_due:
                continue
            event = {"source": "aws.events", "detail-type": "Scheduled Event", "time": now.isoformat(), **target.input}
            context = FakeLambdaContext(aws_request_id=f"schedule-{now:%Y%m%dT%H%M}")
            self._functions.invoke(target.handler, event, context, target.log_group)
            target.next_due = now + target.every
            invoked += 1
        return invoked

    def _wire_schedules(self, deployment: Deployment, logical_id: str) -> list[ScheduledTarget]:
        refs = deployment.parameter_values()
        handler, log_group = self._functions.load(logical_id)
        targets = []
        for source in deployment.event_sources(logical_id, "Schedule"):
            expression = emulator.resolve(source["Properties"]["Schedule"], refs, {})
            amount, unit = expression.removeprefix("rate(").removesuffix(")").split()
            every = timedelta(**{unit if unit.endswith("s") else unit + "s": int(amount)})
            given = json.loads(source["Properties"].get("Input", "{}"))
            targets.append(ScheduledTarget(handler, every, log_group, given))
        return targets

    def _wire_stream(self, deployment: Deployment, logical_id: str) -> StreamTarget:
        source = deployment.event_source(logical_id, "DynamoDB")
        filters = [json.loads(entry["Pattern"]) for entry in source["Properties"]["FilterCriteria"]["Filters"]]
        handler, log_group = self._functions.load(logical_id)
        stream_arn = deployment.outputs["StateTableStreamArn"]
        # The mapping reads the stream with the function's role: ListStreams, DescribeStream, GetShardIterator and
        # GetRecords (the Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB", execution role permissions).
        streams = self._functions.client_for(logical_id, "dynamodbstreams")
        streams.list_streams(TableName=stream_arn.split("/")[1])
        target = StreamTarget(handler, stream_arn, filters, log_group, streams)
        for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
            target.iterators[shard["ShardId"]] = iterator
        return target
