"""Test session: one moto server on loopback for the whole session, a fresh state table (from template.yaml) per test.

The functions' environment is set before any handler module is loaded, because each reads it at import, as
Lambda's init phase would. Handlers are loaded by path from their CodeUri (`function_module`), never as `app`.

Each handler acts as its function's role, as template.yaml defines it (`function_roles`): its clients sign with a
session of that role and the emulator's IAM gate authorises each call against it (mwaa_obs_tools.iam). What the
tests themselves do (tables, queues, reading back) is signed with the harness's keys, an operator's.
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
from mwaa_obs.aws import aws_session
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.store.workflows import Workflows
from mwaa_obs_tools import emulator
from mwaa_obs_tools.factories import FunctionEnvironment
from mwaa_obs_tools.iam import roles
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
roles.sign_as_acting(aws_session())  # the layer's clients sign as the function acting, if one is


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
def function_roles(endpoint: str, template: dict[str, Any]) -> roles.FunctionRoles:
    """The functions' roles of template.yaml, resolved with this session's names, in the emulator's IAM."""
    session = botocore.session.get_session()
    iam, sts = (session.create_client(name, endpoint_url=endpoint) for name in ("iam", "sts"))
    deployed = roles.FunctionRoles(iam, sts, template, FUNCTIONS.stack_parameters(), FUNCTIONS.prefix)
    deployed.ensure()
    return deployed


@pytest.fixture(scope="session")
def function_module(template: dict[str, Any], function_roles: roles.FunctionRoles) -> Callable[[str], ModuleType]:
    """A function's handler module by logical id, imported once from its CodeUri as Lambda would, acting as its
    role: at import (its clients) and in each call of its lambda_handler."""
    loaded: dict[str, ModuleType] = {}

    def load(logical_id: str) -> ModuleType:
        if logical_id not in loaded:
            with function_roles.as_function(logical_id):
                handler = load_handler(template, logical_id, emulator.REPO_ROOT)
            module = sys.modules[handler.__module__]
            module.lambda_handler = function_roles.acting(logical_id, handler)  # type: ignore[attr-defined]
            loaded[logical_id] = module
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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """What the IAM gate did this session: calls of the functions' roles it authorised, and at what cost."""
    from mwaa_obs_tools.iam.gate import GATE

    stats, evaluator = GATE.stats, GATE.evaluator
    terminalreporter.write_line(
        f"strict IAM: {stats.calls} calls of restricted principals authorised ({stats.denied} denied), "
        f"{evaluator.asked} distinct checks evaluated by iam-simulate, {stats.seconds:.1f} s in the gate"
    )
