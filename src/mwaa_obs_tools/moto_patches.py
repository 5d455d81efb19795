"""What moto's server does that AWS does not, undone so that a long session stays fast, small and true.

1. moto appends every instance of its models to a class list (for its dashboard) and never lets go: every item
   ever written, and every copy of a table, stays in memory. Nothing here reads those lists.
2. TransactWriteItems deep-copies each table it touches before it starts (its rollback copy): a cost that grows
   with the table (about 380 ms per transaction at 3,000 items, make bench: local stack memory). Here the
   conditions of the whole transaction are checked first against the items as they are, and a transaction
   whose condition fails is cancelled with the same reasons before anything is written, as DynamoDB does; one
   that passes is applied without the copy. Left unemulated: a request DynamoDB would refuse as invalid part way
   through a transaction that passed its conditions could leave the earlier writes of it in place.

3. A table stream keeps every record it ever had (DynamoDB trims them after 24 hours): the newest STREAM_RECORDS
   are kept, the sequence numbers of what is left unchanged.
4. SQS invokes a queue's enabled Lambda event source mappings on every SendMessage (in Docker, which is not here,
   and which pushes the message towards its DLQ). The local stack polls the queues itself, so a queue's mappings
   are kept (their state is true: a disabled mapping stops the local stack's polling) but never invoked by SQS.
5. A rule whose target is an event bus of another account or region (a forwarder's) sends moto a new event with
   neither the original's time nor its resources, stamped with the target bus's account and region; EventBridge
   forwards the event whole, its `account` and `region` still those where it began (the receiving account's rules
   tell the senders apart by the `account` field, and allow or deny events from specific Regions: EventBridge API
   Reference, PutPermission, Principal, https://docs.aws.amazon.com/eventbridge/latest/APIReference/
   API_PutPermission.html; User Guide, eb-cross-region.html; "region: identifies the Region where the event
   originated", eb-events-structure.html). Here the event reaches the target bus's rules whole. And a rule
   without an input transformer delivers its targets (a queue) the event without its `account`; EventBridge
   delivers the whole event, whose metadata "appear in all events" (eb-events-structure.html): `account` kept.
6. DeleteTable of a table with deletion protection answers ValidationException; DynamoDB answers
   ResourceInUseException, "Resource cannot be deleted as it is currently protected against deletion. Disable
   deletion protection first." (observed: aws-bench/aws-bench#41). Here as DynamoDB does.
7. CloudWatch Logs takes events from 14 days before to 2 hours after now (PutLogEvents), and moto judges that by
   the wall clock; offline, now is the simulator's clock, which runs hours or days ahead of the wall clock (a
   simulated day takes seconds), so its task logs were dropped as too new whenever a test's clock passed wall time
   plus 2 hours (by the time of day a test ran), and a test's logs dated on a fixed day became too old 14 days
   later. Here the window is judged by `logs_clock`, which the local stack sets to its simulator's clock and a test
   of fixed dates to its own.

CloudWatch's alarms and dashboards (composite alarms, tags) are mwaa_obs_tools.moto_cloudwatch's, applied here too.

docs/LOCAL_STACK.md lists them; `apply()` is idempotent, and every emulator start calls it.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from types import SimpleNamespace
from typing import Any, Final, cast

import moto.dynamodb.models as dynamodb_models
import moto.logs.models as logs_models
from moto.core.common_models import BaseModel
from moto.core.model_instances import reset_model_data
from moto.core.utils import unix_time
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import ConditionalCheckFailed, ResourceInUseException, TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard, Table
from moto.events.models import Rule, events_backends
from moto.events.utils import EventTemplateParser
from moto.sqs.models import Queue
from moto.utilities.arns import parse_arn

from mwaa_obs_tools import moto_cloudwatch

_APPLIED = "_mwaa_obs_patched"


def wall_clock() -> datetime:
    return datetime.now(UTC)


logs_clock: Callable[[], datetime] = wall_clock  # what "now" is to CloudWatch Logs (7)


def _logs_now() -> datetime:
    return logs_clock().astimezone(UTC).replace(tzinfo=None)  # moto's utcnow is naive UTC


STREAM_RECORDS = 10_000  # far more than one pump of the local stack reads


def apply() -> None:
    if getattr(DynamoDBBackend, _APPLIED, False):
        return
    BaseModel.__new__ = staticmethod(_untracked_instance)  # type: ignore[method-assign]
    reset_model_data()
    dynamodb_models.copy = SimpleNamespace(deepcopy=_deepcopy_but_tables)  # type: ignore[assignment,attr-defined]
    DynamoDBBackend.transact_write_items = _conditions_first(DynamoDBBackend.transact_write_items)  # type: ignore[method-assign]
    StreamShard.add = _trimmed(StreamShard.add)  # type: ignore[method-assign]
    Queue.__init__ = _polled_elsewhere(Queue.__init__)  # type: ignore[method-assign]
    Rule.send_to_targets = _forwarding_whole_events(Rule.send_to_targets)  # type: ignore[method-assign]
    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = _WHOLE_EVENT
    DynamoDBBackend.delete_table = _protected_as_dynamodb_says(DynamoDBBackend.delete_table)  # type: ignore[method-assign]
    logs_models.utcnow = _logs_now  # type: ignore[attr-defined]
    moto_cloudwatch.apply()
    setattr(DynamoDBBackend, _APPLIED, True)


def _trimmed(add: Any) -> Any:
    @wraps(add)
    def add_and_trim(shard: StreamShard, old: Any, new: Any) -> None:
        add(shard, old, new)
        excess = len(shard.items) - STREAM_RECORDS
        if excess > 0:
            del shard.items[:excess]
            shard.starting_sequence_number += excess

    return add_and_trim


class _MappingsPolledElsewhere(dict[str, Any]):
    """A queue's event source mappings, which SQS finds none of when it would invoke them on a new message."""

    def items(self) -> Any:
        return iter(())


