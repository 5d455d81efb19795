"""Normalisation of EventBridge events into typed records: pure, no AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mwaa_obs.events import (
    MAX_RUN_IDENTITY_BYTES,
    MAX_TASK_KEY_BYTES,
    MAX_TEXT_LENGTH,
    PARTITION_KEY_BYTES,
    SORT_KEY_BYTES,
    InvalidEvent,
    Place,
    RunEvent,
    TaskEvent,
    parse_event,
    service_workflow_id,
    workflow_name_of,
    workflow_ref,
)
from mwaa_obs.states import ALL_DETAIL_TYPES, DOCUMENTED_DETAIL_TYPES, RUN_STATE_BY_DETAIL, TASK_STATE_BY_DETAIL
from mwaa_obs.store.transitions import Transitions
from mwaa_obs.text import TRUNCATION_MARK
from mwaa_obs_tools.factories import T0, run_event, task_event, workflow_arn
from mwaa_obs_tools.sample_events import HOME, envelope

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


@pytest.mark.parametrize(("suffix", "state"), RUN_STATE_BY_DETAIL.items())
def test_run_state_comes_from_the_detail_type(suffix: str, state: str) -> None:
    # Given a run event whose detail claims another status
    event = run_event(suffix, "run-1", T0, status="SOMETHING_ELSE")
    # When it is parsed
    parsed = parse_event(event)
    # Then the detail-type decides the state
    assert isinstance(parsed, RunEvent)
    assert parsed.status == state


@pytest.mark.parametrize(("suffix", "state"), TASK_STATE_BY_DETAIL.items())
def test_task_state_comes_from_the_detail_type(suffix: str, state: str) -> None:
    parsed = parse_event(task_event(suffix, "run-1", "extract", T0, attempt=2))
    assert isinstance(parsed, TaskEvent)
    assert (parsed.status, parsed.task_id, parsed.attempt) == (state, "extract", 2)


def test_the_fifteen_documented_detail_types_and_one_for_each_state_they_leave_out_are_read() -> None:
    assert len(DOCUMENTED_DETAIL_TYPES) == len(set(DOCUMENTED_DETAIL_TYPES)) == 15
    assert set(ALL_DETAIL_TYPES) - set(DOCUMENTED_DETAIL_TYPES) == {
        "MWAA Serverless Workflow Run Stopping",
        "MWAA Serverless Task Up For Reschedule",
        "MWAA Serverless Task Deferred",
        "MWAA Serverless Task Restarting",
        "MWAA Serverless Task Cancelled",
        "MWAA Serverless Task Removed",
    }
    assert len(ALL_DETAIL_TYPES) == len(set(ALL_DETAIL_TYPES))


def test_pascal_case_detail_is_read_like_camel_case() -> None:
    # Given the same task event written in PascalCase
    detail = {
        "WorkflowArn": workflow_arn("etl_daily", "Zz9Yy8Xx7W"),
        "RunId": "run-7",
        "TaskInstanceId": "ti-7",
        "TaskId": "load",
        "AttemptNumber": 3,
        "ErrorMessage": "boom",
        "OperatorName": "S3CreateObjectOperator",
        "StartedAt": "2026-11-24T00:01:00Z",
        "EndedAt": "2026-11-24T00:02:30Z",
    }
    parsed = parse_event(envelope("MWAA Serverless Task Failed", detail, T0))
    # Then every field is found
    assert isinstance(parsed, TaskEvent)
    assert parsed.workflow.name == "etl_daily"
    assert parsed.workflow.workflow_id == "etl_daily-Zz9Yy8Xx7W"
    assert (parsed.run_id, parsed.task_key, parsed.task_id, parsed.attempt) == ("run-7", "load", "load", 3)
    assert parsed.error_message == "boom"
    assert parsed.operator == "S3CreateObjectOperator"
    assert parsed.started_at == datetime(2026, 11, 24, 0, 1, tzinfo=UTC)
    assert parsed.ended_at == datetime(2026, 11, 24, 0, 2, 30, tzinfo=UTC)


def test_workflow_arn_falls_back_to_resources() -> None:
    arn = workflow_arn("nightly", "AAAAAAAAAA")
    event = envelope("MWAA Serverless Workflow Run Running", {"runId": "r"}, T0, arn)
    parsed = parse_event(event)
    assert parsed.workflow.arn == arn
    assert parsed.workflow.place == Place("123456789012", "us-east-1")


OTHER_ACCOUNT_ARN = "arn:aws:airflow-serverless:eu-west-1:210987654321:workflow/orders_etl-Zz9Yy8Xx7W"
HOME_ARN = "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/orders_etl-Ab3dE6gH9j"


def test_a_workflow_of_the_home_account_and_region_keeps_the_service_id() -> None:
    parsed = parse_event(run_event("Queued", "r", T0, arn=HOME_ARN), HOME)
    assert (parsed.workflow.workflow_id, parsed.workflow.name) == ("orders_etl-Ab3dE6gH9j", "orders_etl")


@pytest.mark.parametrize(
    ("arn", "workflow_id", "name"),
    [
        (OTHER_ACCOUNT_ARN, "210987654321/eu-west-1/orders_etl-Zz9Yy8Xx7W", "210987654321/eu-west-1/orders_etl"),
        (  # the home account in another region is another place too
            HOME_ARN.replace("us-east-1", "eu-west-1"),
            "123456789012/eu-west-1/orders_etl-Ab3dE6gH9j",
            "123456789012/eu-west-1/orders_etl",
        ),
    ],
)
def test_a_workflow_of_any_other_place_is_qualified_by_account_and_region(
    arn: str, workflow_id: str, name: str
) -> None:
    parsed = parse_event(run_event("Queued", "r", T0, arn=arn), HOME)
    assert (parsed.workflow.workflow_id, parsed.workflow.name) == (workflow_id, name)
    assert service_workflow_id(parsed.workflow.workflow_id) == workflow_id.rsplit("/", 1)[1]


@given(
    st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9._-]{0,40}", fullmatch=True),
    st.sampled_from(["123456789012", "210987654321"]),
    st.sampled_from(["us-east-1", "eu-west-1"]),
)
def test_same_named_workflows_of_two_places_never_share_an_id_or_a_name(name: str, account: str, region: str) -> None:
    here = workflow_ref(f"arn:aws:airflow-serverless:{region}:{account}:workflow/{name}-AAAAAAAAAA", HOME)
    there = workflow_ref(f"arn:aws:airflow-serverless:eu-central-1:999999999999:workflow/{name}-AAAAAAAAAA", HOME)
    assert here is not None
    assert there is not None
    assert here.workflow_id != there.workflow_id
    assert here.name != there.name
    assert workflow_name_of(there.workflow_id) == there.name


@pytest.mark.parametrize(("field", "value"), [("account", "210987654321"), ("region", "eu-west-1")])
def test_an_envelope_from_another_place_than_its_workflows_is_refused(field: str, value: str) -> None:
    # Given an event of a home workflow whose envelope says it was sent from elsewhere (EventBridge keeps where an
    # event began, forwarded or not: only a made-up or altered event disagrees with its own ARN)
    event = run_event("Failed", "r", T0, arn=HOME_ARN) | {field: value}
    assert refusal(event, home=HOME) == f"{field} '{value}' is not the workflow ARN's {field} {getattr(HOME, field)}"


def test_a_forwarded_event_keeps_its_source_place_and_is_taken() -> None:
    # Given an event of the other account's workflow, as the central bus receives it from that account's forwarder
    event = run_event("Failed", "r", T0, arn=OTHER_ACCOUNT_ARN)
    assert (event["account"], event["region"]) == ("210987654321", "eu-west-1")
    assert parse_event(event, HOME).workflow.place == Place("210987654321", "eu-west-1")


def test_workflow_name_keeps_dashes_of_its_own() -> None:
    parsed = parse_event(run_event("Queued", "r", T0, arn=workflow_arn("my-etl-job", "abcdefghij")))
    assert parsed.workflow.name == "my-etl-job"


def test_envelope_time_stands_only_for_the_time_its_own_state_establishes() -> None:
    running = parse_event(run_event("Running", "r", T0))
    failed = parse_event(run_event("Failed", "r", T0))
    queued = parse_event(run_event("Queued", "r", T0))
    assert (running.started_at, running.ended_at) == (T0, None)
    assert (failed.started_at, failed.ended_at) == (None, T0)
    assert (queued.queued_at, queued.started_at) == (T0, None)


def test_epoch_milliseconds_and_seconds_are_accepted() -> None:
    parsed = parse_event(run_event("Succeeded", "r", T0, startedAt=1764028800000, endedAt=1764028860))
    assert parsed.started_at == datetime(2025, 11, 25, 0, 0, tzinfo=UTC)
    assert parsed.ended_at == datetime(2025, 11, 25, 0, 1, tzinfo=UTC)


def test_missing_attempt_means_the_first() -> None:
    event = task_event("Running", "r", "t", T0)
    del event["detail"]["attemptNumber"]
    parsed = parse_event(event)
    assert isinstance(parsed, TaskEvent)
    assert parsed.attempt == 1


def test_malformed_optional_fields_are_ignored_and_named() -> None:
    parsed = parse_event(run_event("Failed", "r", T0, errorMessage=42, startedAt="yesterday"))
    assert parsed.error_message is None
    assert parsed.started_at is None
    assert set(parsed.ignored_fields) == {"errorMessage", "startedAt"}


def test_long_error_messages_are_truncated_visibly() -> None:
    parsed = parse_event(run_event("Failed", "r", T0, errorMessage="x" * 300_000))
    assert parsed.error_message is not None
    assert len(parsed.error_message) == MAX_TEXT_LENGTH
    assert parsed.error_message.endswith(TRUNCATION_MARK)


def test_raw_detail_is_kept() -> None:
    parsed = parse_event(run_event("Running", "r", T0, extraField={"nested": [1, 2]}))
    assert parsed.detail["extraField"] == {"nested": [1, 2]}


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.update(source="aws.s3"), "source"),
        (lambda e: e.update({"detail-type": "MWAA Serverless Workflow Run Exploded"}), "unknown detail-type"),
        (lambda e: e.pop("detail-type"), "detail-type is missing"),
        (lambda e: e.update(detail=["not", "an", "object"]), "detail is not an object"),
        (lambda e: e.update(time="not a time"), "time"),
        (lambda e: e["detail"].pop("runId"), "runId"),
        (lambda e: e["detail"].update(runId=12345), "runId is not a non-empty string"),
        (lambda e: e["detail"].update(runId="   "), "runId is not a non-empty string"),
        (lambda e: e["detail"].update(runId="a\nb"), "control characters"),
        (lambda e: e["detail"].update(runId="r" * 600), "longer than"),
        (lambda e: (e["detail"].pop("workflowArn"), e.update(resources=[])), "no workflow ARN"),
        (lambda e: e["detail"].update(workflowArn="arn:aws:s3:::bucket"), "no workflow ARN"),
    ],
)
def test_unusable_run_events_are_rejected_with_a_reason(mutate: Any, reason: str) -> None:
    event = run_event("Running", "r", T0)
    event["resources"] = []
    mutate(event)
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(event)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: (d.pop("taskId"), d.pop("taskInstanceId")), "neither taskInstanceId nor taskId"),
        (lambda d: d.update(attemptNumber=-1), "attemptNumber"),
        (lambda d: d.update(attemptNumber=True), "attemptNumber"),
        (lambda d: d.update(attemptNumber="two"), "attemptNumber"),
    ],
)
def test_unusable_task_events_are_rejected_with_a_reason(mutate: Any, reason: str) -> None:
    event = task_event("Running", "r", "t", T0)
    mutate(event["detail"])
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(event)


def test_a_non_object_event_is_rejected() -> None:
    with pytest.raises(InvalidEvent, match="not an object"):
        parse_event([1, 2, 3])


@pytest.mark.parametrize("path", sorted(EVENTS_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_documented_example_parses(path: Path) -> None:
    parsed = parse_event(json.loads(path.read_text(encoding="utf-8")))
    assert parsed.workflow.name
    assert parsed.run_id


# --- poison: valid JSON that could never be stored is refused once, at parse time (issue 37) ------------------------


def refusal(event: dict[str, Any], **options: Any) -> str:
    with pytest.raises(InvalidEvent) as refused:
        parse_event(event, **options)
    return str(refused.value)


def test_an_attempt_number_of_unicode_digits_is_refused_not_crashed_on() -> None:
    # "²".isdigit() is True and int("²") raises ValueError: before, that error escaped and the event was retried
    assert "attemptNumber" in refusal(task_event("Running", "run-1", "load", T0, attempt="²"))  # type: ignore[arg-type]
    parsed = parse_event(task_event("Running", "run-1", "load", T0, attempt="12"))  # type: ignore[arg-type]
    assert isinstance(parsed, TaskEvent)
    assert parsed.attempt == 12


def test_ids_are_limited_in_bytes_by_dynamodbs_key_limits_not_only_in_characters() -> None:
    # 512 emoji are 512 characters (the old limit) and 2,048 bytes: the run's key would pass DynamoDB's limits
    assert "DynamoDB" in refusal(run_event("Started", "💥" * 512, T0))
    # 400 CJK characters are 1,200 bytes: the task attempt's sort key would pass 1,024
    assert "DynamoDB" in refusal(task_event("Running", "run-1", "任" * 400, T0, taskInstanceId="任" * 400))
    assert parse_event(run_event("Started", "💥" * 200, T0)).run_id == "💥" * 200


def test_the_longest_accepted_ids_fit_every_key_the_store_writes() -> None:
    # Given the longest ids an event may carry (in bytes), each of 4-byte characters
    workflow_id = "w" * 266
    run_id = "💥" * ((MAX_RUN_IDENTITY_BYTES - len(workflow_id)) // 4)
    task_key = "💥" * (MAX_TASK_KEY_BYTES // 4)
    arn = f"arn:aws:airflow-serverless:us-east-1:123456789012:workflow/{workflow_id}"
    event = parse_event(task_event("Failed", run_id, task_key, T0, attempt=9999, arn=arn, taskInstanceId=task_key))
    run = parse_event(run_event("Failed", run_id, T0, arn=arn))
    # When the store writes them
    requests = KeyRecorder()
    store = Transitions(requests, "table", timedelta(days=1), home=HOME)
    store.record_task(event)  # type: ignore[arg-type]
    store.record_run(run)  # type: ignore[arg-type]
    # Then every key and index key is within DynamoDB's limits
    for key_name, value in requests.sent_keys():
        limit = PARTITION_KEY_BYTES if key_name in ("pk", "gsi1pk", "gsi2pk", "gsi3pk") else SORT_KEY_BYTES
        assert len(value.encode()) <= limit, (key_name, len(value.encode()))
    assert {name for name, _ in requests.sent_keys()} >= {"pk", "sk", "gsi1sk", "gsi2sk", "gsi3sk"}


class KeyRecorder:
    """A DynamoDB client that applies every update (no item before it) and keeps the key values it was sent."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return {}

    def sent_keys(self) -> list[tuple[str, str]]:
        found = []
        for request in self.requests:
            found += [(name, value["S"]) for name, value in request["Key"].items()]
            names = request["ExpressionAttributeNames"]
            for placeholder, value in request.get("ExpressionAttributeValues", {}).items():
                name = names.get(placeholder.replace(":", "#"))
                if name and name.startswith("gsi") and "S" in value:
                    found.append((name, value["S"]))
        return found


