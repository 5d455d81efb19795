"""Test session: one moto server on loopback for the whole session, a fresh state table (from template.yaml) per test.

The functions' environment is set before any handler module is loaded, because each reads it at import, as
Lambda's init phase would. Handlers are loaded by path from their CodeUri (`function_module`), never as `app`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any

import botocore.session
import pytest
from aws_lambda_powertools import Logger
from hypothesis import HealthCheck, settings

from mwaa_obs import SERVICE
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.store.workflows import Workflows
from mwaa_obs_tools import emulator
from mwaa_obs_tools.factories import FunctionEnvironment
from mwaa_obs_tools.lambda_emulation import follow_stdout, load_handler
from mwaa_obs_tools.sample_events import HOME

# No per-example deadline nor data-generation speed check: speed lives in `make bench`, never in timed tests, and a
# 200 ms deadline failed examples of pure functions when the machine was loaded (a flake, not a finding)
settings.register_profile("mwaa-obs", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mwaa-obs")

FUNCTIONS = FunctionEnvironment(emulator.free_port(), "mwaa-obs-test")
TABLE_NAME = FUNCTIONS.table_name
NOTICES_QUEUE = FUNCTIONS.notices_queue
ALERT_TOPIC = FUNCTIONS.alert_topic
SETTINGS_PARAMETER = FUNCTIONS.settings_parameter
SLACK_SECRET = FUNCTIONS.slack_secret
NOTICES_MAX_RECEIVE_COUNT = FUNCTIONS.max_receive_count
_PORT = FUNCTIONS.port
emulator.use_offline(_PORT)
os.environ.update(FUNCTIONS.variables())
# The notify handler's tests have no MWAA Serverless API; enrichment has its own, against the simulator.
os.environ["ENRICH_FROM_API"] = "false"


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
    emulator.delete_state_table(dynamodb, TABLE_NAME)


@pytest.fixture
def store(state_table: str, dynamodb: Any) -> Transitions:
    return Transitions(dynamodb, state_table, timedelta(days=90), home=HOME)


@pytest.fixture
def runs(state_table: str, dynamodb: Any) -> Runs:
    return Runs(dynamodb, state_table)


@pytest.fixture
def workflows(state_table: str, dynamodb: Any) -> Workflows:
    return Workflows(dynamodb, state_table, home=HOME)


@pytest.fixture(scope="session")
def function_module(template: dict[str, Any]) -> Callable[[str], ModuleType]:
    """A function's handler module by logical id, imported once from its CodeUri as Lambda would."""
    loaded: dict[str, ModuleType] = {}

    def load(logical_id: str) -> ModuleType:
        if logical_id not in loaded:
            handler = load_handler(template, logical_id, emulator.REPO_ROOT)
            loaded[logical_id] = sys.modules[handler.__module__]
        return loaded[logical_id]

    return load


@pytest.fixture(scope="session")
def ingest_handler(function_module: Callable[[str], ModuleType]) -> ModuleType:
    return function_module("IngestFunction")


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
    Logger(service=SERVICE)  # the service logger, as each handler module creates it at Lambda's init phase
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
