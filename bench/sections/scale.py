"""Section "scale": the scheduled per-workflow passes at 100, 1,000 and 10,000 workflows over the in-memory table of
bench/billing.py: the missed-schedule (freshness) pass over daily workflows all on time, and the reconciler's
discovery pass over an idle fleet; each pass's CPU, reads and calls, modeled in Lambda at the function's memory and
against half its timeout (template.yaml)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import boto3
from billing import MemoryTable
from harness import Options, Row
from month import LAMBDA_FULL_VCPU_MB, REQUEST_SECONDS, START

from mwaa_obs import telemetry
from mwaa_obs.freshness import check_all
from mwaa_obs.metrics import SeriesPolicy
from mwaa_obs.mwaa_api import WorkflowAnswer
from mwaa_obs.settings import parse_settings
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import RunItem, WorkflowItem, workflow_key
from mwaa_obs.store.workflows import Workflows
from mwaa_obs_tools import emulator, sample_events

SCALE_FLEETS: Final = (100, 1_000, 10_000)
RUNS_EACH: Final = 12  # the freshness check reads a workflow's last 12 runs


def run(options: Options) -> dict[str, Any]:
    template = emulator.load_template()

    def sized(logical_id: str) -> tuple[int, int]:
        """A function's memory (MB) and timeout (s), as deployed."""
        properties = template["Resources"][logical_id]["Properties"]
        memory = int(properties.get("MemorySize", template["Globals"]["Function"]["MemorySize"]))
        return memory, int(properties["Timeout"])

    freshness_memory, freshness_timeout = sized("FreshnessFunction")
    reconcile_memory, reconcile_timeout = sized("ReconcileFunction")
    return scale(freshness_memory, freshness_timeout) | reconcile_scale(reconcile_timeout, reconcile_memory)


def _fleet(table: MemoryTable, size: int, now: datetime) -> None:
    """`size` daily workflows, described with their cron schedule, each with its last 12 daily runs, succeeded, and
    the last success recorded on the workflow item as the notifier does."""
    from mwaa_obs.store.schema import WORKFLOWS_PARTITION as WORKFLOWS  # noqa: PLC0415
    from mwaa_obs.store.schema import HealthAttribute  # noqa: PLC0415

    last_success = now.replace(hour=2, minute=42)  # today's run: all on time

    for number in range(size):
        workflow_id = f"wf_{number:05d}-ABCDEFGHIJ"
        table.put(
            WorkflowItem(
                pk=workflow_key(workflow_id), sk="WORKFLOW", gsi1pk=WORKFLOWS, gsi1sk=workflow_id,
                workflow_arn=f"arn:aws:airflow-serverless:us-east-1:123456789012:workflow/{workflow_id}",
                first_seen_at=now - timedelta(days=30), described_at=now - timedelta(hours=1), schedule="30 2 * * *",
                health=HealthAttribute(last_success_at=last_success),  # type: ignore[no-untyped-call]
            ).serialize()
        )  # fmt: skip
        for day in range(RUNS_EACH):
            started = (now - timedelta(days=day)).replace(hour=2, minute=30, second=5)
            run_id = f"R{number:05d}{day:02d}abcdefgh"
            run = RunItem(
                pk=f"RUN#{workflow_id}#{run_id}", sk="RUN", status="SUCCESS", status_rank=5, run_type="SCHEDULED",
                started_at=started, ended_at=started + timedelta(minutes=12), gsi1pk=workflow_key(workflow_id),
                gsi1sk=f"{started:%Y-%m-%dT%H:%M:%S}.000000Z#{run_id}", seen_starting=started, seen_success=started,
            )  # fmt: skip
            table.put(run.serialize())


def scale(freshness_memory_mb: int, freshness_timeout: int) -> dict[str, Any]:
    """One freshness pass over fleets of daily workflows, all on time: Queries, read units, CPU, peak memory, and the
    pass's modeled time in Lambda (CPU at the function's share of a vCPU + REQUEST_SECONDS per Query, one after
    another), against half the function's timeout."""
    import tracemalloc  # noqa: PLC0415

    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    settings = parse_settings("{}")
    fleets = {}
    for size in SCALE_FLEETS:
        table = MemoryTable()
        _fleet(table, size, now)
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://localhost:1")
        table.stub(client)
        tracemalloc.start()
        cpu = time.process_time()
        verdicts = check_all(now, settings, Workflows(client, "t"), Runs(client, "t"), telemetry.MetricSink())
        cpu = time.process_time() - cpu
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        modeled = cpu * LAMBDA_FULL_VCPU_MB / freshness_memory_mb + table.bill.queries * REQUEST_SECONDS
        fleets[str(size)] = {
            "workflows_judged": len(verdicts),
            "overdue": sum(1 for verdict in verdicts if verdict.overdue),
            "queries": table.bill.queries,
            "read_units": table.bill.read_units,
            "cpu_seconds_here": round(cpu, 2),
            "peak_mb": round(peak / 2**20, 1),
            "modeled_lambda_seconds": round(modeled, 1),
            "half_timeout_seconds": freshness_timeout / 2,
        }
    return {"freshness": fleets, "freshness_memory_mb": freshness_memory_mb}


