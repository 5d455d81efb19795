"""The local stack put together: the emulator's deployment, the functions run in-process, the simulator serving
every simulated account and region, a Slack catcher; `running()` brings it all up on a moto server and down."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions
import botocore.session

from mwaa_obs import telemetry
from mwaa_obs.aws import aws_session, dynamodb_client
from mwaa_obs.settings import SeriesPolicies, SettingsSource
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.workflows import Workflows
from mwaa_obs_tools import emulator, moto_patches
from mwaa_obs_tools.iam import roles
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext
from mwaa_obs_tools.localstack.clients import EmulatorSink, client
from mwaa_obs_tools.localstack.deployment import AlertInbox, Deployment
from mwaa_obs_tools.localstack.functions import FunctionHost, FunctionTarget
from mwaa_obs_tools.localstack.scheduling import Pump, ScheduledTarget, SimulatedDelays, StreamTarget
from mwaa_obs_tools.sample_events import OTHER
from mwaa_obs_tools.simulator.api import ApiServer
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.slack_catcher import SlackCatcher


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
        template: dict[str, Any] | None = None,
    ) -> None:
        """`accounts=2`: central mode, with a second account in another region (sample_events.OTHER) whose
        simulated workflows send their events through the forwarder stack deployed there. `template`: another
        template than template.yaml (a test's mutant)."""
        self.endpoint = endpoint
        central = {"SourceAccountIds": OTHER.account} if accounts > 1 else {}
        self.template = template or emulator.load_template()
        self.deployment = Deployment(endpoint, self.template, central | dict(parameters or {}))
        self.slack = SlackCatcher() if slack_webhook_url is None else None
        self._slack_webhook_url = slack_webhook_url
        self._alert_inbox = AlertInbox(endpoint)
        self._s3 = client(endpoint, "s3")
        self.sink = EmulatorSink(endpoint)
        self.engine = Engine(self.sink, self._read_object, start=start or datetime.now(UTC))
        self.other_sinks = [EmulatorSink(endpoint, OTHER)] if accounts > 1 else []  # one other account for now
        self.other_engines = [
            Engine(sink, self._read_object, start=self.engine.now, region=OTHER.region, account=OTHER.account, seed=2)
            for sink in self.other_sinks
        ]
        telemetry.clock = lambda: self.engine.now  # workaround 7
        roles.sign_as_acting(aws_session())  # workaround 11: each function signs as its role
        moto_patches.logs_clock = lambda: self.engine.now  # CloudWatch Logs' window on the simulator's clock
        self.simulator = ApiServer(self.engine, port=simulator_port, speed=speed, more=self.other_engines)
        self.delayed_notices = SimulatedDelays(
            lambda: self._lambdas.client_for("NotifyFunction", "sqs"),
            lambda: self.functions[1].queue_url,
            lambda: self.engine.now,
        )
        self._lambdas = FunctionHost(
            endpoint,
            self.deployment,
            self.simulator.url,
            clock=lambda: self.engine.now,
            notices=self.delayed_notices,
        )
        self._pump = Pump(self._lambdas, self.engine, self.other_engines, self.delayed_notices)

    # --- bring-up --------------------------------------------------------------------------------------------------

    def deploy(self) -> dict[str, str]:
        """Deploy template.yaml as CloudFormation would, then wire the functions up in-process."""
        if self.slack is not None:
            self.slack.start()
        slack_url = self._slack_webhook_url or (self.slack.url() if self.slack else "")
        outputs = self.deployment.create_stack(slack_url)
        self._pump.wire(self.deployment)
        self.deployment.complete()
        self._alert_inbox.subscribe(outputs["AlertTopicArn"])
        # For in-process readers (the demo, tests): this stack's table.
        dynamodb = dynamodb_client(self.endpoint)
        self.runs = Runs(dynamodb, outputs["StateTableName"])
        self.workflows = Workflows(dynamodb, outputs["StateTableName"])
        settings = SettingsSource(client(self.endpoint, "ssm"), outputs["SettingsParameterName"], ttl_seconds=0)
        self.policies = SeriesPolicies(
            settings, int(outputs["DurationAlarmSeconds"]), int(outputs["RetryStormThreshold"])
        )
        return outputs

    def start_simulator(self) -> str:
        self.simulator.start()
        return self.simulator.url

    def stop(self) -> None:
        telemetry.clock = telemetry.wall_clock
        moto_patches.logs_clock = moto_patches.wall_clock
        self.simulator.stop()
        if self.slack is not None:
            self.slack.stop()

    @property
    def outputs(self) -> dict[str, str]:
        return self.deployment.outputs

    @property
    def parameters(self) -> dict[str, str]:
        return self.deployment.parameters

    @property
    def forwarder_outputs(self) -> dict[str, str]:
        return self.deployment.forwarder_outputs

    @property
    def central(self) -> bool:
        """Central mode (template.yaml's IsCentral): some account may send events to the central bus."""
        return self.deployment.central

    # --- running ---------------------------------------------------------------------------------------------------

    @property
    def functions(self) -> list[FunctionTarget]:
        """The functions with a queue, in pump order: ingest, then notify."""
        return self._pump.queues

    @property
    def scheduled(self) -> list[ScheduledTarget]:
        return self._pump.scheduled

    @property
    def streams(self) -> list[StreamTarget]:
        return self._pump.streams

    def pump(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        return self._pump.pump(should_stop)

    def drain(self, target: FunctionTarget, should_stop: Callable[[], bool] = lambda: False) -> int:
        return self._lambdas.drain(target, should_stop)

    def run_streams(self) -> int:
        return self._pump.run_streams()

    def run_schedules(self) -> int:
        return self._pump.run_schedules()

    def widget(self, event: dict[str, Any]) -> Any:
        """Call the runs widget function as a dashboard would (its answer: HTML, or the markdown of `describe`)."""
        handler, log_group = self._lambdas.load("WidgetFunction")
        arn = self.outputs["WidgetFunctionArn"]
        context = FakeLambdaContext(function_name=arn.rsplit(":", 1)[1], invoked_function_arn=arn)
        return self._lambdas.invoke(handler, event, context, log_group)

    def actions(self, event: dict[str, Any]) -> Any:
        """Call the actions function as a dashboard's Re-run or Stop button would (its answer: HTML)."""
        handler, log_group = self._lambdas.load("ActionsFunction")
        arn = self.outputs["ActionsFunctionArn"]
        context = FakeLambdaContext(function_name=arn.rsplit(":", 1)[1], invoked_function_arn=arn)
        return self._lambdas.invoke(handler, event, context, log_group)

    def alerts(self) -> list[dict[str, Any]]:
        """Every message published to the alert topic so far (SNS envelopes: Subject, Message, MessageAttributes)."""
        return self._alert_inbox.messages()

    def _read_object(self, location: dict[str, Any]) -> bytes:
        """An S3 object the simulated service reads (a definition, a code package); a KeyError when it cannot."""
        version = {"VersionId": location["VersionId"]} if location.get("VersionId") else {}
        try:
            response = self._s3.get_object(Bucket=location["Bucket"], Key=location["ObjectKey"], **version)
        except botocore.exceptions.ClientError as error:  # no such bucket, key or version; access denied
            raise KeyError(location["ObjectKey"]) from error
        body: bytes = response["Body"].read()
        return body


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
