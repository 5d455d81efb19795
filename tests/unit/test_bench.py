"""`make bench`'s sections keep what they change to themselves: one section's stubs never answer for the next (the
cpu section's stubbed DynamoDB once stayed on the ingest function every later section used: the widget section
stored nothing and the metrics section counted 7 metrics instead of 10). The runner also gives each section a
process of its own; this checks the sections themselves, two in sequence in this process."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mwaa_obs.states import RunState
from mwaa_obs.store.runs import Runs
from mwaa_obs_tools.emulator import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))

from harness import Options, ingest_capturing_emf, ingest_function, run_with_tasks
from sections import cpu, simulator


def test_after_the_cpu_and_simulator_sections_the_next_section_ingests_for_real(runs: Runs) -> None:
    environment = dict(os.environ)
    modules = dict(sys.modules)

    measured = cpu.run(Options(repeat=1))  # DynamoDB and SQS stubbed on its ingest function's clients
    timed = simulator.run(Options())  # the MWAA Serverless endpoint pointed at its simulator

    assert measured["batch_10"]["ingest_us_per_event"] > 0
    assert timed["ms"]["p50"] > 0
    assert dict(os.environ) == environment
    assert {name: module for name, module in sys.modules.items() if name in modules} == modules
    with ingest_function() as ingest:  # as the next section gets it: writing to the table, here the test's
        failures, _ = ingest_capturing_emf(ingest, run_with_tasks("after_cpu", 3))
    stored, attempts = runs.load("after_cpu-BENCHBENCH", "r1")
    assert failures == 0
    assert stored is not None
    assert stored.status == RunState.FAILED
    assert len(attempts) == 4  # three tasks, the first retried


def test_only_some_sections_keeps_the_others_figures_in_the_results_file(tmp_path: Path) -> None:
    import run  # bench/run.py: the runner

    # Given a results file from an earlier run, in which cpu and simulator failed
    out = tmp_path / "results.json"
    earlier = {"python": "3.0", "kept": {"figure": 1}, "section_seconds": {"cpu": 5.4}, "failed": ["cpu", "simulator"]}
    out.write_text(json.dumps(earlier), encoding="utf-8")
    # When only the simulator section is measured again, and succeeds
    doc = tmp_path / "BENCH.md"
    assert run.main(["--only", "simulator", "--out", str(out), "--doc", str(doc)]) == 0  # this run's failures only
    # Then its figures join the others', and only the section not re-run is still marked failed
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["kept"] == {"figure": 1}
    assert results["simulator"]["ms"]["p50"] > 0
    assert results["failed"] == ["cpu"]
    assert set(results["section_seconds"]) == {"cpu", "simulator"}
    # And the rendered table has the simulator's row and says what failed
    rendered = doc.read_text(encoding="utf-8")
    assert f"p50 {results['simulator']['ms']['p50']}" in rendered
    assert "Failed in the last run of their section: cpu" in rendered


def test_the_in_memory_table_answers_a_query_of_the_tables_own_partitions() -> None:
    import botocore.session
    from billing import MemoryTable

    from mwaa_obs.store.schema import version_sort_key, workflow_key
    from mwaa_obs.store.workflows import Workflows

    # Given the bench's in-memory table holding two workflows' stored versions
    table = MemoryTable()
    session = botocore.session.get_session()
    client = session.create_client("dynamodb", "us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    table.stub(client)
    table.put({"pk": {"S": workflow_key("wf-AbCdEfGhIj")}, "sk": {"S": version_sort_key("v1")}})
    table.put({"pk": {"S": workflow_key("other-AbCdEfGhIj")}, "sk": {"S": version_sort_key("v9")}})
    # Then a Query without an index (the reconciler's stored versions) reads the workflow's partition only
    # (the scale section's discovery pass skipped every workflow on a KeyError before)
    assert Workflows(client, "table").stored_versions("wf-AbCdEfGhIj") == {"v1"}
    assert table.bill.queries == 1
