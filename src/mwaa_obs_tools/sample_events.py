"""The example day: the simulator running examples/workflows/ for a day with injected failures.

One scenario serves the demo (through the local stack) and the benchmarks (in memory), so both speak of the
same workflows. Also the EventBridge envelope MWAA Serverless events arrive in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from mwaa_obs.events import Place, place_of
from mwaa_obs_tools.emulator import REPO_ROOT
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.faults import Faults

ACCOUNT = "123456789012"
REGION = "us-east-1"
HOME = Place(ACCOUNT, REGION)  # the offline stack's own account and region
OTHER = Place("210987654321", "eu-west-1")  # central mode offline: a source account in another region
EXAMPLES = REPO_ROOT / "examples" / "workflows"
# A chance per attempt, so that over a day some tasks retry and succeed and some runs fail; and a crawl whose mean
# (1700 s, ±30 %) is close to its execution_timeout (1800 s), so that some attempts time out and are retried.
FAULTS = {
    "simple_s3_test": Faults(failure_rate={"list_objects": 0.6}),
    "create_s3_objects": Faults(failure_rate={"create_object_2": 0.5}),
    "nightly_sales_etl": Faults(
        failure_rate={"transform_refunds": 0.6, "load_warehouse": 0.2}, durations={"crawl_raw": 1700}
    ),
}
ON_DEMAND_EVERY_HOURS = {"create_s3_objects": 3, "simple_s3_test": 8}


STEP = timedelta(minutes=15)


def run_example_day(
    engine: Engine,
    arns: Mapping[str, str],
    start_run: Callable[[str], Any],
    after_each_step: Callable[[], Any] = lambda: None,
) -> None:
    """Inject the faults, start on-demand runs hour by hour (cron runs fire by themselves), finish what is running.

    `after_each_step` runs every 15 simulated minutes: the freshness check's schedule, which the overdue alarms'
    periods are made for (an hourly step would leave their 15-minute periods empty and flap them)."""
    for name in arns:
        engine.set_faults(name, FAULTS.get(name, Faults()))
    for hour in range(24):
        for name, every in ON_DEMAND_EVERY_HOURS.items():
            if hour % every == 1:
                start_run(arns[name])
        for _ in range(4):
            engine.advance(engine.now + STEP)
            after_each_step()
    engine.advance_until_idle(engine.now + timedelta(hours=2))
    after_each_step()


def day_of_events(start: datetime = datetime(2026, 11, 24, tzinfo=UTC), seed: int = 7) -> list[dict[str, Any]]:
    """Every EventBridge event of the example day, in the order the simulator published them."""
    published: list[dict[str, Any]] = []

    class Collect:
        def publish(self, entries: list[dict[str, Any]]) -> None:
            published.extend(entries)

        def log(self, group: str, stream: str, at: datetime, message: str) -> None:
            """Task logs are not events."""

    engine = Engine(
        Collect(), lambda location: (EXAMPLES / location["ObjectKey"]).read_text("utf-8"), start=start, seed=seed
    )
    arns = {}
    for path in sorted(EXAMPLES.glob("*.yaml")):
        request = {"Name": path.stem, "DefinitionS3Location": {"Bucket": "examples", "ObjectKey": path.name}}
        arns[path.stem] = engine.create_workflow({**request, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/examples"}).arn
    run_example_day(engine, arns, engine.start_run)
    return [
        envelope(entry["DetailType"], json.loads(entry["Detail"]), entry["Time"], entry["Resources"][0])
        for entry in published
    ]


def envelope(detail_type: str, detail: Mapping[str, Any], at: datetime, arn: str | None = None) -> dict[str, Any]:
    """An EventBridge event as MWAA Serverless would send it (`time` has whole seconds, as EventBridge's does), from
    the account and region of the workflow `arn` names (the stack's own when it names none)."""
    place = (place_of(arn) if arn else None) or HOME
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.airflow-serverless",
        "account": place.account,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": place.region,
        "resources": [arn] if arn else [],
        "detail": dict(detail),
    }
