"""The local stack: moto server with template.yaml deployed into it, the Lambda handlers run in-process, and the
MWAA Serverless simulator publishing to the emulator's EventBridge.

Workarounds for what moto does not do (../shared/notes/local-aws.md), each applied here:
1. moto ignores the AWS::Serverless transform: the template is transformed locally with aws-sam-translator,
   then created with CloudFormation (`create_stack`); CodeUri/ContentUri point at a placeholder zip in S3.
2. moto's CloudFormation skips AWS::SQS::QueuePolicy (and alarms, subscriptions, secrets): the template's queue
   policies are set here with SetQueueAttributes (moto stores them, never enforces them) and
   its alarms created with PutMetricAlarm, their references resolved as CloudFormation would (never evaluated:
   moto does not evaluate alarms; mwaa_obs_tools.alarm_evaluator does). The Slack webhook secret is created
   here, before the stack, as a user would, and its ARN passed as the SlackWebhookSecretArn parameter.
3. An enabled event source mapping makes moto try to run the function in Docker on every SendMessage (and push
   messages to the DLQ early): moto_patches stops SQS from invoking mappings, and the queues are polled here while
   their mapping is enabled, with the mapping's batch size and ReportBatchItemFailures semantics
   (lambda_emulation.poll_sqs_once).
4. Lambda never runs here: each handler is imported from its CodeUri with the environment CloudFormation gave
   the function; its EMF output becomes PutMetricData calls and its log lines go to its log group.
5. moto's SQS slows down with queue depth: callers drain the queue as they go (`pump`).
6. No email leaves the machine: an SQS queue subscribed to the alert topic holds what email subscribers would
   get (`alerts()`), and Slack is a catcher on loopback (mwaa_obs_tools.slack_catcher) unless a webhook URL is
   given. Notices are not delayed (AlertDelaySeconds=0): `pump` delivers events before it delivers notices.
7. A simulated day passes in seconds: the handlers stamp each metric with when its event happened, as in AWS,
   and the points that have no event (scheduled checks) with the simulator's clock (`telemetry.clock`), not the
   wall clock, so that graphs of the local stack show the simulated day (`mwaa-obs dashboard render`).
8. moto never fires schedule rules, and a rule with a ScheduleExpression on the default bus makes its PutEvents
   fail (NotImplementedError): such rules are deleted after deploying, and `pump` invokes the scheduled functions
   itself, on the simulator's clock. moto would run the function of the table stream's mapping in Docker on every
   write (even with the mapping disabled or deleted): the stack is deployed without that mapping, and `pump` reads
   the stream and hands the records that pass the mapping's FilterCriteria to the function.
9. moto has no composite alarms: the provision function's client answers them in memory (emulator.CompositeAlarms).
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import json
import logging
import os
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session

from mwaa_obs import DEFAULT_STACK_NAME, SERVICE, telemetry
from mwaa_obs.aws import dynamodb_client
from mwaa_obs.events import Place
from mwaa_obs.notices import Notice
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.workflows import Workflows
from mwaa_obs_tools import emulator
from mwaa_obs_tools.lambda_emulation import (
    FakeLambdaContext,
    Handler,
    PollResult,
    follow_stdout,
    load_handler,
    matches_filter,
    poll_sqs_once,
)
from mwaa_obs_tools.sample_events import OTHER
from mwaa_obs_tools.simulator.api import ApiServer
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.slack_catcher import SlackCatcher

STACK_NAME = DEFAULT_STACK_NAME
FORWARDER_STACK_NAME = f"{DEFAULT_STACK_NAME}-forwarder"
FORWARDER_TEMPLATE = emulator.REPO_ROOT / "forwarder" / "template.yaml"
ARTIFACT_BUCKET = "mwaa-obs-local-artifacts"
DEFINITIONS_BUCKET = "mwaa-obs-local-definitions"
WORKFLOW_ROLE_ARN = "arn:aws:iam::123456789012:role/mwaa-obs-local-workflow"
MAX_EVENTS_PER_PUT = 10
SLACK_SECRET_NAME = "mwaa-obs-local-slack"  # noqa: S105 - the name of a secret, not one
ALERT_INBOX = "mwaa-obs-local-alert-inbox"
# Local deployments differ from the defaults only where the emulator needs it.
LOCAL_PARAMETERS = {"AlertDelaySeconds": "0"}


def client(endpoint: str, service: str, place: Place | None = None) -> Any:
    """A client of the emulator; with `place`, acting in that account (moto's x-moto-account-id) and region."""
    region = place.region if place else "us-east-1"
    made = botocore.session.get_session().create_client(service, endpoint_url=endpoint, region_name=region)
    if place is not None:

        def act_in_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = place.account

        made.meta.events.register("before-sign", act_in_account)
    return made


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
    iterators: dict[str, str] = field(default_factory=dict)  # shard id -> next iterator


@dataclass
class FunctionTarget:
    """A function with an SQS event source, run in-process: what pump() polls, and where its output goes."""

    handler: Handler
    queue_url: str
    queue_arn: str
    batch_size: int
    log_group: str
    mapping_uuid: str  # its event source mapping: pump() polls the queue only while it is enabled


class SimulatedDelays:
    """SQS message delays on the simulator's clock: moto holds a delayed message back for that long in wall time,
    which a simulated day never waits out. The notifier's delayed notices (flushes of held failures) wait here and
    go to the notices queue once the simulated clock has reached them."""

    def __init__(self, sqs: Any, queue_url: Callable[[], str], clock: Callable[[], datetime]) -> None:
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
            self._sqs.send_message(QueueUrl=self._queue_url(), MessageBody=body)
            sent += 1
        return sent


class EmulatorSink:
    """The simulator's side effects, sent to the emulator: events to the default bus, task logs to CloudWatch."""

    def __init__(self, endpoint: str, place: Place | None = None) -> None:
        self._events = client(endpoint, "events", place)
        self._logs = client(endpoint, "logs", place)
        self._streams: set[tuple[str, str]] = set()
        # What happens to each event on its way to the bus: tests lose or trim some (None: lost).
        self.on_the_way: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda entry: entry

    def publish(self, entries: list[dict[str, Any]]) -> None:
        entries = [passed for entry in entries if (passed := self.on_the_way(entry)) is not None]
        for start in range(0, len(entries), MAX_EVENTS_PER_PUT):
            batch = [{**entry, "EventBusName": "default"} for entry in entries[start : start + MAX_EVENTS_PER_PUT]]
            response = self._events.put_events(Entries=batch)
            if response.get("FailedEntryCount"):
                raise RuntimeError(f"EventBridge refused events: {response['Entries']}")

    def log(self, group: str, stream: str, at: datetime, message: str) -> None:
        write_log_lines(self._logs, group, stream, [(at, message)], self._streams)


def write_log_lines(
    logs: Any, group: str, stream: str, lines: list[tuple[datetime, str]], known: set[tuple[str, str]]
) -> None:
    if (group, stream) not in known:
        for create, kwargs in (
            (logs.create_log_group, {"logGroupName": group}),
            (logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
        ):
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                create(**kwargs)
        known.add((group, stream))
    events = [{"timestamp": int(at.timestamp() * 1000), "message": message} for at, message in lines]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


class LocalStack:
    """Everything `mwaa-obs local up` runs, usable in-process by the demo and the tests."""

    def __init__(
        self,
        endpoint: str,
        simulator_port: int = 0,
        speed: float = 0.0,
        slack_webhook_url: str | None = None,
        parameters: Mapping[str, str] | None = None,
        *,
        start: datetime | None = None,
        accounts: int = 1,
    ) -> None:
        """`accounts=2`: central mode, with a second account in another region (sample_events.OTHER) whose
        simulated workflows send their events through the forwarder stack deployed there."""
        self.endpoint = endpoint
        central = {"SourceAccountIds": OTHER.account} if accounts > 1 else {}
        self._given_parameters = central | dict(parameters or {})
        self.template = emulator.load_template()
        self.outputs: dict[str, str] = {}
        self.functions: list[FunctionTarget] = []  # in pump order: ingest, then notify
        self.scheduled: list[ScheduledTarget] = []
        self.streams: list[StreamTarget] = []
        self._handlers: dict[str, Handler] = {}
        self._streams = client(endpoint, "dynamodbstreams")
        self.slack = SlackCatcher() if slack_webhook_url is None else None
        self._slack_webhook_url = slack_webhook_url
        self._alert_inbox_url = ""
        self._alerts: list[dict[str, Any]] = []
        self.parameters: dict[str, str] = {}
        self.sink = EmulatorSink(endpoint)
        self.engine = Engine(self.sink, self._read_definition, start=start or datetime.now(UTC))
        self.other_sinks = [EmulatorSink(endpoint, OTHER)] if accounts > 1 else []  # one other account for now
        self.other_engines = [
            Engine(
                sink, self._read_definition, start=self.engine.now, region=OTHER.region, account=OTHER.account, seed=2
            )
            for sink in self.other_sinks
        ]
        telemetry.clock = lambda: self.engine.now  # workaround 7
        self.simulator = ApiServer(self.engine, port=simulator_port, speed=speed, more=self.other_engines)
        self._s3 = client(endpoint, "s3")
        self._sqs = client(endpoint, "sqs")
        self._logs = client(endpoint, "logs")
        self._lambda = client(endpoint, "lambda")
        self.delayed_notices = SimulatedDelays(self._sqs, lambda: self.functions[1].queue_url, lambda: self.engine.now)
        self._cloudwatch = client(endpoint, "cloudwatch")
        self._log_streams: set[tuple[str, str]] = set()
        self.composites = emulator.CompositeAlarms()  # what the provision function put (workaround 9)

    # --- bring-up --------------------------------------------------------------------------------------------------

    def deploy(self) -> dict[str, str]:
        """Deploy template.yaml as CloudFormation would, then wire the functions up in-process."""
        for bucket in (ARTIFACT_BUCKET, DEFINITIONS_BUCKET):
            self._s3.create_bucket(Bucket=bucket)
        placeholder = io.BytesIO()
        with zipfile.ZipFile(placeholder, "w") as archive:
            archive.writestr("README.txt", "moto never runs Lambda code; the local stack runs it in-process")
        self._s3.put_object(Bucket=ARTIFACT_BUCKET, Key="code.zip", Body=placeholder.getvalue())
        transformed = _without_stream_mappings(
            emulator.sam_transform(self.template, f"s3://{ARTIFACT_BUCKET}/code.zip")
        )
        cloudformation = client(self.endpoint, "cloudformation")
        # moto warns about each resource type it skips (workaround 2), from its server thread: a process-wide filter.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
        logging.getLogger("moto").setLevel(logging.ERROR)
        cloudformation.create_stack(
            StackName=STACK_NAME,
            TemplateBody=json.dumps(transformed),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in self._parameters().items()],
        )
        stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(f"stack {STACK_NAME} is {stack['StackStatus']}: {stack.get('StackStatusReason')}")
        self.outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        lambda_client = client(self.endpoint, "lambda")
        self.functions = [
            self._wire(lambda_client, "IngestFunction", "EventsQueueUrl"),
            self._wire(lambda_client, "NotifyFunction", "NoticesQueueUrl"),
        ]
        self.scheduled = [
            target
            for logical_id in ("FreshnessFunction", "ProvisionFunction", "ReconcileFunction")
            for target in self._wire_schedules(lambda_client, logical_id)
        ]
        self.streams = [self._wire_stream(lambda_client, "ProvisionFunction")]
        self._delete_schedule_rules()
        self._alert_inbox_url = self._subscribe_alert_inbox()
        refs, attributes = self._references(cloudformation)
        self._create_alarms(refs, attributes)
        self._set_queue_policies(refs, attributes)
        if self.central:
            self.forwarder_outputs = self._deploy_forwarder(OTHER)
        # For in-process readers (the demo, tests): this stack's table.
        dynamodb = dynamodb_client(self.endpoint)
        self.runs = Runs(dynamodb, self.outputs["StateTableName"])
        self.workflows = Workflows(dynamodb, self.outputs["StateTableName"])
        return self.outputs

    def _deploy_forwarder(self, place: Place) -> dict[str, str]:
        """forwarder/template.yaml in another account and region, as a StackSet instance would deploy it (moto runs
        CloudFormation in any account; it checks neither the bus policy nor the roles' trust: tests/unit do)."""
        cloudformation = client(self.endpoint, "cloudformation", place)
        parameters = {
            "CentralEventBusArn": self.outputs["CentralEventBusArn"],
            "CentralPrincipalArns": self.outputs["ReaderPrincipalArns"],
            "ExternalId": self.outputs["ReaderExternalId"],
            "ReaderRoleName": self.outputs["ReaderRoleName"],
        }
        cloudformation.create_stack(
            StackName=FORWARDER_STACK_NAME,
            TemplateBody=json.dumps(emulator.load_template(FORWARDER_TEMPLATE)),
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        )
        stack = cloudformation.describe_stacks(StackName=FORWARDER_STACK_NAME)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(f"forwarder in {place} is {stack['StackStatus']}: {stack.get('StackStatusReason')}")
        return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}

    def _parameters(self) -> dict[str, str]:
        if self.slack is not None:
            self.slack.start()
        url = self._slack_webhook_url or (self.slack.url() if self.slack else "")
        secret = client(self.endpoint, "secretsmanager").create_secret(Name=SLACK_SECRET_NAME, SecretString=url)
        self.parameters = {**LOCAL_PARAMETERS, "SlackWebhookSecretArn": secret["ARN"], **self._given_parameters}
        return self.parameters

    def _create_alarms(self, refs: dict[str, Any], attributes: dict[str, str]) -> None:
        """Workaround 2 for alarms: each AWS::CloudWatch::Alarm of the template, through PutMetricAlarm."""
        for resource in self.template["Resources"].values():
            if resource["Type"] != "AWS::CloudWatch::Alarm":
                continue
            if "Condition" not in resource or self._conditions[resource["Condition"]]:
                self._cloudwatch.put_metric_alarm(**emulator.resolve(resource["Properties"], refs, attributes))

    def _set_queue_policies(self, refs: dict[str, Any], attributes: dict[str, str]) -> None:
        """Workaround 2 for queue policies: each AWS::SQS::QueuePolicy of the template, through SetQueueAttributes
        (moto does not enforce it; the local stack's readers see it as deployed)."""
        for resource in self.template["Resources"].values():
            if resource["Type"] == "AWS::SQS::QueuePolicy":
                properties = emulator.resolve(resource["Properties"], refs, attributes, self._conditions)
                for queue_url in properties["Queues"]:
                    self._sqs.set_queue_attributes(
                        QueueUrl=queue_url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
                    )

    def _references(self, cloudformation: Any) -> tuple[dict[str, Any], dict[str, str]]:
        """What Ref and GetAtt resolve to in this stack, as CloudFormation would resolve them."""
        refs: dict[str, Any] = {name: spec.get("Default") for name, spec in self.template["Parameters"].items()}
        refs |= self.parameters | {
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
        }
        attributes: dict[str, str] = {}
        for resource in cloudformation.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]:
            logical, physical = resource["LogicalResourceId"], resource.get("PhysicalResourceId", "")
            refs[logical] = physical
            if resource["ResourceType"] == "AWS::SQS::Queue":
                attributes[f"{logical}.QueueName"] = physical.rsplit("/", 1)[1]
                arn = self._sqs.get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])["Attributes"]
                attributes[f"{logical}.Arn"] = arn["QueueArn"]
        attributes["EventRule.Arn"] = self.outputs["EventRuleArn"]
        if self.central:
            events = client(self.endpoint, "events")
            bus = self.outputs["CentralEventBusArn"]
            (rule,) = events.list_rules(EventBusName=bus)["Rules"]
            attributes["CentralEventRule.Arn"] = rule["Arn"]
        return refs, attributes

    @property
    def central(self) -> bool:
        """Central mode (template.yaml's IsCentral): some account may send events to the central bus."""
        return self._conditions["IsCentral"]

    @property
    def _conditions(self) -> dict[str, bool]:
        """The template's conditions that the resources the local stack makes itself depend on."""
        organisation = bool(self.parameters.get("SourceOrganizationId"))
        accounts = bool(self.parameters.get("SourceAccountIds"))
        return {
            "IsCentral": organisation or accounts,
            "HasSourceOrganization": organisation,
            "HasSourceAccounts": accounts,
        }

    def _event_sources(self, logical_id: str, kind: str) -> list[dict[str, Any]]:
        """The function's events of that type (SQS, Schedule, DynamoDB) in template.yaml."""
        events = self.template["Resources"][logical_id]["Properties"]["Events"].values()
        return [event for event in events if event["Type"] == kind]

    def _event_source(self, logical_id: str, kind: str) -> dict[str, Any]:
        """The function's one event of that type."""
        (source,) = self._event_sources(logical_id, kind)
        return source

    def _wire(self, lambda_client: Any, logical_id: str, queue_output: str) -> FunctionTarget:
        source = self._event_source(logical_id, "SQS")
        batch_size = source["Properties"]["BatchSize"]
        if isinstance(batch_size, dict):
            batch_size = emulator.parameter_default(self.template, batch_size["Ref"])
        handler, log_group = self._load(lambda_client, logical_id)
        queue_url = self._sqs.get_queue_url(QueueName=self.outputs[queue_output].rsplit("/", 1)[1])["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        mappings = lambda_client.list_event_source_mappings(FunctionName=self.outputs[f"{logical_id}Name"])
        (mapping,) = mappings["EventSourceMappings"]
        return FunctionTarget(handler, queue_url, queue_arn["QueueArn"], int(batch_size), log_group, mapping["UUID"])

    def _wire_schedules(self, lambda_client: Any, logical_id: str) -> list[ScheduledTarget]:
        refs = {name: spec.get("Default") for name, spec in self.template["Parameters"].items()} | self.parameters
        handler, log_group = self._load(lambda_client, logical_id)
        targets = []
        for source in self._event_sources(logical_id, "Schedule"):
            expression = emulator.resolve(source["Properties"]["Schedule"], refs, {})
            amount, unit = expression.removeprefix("rate(").removesuffix(")").split()
            every = timedelta(**{unit if unit.endswith("s") else unit + "s": int(amount)})
            given = json.loads(source["Properties"].get("Input", "{}"))
            targets.append(ScheduledTarget(handler, every, log_group, given))
        return targets

    def _wire_stream(self, lambda_client: Any, logical_id: str) -> StreamTarget:
        source = self._event_source(logical_id, "DynamoDB")
        filters = [json.loads(entry["Pattern"]) for entry in source["Properties"]["FilterCriteria"]["Filters"]]
        handler, log_group = self._load(lambda_client, logical_id)
        stream_arn = self.outputs["StateTableStreamArn"]
        target = StreamTarget(handler, stream_arn, filters, log_group)
        for shard in self._streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
            iterator = self._streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
            target.iterators[shard["ShardId"]] = iterator
        return target

    def _load(self, lambda_client: Any, logical_id: str) -> tuple[Handler, str]:
        """A function's handler, loaded once, with its environment."""
        function_name = self.outputs[f"{logical_id}Name"]
        configuration = lambda_client.get_function_configuration(FunctionName=function_name)
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"] = self.simulator.url  # the functions' API is the simulator
        os.environ.update({k: str(v) for k, v in configuration["Environment"]["Variables"].items()})
        log_group = configuration.get("LoggingConfig", {}).get("LogGroup", f"/aws/lambda/{function_name}")
        if logical_id not in self._handlers:
            handler = load_handler(self.template, logical_id, emulator.REPO_ROOT)
            follow_stdout(SERVICE)
            module = sys.modules[handler.__module__]
            if hasattr(module, "provisioner"):  # workaround 9: moto has no composite alarms
                self.composites.attach(module.cloudwatch)
            if hasattr(module, "notifier"):  # workaround 10: the notifier lives on the simulator's clock
                module.notifier.clock = lambda: self.engine.now
                module.notifier.notices = self.delayed_notices
            self._handlers[logical_id] = handler
        return self._handlers[logical_id], log_group

    def run_streams(self) -> int:
        """Feed each stream target the new records that pass its filters; returns the records handed over."""
        handed = 0
        for target in self.streams:
            for shard, iterator in list(target.iterators.items()):
                answer = self._streams.get_records(ShardIterator=iterator)
                target.iterators[shard] = answer.get("NextShardIterator") or iterator
                records = [r for r in answer["Records"] if any(matches_filter(f, r) for f in target.filters)]
                if records:
                    with _captured_stdout() as output:
                        target.handler({"Records": records}, FakeLambdaContext(aws_request_id=f"stream-{shard}"))
                    self._forward(target.log_group, output.getvalue())
                    handed += len(records)
        return handed

    def _delete_schedule_rules(self) -> None:
        """Workaround 8."""
        events = client(self.endpoint, "events")
        for rule in events.list_rules(EventBusName="default")["Rules"]:
            if rule.get("ScheduleExpression"):
                targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
                if targets:
                    events.remove_targets(Rule=rule["Name"], Ids=[target["Id"] for target in targets])
                events.delete_rule(Name=rule["Name"])

    def widget(self, event: dict[str, Any]) -> Any:
        """Call the runs widget function as a dashboard would (its answer: HTML, or the markdown of `describe`)."""
        handler, log_group = self._load(client(self.endpoint, "lambda"), "WidgetFunction")
        arn = self.outputs["WidgetFunctionArn"]
        with _captured_stdout() as output:
            answer = handler(event, FakeLambdaContext(function_name=arn.rsplit(":", 1)[1], invoked_function_arn=arn))
        self._forward(log_group, output.getvalue())
        return answer

    def run_schedules(self) -> int:
        """Invoke each scheduled function whose time has come on the simulator's clock; returns the invocations."""
        invoked = 0
        for target in self.scheduled:
            now = self.engine.now
            if target.next_due is not None and now < target.next_due:
                continue
            event = {"source": "aws.events", "detail-type": "Scheduled Event", "time": now.isoformat(), **target.input}
            with _captured_stdout() as output:
                target.handler(event, FakeLambdaContext(aws_request_id=f"schedule-{now:%Y%m%dT%H%M}"))
            self._forward(target.log_group, output.getvalue())
            target.next_due = now + target.every
            invoked += 1
        return invoked

    def _subscribe_alert_inbox(self) -> str:
        """Workaround 6: what the topic publishes, kept in a queue (moto skips AWS::SNS::Subscription anyway)."""
        url: str = self._sqs.create_queue(QueueName=ALERT_INBOX)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns = client(self.endpoint, "sns")
        sns.subscribe(TopicArn=self.outputs["AlertTopicArn"], Protocol="sqs", Endpoint=arn)
        return url

    def alerts(self) -> list[dict[str, Any]]:
        """Every message published to the alert topic so far (SNS envelopes: Subject, Message, MessageAttributes)."""
        while True:
            batch = self._sqs.receive_message(QueueUrl=self._alert_inbox_url, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return list(self._alerts)
            for message in messages:
                self._alerts.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._alert_inbox_url, ReceiptHandle=message["ReceiptHandle"])

    def start_simulator(self) -> str:
        self.simulator.start()
        return self.simulator.url

    def stop(self) -> None:
        telemetry.clock = telemetry.wall_clock
        self.simulator.stop()
        if self.slack is not None:
            self.slack.stop()

    # --- running ---------------------------------------------------------------------------------------------------

    def pump(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Deliver each function's queue to its handler (events first, then the notices they caused) until all are
        empty; returns the events ingested. The other accounts' simulators first catch up with the home one's clock
        (one clock for every account and region)."""
        assert self.functions, "deploy() first"
        for engine in self.other_engines:
            engine.advance(self.engine.now)
        ingested = 0
        while not should_stop():
            handled = [self.drain(target, should_stop) for target in self.functions]
            ingested += handled[0]
            if not any(handled) and not self.delayed_notices.release():
                self.run_streams()
                self.run_schedules()
                return ingested
        return ingested  # asked to stop: what is still queued stays in the queue

    def drain(self, target: FunctionTarget, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Poll one function's queue until it is empty (or only failing messages are left); returns those handled.
        Nothing while its event source mapping is disabled, as Lambda would not poll it."""
        if self._lambda.get_event_source_mapping(UUID=target.mapping_uuid).get("State") != "Enabled":
            return 0
        handled = 0
        while not should_stop():
            with _captured_stdout() as output:
                result: PollResult = poll_sqs_once(
                    self._sqs, target.queue_url, target.queue_arn, target.handler, target.batch_size
                )
            self._forward(target.log_group, output.getvalue())
            if not result.received or result.failed == result.received:
                return handled + result.received - result.failed
            handled += result.received
        return handled

    def _forward(self, log_group: str, printed: str) -> None:
        """What the function printed: EMF documents become metrics, every line goes to the function's logs."""
        lines = [line for line in printed.splitlines() if line.strip()]
        if not lines:
            return
        now = datetime.now(UTC)
        write_log_lines(self._logs, log_group, "local", [(now, line) for line in lines], self._log_streams)
        for line in lines:
            document = json.loads(line) if line.startswith("{") else {}
            if "_aws" in document:
                put_emf_metrics(self._cloudwatch, document)

    def _read_definition(self, location: dict[str, Any]) -> str:
        try:
            body = self._s3.get_object(Bucket=location["Bucket"], Key=location["ObjectKey"])["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise KeyError(location["ObjectKey"]) from None
        text: str = body.decode("utf-8")
        return text


def _without_stream_mappings(transformed: dict[str, Any]) -> dict[str, Any]:
    """Workaround 8: moto invokes (in Docker) the function of a table stream's mapping on every write, whether the
    mapping is enabled or even deleted; the local stack deploys without those mappings and reads the stream itself."""
    resources = transformed["Resources"]
    for logical_id in [
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
        and "StreamArn" in json.dumps(resource["Properties"].get("EventSourceArn"))
    ]:
        del resources[logical_id]
    return transformed


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
def _captured_stdout() -> Iterator[io.StringIO]:
    """Lambda sends a function's stdout to CloudWatch Logs; here it is captured for the same purpose."""
    buffer = io.StringIO()
    real, sys.stdout = sys.stdout, buffer
    try:
        yield buffer
    finally:
        sys.stdout = real


@contextmanager
def running(
    port: int | None = None,
    simulator_port: int = 0,
    speed: float = 0.0,
    slack_webhook_url: str | None = None,
    start: datetime | None = None,
    *,
    accounts: int = 1,
) -> Iterator[LocalStack]:
    """moto server, the stack deployed, the simulator serving (and a Slack catcher, without a webhook URL); all
    stopped on exit. `accounts=2`: central mode with a second account and region (LocalStack)."""
    port = port or emulator.free_port()
    with emulator.moto_server(port) as endpoint:
        emulator.use_offline(port)
        stack = LocalStack(
            endpoint,
            simulator_port=simulator_port,
            speed=speed,
            slack_webhook_url=slack_webhook_url,
            start=start,
            accounts=accounts,
        )
        stack.deploy()
        stack.start_simulator()
        try:
            yield stack
        finally:
            stack.stop()


def other_account_service(stack: LocalStack) -> Any:
    """The MWAA Serverless client of the other account (sample_events.OTHER), as its own operators would have it:
    signed with credentials moto gives that account."""
    sts = client(stack.endpoint, "sts")
    role = f"arn:aws:iam::{OTHER.account}:role/operator"
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="operator")["Credentials"]
    return botocore.session.get_session().create_client(
        "mwaa-serverless",
        endpoint_url=stack.simulator.url,
        region_name=OTHER.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def definition_location(path: Path) -> dict[str, str]:
    return {"Bucket": DEFINITIONS_BUCKET, "ObjectKey": f"workflows/{path.name}"}
