"""Section "cpu": ingest CPU time per event at batch sizes 1, 10 and 100 with DynamoDB and SQS answered in-process
(on the clients of an ingest function loaded for this section), against a floor measured in the same run: json.loads
of each SQS body plus one stubbed UpdateItem through a boto3 client."""

from __future__ import annotations

import json
from typing import Any

import boto3
from harness import FUNCTIONS, Options, Row, cpu_seconds, ingest_function, stub_ingest_clients, stub_update_item

from mwaa_obs_tools import sample_events
from mwaa_obs_tools.factories import sqs_event
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext

TARGET_CPU_MULTIPLE = 3.0


def run(options: Options) -> dict[str, Any]:
    with ingest_function() as ingest:
        stub_ingest_clients(ingest)
        return _measure(ingest, options.repeat)


def _measure(ingest: Any, repeat: int) -> dict[str, Any]:
    floor_client = boto3.client("dynamodb", endpoint_url="http://localhost:1")
    stub_update_item(floor_client)
    floor_request = {
        "TableName": FUNCTIONS.table_name,
        "Key": {"pk": {"S": "RUN#wf#run"}, "sk": {"S": "RUN"}},
        "UpdateExpression": "SET #s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": "RUNNING"}},
    }
    day = sample_events.day_of_events()
    context = FakeLambdaContext()
    results: dict[str, Any] = {}
    for batch in (1, 10, 100):
        events = (day * (1 + batch // len(day)))[:batch]
        delivered = sqs_event(events)
        bodies = [record["body"] for record in delivered["Records"]]

        def floor(bodies: list[str] = bodies) -> None:
            for body in bodies:
                json.loads(body)
                floor_client.update_item(**floor_request)

        def handler(delivered: dict[str, Any] = delivered) -> None:
            response = ingest.lambda_handler(delivered, context)
            assert response == {"batchItemFailures": []}, response

        runs = max(5, repeat // batch)
        floor_s = cpu_seconds(floor, runs) / batch
        ours_s = cpu_seconds(handler, runs) / batch
        results[f"batch_{batch}"] = {
            "ingest_us_per_event": round(ours_s * 1e6, 1),
            "floor_us_per_event": round(floor_s * 1e6, 1),
            "multiple_of_floor": round(ours_s / floor_s, 2),
        }
    return results


def rows(cpu: dict[str, Any]) -> list[Row]:
    return [
        (
            f"ingest CPU/event, {batch.replace('_', ' ')}",
            f"{figures['ingest_us_per_event']} us = {figures['multiple_of_floor']}x floor "
            f"({figures['floor_us_per_event']} us)",
            f"<= {TARGET_CPU_MULTIPLE}x at batch 10" if batch == "batch_10" else "",
        )
        for batch, figures in cpu.items()
    ]
