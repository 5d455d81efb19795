"""Trigger rules as Airflow applies them: which waiting task runs, is skipped or is upstream-failed, and the run's
outcome from its leaf tasks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.faults import Faults
from mwaa_obs_tools.simulator.model import Run
from mwaa_obs_tools.simulator.tasks import trigger_decision

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
OPERATOR = "airflow.providers.amazon.aws.operators.s3.S3CreateObjectOperator"


@pytest.mark.parametrize(
    ("rule", "upstream", "decision"),
    [
        ("all_success", ["SUCCESS", "SUCCESS"], "run"),
        ("all_success", ["SUCCESS", "RUNNING"], "wait"),
        ("all_success", ["FAILED", "RUNNING"], "UPSTREAM_FAILED"),  # at once, as Airflow flags it
        ("all_success", ["SUCCESS", "SKIPPED"], "SKIPPED"),
        ("all_failed", ["FAILED", "TIMEOUT"], "run"),
        ("all_failed", ["FAILED", "SUCCESS"], "SKIPPED"),
        ("all_done", ["FAILED", "SUCCESS"], "run"),
        ("all_done", ["FAILED", "QUEUED"], "wait"),
        ("one_success", ["SUCCESS", "RUNNING"], "run"),
        ("one_success", ["FAILED", "SKIPPED"], "UPSTREAM_FAILED"),
        ("one_success", ["SKIPPED", "SKIPPED"], "SKIPPED"),
        ("one_failed", ["UPSTREAM_FAILED", "RUNNING"], "run"),
        ("one_failed", ["SUCCESS", "SUCCESS"], "SKIPPED"),
        ("none_failed", ["SUCCESS", "SKIPPED"], "run"),
        ("none_failed", ["SUCCESS", "FAILED"], "UPSTREAM_FAILED"),
        ("none_skipped", ["SUCCESS", "FAILED"], "run"),
        ("none_skipped", ["SUCCESS", "SKIPPED"], "SKIPPED"),
        ("always", ["RUNNING"], "run"),
    ],
)
def test_trigger_decisions(rule: str, upstream: list[str], decision: str) -> None:
    assert trigger_decision(rule, upstream) == decision


@dataclass
class Events:
    published: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, entries: list[dict[str, Any]]) -> None:
        self.published += entries

    def log(self, group: str, stream: str, at: datetime, message: str) -> None:
        pass

    def tasks_announced(self) -> set[str]:
        return {json.loads(entry["Detail"]).get("taskId") for entry in self.published} - {None}


DEFINITION = f"""
etl:
  tasks:
    extract: {{operator: {OPERATOR}}}
    load: {{operator: {OPERATOR}, dependencies: [extract]}}
    report: {{operator: {OPERATOR}, dependencies: [load]}}
    cleanup: {{operator: {OPERATOR}, dependencies: [load], trigger_rule: all_done}}
    alert: {{operator: {OPERATOR}, dependencies: [load], trigger_rule: one_failed}}
"""


def run_once(faults: Faults, definition: str = DEFINITION) -> tuple[Run, Events]:
    events = Events()
    engine = Engine(events, lambda location: definition, start=START)
    location = {"Bucket": "definitions", "ObjectKey": "etl.yaml"}
    workflow = engine.create_workflow({"Name": "etl", "DefinitionS3Location": location, "RoleArn": "arn:r"})
    engine.set_faults("etl", faults)
    run = engine.start_run(workflow.arn)
    engine.advance_until_idle(START + timedelta(hours=2))
    return run, events


def states(run: Run) -> dict[str, str]:
    return {task_id: instance.status for task_id, instance in ((i.task.task_id, i) for i in run.tasks.values())}


def test_a_cleanup_task_runs_after_a_failure_and_the_alert_task_after_it() -> None:
    run, _ = run_once(Faults(fail={"load"}))
    assert states(run) == {
        "extract": "SUCCESS",
        "load": "FAILED",
        "report": "UPSTREAM_FAILED",
        "cleanup": "SUCCESS",
        "alert": "SUCCESS",
    }
    # The leaf report was upstream-failed: the run failed (Airflow decides by the leaves)
    assert run.state == "FAILED"


def test_tasks_whose_rule_is_not_met_are_skipped_silently_and_the_run_succeeds() -> None:
    run, events = run_once(Faults())
    assert states(run) == {
        "extract": "SUCCESS",
        "load": "SUCCESS",
        "report": "SUCCESS",
        "cleanup": "SUCCESS",
        "alert": "SKIPPED",
    }
    assert run.state == "SUCCESS"
    assert "alert" not in events.tasks_announced()  # no detail-type announces a skipped task


def test_a_failure_whose_only_leaf_is_a_cleanup_that_ran_ends_the_run_in_success() -> None:
    # Airflow's leaf rule, which surprises: nothing downstream of the failed task failed
    without_report = "\n".join(
        line for line in DEFINITION.splitlines() if "report:" not in line and "alert:" not in line
    )
    run, _ = run_once(Faults(fail={"load"}), without_report)
    assert states(run) == {"extract": "SUCCESS", "load": "FAILED", "cleanup": "SUCCESS"}
    assert run.state == "SUCCESS"
