"""Load: thousands of events of many workflows, shuffled, a fifth of them twice, through the ingest handler
against the emulator: every run ends in its true state and every metric is counted exactly once. CI runs 2,400
deliveries of 2,000 events; the emulator's write rate bounds the size (../shared/notes/local-aws.md)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

import app
from mwaa_obs.store import load_run
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext
from tests.conftest import Printed
from tests.factories import T0, metric_totals, minutes, run_event, sqs_event, task_event, workflow_arn

WORKFLOWS = 25
RUNS_PER_WORKFLOW = 5
TASKS_PER_RUN = 3
DUPLICATE_SHARE = 0.2


def history(seed: int) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str], Counter[str]]:
    """Events of every run, the true final state of each run, and the metric counts they owe."""
    draw = random.Random(seed)
    events: list[dict[str, Any]] = []
    truth: dict[tuple[str, str], str] = {}
    counts: Counter[str] = Counter()
    for w in range(WORKFLOWS):
        arn = workflow_arn(f"load_{w:02d}", f"L{w:02d}AAAAAAA")
        workflow_id = arn.rsplit("/", 1)[1]
        for r in range(RUNS_PER_WORKFLOW):
            run_id, start = f"run-{r}", T0 + minutes(60 * r)
            events += [
                run_event(s, run_id, start + minutes(i), arn=arn)
                for i, s in enumerate(("Started", "Queued", "Running"))
            ]
            failed = draw.random() < 0.3
            for t in range(TASKS_PER_RUN):
                ending = "Failed" if failed and t == 0 else "Succeeded"
                for i, state in enumerate(("Scheduled", "Queued", "Running", ending)):
                    events.append(task_event(state, run_id, f"task_{t}", start + minutes(3 + i), arn=arn))
                counts["TaskFailed" if ending == "Failed" else "TaskSucceeded"] += 1
            events.append(run_event("Failed" if failed else "Succeeded", run_id, start + minutes(10), arn=arn))
            truth[(workflow_id, run_id)] = "FAILED" if failed else "SUCCESS"
            counts["RunStarted"] += 1
            counts["RunFailed" if failed else "RunSucceeded"] += 1
    return events, truth, counts


@pytest.mark.parametrize("seed", [11])
def test_thousands_of_shuffled_and_repeated_events_end_exact(state_table: str, printed: Any, seed: int) -> None:
    events, truth, counts = history(seed)
    draw = random.Random(seed)
    delivered = events + draw.sample(events, int(DUPLICATE_SHARE * len(events)))
    draw.shuffle(delivered)
    assert len(delivered) >= 2000
    # When every delivery goes through the handler in batches of 10
    for start in range(0, len(delivered), 10):
        response = app.lambda_handler(sqs_event(delivered[start : start + 10]), FakeLambdaContext())
        assert response == {"batchItemFailures": []}
    # Then each run holds its true final state
    for (workflow_id, run_id), status in truth.items():
        run, attempts = load_run(workflow_id, run_id)
        assert run is not None
        assert run.status == status
        assert len(attempts) == TASKS_PER_RUN
    # And the counts are exact, summed over the workflows' EMF documents
    output: Printed = printed()
    totals: Counter[str] = Counter()
    for workflow in {workflow_id.rsplit("-", 1)[0] for workflow_id, _ in truth}:
        totals.update(metric_totals(output.emf, workflow))
    assert {name: totals[name] for name in counts} == dict(counts)
