"""The emulator as the tests and the local stack run it (mwaa_obs_tools.moto_patches): transactions keep
DynamoDB's all-or-nothing semantics without moto's whole-table copy, and their isolation (emulator.isolated_dynamodb),
and moto keeps no history of its objects."""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.dynamodb.models.dynamo_type import Item

from mwaa_obs.aws import client
from mwaa_obs_tools import emulator, localstack, moto_patches
from mwaa_obs_tools.sample_events import HOME, OTHER

TABLE = "emulator-test"


@pytest.fixture
def table(dynamodb: Any) -> Any:
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "decided"}, "alert": {"S": "failure"}})
    yield dynamodb
    dynamodb.delete_table(TableName=TABLE)


def _set_alert(pk: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": pk}},
            "UpdateExpression": "SET alert = :alert",
            "ConditionExpression": "attribute_not_exists(alert)",
            "ExpressionAttributeValues": {":alert": {"S": "recovery"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def test_a_transaction_whose_condition_fails_writes_nothing_and_names_the_reason(table: Any) -> None:
    with pytest.raises(table.exceptions.TransactionCanceledException) as cancelled:
        table.transact_write_items(TransactItems=[_set_alert("fresh"), _set_alert("decided")])
    reasons = cancelled.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"] == {"pk": {"S": "decided"}, "alert": {"S": "failure"}}
    assert "Item" not in table.get_item(TableName=TABLE, Key={"pk": {"S": "fresh"}})


def test_a_transaction_whose_conditions_hold_applies_every_write(table: Any) -> None:
    table.transact_write_items(TransactItems=[_set_alert("a"), _set_alert("b")])
    stored = [table.get_item(TableName=TABLE, Key={"pk": {"S": pk}})["Item"]["alert"] for pk in ("a", "b")]
    assert stored == [{"S": "recovery"}, {"S": "recovery"}]


def test_the_emulator_keeps_no_list_of_every_item_it_ever_made(table: Any) -> None:
    for n in range(20):
        table.put_item(TableName=TABLE, Item={"pk": {"S": f"item-{n}"}})
        table.transact_write_items(TransactItems=[_set_alert(f"item-{n}")])
    assert Item.instances_tracked == []  # type: ignore[attr-defined]


def test_a_stream_keeps_its_newest_records_and_goes_on_numbering_them(
    dynamodb: Any, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moto_patches, "STREAM_RECORDS", 5)
    dynamodb.create_table(
        TableName="streamed",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    try:
        for n in range(12):
            dynamodb.put_item(TableName="streamed", Item={"pk": {"S": f"item-{n}"}})
        streams = client("dynamodbstreams", endpoint)
        arn = dynamodb.describe_table(TableName="streamed")["Table"]["LatestStreamArn"]
        (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        oldest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        records = streams.get_records(ShardIterator=oldest["ShardIterator"])["Records"]
        assert [record["dynamodb"]["Keys"]["pk"]["S"] for record in records] == [f"item-{n}" for n in range(7, 12)]
        numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in records]
        assert numbers == list(range(numbers[0], numbers[0] + 5))
    finally:
        dynamodb.delete_table(TableName="streamed")


def test_the_state_table_as_deployed_refuses_to_be_deleted_until_its_protection_is_off(
    dynamodb: Any, template: dict[str, Any]
) -> None:
    # Given the state table as template.yaml defines it
    emulator.create_state_table(dynamodb, "protected-state", template)
    # When someone deletes it, Then DynamoDB refuses as it does for a protected table
    with pytest.raises(dynamodb.exceptions.ResourceInUseException, match="protected against deletion"):
        dynamodb.delete_table(TableName="protected-state")
    # And its owner can, once the protection is off
    emulator.delete_state_table(dynamodb, "protected-state")
    assert "protected-state" not in dynamodb.list_tables()["TableNames"]


def test_concurrent_transactions_on_one_item_are_isolated(table: Any, endpoint: str) -> None:
    # Given threads switching as often as Python allows (moto server runs in this process), so that any window
    # between a transaction's condition check and its write is found
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        wins = [_race_for(f"race-{trial}", endpoint) for trial in range(20)]
    finally:
        sys.setswitchinterval(previous)
    # Then exactly one of eight concurrent transactions setting an item's alert if absent won each race, as
    # DynamoDB's isolation of transactions guarantees
    assert wins == [1] * 20


def _race_for(pk: str, endpoint: str) -> int:
    """How many of eight clients' concurrent transactions set `pk`'s alert if it had none."""
    clients = [client("dynamodb", endpoint) for _ in range(8)]  # each its own, as concurrent notifiers have
    start = threading.Barrier(len(clients))
    wins: list[Any] = []

    def race(own: Any) -> None:
        start.wait()
        try:
            own.transact_write_items(TransactItems=[_set_alert(pk), _set_alert(pk + "-other")])
            wins.append(own)
        except own.exceptions.TransactionCanceledException:
            return

    racers = [threading.Thread(target=race, args=(own,)) for own in clients]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    return len(wins)


def test_cloudwatch_logs_takes_events_by_the_stacks_clock_and_still_refuses_what_aws_would(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = client("logs", endpoint)
    group = "/aws/mwaa-serverless/clock-test/"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    simulated = datetime.now(UTC) + timedelta(days=3)  # a simulator's clock three days ahead of the wall clock

    def put(at: datetime) -> dict[str, Any]:
        event = {"timestamp": int(at.timestamp() * 1000), "message": at.isoformat()}
        return dict(
            logs.put_log_events(logGroupName="/aws/mwaa-serverless/clock-test/", logStreamName="s", logEvents=[event])
        )

    # By the wall clock, an event of the simulated day is 3 days in the future: refused, as AWS refuses past 2 hours
    assert put(simulated)["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 0}
    # On the stack's clock it is now: taken; and an event 15 days before that is too old, as on AWS
    monkeypatch.setattr(moto_patches, "logs_clock", lambda: simulated)
    assert "rejectedLogEventsInfo" not in put(simulated)
    assert put(simulated - timedelta(days=15))["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}
    held = logs.get_log_events(logGroupName=group, logStreamName="s")["events"]
    assert [event["message"] for event in held] == [simulated.isoformat()]


def test_a_rule_forwards_an_event_whole_to_another_accounts_bus_keeping_where_it_began(endpoint: str) -> None:
    # Given a source account's rule targeting a central bus in another account and region, and there a rule that
    # matches by the sender's account and region (as AWS advises a receiving rule to: PutPermission, Principal)
    source, central = OTHER, HOME
    central_events = localstack.client(endpoint, "events", central)
    bus_arn = central_events.create_event_bus(Name="forwarded-whole")["EventBusArn"]
    sqs = localstack.client(endpoint, "sqs", central)
    queue_url = sqs.create_queue(QueueName="forwarded-whole")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["forwarded.whole"], "account": [source.account], "region": [source.region]}
    central_events.put_rule(Name="from-the-source", EventBusName="forwarded-whole", EventPattern=json.dumps(pattern))
    central_events.put_targets(
        Rule="from-the-source", EventBusName="forwarded-whole", Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    source_events = localstack.client(endpoint, "events", source)
    source_events.put_rule(Name="forward-whole", EventPattern=json.dumps({"source": ["forwarded.whole"]}))
    source_events.put_targets(Rule="forward-whole", Targets=[{"Id": "bus", "Arn": bus_arn}])
    try:
        # When the source account puts an event on its own default bus
        resource = "arn:aws:airflow-serverless:eu-west-1:210987654321:workflow/w-AAAAAAAAAA"
        at = datetime(2026, 11, 24, 0, 5, tzinfo=UTC)
        entry = {"Source": "forwarded.whole", "DetailType": "d", "Detail": "{}", "Time": at, "Resources": [resource]}
        source_events.put_events(Entries=[entry])
        # Then the central bus's rule got it whole: the account and region where it began, its time and resources
        (message,) = sqs.receive_message(QueueUrl=queue_url)["Messages"]
        event = json.loads(message["Body"])
        assert (event["account"], event["region"]) == (source.account, source.region)
        assert (event["time"], event["resources"]) == ("2026-11-24T00:05:00Z", [resource])
    finally:
        source_events.remove_targets(Rule="forward-whole", Ids=["bus"])
        source_events.delete_rule(Name="forward-whole")
