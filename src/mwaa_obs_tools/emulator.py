"""The local AWS emulator (moto server on loopback) and the template-driven resources the tests and demo need.

Resources are created from template.yaml's own definitions, so the local tables cannot drift from the deployed ones.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from samtranslator.translator.transform import transform
from werkzeug.serving import make_server

from mwaa_obs_tools import moto_patches
from mwaa_obs_tools.iam.gate import GATE
from mwaa_obs_tools.throttle import THROTTLE

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
# The emulator accepts any credentials: these dummies make sure no real account is ever reached by mistake.
OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def use_offline(port: int) -> str:
    """Point every AWS client this process creates at the emulator on `port`, with dummy credentials."""
    endpoint = f"http://localhost:{port}"
    os.environ.update(OFFLINE_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    return endpoint


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation short forms (!Ref, !Sub, ...) as their long-form dicts."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix if tag_suffix in {"Ref", "Condition"} else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        scalar = loader.construct_scalar(node)
        value = scalar.split(".", 1) if tag_suffix == "GetAtt" else scalar
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        template: dict[str, Any] = yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    return template


def table_definition(template: Mapping[str, Any], logical_id: str = "StateTable") -> dict[str, Any]:
    """The CreateTable arguments for a table of the template (minus what CreateTable does not take)."""
    properties = template["Resources"][logical_id]["Properties"]
    request = {
        key: properties[key]
        for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
        if key in properties
    }
    if "StreamSpecification" in properties:
        request["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
    if "SSESpecification" in properties:
        request["SSESpecification"] = {"Enabled": properties["SSESpecification"]["SSEEnabled"]}
    if "DeletionProtectionEnabled" in properties:
        request["DeletionProtectionEnabled"] = properties["DeletionProtectionEnabled"]
    return request


def create_state_table(dynamodb: Any, table_name: str, template: Mapping[str, Any] | None = None) -> None:
    """Create the state table as template.yaml defines it, with its TTL and point-in-time recovery settings."""
    properties = (template or load_template())["Resources"]["StateTable"]["Properties"]
    dynamodb.create_table(TableName=table_name, **table_definition(template or load_template()))
    ttl = properties["TimeToLiveSpecification"]
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": ttl["Enabled"], "AttributeName": ttl["AttributeName"]},
    )


def delete_state_table(dynamodb: Any, table_name: str) -> None:
    """Delete a table made by create_state_table as its owner must: its deletion protection turned off first."""
    dynamodb.update_table(TableName=table_name, DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=table_name)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def isolated_dynamodb(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """`app` serving DynamoDB's requests one at a time.

    moto applies a TransactWriteItems without isolation: one that is cancelled puts back a copy of the whole table
    taken when it began (moto/dynamodb/models/__init__.py, transact_write_items), undoing every write other requests
    made meanwhile, such as a concurrent notifier's decision. DynamoDB isolates a transaction from the other writes
    to its items ("Isolation levels for DynamoDB transactions", https://docs.aws.amazon.com/amazondynamodb/latest/
    developerguide/transaction-apis.html#transaction-isolation).
    """
    lock = threading.Lock()

    def isolated(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))

    return isolated


class _StrictMotoServer(ThreadedMotoServer):
    """moto server behind the middlewares that make it as strict as AWS: IAM, for the calls of the functions' roles
    (mwaa_obs_tools.iam), AWS's request rates (mwaa_obs_tools.throttle), DynamoDB's isolation of transactions
    (isolated_dynamodb)."""

    def _server_entry(self) -> None:
        app = GATE.wsgi(THROTTLE.wsgi(isolated_dynamodb(DomainDispatcherApplication(create_backend_app))))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


@contextmanager
def moto_server(port: int) -> Iterator[str]:
    """Run moto server on loopback for the duration of the block, behind the IAM gate; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request drowns everything else
    moto_patches.apply()
    server = _StrictMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        # `localhost`, not 127.0.0.1: moto's CloudFormation reads S3 URLs path-style only for that host name.
        yield f"http://localhost:{port}"
    finally:
        server.stop()


def reset(endpoint: str) -> None:
    """Clear all of the emulator's state (its state outlives a server stopped in the same process)."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()  # noqa: S310
    THROTTLE.reset()


def parameter_default(template: Mapping[str, Any], name: str) -> Any:
    return template["Parameters"][name]["Default"]


@dataclass(frozen=True)
class EventQueues:
    url: str
    arn: str
    dead_letter_url: str


def create_event_queues(sqs: Any, template: Mapping[str, Any], prefix: str = "mwaa-obs") -> EventQueues:
    """The ingest queue and its dead-letter queue, with the template's redrive policy (maxReceiveCount default)."""
    resources = template["Resources"]
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = resources["EventsQueue"]["Properties"]["RedrivePolicy"]
    max_receive = redrive["maxReceiveCount"]
    if isinstance(max_receive, dict):
        max_receive = parameter_default(template, max_receive["Ref"])
    url = sqs.create_queue(
        QueueName=f"{prefix}-events",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return EventQueues(url, arn, dlq_url)


class _NoManagedPolicies:
    """Offline stand-in for SAM's managed-policy lookup (which would call IAM); policy templates need none."""

    def load(self) -> dict[str, str]:
        return {}


def sam_transform(
    template: Mapping[str, Any], artifact_uri: str = "s3://mwaa-obs-artifacts/code.zip"
) -> dict[str, Any]:
    """Apply the AWS::Serverless transform locally, as CloudFormation would (moto skips it).

    Local CodeUri/ContentUri paths become `artifact_uri`: the transform accepts only S3 locations.
    """
    local = copy.deepcopy(dict(template))
    for resource in local["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = artifact_uri
    transformed: dict[str, Any] = transform(local, {}, _NoManagedPolicies())
    return transformed


def resolve(
    value: Any, refs: Mapping[str, Any], attributes: Mapping[str, Any], conditions: Mapping[str, bool] | None = None
) -> Any:
    """Resolve Ref, Fn::GetAtt, Fn::Sub and Fn::If in a template value, as CloudFormation would for the skipped
    resources.

    refs: parameter, pseudo-parameter and resource names to their values; attributes: "Resource.Attribute" to
    values; conditions: the template's conditions as deployed. A missing name raises KeyError (a test would rather
    fail than deploy half a resource).
    """
    if isinstance(value, list):
        items = [resolve(item, refs, attributes, conditions) for item in value]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::If"}:
        name, when_true, when_false = value["Fn::If"]
        value = when_true if (conditions or {})[name] else when_false
        return resolve(value, refs, attributes, conditions)
    return _resolve_mapping(value, refs, attributes, conditions)


def _resolve_mapping(
    value: dict[str, Any], refs: Mapping[str, Any], attributes: Mapping[str, Any], conditions: Mapping[str, bool] | None
) -> Any:
    if value == {"Ref": "AWS::NoValue"}:
        return _NO_VALUE
    if set(value) == {"Ref"}:
        return refs[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        return attributes[target if isinstance(target, str) else ".".join(target)]
    if set(value) == {"Fn::Sub"}:
        text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
        local = {**refs, **{name: resolve(item, refs, attributes, conditions) for name, item in variables.items()}}
        return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lambda match: str(_named(match.group(1), local, attributes)), text)
    if len(value) == 1 and (function := next(iter(value))) in _LIST_FUNCTIONS:
        arguments = resolve(value[function], refs, attributes, conditions)
        return _LIST_FUNCTIONS[function](*arguments)
    resolved = {key: resolve(item, refs, attributes, conditions) for key, item in value.items()}
    return {key: item for key, item in resolved.items() if item is not _NO_VALUE}


_NO_VALUE: Final = object()  # AWS::NoValue: the property or list item is left out
_LIST_FUNCTIONS: Final[dict[str, Any]] = {
    "Fn::Join": lambda delimiter, items: delimiter.join(str(item) for item in items),
    "Fn::Split": lambda delimiter, text: text.split(delimiter),
    "Fn::Select": lambda index, items: items[int(index)],
}


def conditions(template: Mapping[str, Any], refs: Mapping[str, Any]) -> dict[str, bool]:
    """The template's Conditions as CloudFormation evaluates them, given the parameters (and pseudo parameters) in
    `refs` (a CommaDelimitedList parameter as its list)."""
    definitions = template.get("Conditions", {})
    decided: dict[str, bool] = {}

    def evaluate(expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            ((function, argument),) = expression.items()
            if function == "Condition":
                return named(argument)
            if function == "Fn::Not":
                return not evaluate(argument[0])
            if function == "Fn::And":
                return all(evaluate(item) for item in argument)
            if function == "Fn::Or":
                return any(evaluate(item) for item in argument)
            if function == "Fn::Equals":
                left, right = (evaluate(item) for item in argument)
                return str(left) == str(right)
        return resolve(expression, refs, {})

    def named(name: str) -> bool:
        if name not in decided:
            decided[name] = bool(evaluate(definitions[name]))
        return decided[name]

    return {name: named(name) for name in definitions}


def typed_parameters(template: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values as a Ref gives them: a CommaDelimitedList's as its list (empty string: no item)."""
    typed = dict(values)
    for name, spec in template.get("Parameters", {}).items():
        if spec.get("Type") == "CommaDelimitedList" and isinstance(typed.get(name), str):
            text = typed[name]
            typed[name] = text.split(",") if text else [""]
    return typed


def _named(name: str, refs: Mapping[str, Any], attributes: Mapping[str, Any]) -> Any:
    return refs[name] if name in refs else attributes[name]
