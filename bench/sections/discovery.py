"""Section "discovery": the reconciler's pass with and without discovery over fleets of 10, 100 and 1,000 workflows
known to the table, nothing lost (no run in the last day: a listed run costs no call more while it fits a page of
100): calls per pass by operation, and what discovery adds a day at its default hourly cadence."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from harness import (
    FUNCTIONS,
    PORT,
    ROOT,
    CallCounter,
    Nowhere,
    Options,
    Row,
    empty_state,
    kept_environment,
)

from mwaa_obs.aws import dynamodb_client
from mwaa_obs.metrics import SeriesPolicy
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.transitions import Transitions
from mwaa_obs_tools import emulator
from mwaa_obs_tools.sample_events import HOME

DISCOVERY_FLEETS = (10, 100, 1000)


def run(options: Options) -> dict[str, Any]:
    fleets: dict[str, Any] = {}
    with emulator.moto_server(PORT) as endpoint:
        for size in DISCOVERY_FLEETS:
            empty_state(endpoint)
            fleets[str(size)] = _fleet(endpoint, size)
    return {"fleets": fleets, "cadence": "hourly (DiscoveryIntervalMinutes 60)"}


def _fleet(endpoint: str, size: int) -> dict[str, Any]:
    from mwaa_obs.mwaa_api import MwaaApi, api_client  # noqa: PLC0415
    from mwaa_obs.notices import NoticeQueue  # noqa: PLC0415
    from mwaa_obs.reconcile import Reconciler  # noqa: PLC0415
    from mwaa_obs.store.workflows import Workflows  # noqa: PLC0415
    from mwaa_obs.telemetry import MetricSink  # noqa: PLC0415
    from mwaa_obs_tools.simulator.api import ApiServer  # noqa: PLC0415
    from mwaa_obs_tools.simulator.engine import Engine  # noqa: PLC0415

    definition = (ROOT / "examples/workflows/simple_s3_test.yaml").read_text(encoding="utf-8")
    dynamodb = dynamodb_client(endpoint)
    notices = NoticeQueue(boto3.client("sqs", endpoint_url=endpoint), FUNCTIONS.variables()["NOTICES_QUEUE_URL"])
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    engine = Engine(Nowhere(), lambda _: definition, start=now - timedelta(days=2))
    for number in range(size):
        location = {"Bucket": "definitions", "ObjectKey": f"w{number}.yaml"}
        engine.create_workflow({"Name": f"wf_{number:05d}", "DefinitionS3Location": location, "RoleArn": "r"})
    server = ApiServer(engine).start()
    try:
        with kept_environment(AWS_ENDPOINT_URL_MWAA_SERVERLESS=server.url):
            reconciler = Reconciler(
                MwaaApi(api_client()),
                Transitions(dynamodb, FUNCTIONS.table_name, timedelta(days=90), home=HOME),
                Runs(dynamodb, FUNCTIONS.table_name),
                Workflows(dynamodb, FUNCTIONS.table_name),
                notices,
                settle=timedelta(hours=1),
                policies=lambda _: SeriesPolicy(),
            )
            reconciler.run_pass(now, MetricSink(), discover=True)  # first sight: every workflow described
            passes: dict[str, dict[str, Any]] = {}
            with CallCounter() as counter:
                for label, discover in (("pass", False), ("discovery pass", True)):
                    started = time.perf_counter()
                    reconciler.run_pass(now + timedelta(hours=1), MetricSink(), discover=discover)
                    passes[label] = {"calls": counter.take(), "seconds": round(time.perf_counter() - started, 2)}
    finally:
        server.stop()
    added = sum(passes["discovery pass"]["calls"].values()) - sum(passes["pass"]["calls"].values())
    return passes | {"discovery_calls_per_pass": added, "discovery_calls_per_day": added * 24}


def rows(discovery: dict[str, Any]) -> list[Row]:
    return [
        (
            f"discovery, {size} workflows: calls it adds to a pass / a day (hourly)",
            f"{fleet['discovery_calls_per_pass']} / {fleet['discovery_calls_per_day']:,}; "
            f"pass {fleet['discovery pass']['seconds']} s against the emulator",
            "2 per workflow",
        )
        for size, fleet in discovery["fleets"].items()
    ]