@pytest.mark.parametrize(
    "resource",
    [
        workflow_arn() + "\n",  # `$` matched before a trailing newline
        "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/" + "a" * 100_000,
        "arn:aws:airflow-serverless:us-east-1:١٢٣٤٥٦٧٨٩٠١٢:workflow/etl-Ab3dE6gH9j",  # \d took Arabic-Indic digits
    ],
)
def test_a_workflow_arn_is_matched_whole_and_bounded(resource: str) -> None:
    event = envelope("MWAA Serverless Workflow Run Started", {"runId": "run-1"}, T0, resource)
    assert "no workflow ARN" in refusal(event)


def test_a_lone_surrogate_is_refused_in_an_id_and_replaced_in_text() -> None:
    # JSON's "\ud800" decodes to a lone surrogate, which UTF-8 (DynamoDB, the logs) cannot encode
    assert "runId" in refusal(run_event("Started", "run-\ud800", T0))
    parsed = parse_event(run_event("Failed", "run-1", T0, errorMessage="bad \udfff byte"))
    assert parsed.error_message == "bad \ufffd byte"
    assert parsed.error_message.encode("utf-8")


def test_an_event_dated_after_its_receipt_is_refused() -> None:
    received = T0 + timedelta(hours=1)
    # Given events dated a minute ahead of what ingest tolerates, in the envelope or in the detail
    ahead = received + timedelta(minutes=1)
    in_envelope = run_event("Succeeded", "run-1", datetime(2099, 1, 1, tzinfo=UTC))
    in_detail = run_event("Succeeded", "run-1", T0, endedAt=ahead.isoformat())
    # Then each is refused, naming the time
    assert "2099-01-01" in refusal(in_envelope, not_after=received)
    assert "ended_at" in refusal(in_detail, not_after=received)
    # And an event at the bound, or without one, is taken
    assert parse_event(run_event("Succeeded", "run-1", received), not_after=received).run_id == "run-1"
    assert parse_event(in_envelope).run_id == "run-1"
