"""Test session: one moto server on loopback for the whole session, a fresh state table (from template.yaml) per test.

The environment is set before any project module is imported, because the ingest function reads it at import,
as Lambda's init phase would.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import botocore.session
import pytest

from mwaa_obs import SERVICE
from mwaa_obs_tools import emulator
from mwaa_obs_tools.lambda_emulation import follow_stdout

TABLE_NAME = "mwaa-obs-test-state"
NOTICES_QUEUE = "mwaa-obs-test-notices"
ALERT_TOPIC = "mwaa-obs-test-alerts"
SETTINGS_PARAMETER = "/mwaa-obs-test/settings"
SLACK_SECRET = "mwaa-obs-test-slack"  # SecretId takes a name as well as the ARN a deployment passes
_PORT = emulator.free_port()
emulator.use_offline(_PORT)
os.environ.update(
    {
        "TABLE_NAME": TABLE_NAME,
        "HISTORY_TTL_DAYS": "90",
        "NOTICES_QUEUE_URL": f"http://localhost:{_PORT}/123456789012/{NOTICES_QUEUE}",
        "ALERT_TOPIC_ARN": f"arn:aws:sns:us-east-1:123456789012:{ALERT_TOPIC}",
        "SETTINGS_PARAMETER": SETTINGS_PARAMETER,
        "SLACK_WEBHOOK_SECRET_ARN": SLACK_SECRET,
        "NOTICES_MAX_RECEIVE_COUNT": "3",
        "RESOURCE_PREFIX": "mwaa-obs",
        "ALARM_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:mwaa-obs-test-alarms",
        "WORKFLOW_DASHBOARD": "mwaa-obs-workflow",
        "POWERTOOLS_METRICS_NAMESPACE": "MWAAServerless/Test",
        "POWERTOOLS_DEV": "false",
        # The notify handler's tests have no MWAA Serverless API; enrichment has its own, against the simulator.
        "ENRICH_FROM_API": "false",
    }
)


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    with emulator.moto_server(_PORT) as url:
        yield url


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return emulator.load_template()


@pytest.fixture
def dynamodb(endpoint: str) -> Any:
    return botocore.session.get_session().create_client("dynamodb", endpoint_url=endpoint)


@pytest.fixture
def sqs(endpoint: str) -> Any:
    return botocore.session.get_session().create_client("sqs", endpoint_url=endpoint)


@pytest.fixture
def notices_queue(sqs: Any) -> Iterator[str]:
    """The empty notices queue ingest sends to (without the template's delay: tests read it at once)."""
    url: str = sqs.create_queue(QueueName=NOTICES_QUEUE)["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def state_table(endpoint: str, dynamodb: Any, template: dict[str, Any], notices_queue: str) -> Iterator[str]:
    """An empty state table built from template.yaml (and the notices queue ingest writes to), removed afterwards."""
    emulator.create_state_table(dynamodb, TABLE_NAME, template)
    yield TABLE_NAME
    dynamodb.delete_table(TableName=TABLE_NAME)


@pytest.fixture
def store(state_table: str, dynamodb: Any) -> Any:
    from mwaa_obs.store import Store

    return Store(dynamodb, state_table, timedelta(days=90))


@pytest.fixture(autouse=True)
def reset_metrics() -> Iterator[None]:
    """Powertools keeps metrics at class level: start and end every test with none pending."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics.provider import cold_start

    yield
    Metrics().clear_metrics()
    cold_start.is_cold_start = True


@dataclass
class Printed:
    """What the code under test wrote to stdout, split into EMF documents and structured log lines."""

    emf: list[dict[str, Any]]
    logs: list[dict[str, Any]]


@pytest.fixture(scope="session", autouse=True)
def service_logs_to_current_stdout() -> None:
    """Powertools binds its handler to the sys.stdout of import time, which pytest swaps between test phases."""
    import app  # noqa: F401 - creates the service logger, as Lambda's init phase does

    follow_stdout(SERVICE)


@pytest.fixture
def printed(capsys: pytest.CaptureFixture[str]) -> Callable[[], Printed]:
    """Reads the JSON lines printed since the last call (Powertools prints both metrics and logs to stdout)."""

    def read() -> Printed:
        documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        return Printed(
            emf=[document for document in documents if "_aws" in document],
            logs=[document for document in documents if "_aws" not in document],
        )

    return read
