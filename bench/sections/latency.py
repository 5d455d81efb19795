"""Section "latency": wall time in the local stack from PutEvents of a failed run's events to the run stored, and to
its Slack message delivered: the pipeline's own processing, bounded by the emulator (no SQS batching window, no
AlertDelaySeconds, no Lambda start-up)."""

from __future__ import annotations

import time
from typing import Any

from harness import PORT, Options, Row, kept_environment, percentiles, put_events_entry, run_with_tasks

LATENCY_RUNS = 20


def run(options: Options) -> dict[str, Any]:
    from mwaa_obs_tools import localstack  # noqa: PLC0415 - the whole local stack, only for this figure

    stored_ms: list[float] = []
    alerted_ms: list[float] = []
    with kept_environment(), localstack.running(port=PORT) as stack:
        assert stack.slack is not None
        events = localstack.client(stack.endpoint, "events")
        ingest, notify = stack.functions
        for n in range(LATENCY_RUNS):
            # A workflow of its own for each run, so that no failure is grouped into an earlier alert.
            entries = [put_events_entry(event) for event in run_with_tasks(f"latency{n}", 3)]
            delivered = len(stack.slack.delivered())
            started = time.perf_counter()
            for first in range(0, len(entries), 10):
                events.put_events(Entries=entries[first : first + 10])
            stack.drain(ingest)
            stored_ms.append((time.perf_counter() - started) * 1000)
            stack.drain(notify)
            assert len(stack.slack.delivered()) == delivered + 1
            alerted_ms.append((time.perf_counter() - started) * 1000)
    return {
        "runs": LATENCY_RUNS,
        "events_per_run": len(entries),
        "stored_ms": percentiles(stored_ms),
        "alerted_ms": percentiles(alerted_ms),
    }


def rows(latency: dict[str, Any]) -> list[Row]:
    return [
        (
            f"local stack: PutEvents to {label}",
            f"p50 {latency[what]['p50']} ms, p95 {latency[what]['p95']} ms ({latency['events_per_run']} events a run)",
            "emulator-bound",
        )
        for what, label in (("stored_ms", "run stored"), ("alerted_ms", "Slack message delivered"))
    ]