API_SECONDS: Final = 0.05  # assumed MWAA Serverless API latency (not measurable offline)
IDLE_VERSION: Final = "v1"  # each idle workflow has one version, its latest


class _IdleApi:
    """The MWAA Serverless API of an idle fleet: every workflow listed, described once, no recent run. Counted."""

    def __init__(self, arns: list[str], schedule: str) -> None:
        from mwaa_obs.mwaa_api import RecentRuns, WorkflowSummary  # noqa: PLC0415

        self._summaries = [WorkflowSummary(arn, arn.rsplit("/", 1)[1].rsplit("-", 1)[0], START) for arn in arns]
        self._schedule = schedule
        self._empty = RecentRuns([], complete=True, newest_first=True)
        self.calls: Counter[str] = Counter()

    home = None  # one account: every workflow is home's

    def workflows(self, place: Any = None) -> list[Any]:
        self.calls["ListWorkflows"] += max(1, len(self._summaries) // 100)  # pages of 100 (assumed)
        return self._summaries

    def workflow(self, arn: str, version: str | None = None) -> WorkflowAnswer:
        self.calls["GetWorkflow"] += 1
        described = {"WorkflowArn": arn, "WorkflowVersion": IDLE_VERSION, "ModifiedAt": START}
        return WorkflowAnswer.from_api(described | {"ScheduleConfiguration": {"CronExpression": self._schedule}})

    def versions(self, arn: str) -> list[str]:
        self.calls["ListWorkflowVersions"] += 1
        return [IDLE_VERSION]

    def recent_runs(self, arn: str, since: datetime, max_pages: int) -> Any:
        self.calls["ListWorkflowRuns"] += 1
        return self._empty


def reconcile_scale(timeout: int, memory_mb: int) -> dict[str, Any]:
    """The reconciler's hourly discovery pass over idle fleets of 100, 1,000 and 10,000 workflows (described
    already): calls by operation, CPU, and the pass modeled in Lambda (CPU at the memory's vCPU share, API_SECONDS a
    MWAA Serverless call and REQUEST_SECONDS a DynamoDB request, one after another) against half the timeout."""
    from mwaa_obs.reconcile import Reconciler  # noqa: PLC0415
    from mwaa_obs.store.transitions import Transitions  # noqa: PLC0415

    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    fleets = {}
    for size in SCALE_FLEETS:
        table = MemoryTable()
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://localhost:1")
        table.stub(client)
        arns = [
            f"arn:aws:airflow-serverless:us-east-1:123456789012:workflow/wf_{n:05d}-ABCDEFGHIJ" for n in range(size)
        ]
        api = _IdleApi(arns, "30 2 * * *")
        reconciler = Reconciler(
            cast(Any, api), Transitions(client, "t", timedelta(days=90), home=sample_events.HOME),
            Runs(client, "t"), Workflows(client, "t"), cast(Any, None), settle=timedelta(hours=1),
            policies=lambda _: SeriesPolicy(),
        )  # fmt: skip
        reconciler.run_pass(now - timedelta(hours=1), telemetry.MetricSink(), discover=True)  # first sight: described
        api.calls.clear()
        before = (table.bill.queries, table.bill.total)
        cpu = time.process_time()
        report = reconciler.run_pass(now, telemetry.MetricSink(), discover=True)
        cpu = time.process_time() - cpu
        queries, writes = table.bill.queries - before[0], table.bill.total - before[1]
        api_calls = sum(api.calls.values())
        modeled = cpu * LAMBDA_FULL_VCPU_MB / memory_mb + api_calls * API_SECONDS + (queries + writes) * REQUEST_SECONDS
        fleets[str(size)] = {
            "workflows_listed": report.workflows_listed,
            "api_calls": dict(api.calls),
            "queries": queries,
            "writes": writes,
            "cpu_seconds_here": round(cpu, 2),
            "modeled_lambda_seconds": round(modeled, 1),
            "half_timeout_seconds": timeout / 2,
        }
    return {"reconcile": fleets, "reconcile_memory_mb": memory_mb, "api_seconds": API_SECONDS}


def rows(scale: dict[str, Any]) -> list[Row]:
    lines: list[Row] = [
        (
            f"freshness pass, {int(size):,} daily workflows: Queries; CPU here; modeled s in Lambda "
            f"({scale['freshness_memory_mb']} MB); peak MB",
            f"{fleet['queries']:,}; {fleet['cpu_seconds_here']} s; {fleet['modeled_lambda_seconds']} s; "
            f"{fleet['peak_mb']}",
            f"<= {fleet['half_timeout_seconds']:g} s (half the timeout)",
        )
        for size, fleet in scale["freshness"].items()
    ]
    lines += [
        (
            f"discovery pass, {int(size):,} idle workflows: API calls; Queries; modeled s in Lambda",
            f"{sum(fleet['api_calls'].values()):,}; {fleet['queries']:,}; {fleet['modeled_lambda_seconds']} s "
            f"({fleet['workflows_listed']:,} listed)",
            f"<= {fleet['half_timeout_seconds']:g} s, else the pass ends at its deadline",
        )
        for size, fleet in scale.get("reconcile", {}).items()
    ]
    return lines
