"""A workflow's task retries per UTC clock hour, counted at ingest: the retry-storm decision (RetryStorm).

Each retry adds its attempt's digest to the hour's item (a string set: adding one already there changes nothing),
while the set holds no more than the threshold; the retry that brings it to threshold + 1 is the storm, decided
once for the hour by a second, conditional write that names it (`storm_by`). So the item stays small (at most
threshold + 1 digests), and the decision is idempotent: only the write that recorded an UP_FOR_RETRY transition, or
its own retry after a lost answer (mwaa_obs.store.transitions), counts it; a retry counted again finds its digest
in the set, and owes RetryStorm again only if it is the one the item names.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any, Final

from mwaa_obs.events import TaskEvent
from mwaa_obs.store.schema import RetryHourItem, hour_sort_key, retries_key

# Kept a day past its hour: long enough for the events of that hour that arrive late, short enough to cost nothing.
RETRY_HOUR_TTL: Final = timedelta(days=1, hours=1)


def attempt_digest(event: TaskEvent) -> str:
    """A short identity of the attempt that went up for retry: its run, task and try."""
    identity = f"{event.run_id}#{event.task_key}#{event.attempt}"
    return hashlib.blake2b(identity.encode(), digest_size=6).hexdigest()


def count_retry(client: Any, table_name: str, event: TaskEvent, threshold: int) -> bool:
    """Count this retry in its workflow's clock hour; whether it is the one that passed the threshold (RetryStorm
    owed). Raises on AWS errors: the message is retried, and counting it again is safe."""
    digest = attempt_digest(event)
    key = {"pk": {"S": retries_key(event.workflow.workflow_id)}, "sk": {"S": hour_sort_key(event.occurred_at)}}
    attempts, storm_by, kind = RetryHourItem.attempts, RetryHourItem.storm_by, RetryHourItem.kind
    expires = RetryHourItem.expires_at.serialize(event.occurred_at + RETRY_HOUR_TTL)
    try:
        old = client.update_item(
            TableName=table_name,
            Key=key,
            UpdateExpression="SET #kind = :kind, #expires = :expires ADD #attempts :one",
            # Full (threshold + 1 others): the storm of this hour is decided already; nothing to add
            ConditionExpression="(attribute_not_exists(#attempts) OR size(#attempts) <= :threshold "
            "OR contains(#attempts, :digest))",
            ExpressionAttributeNames={
                "#kind": kind.attr_name,
                "#expires": RetryHourItem.expires_at.attr_name,
                "#attempts": attempts.attr_name,
            },
            ExpressionAttributeValues={
                ":kind": {"S": kind.serialize(RetryHourItem)},
                ":expires": {"N": expires},
                ":one": {"SS": [digest]},
                ":threshold": {"N": str(threshold)},
                ":digest": {"S": digest},
            },
            ReturnValues="ALL_OLD",
        ).get("Attributes", {})
    except client.exceptions.ConditionalCheckFailedException:
        return False
    decided = old.get(storm_by.attr_name, {}).get("S")
    if decided is not None:
        return bool(decided == digest)  # decided already: by this very retry (counted again) or by another
    counted = set(old.get(attempts.attr_name, {}).get("SS", ())) | {digest}
    return len(counted) > threshold and _decide(client, table_name, key, digest)


def _decide(client: Any, table_name: str, key: dict[str, Any], digest: str) -> bool:
    """Name this retry as the hour's storm, unless one is named already; whether this retry is the one named."""
    storm_by = RetryHourItem.storm_by.attr_name
    try:
        client.update_item(
            TableName=table_name,
            Key=key,
            UpdateExpression="SET #storm = :digest",
            ConditionExpression="attribute_not_exists(#storm)",
            ExpressionAttributeNames={"#storm": storm_by},
            ExpressionAttributeValues={":digest": {"S": digest}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except client.exceptions.ConditionalCheckFailedException as error:
        return bool(error.response.get("Item", {}).get(storm_by, {}).get("S") == digest)
    return True
