"""Section "load": 10,000 events of 125 workflows, shuffled, a fifth delivered twice, through the ingest handler
against the emulator (batches of 10): the stored states and the metric counts must come out exact (its time is
bounded by the emulator)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from harness import FUNCTIONS, Options, Row, empty_emulator, ingest_capturing_emf, ingest_function

from mwaa_obs.store.runs import Runs
from mwaa_obs_tools.factories import fleet_history, metric_totals, shuffled_with_duplicates

LOAD_WORKFLOWS, LOAD_RUNS, LOAD_TASKS, LOAD_DUPLICATES = 125, 5, 3, 0.2  # 10,000 events, 12,000 deliveries


def run(options: Options) -> dict[str, Any]:
    events, truth, counts = fleet_history(LOAD_WORKFLOWS, LOAD_RUNS, LOAD_TASKS, seed=11)
    delivered = shuffled_with_duplicates(events, LOAD_DUPLICATES, seed=11)
    with ingest_function() as ingest, empty_emulator():
        started = time.perf_counter()
        failures, documents = ingest_capturing_emf(ingest, delivered)
        seconds = time.perf_counter() - started
        runs = Runs(ingest.dynamodb, FUNCTIONS.table_name)
        wrong_states = sum(
            1 for (workflow_id, run_id), status in truth.items() if _stored_status(runs, workflow_id, run_id) != status
        )
    # what a healthy run owes goes to the fleet-only documents (metrics by exception), the rest to the workflow's
    emitted: Counter[str] = Counter(metric_totals(documents, None))
    for workflow in {workflow_id.rsplit("-", 1)[0] for workflow_id, _ in truth}:
        emitted.update(metric_totals(documents, workflow))
    wrong_counts = {name: (emitted[name], owed) for name, owed in counts.items() if emitted[name] != owed}
    return {
        "events": len(events),
        "deliveries": len(delivered),
        "workflows": LOAD_WORKFLOWS,
        "runs": len(truth),
        "batch_failures": failures,
        "runs_in_wrong_state": wrong_states,
        "metric_counts_off": wrong_counts,
        "exact": failures == 0 and wrong_states == 0 and not wrong_counts,
        "seconds_against_moto": round(seconds, 1),
    }


def _stored_status(runs: Runs, workflow_id: str, run_id: str) -> str | None:
    run, _ = runs.load(workflow_id, run_id)
    return None if run is None else run.status


def rows(load: dict[str, Any]) -> list[Row]:
    return [
        (
            f"load: {load['events']:,} events, {load['deliveries']:,} deliveries, {load['workflows']} workflows",
            f"{'exact' if load['exact'] else 'NOT EXACT'} in {load['seconds_against_moto']} s",
            "exact; time emulator-bound",
        )
    ]
