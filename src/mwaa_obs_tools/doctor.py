"""`mwaa-obs doctor`: is the pipeline able to see events, and has it seen any? One line per check, each naming the
broken part and what to do, for a deployed stack and for the local stack alike.

Every check reads, never writes, and never reads the Slack webhook itself (DescribeSecret, not GetSecretValue).
A check that cannot be made (access denied, an unreachable API) fails with the reason; the others still run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from botocore.exceptions import BotoCoreError, ClientError

from mwaa_obs.events import PLACE_SEPARATOR
from mwaa_obs.metrics import INVALID_EVENTS, ITEMS_SKIPPED, UNKNOWN_EVENT_TYPES, UNKNOWN_STATES
from mwaa_obs.mwaa_api import MwaaApi
from mwaa_obs.settings import InvalidSettings, parse_settings
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.samples import EventSamples, SampleKind
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.text import counted

Status = Literal["ok", "warn", "fail"]
SOURCE: Final = "aws.airflow-serverless"
EVENTS_PRINCIPAL: Final = "events.amazonaws.com"
BAD_EVENTS_WINDOW: Final = timedelta(hours=24)
QUIET_AFTER: Final = timedelta(hours=24)  # no event stored for this long: worth a look, not a failure
NAMES_SHOWN: Final = 3
# The operators a statement may name the sending rule with; the rule's ARN must be among the values.
SOURCE_ARN_OPERATORS: Final = ("ArnEquals", "ArnLike", "StringEquals", "StringLike")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str


@dataclass
class Clients:
    """What the checks read through (boto3 or botocore clients of one account and region)."""

    events: Any
    sqs: Any
    lambda_: Any
    ssm: Any
    secrets: Any
    cloudwatch: Any
    dynamodb: Any
    api: MwaaApi


@dataclass
class Doctor:
    outputs: Mapping[str, str]
    clients: Clients
    now: datetime  # the stack's clock: the simulator's for the local stack
    _queue_arns: dict[str, str] = field(default_factory=dict)

    def checks(self) -> list[Check]:
        steps: list[tuple[str, Callable[[], Check]]] = [
            ("rule", self.rule),
            ("queue policy", self.queue_policy),
            ("event sources", self.event_sources),
            ("dead letters", self.dead_letters),
            ("bad events", self.bad_events),
            ("api answers", self.api_answers),
            ("newest event", self.newest_event),
            ("settings", self.settings),
            ("slack secret", self.slack_secret),
            ("workflows", self.workflows),
        ]
        return [_guarded(name, step) for name, step in steps]

    # --- events in -------------------------------------------------------------------------------------------------

    def rule(self) -> Check:
        rule_arn = self.outputs["EventRuleArn"]
        name = rule_arn.rsplit("/", 1)[1]
        try:
            rule = self.clients.events.describe_rule(Name=name)
        except self.clients.events.exceptions.ResourceNotFoundException:
            return Check("rule", "fail", f"rule {name} not found: no event reaches the pipeline (deploy the stack)")
        if rule.get("State") != "ENABLED":
            state = rule.get("State")
            said = f"rule {name} is {state}: no event reaches the queue (aws events enable-rule --name {name})"
            return Check("rule", "fail", said)
        sources = json.loads(rule.get("EventPattern") or "{}").get("source", [])
        if SOURCE not in sources:
            return Check("rule", "fail", f"rule {name} does not match source {SOURCE} (its sources: {sources})")
        queue_arn = self._queue_arn("EventsQueueUrl")
        targets = self.clients.events.list_targets_by_rule(Rule=name).get("Targets", [])
        if queue_arn not in {target["Arn"] for target in targets}:
            return Check("rule", "fail", f"rule {name} does not target the events queue {_name(queue_arn)}")
        return Check("rule", "ok", f"{name} is enabled, matches {SOURCE} and targets {_name(queue_arn)}")

    def queue_policy(self) -> Check:
        queue_arn = self._queue_arn("EventsQueueUrl")
        attributes = self.clients.sqs.get_queue_attributes(
            QueueUrl=self.outputs["EventsQueueUrl"], AttributeNames=["Policy"]
        ).get("Attributes", {})
        policy = json.loads(attributes["Policy"]) if attributes.get("Policy") else None
        refused = why_rule_cannot_send(policy, queue_arn, self.outputs["EventRuleArn"])
        if refused:
            return Check("queue policy", "fail", f"{_name(queue_arn)}: {refused} (redeploy the stack to restore it)")
        return Check("queue policy", "ok", f"{_name(queue_arn)} lets the rule send")

    def event_sources(self) -> Check:
        problems, fine = [], []
        for function_output, queue_output in (
            ("IngestFunctionName", "EventsQueueUrl"),
            ("NotifyFunctionName", "NoticesQueueUrl"),
        ):
            function, queue_arn = self.outputs[function_output], self._queue_arn(queue_output)
            mappings = self.clients.lambda_.list_event_source_mappings(FunctionName=function, EventSourceArn=queue_arn)
            states = [(m["UUID"], m.get("State", "?")) for m in mappings.get("EventSourceMappings", [])]
            if not states:
                problems.append(f"{function} has no mapping from {_name(queue_arn)} (redeploy the stack)")
            for uuid, state in states:
                if state == "Enabled":
                    fine.append(f"{_name(queue_arn)} -> {function}")
                else:
                    problems.append(
                        f"{_name(queue_arn)} -> {function} is {state}: messages wait in the queue "
                        f"(aws lambda update-event-source-mapping --uuid {uuid} --enabled)"
                    )
        if problems:
            return Check("event sources", "fail", "; ".join(problems))
        return Check("event sources", "ok", "enabled: " + ", ".join(fine))

    def dead_letters(self) -> Check:
        waiting = {}
        for output, queue in (("EventsDeadLetterQueueUrl", "events"), ("NoticesDeadLetterQueueUrl", "notices")):
            attributes = self.clients.sqs.get_queue_attributes(
                QueueUrl=self.outputs[output],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            count = sum(int(value) for value in attributes.values())
            if count:
                waiting[queue] = count
        if waiting:
            said = ", ".join(
                f"{count} in the {queue} DLQ (read why in the {queue} function's log, then "
                f"mwaa-obs dlq redrive {queue})"
                for queue, count in waiting.items()
            )
            return Check("dead letters", "fail", said)
        return Check("dead letters", "ok", "both dead-letter queues are empty")

    def bad_events(self) -> Check:
        counts = {spec.name: self._sum(spec.name) for spec in (INVALID_EVENTS, UNKNOWN_EVENT_TYPES)}
        invalid, unknown = int(counts[INVALID_EVENTS.name]), int(counts[UNKNOWN_EVENT_TYPES.name])
        if not invalid and not unknown:
            return Check("bad events", "ok", "no invalid or unknown events in the last 24 h")
        table = self.outputs["StateTableName"]
        samples = EventSamples(self.clients.dynamodb, table, clock=lambda: self.now).recent(days=2)
        kinds = {kind: sorted({i.detail_type for i in samples if i.sample_kind == kind}) for kind in SampleKind}
        reasons = [r.reason for i in samples if i.sample_kind == SampleKind.INVALID for r in i.samples or []]
        said = []
        if unknown:
            said.append(f"{unknown} of detail-types this version does not read ({_names(kinds[SampleKind.UNKNOWN])})")
        if invalid:
            first = f"; first reason: {reasons[0]}" if reasons else ""
            said.append(f"{invalid} invalid ({_names(kinds[SampleKind.INVALID])}{first})")
        return Check("bad events", "fail", "in the last 24 h: " + "; ".join(said) + " (mwaa-obs events samples)")

    def api_answers(self) -> Check:
        """What the reconciler could not take from the API in the last 24 h: states this version does not know, and
        workflows or runs it skipped (mwaa_obs.isolation)."""
        unknown, skipped = (int(self._sum(spec.name)) for spec in (UNKNOWN_STATES, ITEMS_SKIPPED))
        if not unknown and not skipped:
            return Check("api answers", "ok", "every API state known, no workflow or run skipped (24 h)")
        said = []
        if unknown:
            table = self.outputs["StateTableName"]
            samples = EventSamples(self.clients.dynamodb, table, clock=lambda: self.now).recent(days=2)
            names = sorted({i.detail_type for i in samples if i.sample_kind == SampleKind.UNKNOWN_STATE})
            said.append(
                f"{counted(unknown, 'answer')} with a state this version does not know ({_names(names)}; not stored: "
                "mwaa-obs events samples)"
            )
        if skipped:
            said.append(
                f"{counted(skipped, 'workflow or run')} skipped by a pass (the reconcile log says why: 'item skipped')"
            )
        return Check("api answers", "warn", "in the last 24 h: " + "; ".join(said))

    def newest_event(self) -> Check:
        """The newest stored run's latest transition (one Query of the workflow-runs index per workflow)."""
        table = self.outputs["StateTableName"]
        runs = Runs(self.clients.dynamodb, table)
        newest: tuple[datetime, str] | None = None
        for workflow in Workflows(self.clients.dynamodb, table).all():
            for run in runs.recent(workflow.workflow_id, limit=1):
                seen = max(run.seen().values(), default=None)
                if seen is not None and (newest is None or seen > newest[0]):
                    newest = (seen, f"{workflow.workflow_name} run {run.run_id}")
        if newest is None:
            return Check("newest event", "warn", "no run stored yet: no workflow has run since the stack exists")
        age = self.now - newest[0]
        said = f"{_age(age)} ago ({newest[1]})"
        if age > QUIET_AFTER:
            return Check("newest event", "warn", f"{said}: quiet for over a day (fine if no workflow ran)")
        return Check("newest event", "ok", said)

    # --- settings and channels -------------------------------------------------------------------------------------

    def settings(self) -> Check:
        name = self.outputs["SettingsParameterName"]
        try:
            text = self.clients.ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except self.clients.ssm.exceptions.ParameterNotFound:
            return Check("settings", "fail", f"parameter {name} not found: notify cannot read its routes")
        try:
            parsed = parse_settings(text)
        except InvalidSettings as error:
            return Check("settings", "fail", f"{name} is refused, the last good one stays in use: {error}")
        return Check("settings", "ok", f"{name} parses ({len(parsed.rules)} workflow rules)")

    def slack_secret(self) -> Check:
        function = self.outputs["NotifyFunctionName"]
        variables = self.clients.lambda_.get_function_configuration(FunctionName=function).get("Environment", {})
        arn = variables.get("Variables", {}).get("SLACK_WEBHOOK_SECRET_ARN")
        if not arn:
            return Check("slack secret", "ok", "Slack is not set up (SlackWebhookSecretArn is empty)")
        try:
            described = self.clients.secrets.describe_secret(SecretId=arn)
        except self.clients.secrets.exceptions.ResourceNotFoundException:
            return Check("slack secret", "fail", f"{_name(arn)} not found: no Slack message can be sent")
        if described.get("DeletedDate"):
            return Check("slack secret", "fail", f"{described['Name']} is scheduled for deletion: restore it")
        return Check("slack secret", "ok", f"{described['Name']} exists (its value is not read)")

    def workflows(self) -> Check:
        listed = {summary.arn: summary.name for summary in self.clients.api.workflows()}
        stored = [
            item
            for item in Workflows(self.clients.dynamodb, self.outputs["StateTableName"]).all()
            if item.workflow_arn and item.deleted_at is None
        ]
        # Central mode: a workflow of another account or region (a qualified id) is read through its reader role
        # by the reconciler, not by this API client.
        known = {item.workflow_arn for item in stored if PLACE_SEPARATOR not in item.workflow_id}
        elsewhere = len(stored) - len(known)
        unknown = sorted(name for arn, name in listed.items() if arn not in known)
        gone = len(known - listed.keys())
        if unknown:
            return Check(
                "workflows",
                "warn",
                f"{len(unknown)} of {len(listed)} the API lists are not in the table ({_names(unknown)}): "
                "the reconciler describes them on its next pass; if this lasts, read its log",
            )
        extra = f"; {gone} stored ones no longer listed (marked deleted on the next pass)" if gone else ""
        if elsewhere:
            extra += f"; {elsewhere} of other accounts and regions (read by the reconciler through their reader roles)"
        return Check("workflows", "ok", f"the {len(listed)} the API lists are all in the table{extra}")

    # --- helpers ---------------------------------------------------------------------------------------------------

    def _queue_arn(self, output: str) -> str:
        if output not in self._queue_arns:
            url = self.outputs[output]
            attributes = self.clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            self._queue_arns[output] = attributes["Attributes"]["QueueArn"]
        return self._queue_arns[output]

    def _sum(self, metric_name: str) -> float:
        answer = self.clients.cloudwatch.get_metric_statistics(
            Namespace=self.outputs["MetricNamespace"],
            MetricName=metric_name,
            StartTime=self.now - BAD_EVENTS_WINDOW,
            EndTime=self.now + timedelta(minutes=1),  # the end is exclusive: a value stamped this minute counts
            Period=3600,
            Statistics=["Sum"],
        )
        return float(sum(point["Sum"] for point in answer.get("Datapoints", [])))


