"""Section "reads": the reads issue 38 bounded, at a fleet of 10,000 workflows, over the in-memory table of
bench/billing.py (read units and pages by DynamoDB's rules) and the repositories the functions use:

- the runs widget's failures view on an outage day (every workflow failed in the last hour): what it reads to show
  25 rows, against reading every failure of the day as it did;
- a success notice: the history the notifier read for its decision (the workflow's last 100 runs), against none
  for a success that closes nothing;
- the discovery pass: the workflow list read once a pass, against twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import boto3
from billing import MemoryTable
from harness import Options, Row
from month import HOURS_PER_MONTH, PRICES

from mwaa_obs.alerting import Health, closes_nothing
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import WORKFLOWS_PARTITION, RunItem, WorkflowItem, failures_partition, workflow_key
from mwaa_obs.store.workflows import Workflows
from mwaa_obs.times import sort_key_time
from mwaa_obs.widget import FAILURE_ROWS, ViewReader

FLEET: Final = 10_000
NOW: Final = datetime(2026, 12, 1, 12, tzinfo=UTC)
HISTORY: Final = 100  # HISTORY_RUNS of mwaa_obs.notify: the runs a decision that reads the history reads


def _client(table: MemoryTable) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://localhost:1")
    table.stub(client)
    return client


def _workflow_id(number: int) -> str:
    return f"wf_{number:05d}-ABCDEFGHIJ"


def _run(workflow_id: str, run_id: str, ended: datetime, status: str) -> RunItem:
    started = ended - timedelta(minutes=5)
    return RunItem(
        pk=f"RUN#{workflow_id}#{run_id}", sk="RUN", status=status, status_rank=5, run_type="SCHEDULED",
        started_at=started, ended_at=ended, gsi1pk=workflow_key(workflow_id),
        gsi1sk=f"{sort_key_time(started)}#{run_id}", seen_starting=started, seen_running=started,
        error_message="Workflow execution failed" if status == "FAILED" else None,
        gsi2pk=failures_partition(ended) if status == "FAILED" else None,
        gsi2sk=f"{sort_key_time(ended)}#{workflow_id}#{run_id}" if status == "FAILED" else None,
    )  # fmt: skip


def failures_view() -> dict[str, Any]:
    """Every workflow of the fleet failed once in the last hour: the failures view of the last day."""
    table = MemoryTable()
    for number in range(FLEET):
        ended = NOW - timedelta(seconds=1 + number * 3600 / FLEET)
        table.put(_run(_workflow_id(number), f"R{number:05d}", ended, "FAILED").serialize())
    client = _client(table)
    runs = Runs(client, "t")
    before = table.bill.read_units, table.bill.pages
    everything = runs.recent_failures(days=1, now=NOW)  # what the view read before: every failure of the day
    read_all = {"items": len(everything), "read_units": table.bill.read_units - before[0],
                "pages": table.bill.pages - before[1]}  # fmt: skip
    before = table.bill.read_units, table.bill.pages
    reader = ViewReader(runs, Workflows(client, "t"))
    shown = reader.failures(NOW - timedelta(days=1), NOW)
    now_reads = {"items": len(shown), "read_units": table.bill.read_units - before[0],
                 "pages": table.bill.pages - before[1], "queries": reader.reads}  # fmt: skip
    return {"failed_runs": FLEET, "rows_shown": FAILURE_ROWS, "before": read_all, "after": now_reads}


def success_notice() -> dict[str, Any]:
    """A healthy hourly workflow's success: the history read its decision made, and whether it needs one now."""
    table = MemoryTable()
    workflow_id = _workflow_id(0)
    for hour in range(HISTORY + 10):
        table.put(_run(workflow_id, f"R{hour:04d}", NOW - timedelta(hours=hour), "SUCCESS").serialize())
    runs = Runs(_client(table), "t")
    runs.recent(workflow_id, limit=HISTORY)
    history_units = table.bill.read_units
    health = Health(last_success_at=NOW - timedelta(hours=1))
    needs = not closes_nothing(NOW, health, datetime.fromtimestamp(0, UTC))
    notices = FLEET * HOURS_PER_MONTH  # a success an hour each
    price = PRICES["dynamodb_read_million"]
    return {
        "history_read_units_before": history_units,
        "history_read_units_now": history_units if needs else 0.0,
        "fleet_hourly_successes_a_month": notices,
        "dollars_a_month_before": round(notices * history_units / 1e6 * price, 2),
        "dollars_a_month_now": round(notices * (history_units if needs else 0.0) / 1e6 * price, 2),
    }


def workflow_list() -> dict[str, Any]:
    """The WORKFLOWS partition at 10,000 workflows, read as a pass reads it."""
    table = MemoryTable()
    for number in range(FLEET):
        workflow_id = _workflow_id(number)
        table.put(
            WorkflowItem(
                pk=workflow_key(workflow_id), sk="WORKFLOW", gsi1pk=WORKFLOWS_PARTITION, gsi1sk=workflow_id,
                workflow_arn=f"arn:aws:airflow-serverless:us-east-1:123456789012:workflow/{workflow_id}",
                first_seen_at=NOW - timedelta(days=30), described_at=NOW - timedelta(hours=1), schedule="30 2 * * *",
            ).serialize()
        )  # fmt: skip
    Workflows(_client(table), "t").all()
    return {"workflows": FLEET, "read_units": table.bill.read_units, "pages": table.bill.pages}


def run(options: Options) -> dict[str, Any]:
    listed = workflow_list()
    return {
        "failures_view": failures_view(),
        "success_notice": success_notice(),
        "discovery_list": listed
        | {"reads_a_pass_before": 2, "reads_a_pass_now": 1, "read_units_a_pass_now": listed["read_units"]},
    }


def rows(reads: dict[str, Any]) -> list[Row]:
    failures, notice, listed = reads["failures_view"], reads["success_notice"], reads["discovery_list"]
    before, after = failures["before"], failures["after"]
    return [
        (
            f"widget failures view, {failures['failed_runs']:,} failures in a day: items; read units; pages",
            f"{after['items']}; {after['read_units']:g}; {after['pages']} (was {before['items']:,}; "
            f"{before['read_units']:g}; {before['pages']})",
            f"{failures['rows_shown']} items, whatever the failures",
        ),
        (
            "notify, a success that closes nothing: history read units",
            f"{notice['history_read_units_now']:g} (was {notice['history_read_units_before']:g}: 100 runs)",
            "0",
        ),
        (
            f"notify at {FLEET:,} hourly workflows: history reads, $ a month",
            f"{notice['dollars_a_month_now']} (was {notice['dollars_a_month_before']})",
            "reported",
        ),
        (
            f"discovery pass, {listed['workflows']:,} workflows: list reads; read units; pages each",
            f"{listed['reads_a_pass_now']} (was {listed['reads_a_pass_before']}); {listed['read_units']:g}; "
            f"{listed['pages']}",
            "1 a pass",
        ),
    ]
