"""Builders for what the tests and the bench feed the pipeline: events (the shapes docs/EVENTS.md describes), Lambda
inputs, and the functions' environment."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mwaa_obs.states import RUN_DETAIL_TYPE_PREFIX, TASK_DETAIL_TYPE_PREFIX
from mwaa_obs_tools.sample_events import ACCOUNT, REGION, envelope

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def workflow_arn(name: str = "simple_s3_test", suffix: str = "Ab3dE6gH9j") -> str:
    return f"arn:aws:airflow-serverless:{REGION}:{ACCOUNT}:workflow/{name}-{suffix}"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_event(state: str, run_id: str, at: datetime, arn: str | None = None, **detail: Any) -> dict[str, Any]:
    """state is the detail-type suffix: Started, Queued, Running, Succeeded, Failed, Stopped, Timeout."""
    arn = arn or workflow_arn()
    body = {"workflowArn": arn, "runId": run_id, **detail}
    return envelope(RUN_DETAIL_TYPE_PREFIX + state, body, at, arn)


def task_event(
    state: str, run_id: str, task_id: str, at: datetime, attempt: int = 1, arn: str | None = None, **detail: Any
) -> dict[str, Any]:
    """state is the detail-type suffix: Scheduled, Queued, Running, Succeeded, Failed, Up For Retry, ..."""
    arn = arn or workflow_arn()
    body = {
        "workflowArn": arn,
        "runId": run_id,
        "taskId": task_id,
        "taskInstanceId": f"ti-{run_id}-{task_id}",
        "attemptNumber": attempt,
        **detail,
    }
    return envelope(TASK_DETAIL_TYPE_PREFIX + state, body, at, arn)


def sqs_event(bodies: Iterable[str | Mapping[str, Any]]) -> dict[str, Any]:
    """A Lambda SQS event as the event source mapping delivers it."""
    records = []
    for index, body in enumerate(bodies):
        text = body if isinstance(body, str) else json.dumps(body)
        records.append(
            {
                "messageId": f"msg-{index}-{uuid.uuid4()}",
                "receiptHandle": f"handle-{index}",
                "body": text,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764028800000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:mwaa-obs-events",
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def fleet_history(
    workflows: int, runs_per_workflow: int, tasks_per_run: int, seed: int
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str], Counter[str]]:
    """Events of many workflows' runs (30 % fail), the true final state of each run, and the metric counts owed."""
    draw = random.Random(seed)  # noqa: S311 - test data, not security
    events: list[dict[str, Any]] = []
    truth: dict[tuple[str, str], str] = {}
    counts: Counter[str] = Counter()
    for w in range(workflows):
        arn = workflow_arn(f"load_{w:03d}", f"L{w:03d}AAAAAA")
        workflow_id = arn.rsplit("/", 1)[1]
        for r in range(runs_per_workflow):
            run_id, start = f"run-{r}", T0 + minutes(60 * r)
            events += [
                run_event(s, run_id, start + minutes(i), arn=arn)
                for i, s in enumerate(("Started", "Queued", "Running"))
            ]
            failed = draw.random() < 0.3
            for t in range(tasks_per_run):
                ending = "Failed" if failed and t == 0 else "Succeeded"
                for i, state in enumerate(("Scheduled", "Queued", "Running", ending)):
                    events.append(task_event(state, run_id, f"task_{t}", start + minutes(3 + i), arn=arn))
                counts["TaskFailed" if ending == "Failed" else "TaskSucceeded"] += 1
            events.append(run_event("Failed" if failed else "Succeeded", run_id, start + minutes(10), arn=arn))
            truth[(workflow_id, run_id)] = "FAILED" if failed else "SUCCESS"
            counts["RunStarted"] += 1
            counts["RunFailed" if failed else "RunSucceeded"] += 1
    return events, truth, counts


def shuffled_with_duplicates(events: list[dict[str, Any]], share: float, seed: int) -> list[dict[str, Any]]:
    """Every event once, a `share` of them twice, in random order: at-least-once delivery in no order."""
    draw = random.Random(seed)  # noqa: S311 - test data, not security
    delivered = events + draw.sample(events, int(share * len(events)))
    draw.shuffle(delivered)
    return delivered


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def metric_totals(documents: Iterable[Mapping[str, Any]], workflow: str | None = None) -> dict[str, float]:
    """Sum of each metric's values over EMF documents: those of one workflow, or (None) the fleet-only ones."""
    totals: dict[str, float] = {}
    for document in documents:
        if document.get("WorkflowName") != workflow:
            continue
        for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            values = document[definition["Name"]]
            values = values if isinstance(values, list) else [values]
            totals[definition["Name"]] = totals.get(definition["Name"], 0) + sum(values)
    return totals


@dataclass(frozen=True)
class FunctionEnvironment:
    """The environment template.yaml gives the functions, with every resource named under `prefix` on the emulator
    at `port`: the tests and the bench run the handlers in-process with it."""

    port: int
    prefix: str
    max_receive_count: int = 3

    @property
    def table_name(self) -> str:
        return f"{self.prefix}-state"

    @property
    def notices_queue(self) -> str:
        return f"{self.prefix}-notices"

    @property
    def alert_topic(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def settings_parameter(self) -> str:
        return f"/{self.prefix}/settings"

    @property
    def slack_secret(self) -> str:
        return f"{self.prefix}-slack"  # SecretId takes a name as well as the ARN a deployment passes

    def stack_parameters(self) -> dict[str, str]:
        """The parameters a stack deployed with these names would have had (its roles are resolved with them). The
        Slack secret's ARN ends in the six random characters Secrets Manager adds, unknown before it exists."""
        return {
            "ResourcePrefix": self.prefix,
            "ReaderRoleName": f"{self.prefix}-reader",
            "SlackWebhookSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{self.slack_secret}-??????",
        }

    def variables(self) -> dict[str, str]:
        return {
            "TABLE_NAME": self.table_name,
            "ACCOUNT_ID": ACCOUNT,
            "AWS_REGION": REGION,
            "READER_ROLE_NAME": f"{self.prefix}-reader",
            "READER_EXTERNAL_ID": f"{self.prefix}-external-id",
            "HISTORY_TTL_DAYS": "90",
            "NOTICES_QUEUE_URL": f"http://localhost:{self.port}/{ACCOUNT}/{self.notices_queue}",
            "ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.alert_topic}",
            "SETTINGS_PARAMETER": self.settings_parameter,
            "SLACK_WEBHOOK_SECRET_ARN": self.slack_secret,
            "NOTICES_MAX_RECEIVE_COUNT": str(self.max_receive_count),
            "RESOURCE_PREFIX": self.prefix,
            "ALARM_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.prefix}-alarms",
            "DASHBOARD_PREFIX": f"{self.prefix}-{REGION}",
            "WORKFLOW_DASHBOARD": f"{self.prefix}-{REGION}-workflow",
            "POWERTOOLS_METRICS_NAMESPACE": "MWAAServerless/Test",
            "POWERTOOLS_DEV": "false",
        }
