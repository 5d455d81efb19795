"""What AWS bills, counted from the requests the functions send: DynamoDB write units from item sizes, metric-hours
from EMF documents, SQS requests. For `make bench`'s simulated month (bench/run.py, section "month").

`MemoryTable` answers the UpdateItem requests of mwaa_obs/store/update.py in-process, as DynamoDB would (old image,
conditions, ConditionalCheckFailed), keeping each item whole: the write units of each request come from the sizes
of the item before and after it, by DynamoDB's size rules, and the index writes from the indexes it is in.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

# --- DynamoDB size rules (docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html) -


def value_size(value: dict[str, Any]) -> int:
    """The size of one attribute value: strings and binaries their bytes, numbers about one byte per two significant
    digits plus one, booleans and nulls one byte, lists and maps 3 bytes plus one per element plus the elements."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "B":
        return len(content)
    if kind == "N":
        digits = Decimal(content).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(item) for name, item in content.items())
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in content)
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: item}) for item in content)
    raise ValueError(kind)


def item_size(item: dict[str, dict[str, Any]]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def units(size: int, per: int) -> int:
    return max(1, math.ceil(size / per))


# --- The table -----------------------------------------------------------------------------------------------------

_ASSIGNMENT = re.compile(r"(#\w+) = (?:if_not_exists\(#\w+, (:\w+)\)|(:\w+))")
_ADDITION = re.compile(r"ADD (#\w+) (:\w+)")
INDEXES = {"gsi1pk": "ALL", "gsi2pk": "ALL", "gsi3pk": "KEYS_ONLY"}  # template.yaml's three indexes


@dataclass
class WriteBill:
    requests: Counter[str] = field(default_factory=Counter)  # applied / refused
    write_units: int = 0  # the table's
    index_write_units: int = 0
    queries: int = 0
    pages: int = 0  # what the Queries would take on DynamoDB: a page per MB read (at least one each)
    read_units: float = 0.0  # eventually consistent: half a unit per 4 KB read
    read_units_by_partition: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def total(self) -> int:
        return sum(self.requests.values())


class MemoryTable:
    """UpdateItem for the expressions store/update.py builds (SET a = :v, SET a = if_not_exists(a, :v), REMOVE a;
    conditions attribute_not_exists, absent-or-below, absent-or-differs, version) and store/retries.py's (ADD to a
    string set while it has room)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.bill = WriteBill()
        # index -> partition -> the keys of its items, kept as items change (a Query reads one partition); the
        # table's own partitions too ("pk"), for a Query without IndexName (e.g. a workflow's stored versions)
        self._partitions: dict[str, dict[str, set[tuple[str, str]]]] = {
            index: defaultdict(set) for index in ("pk", *INDEXES)
        }

    def update(self, request: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        key = (request["Key"]["pk"]["S"], request["Key"]["sk"]["S"])
        names, values = request.get("ExpressionAttributeNames", {}), request.get("ExpressionAttributeValues", {})
        old = self.items.get(key)
        current = dict(old) if old else {"pk": request["Key"]["pk"], "sk": request["Key"]["sk"]}
        before = item_size(old) if old else 0
        if not _holds(request.get("ConditionExpression"), current, names, values):
            self.bill.requests["refused"] += 1
            self.bill.write_units += units(before, 1024)  # a failed condition still consumes the write
            return False, old
        expression = request["UpdateExpression"]
        set_part = expression.split("REMOVE")[0].removeprefix("SET ")
        for name, absent_value, value in _ASSIGNMENT.findall(set_part):
            attribute = names[name]
            if absent_value:
                current.setdefault(attribute, values[absent_value])
            else:
                current[attribute] = values[value]
        for name, value in _ADDITION.findall(expression):  # ADD to a set: the union
            joined = set(current.get(names[name], {}).get("SS", ())) | set(values[value]["SS"])
            current[names[name]] = {"SS": sorted(joined)}
        if "REMOVE" in expression:
            for name in expression.split("REMOVE", 1)[1].split(","):
                current.pop(names[name.strip()], None)
        self.items[key] = current
        for index, partitions in self._partitions.items():
            was, now = (old or {}).get(index), current.get(index)
            if was is not None and was != now:
                partitions[was["S"]].discard(key)
            if now is not None:
                partitions[now["S"]].add(key)
        self.bill.requests["applied"] += 1
        after = item_size(current)
        self.bill.write_units += units(max(before, after), 1024)
        for index, projection in INDEXES.items():
            was, now = (old or {}).get(index), current.get(index)
            if was is None and now is None:
                continue
            changed = old is None or any(old.get(a) != current.get(a) for a in set(old) | set(current))
            if projection == "KEYS_ONLY" and was == now:
                continue  # its projection (keys only) did not change
            if not changed:
                continue
            size = after if projection == "ALL" else 100
            # a changed index key is a delete and a put (the developer guide, "Provisioned throughput for GSIs")
            moved = was is not None and now is not None and was != now
            self.bill.index_write_units += units(size, 1024) * (2 if moved else 1)
        return True, old

    def put(self, item: dict[str, dict[str, Any]]) -> None:
        """Store a whole item (a fleet set up for a measurement), its indexes kept; not billed."""
        key = (item["pk"]["S"], item["sk"]["S"])
        self.items[key] = item
        for index, partitions in self._partitions.items():
            if index in item:
                partitions[item[index]["S"]].add(key)

    def query(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """The items of a Query on an index partition, with the sort-key conditions the repositories use
        (>=, <, BETWEEN, begins_with), in sort order (ScanIndexForward), at most Limit; one page."""
        condition, values = request["KeyConditionExpression"], request["ExpressionAttributeValues"]
        index = condition.split(" = ", 1)[0]
        sort = index.replace("pk", "sk")
        items = self.raw(index, values[condition.split(" = ", 1)[1].split()[0]]["S"])

        def keep(item: dict[str, Any]) -> bool:
            key = str(item.get(sort, {}).get("S", ""))
            if " >= " in condition:
                return bool(key >= values[condition.rsplit(" ", 1)[1]]["S"])
            if " < " in condition:
                return bool(key < values[condition.rsplit(" ", 1)[1]]["S"])
            if " BETWEEN " in condition:
                low, high = re.findall(r":\w+", condition.split(" BETWEEN ", 1)[1])
                return bool(values[low]["S"] <= key <= values[high]["S"])
            if "begins_with" in condition:
                return key.startswith(str(values[re.findall(r":\w+", condition)[-1]]["S"]))
            return True

        found = sorted(filter(keep, items), key=lambda item: item.get(sort, {}).get("S", ""))
        if request.get("ScanIndexForward") is False:
            found.reverse()
        found = found[: request["Limit"]] if "Limit" in request else found
        size = sum(item_size(item) for item in found)
        cost = units(size, 4096) / 2
        self.bill.pages += units(size, 1024 * 1024)
        self.bill.read_units += cost
        self.bill.read_units_by_partition[values[condition.split(" = ", 1)[1].split()[0]]["S"]] += cost
        self.bill.queries += 1
        return found

    def stub(self, client: Any) -> None:
        """Answer the client's UpdateItem and Query from this table, after botocore validated the request."""

        def answer_query(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            found = self.query(json.loads(params["body"]))
            return AWSResponse("", 200, HTTPHeaders(), None), {"Items": found, "Count": len(found)}

        client.meta.events.register("before-call.dynamodb.Query", answer_query)

        def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            applied, old = self.update(json.loads(params["body"]))
            if not applied:
                error = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "condition"}}
                return AWSResponse("", 400, HTTPHeaders(), None), {**error, "Item": old or {}}
            return AWSResponse("", 200, HTTPHeaders(), None), {"Attributes": old} if old else {}

        client.meta.events.register("before-call.dynamodb.UpdateItem", answer)

    def raw(self, index: str, partition: str) -> list[dict[str, Any]]:
        """The items of one index partition, as a Query would return them (unsorted)."""
        return [self.items[key] for key in self._partitions[index].get(partition, ())]