def why_rule_cannot_send(policy: Mapping[str, Any] | None, queue_arn: str, rule_arn: str) -> str | None:
    """Why EventBridge, sending for this rule, would be refused by the queue policy; None if it is let through.

    SQS refuses a cross-service send unless a statement allows it (docs.aws.amazon.com/eventbridge/latest/userguide/
    eb-use-resource-based.html#eb-sqs-permissions); an explicit Deny that matches wins over any Allow
    (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    if not policy:
        return "no queue policy: EventBridge may not send to it"
    statements = policy.get("Statement", [])
    matching = [s for s in _listed(statements) if _applies(s, queue_arn, rule_arn)]
    if any(statement.get("Effect") == "Deny" for statement in matching):
        return "a Deny statement refuses sqs:SendMessage to EventBridge"
    if not any(statement.get("Effect") == "Allow" for statement in matching):
        return f"no statement allows {EVENTS_PRINCIPAL} to sqs:SendMessage for rule {_name(rule_arn)}"
    return None


def _applies(statement: Mapping[str, Any], queue_arn: str, rule_arn: str) -> bool:
    principal = statement.get("Principal", {})
    services = principal.get("Service", []) if isinstance(principal, Mapping) else []
    if principal != "*" and EVENTS_PRINCIPAL not in _listed(services):
        return False
    if not any(action in ("sqs:SendMessage", "sqs:*", "*") for action in _listed(statement.get("Action", []))):
        return False
    if not any(resource in (queue_arn, "*") for resource in _listed(statement.get("Resource", "*"))):
        return False
    for operator, conditions in statement.get("Condition", {}).items():
        for key, values in conditions.items():
            names_the_source = key.lower() == "aws:sourcearn" and operator in SOURCE_ARN_OPERATORS
            if names_the_source and rule_arn not in _listed(values):
                return False
    return True


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _guarded(name: str, step: Callable[[], Check]) -> Check:
    try:
        return step()
    except (ClientError, BotoCoreError) as error:
        return Check(name, "fail", f"could not check: {error}")


def _name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def _names(names: Iterable[str]) -> str:
    listed = list(names)
    shown = ", ".join(listed[:NAMES_SHOWN])
    return shown + (f" and {len(listed) - NAMES_SHOWN} more" if len(listed) > NAMES_SHOWN else "")


def _age(age: timedelta) -> str:
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // 1440} days"


def report(checks: list[Check], as_json: bool) -> str:
    if as_json:
        return json.dumps([asdict(check) for check in checks], indent=2)
    width = max(len(check.name) for check in checks)
    return "\n".join(f"{check.status:<4}  {check.name:<{width}}  {check.detail}" for check in checks)


def exit_code(checks: list[Check]) -> int:
    """1 when any check failed (warnings do not fail)."""
    return 1 if any(check.status == "fail" for check in checks) else 0
