"""The request builder every repository writes with, and the two ways they talk to DynamoDB (update, query).

Requests are written directly rather than with pynamodb's expression builder, which took a quarter of the ingest
CPU for requests this simple (make bench), and because pynamodb's update() can ask for neither the old image nor
the item that failed a condition, which is what lets one write tell a new transition from a duplicate or a late one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pynamodb.attributes import Attribute


class Update:
    """The SET and REMOVE clauses of one UpdateItem, named after the models' attributes and serialised by them."""

    def __init__(self, pk: str, sk: str) -> None:
        self.pk, self.sk = pk, sk
        self._assignments: list[tuple[Attribute[Any], Any, bool]] = []
        self._copies: list[tuple[str, Attribute[Any], str]] = []
        self._removals: list[Attribute[Any]] = []

    def set(self, attribute: Attribute[Any], value: Any, *, if_absent: bool = False) -> None:
        """SET attribute = value (or if_not_exists(attribute, value)); nothing when the value is None."""
        if value is not None:
            self._assignments.append((attribute, value, if_absent))

    def copy(self, target: str, source: Attribute[Any], absent: str) -> None:
        """SET target = if_not_exists(source, absent): the source's value as the item held it before this write
        (every operand of an update expression reads the item before the update)."""
        self._copies.append((target, source, absent))

    def remove(self, attribute: Attribute[Any]) -> None:
        self._removals.append(attribute)

    def including(self, other: Update) -> Update:
        combined = Update(self.pk, self.sk)
        combined._assignments = self._assignments + other._assignments
        combined._copies = self._copies + other._copies
        combined._removals = self._removals + other._removals
        return combined

    def request(
        self,
        table_name: str,
        *,
        absent: tuple[Attribute[Any], ...] = (),
        below: tuple[Attribute[Any], float] | None = None,
        differs: tuple[Attribute[Any], str] | None = None,
        version: tuple[Attribute[Any], int | None] | None = None,
    ) -> dict[str, Any]:
        """The UpdateItem request, applied only if every condition given holds:
        `absent`: those attributes are absent; `below`: it is absent or lower; `differs`: it is absent or holds
        another value; `version`: it holds that number (None: it is absent)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        clauses = []
        for index, (attribute, value, if_absent) in enumerate(self._assignments):
            name, placeholder = f"#a{index}", f":a{index}"
            names[name] = attribute.attr_name
            values[placeholder] = {attribute.attr_type: attribute.serialize(value)}
            clauses.append(f"{name} = if_not_exists({name}, {placeholder})" if if_absent else f"{name} = {placeholder}")
        for index, (target, source, otherwise) in enumerate(self._copies):
            names[f"#c{index}"], names[f"#cs{index}"] = target, source.attr_name
            values[f":c{index}"] = {"S": otherwise}
            clauses.append(f"#c{index} = if_not_exists(#cs{index}, :c{index})")
        removals = []
        for index, attribute in enumerate(self._removals):
            names[f"#r{index}"] = attribute.attr_name
            removals.append(f"#r{index}")
        conditions = []
        for index, attribute in enumerate(absent):
            names[f"#absent{index}"] = attribute.attr_name
            conditions.append(f"attribute_not_exists(#absent{index})")
        if below is not None:
            names["#below"] = below[0].attr_name
            values[":below"] = {"N": str(below[1])}
            conditions.append("(attribute_not_exists(#below) OR #below < :below)")
        if differs is not None:
            names["#differs"] = differs[0].attr_name
            values[":differs"] = {"S": differs[1]}
            conditions.append("(attribute_not_exists(#differs) OR #differs <> :differs)")
        if version is not None:
            names["#version"] = version[0].attr_name
            if version[1] is None:
                conditions.append("attribute_not_exists(#version)")
            else:
                values[":version"] = {"N": str(version[1])}
                conditions.append("#version = :version")
        parts = (["SET " + ", ".join(clauses)] if clauses else []) + (
            ["REMOVE " + ", ".join(removals)] if removals else []
        )
        request: dict[str, Any] = {
            "TableName": table_name,
            "Key": {"pk": {"S": self.pk}, "sk": {"S": self.sk}},
            "UpdateExpression": " ".join(parts),
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_OLD",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return request


def send_update(client: Any, request: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """One (conditional) UpdateItem; returns whether it applied and the item as it was before (None: no item)."""
    try:
        response = client.update_item(**request)
    except client.exceptions.ConditionalCheckFailedException as error:
        return False, error.response.get("Item")
    return True, response.get("Attributes")


def as_transaction_item(request: dict[str, Any]) -> dict[str, Any]:
    """An UpdateItem request as one item of TransactWriteItems (which returns no old image)."""
    return {"Update": {key: value for key, value in request.items() if key != "ReturnValues"}}


def query(client: Any, request: dict[str, Any], limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The raw items of a Query, page after page, at most `limit` of them."""
    request = dict(request)
    if limit is not None:
        request["Limit"] = limit
    yielded = 0
    while True:
        page = client.query(**request)
        for item in page.get("Items", []):
            yield item
            yielded += 1
            if limit is not None and yielded >= limit:
                return
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
