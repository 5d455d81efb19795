"""Samples of the events ingest could not store, so that an operator can see what the service really sends.

The first SAMPLES_PER_DAY events of each kind (invalid, unknown detail-type) and detail-type are kept per UTC day,
for SAMPLE_RETENTION; so are the API answers with a state this version does not know (filed under "<operation>
<state>" as their detail-type). A full slot is remembered by the function instance, so that a flood of bad events
costs one refused write per instance and slot a day, not one write per event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from mwaa_obs.store.schema import EventSampleItem, SampleRecord, item_from_raw, samples_partition
from mwaa_obs.store.update import query
from mwaa_obs.text import truncate, unicode_text

SAMPLES_PER_DAY: Final = 3
SAMPLE_RETENTION: Final = timedelta(days=14)
MAX_SAMPLE_CHARACTERS: Final = 4000
MAX_DETAIL_TYPE_CHARACTERS: Final = 200
NO_DETAIL_TYPE: Final = "(none)"


class SampleKind(StrEnum):
    INVALID = "invalid"  # a known shape broken: a field missing or of the wrong type, not JSON, ...
    UNKNOWN = "unknown"  # a detail-type this version does not know
    UNKNOWN_STATE = "unknown-state"  # an API answer (reconcile, backfill) with a state this version does not know


class EventSamples:
    def __init__(self, client: Any, table_name: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._client = client
        self._table_name = table_name
        self._clock = clock
        self._full: set[tuple[str, str]] = set()  # (partition, sort key) of slots already holding enough samples

    def keep(self, kind: SampleKind, detail_type: str | None, reason: str, body: str) -> bool:
        """Keep this event if its slot for today is not full; whether it was kept."""
        now = self._clock()
        kept_type = truncate(unicode_text(detail_type or NO_DETAIL_TYPE), MAX_DETAIL_TYPE_CHARACTERS)
        key = (samples_partition(now), f"{kind}#{kept_type}")
        if key in self._full:
            return False
        record = SampleRecord(
            received_at=now,
            reason=truncate(unicode_text(reason), 500),
            body=truncate(unicode_text(body), MAX_SAMPLE_CHARACTERS),
        )
        samples = EventSampleItem.samples
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}},
                UpdateExpression="SET #kind = :kind, #expires = :expires, "
                "#samples = list_append(if_not_exists(#samples, :none), :one)",
                ConditionExpression="attribute_not_exists(#samples) OR size(#samples) < :most",
                ExpressionAttributeNames={
                    "#kind": EventSampleItem.kind.attr_name,
                    "#expires": EventSampleItem.expires_at.attr_name,
                    "#samples": samples.attr_name,
                },
                ExpressionAttributeValues={
                    ":kind": {"S": EventSampleItem.kind.serialize(EventSampleItem)},
                    ":expires": {"N": EventSampleItem.expires_at.serialize(now + SAMPLE_RETENTION)},
                    ":none": {"L": []},
                    ":one": {"L": samples.serialize([record])},
                    ":most": {"N": str(SAMPLES_PER_DAY)},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            self._full.add(key)
            return False
        return True

    def recent(self, days: int = 1) -> list[EventSampleItem]:
        """The samples of the last `days` UTC days (today included), newest day first."""
        today = self._clock()
        found: list[EventSampleItem] = []
        for back in range(days):
            request = {
                "TableName": self._table_name,
                "KeyConditionExpression": "pk = :day",
                "ExpressionAttributeValues": {":day": {"S": samples_partition(today - timedelta(days=back))}},
            }
            items = (item_from_raw(raw) for raw in query(self._client, request))
            found.extend(item for item in items if isinstance(item, EventSampleItem))
        return found
