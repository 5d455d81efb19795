"""The simulator's API served on loopback over the module's `world` (each module says what its world holds)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from mwaa_obs_tools.simulator.api import ApiServer
from mwaa_obs_tools.simulator.engine import Engine
from tests.simulator.test_lifecycle import START, World


@pytest.fixture
def engine(world: World) -> Engine:
    return Engine(world, world.read, start=START)


@pytest.fixture
def service(engine: Engine) -> Iterator[Any]:
    server = ApiServer(engine).start()
    yield boto3.client(
        "mwaa-serverless", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    server.stop()
