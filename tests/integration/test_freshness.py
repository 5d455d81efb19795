"""The missed-schedule check on the emulator: stored runs in, ScheduleOverdue EMF and one log line per overdue out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import botocore.session
import pytest

from mwaa_obs.aws import client, dynamodb_client
from mwaa_obs.freshness import check_and_log
from mwaa_obs.mwaa_api import WorkflowAnswer
from mwaa_obs.settings import SettingsSource
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.telemetry import MetricSink, emits_metrics
from mwaa_obs.times import invocation_time
from mwaa_obs_tools.factories import T0, minutes, run_event, sqs_event, workflow_arn
from mwaa_obs_tools.iam import roles
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext
from tests.conftest import SETTINGS_PARAMETER, TABLE_NAME, Printed

EVERY_4H = workflow_arn("sales_4h", "F0urH0ursX")
BY_HAND = workflow_arn("adhoc", "ByHandXXXX")
HOURLY_BY_HAND = workflow_arn("hourly_by_hand", "H0url8yHnd")


@pytest.fixture(scope="module")
def freshness(endpoint: str, function_roles: roles.FunctionRoles) -> Callable[[dict[str, Any], Any], Any]:
    """The pass as the function composes it, acting as its role, with its settings read on every run (not cached
    for a minute)."""
    with function_roles.as_function("FreshnessFunction"):
        dynamodb = dynamodb_client(endpoint)
        workflows, runs = Workflows(dynamodb, TABLE_NAME), Runs(dynamodb, TABLE_NAME)
        settings = SettingsSource(client("ssm", endpoint), SETTINGS_PARAMETER, ttl_seconds=0)

    def check_pass(event: dict[str, Any], context: Any, sink: MetricSink) -> dict[str, int]:
        with function_roles.as_function("FreshnessFunction"):
            return check_and_log(invocation_time(event), settings.get(sink), workflows, runs, sink)

    return emits_metrics(check_pass)


@pytest.fixture
def settings(endpoint: str) -> Iterator[Callable[[dict[str, Any]], None]]:
    ssm: Any = botocore.session.get_session().create_client("ssm", endpoint_url=endpoint)

    def put(document: dict[str, Any]) -> None:
        ssm.put_parameter(Name=SETTINGS_PARAMETER, Value=json.dumps(document), Type="String", Overwrite=True)

    put({})
    yield put
    ssm.delete_parameter(Name=SETTINGS_PARAMETER)


def a_good_run(arn: str, run_id: str, start: datetime, **detail: Any) -> list[dict[str, Any]]:
    return [
        run_event("Started", run_id, start, arn=arn, **detail),
        run_event("Running", run_id, start + minutes(1), arn=arn),
        run_event("Succeeded", run_id, start + minutes(20), arn=arn),
    ]


@pytest.fixture
def history(state_table: str, ingest_handler: ModuleType) -> datetime:
    """Given a workflow that succeeded every 4 hours, five times, and one run by hand at odd times; returns the
    end of the last scheduled success."""
    events = [e for n in range(5) for e in a_good_run(EVERY_4H, f"s{n}", T0 + timedelta(hours=4 * n))]
    events += [e for n, at in enumerate((0, 7, 100, 130, 600)) for e in a_good_run(BY_HAND, f"h{n}", T0 + minutes(at))]
    for start in range(0, len(events), 10):
        ingest_handler.lambda_handler(sqs_event(events[start : start + 10]), FakeLambdaContext())
    return T0 + timedelta(hours=16) + minutes(20)


def check(freshness: Any, at: datetime, printed: Callable[[], Printed]) -> tuple[dict[str, float], Printed]:
    printed()  # what ingest printed is not ours
    freshness({"time": at.isoformat(), "source": "aws.events"}, FakeLambdaContext(function_name="freshness"))
    seen = printed()
    return {doc["WorkflowName"]: doc["ScheduleOverdue"][0] for doc in seen.emf if "WorkflowName" in doc}, seen


def test_a_workflow_is_overdue_only_after_its_cadence_plus_grace(
    freshness: Any, history: datetime, settings: Any, printed: Callable[[], Printed]
) -> None:
    # When the check runs 4 h 50 min after the last success (grace 60 min): on time
    on_time, _ = check(freshness, history + timedelta(hours=4, minutes=50), printed)
    # Then nothing is written: a workflow on time costs no metric (the alarm takes no data as not breaching), and
    # the one run by hand has no cadence
    assert on_time == {}
    # When it runs 5 h 5 min after: overdue, with one warning naming it
    late, seen = check(freshness, history + timedelta(hours=5, minutes=5), printed)
    assert late == {"sales_4h": 1}
    warnings = [log for log in seen.logs if log["message"] == "workflow overdue"]
    assert [log["workflow"] for log in warnings] == ["sales_4h"]


def test_settings_change_the_grace_or_switch_the_check_off(
    freshness: Any, history: datetime, settings: Any, printed: Callable[[], Printed]
) -> None:
    at = history + timedelta(hours=4, minutes=50)
    settings({"workflows": [{"match": "sales_*", "freshness_grace_minutes": 10}]})
    assert check(freshness, at, printed)[0] == {"sales_4h": 1}
    settings({"workflows": [{"match": "sales_*", "freshness_check": False}]})
    assert check(freshness, at, printed)[0] == {}


def describe(endpoint: str, arn: str, schedule: str | None) -> None:
    """What the reconciler stores of GetWorkflow."""
    answer: dict[str, Any] = {"WorkflowArn": arn}
    if schedule is not None:
        answer["ScheduleConfiguration"] = {"CronExpression": schedule}
    Workflows(dynamodb_client(endpoint), TABLE_NAME).save_description(WorkflowAnswer.from_api(answer), T0)


def by_hand_every_hour(ingest_handler: ModuleType, **detail: Any) -> None:
    events = [e for n in range(6) for e in a_good_run(HOURLY_BY_HAND, f"m{n}", T0 + timedelta(hours=n), **detail)]
    ingest_handler.lambda_handler(sqs_event(events), FakeLambdaContext())


def test_runs_started_by_hand_make_no_cadence_however_regular(
    freshness: Any, history: datetime, settings: Any, ingest_handler: ModuleType, printed: Callable[[], Printed]
) -> None:
    # Given a workflow started by hand every hour (the events say so), not described by the API yet
    by_hand_every_hour(ingest_handler, runType="ON_DEMAND")
    # Then, hours after its last run, it is not overdue: only scheduled runs make a cadence
    assert check(freshness, history + timedelta(hours=4, minutes=50), printed)[0] == {}


def test_a_workflow_the_api_describes_without_a_schedule_is_never_overdue(
    endpoint: str,
    freshness: Any,
    history: datetime,
    settings: Any,
    ingest_handler: ModuleType,
    printed: Callable[[], Printed],
) -> None:
    # Given hourly runs whose events do not say how they were started, and GetWorkflow shows no schedule
    by_hand_every_hour(ingest_handler)
    describe(endpoint, HOURLY_BY_HAND, schedule=None)
    # Then it is never judged, however long since its last run
    assert check(freshness, history + timedelta(hours=4, minutes=50), printed)[0] == {}


def test_a_described_cron_schedule_sets_when_a_run_is_due(
    endpoint: str, freshness: Any, history: datetime, settings: Any, printed: Callable[[], Printed]
) -> None:
    # Given sales_4h is scheduled at 00:00, 04:00, ...: after its last success (16:20) the next run is due at 20:00
    describe(endpoint, EVERY_4H, schedule="0 */4 * * *")
    next_fire = T0 + timedelta(hours=20)
    # Then it is on time until that run's grace (60 minutes) has passed, and overdue after
    assert check(freshness, next_fire + minutes(59), printed)[0] == {}
    assert check(freshness, next_fire + minutes(61), printed)[0] == {"sales_4h": 1}
