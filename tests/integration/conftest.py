"""Fixtures of the modules that run the local stack: each module gets a stack of its own (module scope)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from mwaa_obs_tools import localstack
from tests.integration.test_end_to_end import deployed


@pytest.fixture(scope="module")
def stack(endpoint: str) -> Iterator[localstack.LocalStack]:
    """template.yaml deployed into the session's emulator, with the simulator serving on loopback."""
    yield from deployed(endpoint)


@pytest.fixture(scope="module")
def service(stack: localstack.LocalStack) -> Any:
    """The MWAA Serverless client of the module's simulator."""
    return boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1")