def _polled_elsewhere(init: Any) -> Any:
    @wraps(init)
    def created(queue: Queue, *args: Any, **kwargs: Any) -> None:
        init(queue, *args, **kwargs)
        queue.lambda_event_source_mappings = _MappingsPolledElsewhere()

    return created


def _untracked_instance(cls: type, *_: Any, **__: Any) -> Any:
    return object.__new__(cls)


def _deepcopy_but_tables(value: Any, memo: Any = None) -> Any:
    """moto's module copies items (kept) and, in transactions, whole tables (not needed: see _conditions_first)."""
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _conditions_first(transact_write_items: Any) -> Any:
    @wraps(transact_write_items)
    def checked(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        reasons = [_check(backend, item) for item in transact_items]
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
        transact_write_items(backend, transact_items)

    return checked


def _check(backend: DynamoDBBackend, transact_item: dict[str, Any]) -> tuple[str | None, str | None, Any]:
    """One operation's condition against the item as it is before the transaction: (code, message, old item)."""
    op_type, op = next(iter(transact_item.items()))
    condition = op.get("ConditionExpression")
    if condition is None:
        return None, None, None
    if op_type == "Put":
        table = backend.get_table(op["TableName"])
        attributes = op["Item"]
        key = {table.hash_key_attr: attributes[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attributes[table.range_key_attr]
    else:
        key = op["Key"]
    current = backend.get_item(op["TableName"], key)
    expression = get_filter_expression(
        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if expression.expr(current):
        return None, None, None
    returned = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None
    old = current.to_json()["Attributes"] if returned and current is not None else None
    return "ConditionalCheckFailed", ConditionalCheckFailed().message, old


def _forwarding_whole_events(send_to_targets: Any) -> Any:
    """A rule whose targets are all event buses forwards the event whole (any other rule as moto does): every
    field kept but the id, which moto's PutEvents gives each event it receives, and the ingestion time."""

    @wraps(send_to_targets)
    def send(rule: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
        arns = [parse_arn(target["Arn"]) for target in rule.targets]
        if not arns or not all(arn.service == "events" and arn.resource_type == "event-bus" for arn in arns):
            send_to_targets(rule, original_event, transform_input)
            return
        if rule.event_pattern.matches_event(cast(Any, original_event)):
            for arn in arns:
                bus = events_backends[arn.account][arn.region].describe_event_bus(arn.resource_id)
                forwarded = {**copy.deepcopy(original_event), "id": str(uuid.uuid4()), "ingestion-time": unix_time()}
                for target_rule in list(bus.rules.values()):
                    target_rule.send_to_targets(cast(Any, copy.deepcopy(forwarded)))

    return send


# moto's default input template (what a target receives) with the `account` it leaves out put back
_WHOLE_EVENT: Final = (
    '{"id": "<id>", "time": <time>, "version": "0", "detail-type": "<detail-type>", "source": "<source>", '
    '"account": "<account>", "region": "<region>", "resources": <resources>, "detail": <detail>}'
)


DELETION_PROTECTED: Final = (
    "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first."
)


def _protected_as_dynamodb_says(delete_table: Any) -> Any:
    @wraps(delete_table)
    def delete(backend: DynamoDBBackend, name: str) -> Table:
        if getattr(backend.get_table(name), "deletion_protection_enabled", False):
            raise ResourceInUseException(DELETION_PROTECTED)
        deleted: Table = delete_table(backend, name)
        return deleted

    return delete
