"""Checks values against the service model as botocore ships it (botocore/data/mwaa-serverless/2024-07-26/
service-2.json): the types, required members, enums, lengths, sizes and patterns of every shape, timestamps as
ISO-8601 strings on the wire (the model's `timestampFormat: iso8601`), and each error's HTTP status.

The simulator validates requests with it (requests.py) and the conformance test validates raw responses with it,
so a change of botocore's model shows up as a failing test instead of a silent drift.

Patterns are matched whole: Smithy leaves `@pattern` unanchored, but a pattern such as NameString's
`[a-zA-Z0-9]+[a-zA-Z0-9\\.\\-_]*` would then accept any name with one letter in it (`bad name!`), which is not what
its documentation ("names ... letters, numbers, ...") means; AWS's services enforce such patterns on the whole value.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from mwaa_obs_tools.simulator.errors import ERROR_STATUS

SERVICE_NAME = "mwaa-serverless"

# Where the model contradicts AWS's own published examples, the examples win (docs/LOCAL_STACK.md):
# - GetTaskInstance's LogStream is typed IdString (no '=' or '/'), yet the launch post shows
#   "workflow_id=simple_s3_test-abc1234def/run_id=ABC123456789def/task_id=list_objects/attempt=1.log".
# - GetWorkflow's WorkflowDefinition is a GenericString (at most 255 characters), yet it is "the workflow
#   definition content", and the launch post's own simple_s3_test.yaml is longer than that.
EXAMPLES_WIN = {
    ("GetTaskInstanceResponse", "LogStream"): {"pattern"},
    ("GetWorkflowResponse", "WorkflowDefinition"): {"max"},
}


@dataclass(frozen=True)
class Violation:
    path: str  # where in the value, e.g. "RunDetail.StartedOn"
    problem: str
    kind: str = "type"  # type, required, unexpected, union, enum, length, pattern, range, timestamp, status, outcome

    @property
    def where(self) -> str:
        """The path without list indices and map keys: the same deviation in every item of a list is one."""
        return re.sub(r"\[[^\]]*\]|<key [^>]*>", "[]", self.path)

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.problem}"


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def violations(
    shape: Shape, value: Any, path: str = "", *, wire: bool = True, waived: frozenset[str] = frozenset()
) -> list[Violation]:
    """What in `value` breaks `shape` (empty: conforms). `wire`: timestamps are the JSON protocol's strings;
    `waived`: the checks the examples overrule for this value (EXAMPLES_WIN)."""
    if isinstance(shape, StructureShape):
        return _structure(shape, value, path, wire)
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            return [Violation(path, f"expected a list, got {type(value).__name__}")]
        found = _size(shape, len(value), path, waived)
        for index, item in enumerate(value):
            found += violations(shape.member, item, f"{path}[{index}]", wire=wire)
        return found
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return [Violation(path, f"expected a map, got {type(value).__name__}")]
        found = _size(shape, len(value), path, waived)
        for key, item in value.items():
            found += violations(shape.key, key, f"{path}<key {key!r}>", wire=wire)
            found += violations(shape.value, item, f"{path}[{key!r}]", wire=wire)
        return found
    return _scalar(shape, value, path, wire, waived)


def _structure(shape: StructureShape, value: Any, path: str, wire: bool) -> list[Violation]:
    if shape.metadata.get("document"):
        return []  # any JSON value
    if not isinstance(value, dict):
        return [Violation(path, f"expected a structure, got {type(value).__name__}")]
    found = [
        Violation(_join(path, name), "required member missing", "required")
        for name in shape.required_members
        if name not in value
    ]
    if shape.metadata.get("union") and len(value) != 1:
        found.append(Violation(path, f"a union takes exactly one member, got {sorted(value)}", "union"))
    for name, item in value.items():
        member = shape.members.get(name)
        if member is None:
            found.append(Violation(_join(path, name), "not a member of " + shape.name, "unexpected"))
        elif item is None:
            found.append(Violation(_join(path, name), "null (an absent member is left out)", "unexpected"))
        else:
            waived = frozenset(EXAMPLES_WIN.get((shape.name, name), ()))
            found += violations(member, item, _join(path, name), wire=wire, waived=waived)
    return found


def _scalar(shape: Shape, value: Any, path: str, wire: bool, waived: frozenset[str]) -> list[Violation]:
    kind = shape.type_name
    if kind == "string":
        return _string(shape, value, path, waived)
    if kind == "timestamp":
        return _timestamp(shape, value, path, wire)
    expected = {"integer": int, "long": int, "boolean": bool, "double": int | float, "float": int | float}.get(kind)
    if expected is None:
        return [Violation(path, f"unhandled shape type {kind}")]
    if not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool)):
        return [Violation(path, f"expected {kind}, got {type(value).__name__}")]
    return _range(shape, value, path) if kind in {"integer", "long"} else []


def _string(shape: Shape, value: Any, path: str, waived: frozenset[str]) -> list[Violation]:
    if not isinstance(value, str):
        return [Violation(path, f"expected a string, got {type(value).__name__}")]
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        return [Violation(path, f"{value!r} is not one of {', '.join(enum)}", "enum")]
    found = _size(shape, len(value), path, waived)
    pattern = shape.metadata.get("pattern")
    if pattern and "pattern" not in waived and not re.fullmatch(pattern, value, re.DOTALL):
        found.append(Violation(path, f"{_short(value)!r} does not match {pattern}", "pattern"))
    return found


def _timestamp(shape: Shape, value: Any, path: str, wire: bool) -> list[Violation]:
    return [dataclasses.replace(v, kind="timestamp") for v in _timestamp_of(shape, value, path, wire)]


def _timestamp_of(shape: Shape, value: Any, path: str, wire: bool) -> list[Violation]:
    if not wire:
        ok = isinstance(value, datetime) and value.tzinfo is not None
        return [] if ok else [Violation(path, f"expected an aware datetime, got {value!r}")]
    if shape.serialization.get("timestampFormat", "unixTimestamp") != "iso8601":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [Violation(path, f"expected epoch seconds, got {value!r}")]
    if not isinstance(value, str):
        return [Violation(path, f"expected an ISO-8601 string, got {type(value).__name__} {value!r}")]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return [Violation(path, f"{value!r} is not ISO-8601")]
    return [] if parsed.tzinfo is not None else [Violation(path, f"{value!r} has no time zone")]


def _size(shape: Shape, size: int, path: str, waived: frozenset[str]) -> list[Violation]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low and "min" not in waived:
        return [Violation(path, f"length {size} is under the minimum {low}", "length")]
    if high is not None and size > high and "max" not in waived:
        return [Violation(path, f"length {size} is over the maximum {high}", "length")]
    return []


def _range(shape: Shape, value: int, path: str) -> list[Violation]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        return [Violation(path, f"{value} is under the minimum {low}", "range")]
    if high is not None and value > high:
        return [Violation(path, f"{value} is over the maximum {high}", "range")]
    return []


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _short(value: str) -> str:
    return value if len(value) <= 80 else value[:77] + "..."


# --- whole answers -------------------------------------------------------------------------------------------------


def answer_violations(operation_name: str, status: int, body: Any) -> list[Violation]:
    """What in a raw answer (HTTP status, decoded JSON body) breaks the model of `operation_name`: an answer of
    200 against the output shape; an error against its shape, the operation's error list and the error's status."""
    model = operation(operation_name)
    if status == 200:
        shape = model.output_shape
        return (
            violations(shape, body)
            if shape is not None
            else ([] if body in ({}, None) else [Violation("", "body on an operation without output")])
        )
    if not isinstance(body, dict) or not isinstance(body.get("__type"), str):
        return [Violation("__type", f"an error of status {status} without __type", "outcome")]
    code = body["__type"].split("#")[-1].split(":")[0]
    errors = {shape.name: shape for shape in model.error_shapes}
    if code not in errors:
        return [Violation("__type", f"{code} is not an error of {operation_name} ({', '.join(errors)})", "outcome")]
    found = []
    if status != ERROR_STATUS[code]:
        found.append(Violation("<status>", f"{code} answered with HTTP {status}, not {ERROR_STATUS[code]}", "status"))
    members = {key: value for key, value in body.items() if key != "__type"}
    return found + violations(errors[code], members)
