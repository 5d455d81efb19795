"""template.yaml deployed into the emulator as CloudFormation would deploy it, and what moto skips done by hand
(workarounds 1, 2, 6, 8 and 11 of the package's list); in central mode, forwarder/template.yaml in the other
account."""

from __future__ import annotations

import io
import json
import logging
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mwaa_obs import DEFAULT_STACK_NAME
from mwaa_obs.events import Place
from mwaa_obs_tools import emulator, throttle
from mwaa_obs_tools.iam import roles
from mwaa_obs_tools.localstack.clients import client
from mwaa_obs_tools.sample_events import ACCOUNT, OTHER, REGION

STACK_NAME = DEFAULT_STACK_NAME
FORWARDER_STACK_NAME = f"{DEFAULT_STACK_NAME}-forwarder"
FORWARDER_TEMPLATE = emulator.REPO_ROOT / "forwarder" / "template.yaml"
ARTIFACT_BUCKET = "mwaa-obs-local-artifacts"
DEFINITIONS_BUCKET = "mwaa-obs-local-definitions"
WORKFLOW_ROLE_ARN = "arn:aws:iam::123456789012:role/mwaa-obs-local-workflow"
SLACK_SECRET_NAME = "mwaa-obs-local-slack"  # noqa: S105 - the name of a secret, not one
ALERT_INBOX = "mwaa-obs-local-alert-inbox"
# Local deployments differ from the defaults only where the emulator needs it.
LOCAL_PARAMETERS = {"AlertDelaySeconds": "0"}


def definition_location(path: Path) -> dict[str, str]:
    """Where a workflow definition file goes in the local stack's S3, for CreateWorkflow's DefinitionS3Location."""
    return {"Bucket": DEFINITIONS_BUCKET, "ObjectKey": f"workflows/{path.name}"}