def _holds(condition: str | None, item: dict[str, Any], names: dict[str, str], values: dict[str, Any]) -> bool:
    for clause in (part.strip() for part in condition.split(" AND ")) if condition else ():
        if absent := re.fullmatch(r"attribute_not_exists\((#\w+)\)", clause):
            if names[absent.group(1)] in item:
                return False
        elif either := re.fullmatch(r"\(attribute_not_exists\((#\w+)\) OR #\w+ (<|<>) (:\w+)\)", clause):
            present, operand = item.get(names[either.group(1)]), values[either.group(3)]
            if present is None:
                continue
            if either.group(2) == "<>" and present == operand:
                return False
            if either.group(2) == "<" and not Decimal(present["N"]) < Decimal(operand["N"]):
                return False
        elif room := re.fullmatch(
            r"\(attribute_not_exists\((#\w+)\) OR size\(#\w+\) <= (:\w+) OR contains\(#\w+, (:\w+)\)\)", clause
        ):  # a set with room, or already holding the element (mwaa_obs.store.retries)
            held = item.get(names[room.group(1)], {}).get("SS")
            full = held is not None and len(held) > int(values[room.group(2)]["N"])
            if full and values[room.group(3)]["S"] not in held:
                return False
        elif equal := re.fullmatch(r"(#\w+) = (:\w+)", clause):
            if item.get(names[equal.group(1)]) != values[equal.group(2)]:
                return False
        else:
            raise ValueError(f"condition not understood: {clause}")
    return True


# --- Metrics -------------------------------------------------------------------------------------------------------

HOUR = 3600


@dataclass
class MetricHours:
    """Per distinct metric (namespace, name, dimensions and their values), the UTC hours in which a datapoint was
    sent: CloudWatch bills a custom metric only in the hours it receives data, prorated from $0.30 a month
    (aws.amazon.com/cloudwatch/pricing: "prorated by the hour and metered only when you send metrics")."""

    hours: dict[tuple[str, ...], set[int]] = field(default_factory=lambda: defaultdict(set))
    datapoints: int = 0

    def add_emf(self, documents: Iterable[dict[str, Any]]) -> None:
        for document in documents:
            meta = document["_aws"]
            hour = meta["Timestamp"] // 1000 // HOUR
            for directive in meta["CloudWatchMetrics"]:
                for dimensions in directive["Dimensions"]:
                    dims = tuple(f"{d}={document[d]}" for d in dimensions)
                    for metric in directive["Metrics"]:
                        self.hours[(directive["Namespace"], metric["Name"], *dims)].add(hour)
                        self.datapoints += 1

    def of(self, predicate: Any) -> int:
        return sum(len(hours) for key, hours in self.hours.items() if predicate(key))

    def analysed_hours(self, name: str, window_hours: int = 3) -> dict[tuple[str, ...], int]:
        """For a Metrics Insights alarm over `name` grouped by workflow: per series, the hours in which the query's
        window (the last 3 hours) held a datapoint of it, i.e. the hours it was an analysed metric."""
        found = {}
        for key, hours in self.hours.items():
            if key[1] == name and any(part.startswith("WorkflowName=") for part in key[2:]):
                covered = {hour + lag for hour in hours for lag in range(window_hours)}
                found[key] = len(covered)
        return found


def hour_of(at: datetime) -> int:
    return int(at.astimezone(UTC).timestamp()) // HOUR
