"""Load: thousands of events of many workflows, shuffled, a fifth of them twice, through the ingest handler
against the emulator: every run ends in its true state and every metric is counted exactly once. CI runs 2,400
deliveries of 2,000 events; the emulator's write rate bounds the size (../shared/notes/local-aws.md)."""

from __future__ import annotations

from collections import Counter
from types import ModuleType
from typing import Any

import pytest

from mwaa_obs.store.runs import Runs
from mwaa_obs_tools.factories import fleet_history, metric_totals, shuffled_with_duplicates, sqs_event
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext
from tests.conftest import Printed

WORKFLOWS = 25
RUNS_PER_WORKFLOW = 5
TASKS_PER_RUN = 3
DUPLICATE_SHARE = 0.2


@pytest.mark.parametrize("seed", [11])
def test_thousands_of_shuffled_and_repeated_events_end_exact(
    state_table: str, printed: Any, seed: int, ingest_handler: ModuleType, runs: Runs
) -> None:
    events, truth, counts = fleet_history(WORKFLOWS, RUNS_PER_WORKFLOW, TASKS_PER_RUN, seed)
    delivered = shuffled_with_duplicates(events, DUPLICATE_SHARE, seed)
    assert len(delivered) >= 2000
    # When every delivery goes through the handler in batches of 10
    for start in range(0, len(delivered), 10):
        response = ingest_handler.lambda_handler(sqs_event(delivered[start : start + 10]), FakeLambdaContext())
        assert response == {"batchItemFailures": []}
    # Then each run holds its true final state
    for (workflow_id, run_id), status in truth.items():
        run, attempts = runs.load(workflow_id, run_id)
        assert run is not None
        assert run.status == status
        assert len(attempts) == TASKS_PER_RUN
    # And the counts are exact, summed over every EMF document (each point is in one: its workflow's, or the
    # fleet's alone for what a healthy run owes)
    output: Printed = printed()
    totals: Counter[str] = Counter(metric_totals(output.emf, None))
    own: Counter[str] = Counter()
    for workflow in {workflow_id.rsplit("-", 1)[0] for workflow_id, _ in truth}:
        own.update(metric_totals(output.emf, workflow))
    totals.update(own)
    assert {name: totals[name] for name in counts} == dict(counts)
    # And the workflows' own series carry none of what a healthy run owes (metrics by exception, the default)
    assert not set(own) & {"RunStarted", "RunSucceeded", "RunDuration", "RunQueueDelay", "TaskSucceeded"}