class Deployment:
    """The stack: its parameters as deployed, its outputs, and its template's events and conditions."""

    def __init__(self, endpoint: str, template: dict[str, Any], given_parameters: Mapping[str, str]) -> None:
        self._endpoint = endpoint
        self.template = template
        self._given_parameters = dict(given_parameters)
        self.parameters: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self.forwarder_outputs: dict[str, str] = {}
        self.role_names: dict[str, str] = {}  # the stack's roles: logical id -> name
        self._s3 = client(endpoint, "s3")
        self._sqs = client(endpoint, "sqs")
        self._cloudwatch = throttle.exempt(client(endpoint, "cloudwatch"))  # CloudFormation's calls: its own pace

    def create_stack(self, slack_webhook_url: str) -> dict[str, str]:
        """Workaround 1: the template transformed here and created with CloudFormation, its code a placeholder in S3;
        without the table stream's mapping (workaround 8). The Slack secret is created first, as a user would."""
        for bucket in (ARTIFACT_BUCKET, DEFINITIONS_BUCKET):
            self._s3.create_bucket(Bucket=bucket)
        placeholder = io.BytesIO()
        with zipfile.ZipFile(placeholder, "w") as archive:
            archive.writestr("README.txt", "moto never runs Lambda code; the local stack runs it in-process")
        self._s3.put_object(Bucket=ARTIFACT_BUCKET, Key="code.zip", Body=placeholder.getvalue())
        transformed = _without_stream_mappings(
            emulator.sam_transform(self.template, f"s3://{ARTIFACT_BUCKET}/code.zip")
        )
        cloudformation = client(self._endpoint, "cloudformation")
        # moto warns about each resource type it skips (workaround 2), from its server thread: a process-wide filter.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
        logging.getLogger("moto").setLevel(logging.ERROR)
        parameters = self._create_parameters(slack_webhook_url)
        cloudformation.create_stack(
            StackName=STACK_NAME,
            TemplateBody=json.dumps(transformed),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        )
        stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(f"stack {STACK_NAME} is {stack['StackStatus']}: {stack.get('StackStatusReason')}")
        self.outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        self._write_roles(*self._references(cloudformation))
        return self.outputs

    def role_arn(self, logical_id: str) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{self.role_names[logical_id]}"

    def complete(self) -> None:
        """What CloudFormation would have done and moto did not: schedule rules gone (workaround 8), alarms and queue
        policies made (workaround 2), and in central mode the forwarder stack in the other account."""
        self._delete_schedule_rules()
        cloudformation = client(self._endpoint, "cloudformation")
        refs, attributes = self._references(cloudformation)
        self._create_alarms(refs, attributes)
        self._set_queue_policies(refs, attributes)
        if self.central:
            self.forwarder_outputs = self._deploy_forwarder(OTHER)

    @property
    def central(self) -> bool:
        """Central mode (template.yaml's IsCentral): some account may send events to the central bus."""
        return self._conditions["IsCentral"]

    def event_sources(self, logical_id: str, kind: str) -> list[dict[str, Any]]:
        """The function's events of that type (SQS, Schedule, DynamoDB) in template.yaml."""
        events = self.template["Resources"][logical_id]["Properties"]["Events"].values()
        return [event for event in events if event["Type"] == kind]

    def event_source(self, logical_id: str, kind: str) -> dict[str, Any]:
        """The function's one event of that type."""
        (source,) = self.event_sources(logical_id, kind)
        return source

    def parameter_values(self) -> dict[str, Any]:
        """Every parameter's value as deployed (its default unless given)."""
        return {name: spec.get("Default") for name, spec in self.template["Parameters"].items()} | self.parameters

    def _create_parameters(self, slack_webhook_url: str) -> dict[str, str]:
        secret = client(self._endpoint, "secretsmanager").create_secret(
            Name=SLACK_SECRET_NAME, SecretString=slack_webhook_url
        )
        self.parameters = {**LOCAL_PARAMETERS, "SlackWebhookSecretArn": secret["ARN"], **self._given_parameters}
        return self.parameters

    def _deploy_forwarder(self, place: Place) -> dict[str, str]:
        """forwarder/template.yaml in another account and region, as a StackSet instance would deploy it (moto runs
        CloudFormation in any account; it checks neither the bus policy nor the roles' trust: tests/unit do)."""
        cloudformation = client(self._endpoint, "cloudformation", place)
        parameters = {
            "CentralEventBusArn": self.outputs["CentralEventBusArn"],
            "CentralPrincipalArns": self.outputs["ReaderPrincipalArns"],
            "ExternalId": self.outputs["ReaderExternalId"],
            "ReaderRoleName": self.outputs["ReaderRoleName"],
        }
        template = emulator.load_template(FORWARDER_TEMPLATE)
        cloudformation.create_stack(
            StackName=FORWARDER_STACK_NAME,
            TemplateBody=json.dumps(template),
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        )
        stack = cloudformation.describe_stacks(StackName=FORWARDER_STACK_NAME)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(f"forwarder in {place} is {stack['StackStatus']}: {stack.get('StackStatusReason')}")
        self._write_forwarder_roles(place, template, parameters)
        return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}

    def _write_roles(self, refs: dict[str, Any], attributes: dict[str, str]) -> None:
        """Workaround 11: the roles as CloudFormation creates them (moto's are Python reprs, its log group ARNs lack
        ":*"), into the emulator's IAM, where the gate reads them."""
        for logical_id, group in self._log_groups().items():
            attributes[f"{logical_id}.Arn"] = roles.log_group_arn(REGION, ACCOUNT, group)
        deployed = roles.template_roles(self.template, refs, attributes, self._conditions)
        self.role_names = {logical_id: refs[logical_id] for logical_id in deployed}
        roles.write_roles(client(self._endpoint, "iam"), self.role_names, deployed, create=False)

    def log_group(self, function_logical_id: str) -> str:
        """The function's log group, its LoggingConfig's (moto keeps no LoggingConfig)."""
        properties = self.template["Resources"][function_logical_id]["Properties"]
        return self._log_groups()[properties["LoggingConfig"]["LogGroup"]["Ref"]]

    def _log_groups(self) -> dict[str, str]:
        refs = self.parameter_values() | {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        return {
            logical_id: emulator.resolve(resource["Properties"]["LogGroupName"], refs, {})
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == "AWS::Logs::LogGroup"
        }

    def _write_forwarder_roles(self, place: Place, template: dict[str, Any], parameters: dict[str, str]) -> None:
        """Workaround 11 for the forwarder stack's roles, in its account."""
        cloudformation = client(self._endpoint, "cloudformation", place)
        resources = cloudformation.list_stack_resources(StackName=FORWARDER_STACK_NAME)["StackResourceSummaries"]
        given = {name: spec["Default"] for name, spec in template["Parameters"].items() if "Default" in spec}
        refs: dict[str, Any] = emulator.typed_parameters(template, given | parameters) | {
            "AWS::Region": place.region,
            "AWS::AccountId": place.account,
            "AWS::Partition": "aws",
        }
        refs |= {resource["LogicalResourceId"]: resource.get("PhysicalResourceId", "") for resource in resources}
        deployed = roles.template_roles(template, refs, {}, emulator.conditions(template, refs))
        names = {logical_id: refs[logical_id] for logical_id in deployed}
        roles.write_roles(client(self._endpoint, "iam", place), names, deployed, create=False)

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
        refs: dict[str, Any] = emulator.typed_parameters(self.template, self.parameter_values()) | {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
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
        events = client(self._endpoint, "events")
        home_rules = {rule["Name"]: rule["Arn"] for rule in events.list_rules(EventBusName="default")["Rules"]}
        api_calls = emulator.resolve(self.template["Resources"]["ApiCallRule"]["Properties"]["Name"], refs, {})
        attributes["ApiCallRule.Arn"] = home_rules[api_calls]
        if self.central:
            bus = self.outputs["CentralEventBusArn"]
            rules = {rule["Name"]: rule["Arn"] for rule in events.list_rules(EventBusName=bus)["Rules"]}
            for logical_id in ("CentralEventRule", "CentralAlarmRule"):
                name = emulator.resolve(self.template["Resources"][logical_id]["Properties"]["Name"], refs, {})
                attributes[f"{logical_id}.Arn"] = rules[name]
        return refs, attributes

    @property
    def _conditions(self) -> dict[str, bool]:
        """The template's conditions as deployed (IsCentral, HasSlackSecret, HasCustomerManagedKey...)."""
        return emulator.conditions(self.template, emulator.typed_parameters(self.template, self.parameter_values()))

    def _delete_schedule_rules(self) -> None:
        """Workaround 8: moto never fires them, and PutEvents to the default bus fails while one exists."""
        events = client(self._endpoint, "events")
        for rule in events.list_rules(EventBusName="default")["Rules"]:
            if rule.get("ScheduleExpression"):
                targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
                if targets:
                    events.remove_targets(Rule=rule["Name"], Ids=[target["Id"] for target in targets])
                events.delete_rule(Name=rule["Name"])


class AlertInbox:
    """Workaround 6: what the alert topic publishes (what email subscribers would get), kept in a queue."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._sqs = client(endpoint, "sqs")
        self._url = ""
        self._received: list[dict[str, Any]] = []

    def subscribe(self, topic_arn: str) -> None:
        """moto skips AWS::SNS::Subscription anyway."""
        self._url = self._sqs.create_queue(QueueName=ALERT_INBOX)["QueueUrl"]
        attributes = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"]
        client(self._endpoint, "sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=attributes["QueueArn"])

    def messages(self) -> list[dict[str, Any]]:
        """Every message published to the topic so far (SNS envelopes: Subject, Message, MessageAttributes)."""
        while True:
            batch = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return list(self._received)
            for message in messages:
                self._received.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])


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
