"""The stack's Lambda functions run in-process (workaround 4 of the package's list): each handler imported from its
CodeUri with the environment CloudFormation gave the function, its SQS queue polled as its event source mapping
would (workaround 3), what it prints sent to its log group and its EMF documents to metrics. The Lambda service's
own semantics (batches, partial failures, filters) are in mwaa_obs_tools.lambda_emulation.

Each function acts as its role (workaround 11): a session of it (AssumeRole, as Lambda does) signs the calls its
code makes (mwaa_obs_tools.iam.roles), and those Lambda makes with the execution role on its behalf (the queue's
polling, the log stream), so the emulator's IAM gate authorises each call against that role as deployed."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.credentials import Credentials

from mwaa_obs import SERVICE
from mwaa_obs.ingest import NoticeSink
from mwaa_obs_tools import emulator
from mwaa_obs_tools.iam import roles
from mwaa_obs_tools.lambda_emulation import Handler, PollResult, follow_stdout, load_handler, poll_sqs_once
from mwaa_obs_tools.localstack.clients import client, write_log_lines
from mwaa_obs_tools.localstack.deployment import Deployment


@dataclass
class FunctionTarget:
    """A function with an SQS event source, run in-process: what pump() polls, and where its output goes."""

    handler: Handler
    queue_url: str
    queue_arn: str
    batch_size: int
    log_group: str
    mapping_uuid: str  # its event source mapping: pump() polls the queue only while it is enabled
    sqs: Any  # signed with the function's role, as the mapping polls


class FunctionHost:
    """The deployed stack's functions, loaded and invoked in this process."""

    def __init__(
        self,
        endpoint: str,
        deployment: Deployment,
        simulator_url: str,
        *,
        clock: Callable[[], datetime],
        notices: NoticeSink,
    ) -> None:
        self._endpoint = endpoint
        self._deployment = deployment
        self._simulator_url = simulator_url
        self._clock = clock
        self._notices = notices
        self._handlers: dict[str, Handler] = {}
        self._lambda = client(endpoint, "lambda")
        self._sqs = client(endpoint, "sqs")
        self._cloudwatch = client(endpoint, "cloudwatch")
        self._sts = client(endpoint, "sts")
        self._credentials: dict[str, Credentials] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._log_streams: set[tuple[str, str]] = set()
        self._log_writers: dict[str, Any] = {}  # log group -> a Logs client signed with its function's role

    def credentials(self, logical_id: str) -> Credentials:
        """A session of the function's role, as Lambda assumes it for the function (one per function here)."""
        if logical_id not in self._credentials:
            role = self._deployment.role_arn(roles.function_roles(self._deployment.template)[logical_id])
            name = self._deployment.outputs[f"{logical_id}Name"]
            self._credentials[logical_id] = roles.assume(self._sts, role, name)
        return self._credentials[logical_id]

    def client_for(self, logical_id: str, service: str) -> Any:
        """A client signed with the function's role: for what Lambda does with the execution role."""
        if (logical_id, service) not in self._clients:
            frozen = self.credentials(logical_id).get_frozen_credentials()
            self._clients[logical_id, service] = client(self._endpoint, service, credentials=frozen)
        return self._clients[logical_id, service]

    def load(self, logical_id: str) -> tuple[Handler, str]:
        """A function's handler, loaded once, with its environment, acting as its role; and its log group."""
        function_name = self._deployment.outputs[f"{logical_id}Name"]
        configuration = self._lambda.get_function_configuration(FunctionName=function_name)
        os.environ["AWS_ENDPOINT_URL"] = self._endpoint
        os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"] = self._simulator_url  # the functions' API is the simulator
        os.environ.update({k: str(v) for k, v in configuration["Environment"]["Variables"].items()})
        log_group = self._deployment.log_group(logical_id)
        if logical_id not in self._handlers:
            credentials = self.credentials(logical_id)
            with roles.acting_as(credentials):  # Lambda's init phase: the clients made at import sign as the role
                handler = load_handler(self._deployment.template, logical_id, emulator.REPO_ROOT)
            follow_stdout(SERVICE)
            module = sys.modules[handler.__module__]
            if hasattr(module, "notifier"):  # workaround 10: the notifier lives on the simulator's clock
                module.notifier.clock = module.notifier.courier.clock = self._clock
                module.notifier.notices = self._notices
            self._handlers[logical_id] = roles.acting(credentials, handler)
            self._log_writers[log_group] = self.client_for(logical_id, "logs")  # Lambda writes with the role
        return self._handlers[logical_id], log_group

    def invoke(self, handler: Handler, event: dict[str, Any], context: Any, log_group: str) -> Any:
        """Call the handler as Lambda would; what it printed goes where Lambda would send it."""
        with captured_stdout() as output:
            answer = handler(event, context)
        self._forward(log_group, output.getvalue())
        return answer

    def wire_queue(self, logical_id: str, queue_output: str) -> FunctionTarget:
        """The function with its SQS event source, as deployed (workaround 3)."""
        source = self._deployment.event_source(logical_id, "SQS")
        batch_size = source["Properties"]["BatchSize"]
        if isinstance(batch_size, dict):
            batch_size = emulator.parameter_default(self._deployment.template, batch_size["Ref"])
        handler, log_group = self.load(logical_id)
        outputs = self._deployment.outputs
        queue_url = self._sqs.get_queue_url(QueueName=outputs[queue_output].rsplit("/", 1)[1])["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        mappings = self._lambda.list_event_source_mappings(FunctionName=outputs[f"{logical_id}Name"])
        (mapping,) = mappings["EventSourceMappings"]
        return FunctionTarget(
            handler,
            queue_url,
            queue_arn["QueueArn"],
            int(batch_size),
            log_group,
            mapping["UUID"],
            sqs=self.client_for(logical_id, "sqs"),
        )

    def drain(self, target: FunctionTarget, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Poll one function's queue until it is empty (or only failing messages are left); returns those handled.
        Nothing while its event source mapping is disabled, as Lambda would not poll it."""
        if self._lambda.get_event_source_mapping(UUID=target.mapping_uuid).get("State") != "Enabled":
            return 0
        handled = 0
        while not should_stop():
            with captured_stdout() as output:
                result: PollResult = poll_sqs_once(
                    target.sqs, target.queue_url, target.queue_arn, target.handler, target.batch_size
                )
            self._forward(target.log_group, output.getvalue())
            if not result.received or result.failed == result.received:
                return handled + result.received - result.failed
            handled += result.received
        return handled

    def _forward(self, log_group: str, printed: str) -> None:
        """What the function printed: EMF documents become metrics (CloudWatch Logs' doing, not the function's),
        every line goes to the function's log group, which the stack created (Lambda only adds the stream)."""
        lines = [line for line in printed.splitlines() if line.strip()]
        if not lines:
            return
        now = datetime.now(UTC)
        at = [(now, line) for line in lines]
        write_log_lines(self._log_writers[log_group], log_group, "local", at, self._log_streams, group_exists=True)
        for line in lines:
            document = json.loads(line) if line.startswith("{") else {}
            if "_aws" in document:
                put_emf_metrics(self._cloudwatch, document)


def put_emf_metrics(cloudwatch: Any, document: dict[str, Any]) -> None:
    """Do what CloudWatch Logs does with an EMF document: one datum per metric and dimension set, at the document's
    timestamp."""
    metadata = document["_aws"]
    timestamp = datetime.fromtimestamp(metadata["Timestamp"] / 1000, UTC)
    for directive in metadata["CloudWatchMetrics"]:
        data = []
        for definition in directive["Metrics"]:
            values = document[definition["Name"]]
            values = values if isinstance(values, list) else [values]
            for dimension_set in directive["Dimensions"]:
                data.append(
                    {
                        "MetricName": definition["Name"],
                        "Dimensions": [{"Name": name, "Value": str(document[name])} for name in dimension_set],
                        "Timestamp": timestamp,
                        "Values": [float(value) for value in values],
                        "Counts": [1.0] * len(values),
                        "Unit": definition.get("Unit", "None"),
                    }
                )
        for start in range(0, len(data), 20):
            cloudwatch.put_metric_data(Namespace=directive["Namespace"], MetricData=data[start : start + 20])


@contextmanager
def captured_stdout() -> Iterator[io.StringIO]:
    """Lambda sends a function's stdout to CloudWatch Logs; here it is captured for the same purpose."""
    buffer = io.StringIO()
    real, sys.stdout = sys.stdout, buffer
    try:
        yield buffer
    finally:
        sys.stdout = real
