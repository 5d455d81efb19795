"""`make demo`: the ingest pipeline offline, on the embedded emulator.

A simulated day of the two example workflows (with failures and retries) is delivered to the SQS queue out of
order and with duplicates, as EventBridge may; the ingest handler consumes it as the Lambda event source mapping
would; then the stored runs are summarised from DynamoDB.
"""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from typing import Any

import botocore.session

from mwaa_obs.store import bind_table, load_run, recent_runs
from mwaa_obs_tools import emulator, sample_events
from mwaa_obs_tools.lambda_emulation import function_environment, load_handler, poll_sqs_once

TABLE_NAME = "mwaa-obs-demo-state"
DUPLICATE_SHARE = 0.2


def main() -> int:
    started = time.monotonic()
    port = emulator.free_port()
    os.environ.update(emulator.OFFLINE_ENV)
    os.environ["AWS_ENDPOINT_URL"] = f"http://localhost:{port}"
    template = emulator.load_template()
    os.environ.update(function_environment(template, "IngestFunction", {"StateTable": TABLE_NAME}))
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the demo prints a summary, not every transition
    with emulator.moto_server(port) as endpoint:
        print(f"emulator  moto server on {endpoint}")
        session = botocore.session.get_session()
        dynamodb = session.create_client("dynamodb", endpoint_url=endpoint)
        sqs: Any = session.create_client("sqs", endpoint_url=endpoint)
        emulator.create_state_table(dynamodb, TABLE_NAME, template)
        queues = emulator.create_event_queues(sqs, template)
        print("deployed  state table and events queue (+DLQ) from template.yaml")

        events = sample_events.day_of_events()
        rng = random.Random(3)  # noqa: S311 - demo data
        delivered = events + rng.sample(events, int(len(events) * DUPLICATE_SHARE))
        rng.shuffle(delivered)
        print(f"simulated {len(events)} events of one day; delivering {len(delivered)} (20 % duplicates, shuffled)")

        handler = load_handler(template, "IngestFunction", emulator.REPO_ROOT)  # Lambda's init phase
        emf = _consume(sqs, queues, delivered, handler)
        _summarise(emf)
    print(f"\ndone in {time.monotonic() - started:.1f} s; emulator stopped.")
    print("next: `make test`, or deploy to AWS (README.md, 'Deploy to AWS').")
    return 0


def _consume(sqs: Any, queues: emulator.EventQueues, bodies: list[dict[str, Any]], handler: Any) -> Counter[str]:
    """Send in chunks and drain as we go (moto's SQS slows down with queue depth). Returns EMF metric totals."""
    totals: Counter[str] = Counter()
    captured = io.StringIO()
    for start in range(0, len(bodies), 50):
        chunk = bodies[start : start + 50]
        for index in range(0, len(chunk), 10):
            entries = [{"Id": str(i), "MessageBody": json.dumps(b)} for i, b in enumerate(chunk[index : index + 10])]
            sqs.send_message_batch(QueueUrl=queues.url, Entries=entries)
        real_stdout, sys.stdout = sys.stdout, captured  # EMF documents go to stdout, as in Lambda
        try:
            while poll_sqs_once(sqs, queues.url, queues.arn, handler).received:
                pass
        finally:
            sys.stdout = real_stdout
    for line in captured.getvalue().splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        if "_aws" in document and "WorkflowName" not in document:
            continue  # the fleet rollup repeats every per-workflow value
        for definition in document.get("_aws", {}).get("CloudWatchMetrics", [{}])[0].get("Metrics", []):
            values = document[definition["Name"]]
            totals[definition["Name"]] += len(values) if definition["Unit"] == "Seconds" else sum(values)
    return totals


def _summarise(emf: Counter[str]) -> None:
    bind_table(TABLE_NAME)
    for workflow in sample_events.EXAMPLE_WORKFLOWS:
        runs = recent_runs(workflow.workflow_id, limit=100)
        outcomes = Counter(run.status for run in runs)
        durations = sorted(
            (run.ended_at - run.started_at).total_seconds() for run in runs if run.started_at and run.ended_at
        )
        success = outcomes["SUCCESS"] / len(runs) if runs else 0.0
        print(f"\n{workflow.name}: {len(runs)} runs, {success:.0%} succeeded {dict(outcomes)}")
        if durations:
            p95 = statistics.quantiles(durations, n=20)[-1] if len(durations) > 1 else durations[0]
            print(f"  duration p50 {statistics.median(durations):.0f} s, p95 {p95:.0f} s")
        for run in runs:
            if run.status != "SUCCESS":
                _, attempts = load_run(workflow.workflow_id, run.run_id)
                failed = [a for a in attempts if a.status in {"FAILED", "TIMEOUT", "UP_FOR_RETRY"}]
                print(f"  {run.status:<8} {run.run_id}  {run.error_message or ''}")
                for attempt in sorted(failed, key=lambda a: (a.task_id or "", a.attempt)):
                    print(
                        f"    {attempt.task_id} attempt {attempt.attempt}: {attempt.status} - {attempt.error_message}"
                    )
    print("\nmetrics emitted (EMF, per workflow):", ", ".join(f"{k}={v:g}" for k, v in sorted(emf.items())))


if __name__ == "__main__":
    sys.exit(main())
