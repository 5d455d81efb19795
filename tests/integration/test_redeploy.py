"""The table outlives its stack (DeletionPolicy Retain, fixed name): a new stack of the same prefix must adopt it,
with its history, instead of failing to create it again. Deployed into the emulator as CloudFormation would."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from mwaa_obs.events import RunEvent, parse_event
from mwaa_obs.store.transitions import Transitions
from mwaa_obs_tools import emulator, localstack
from mwaa_obs_tools.factories import T0, run_event, workflow_arn
from mwaa_obs_tools.sample_events import HOME

TABLE = "mwaa-obs-state"  # <ResourcePrefix>-state with the default prefix
ARN = workflow_arn("nightly_sales", "Ret41nedXX")
WORKFLOW_ID = ARN.rsplit("/", 1)[1]


@pytest.fixture
def retained_table(endpoint: str) -> Iterator[str]:
    """The emulator as a deleted stack leaves it: nothing but its table, holding one run of the old stack."""
    saved = dict(os.environ)
    emulator.reset(endpoint)
    dynamodb = localstack.client(endpoint, "dynamodb")
    emulator.create_state_table(dynamodb, TABLE)
    old = parse_event(run_event("Succeeded", "before-the-delete", T0, arn=ARN))
    assert isinstance(old, RunEvent)
    Transitions(dynamodb, TABLE, history_ttl=timedelta(days=90), home=HOME).record_run(old)
    yield dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    emulator.reset(endpoint)
    os.environ.clear()
    os.environ.update(saved)


def test_without_adopting_the_redeploy_fails_as_on_aws(endpoint: str, retained_table: str) -> None:
    with pytest.raises(Exception, match="already exists"):
        localstack.LocalStack(endpoint).deploy()


def test_a_new_stack_adopts_the_retained_table_and_keeps_its_history(endpoint: str, retained_table: str) -> None:
    stack = localstack.LocalStack(endpoint, parameters={"AdoptedTableStreamArn": retained_table})
    stack.deploy()
    stack.start_simulator()  # the scheduled functions pump() runs ask it
    try:
        assert stack.outputs["StateTableName"] == TABLE
        assert stack.outputs["StateTableStreamArn"] == retained_table
        # The old stack's run is there, and a new event lands beside it, through the new stack's ingest
        bus = localstack.client(endpoint, "events")
        event = run_event("Failed", "after-the-redeploy", T0 + timedelta(days=1), arn=ARN)
        bus.put_events(Entries=[{"Source": event["source"], "DetailType": event["detail-type"],
                                 "Detail": json.dumps(event["detail"]), "Resources": event["resources"],
                                 "EventBusName": "default"}])  # fmt: skip
        stack.pump()
        runs: list[Any] = stack.runs.recent(WORKFLOW_ID)
        assert sorted(run.run_id for run in runs) == ["after-the-redeploy", "before-the-delete"]
        # And the provision function reads the adopted table's stream
        assert [target.stream_arn for target in stack.streams] == [retained_table]
    finally:
        stack.stop()
