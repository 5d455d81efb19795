"""`make bench`, section "month": 30 simulated days of a fleet through the real ingest handler and freshness check,
with every billed unit counted (bench/billing.py) and priced (PRICES). Writes bench/month.json, from which
docs/COST.md is rendered (mwaa_obs_tools.cost_doc; tests/unit/test_cost_doc.py checks they agree).

The fleet: the three example workflows with the demo's faults, and generated workflows of each kind a cost question
is asked about: daily, hourly and on demand, of 5 and 50 tasks, with a chance of failure per attempt of one task
(default retries 1: some tasks retry and succeed, some runs fail), and one workflow that never runs (idle). AWS is
answered in-process: UpdateItem by an in-memory table that sizes every item (billing.MemoryTable), SendMessage
counted. Events arrive in order and once (duplicates cost one refused write each: docs/PERFORMANCE.md).
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from billing import MemoryTable, MetricHours
from botocore.awsrequest import AWSResponse, HTTPHeaders
from harness import stub_settings

from mwaa_obs import telemetry
from mwaa_obs.freshness import check_all
from mwaa_obs.mwaa_api import WorkflowAnswer
from mwaa_obs.settings import parse_settings
from mwaa_obs.states import FAILED_RUN_STATES, RUN_DETAIL_BY_STATE, RUN_DETAIL_TYPE_PREFIX, RunState
from mwaa_obs.store.runs import Runs
from mwaa_obs.store.schema import workflow_key
from mwaa_obs.store.workflows import Workflows
from mwaa_obs_tools import sample_events
from mwaa_obs_tools.factories import sqs_event
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext
from mwaa_obs_tools.simulator.engine import Engine
from mwaa_obs_tools.simulator.faults import Faults

ROOT = Path(__file__).resolve().parents[1]
MONTH_JSON: Final = ROOT / "bench" / "month.json"
DAYS: Final = 30
START: Final = datetime(2026, 11, 1, tzinfo=UTC)
STEP: Final = timedelta(minutes=15)  # the freshness check's schedule
HOURS_PER_MONTH: Final = 730  # the pricing pages' month

# kind -> (schedule, tasks, on-demand runs a day, failure chance per attempt of task t1)
KINDS: Final[dict[str, tuple[str | None, int, int, float]]] = {
    "daily_5": ("30 2 * * *", 5, 0, 0.10),
    "daily_50": ("0 3 * * *", 50, 0, 0.10),
    "hourly_5": ("15 * * * *", 5, 0, 0.02),
    "hourly_50": ("45 * * * *", 50, 0, 0.02),
    "on_demand_5": (None, 5, 4, 0.05),
    "on_demand_50": (None, 50, 4, 0.05),
    "idle": (None, 5, 0, 0.0),
    # hourly_5 and daily_5 again, with full metrics (settings "metrics": "full"): the opt-in's price
    "hourly_5_full": ("15 * * * *", 5, 0, 0.02),
    "daily_5_full": ("30 2 * * *", 5, 0, 0.10),
}
# The month's settings document: full metrics for the *_full kinds; every other workflow by exception (the default)
SETTINGS: Final = {"workflows": [{"match": "*_full", "metrics": "full"}]}

# us-east-1 list prices as known on 2026-11-25 (this machine cannot reach the pricing pages: check them).
PRICES: Final = {
    "metric_month": 0.30,  # custom metric, first 10,000; prorated by the hour in which data is sent
    "alarm_metric_month": 0.10,  # standard alarm, and each metric a Metrics Insights alarm analyses (our reading)
    "dashboard_month": 3.00,  # beyond the 3 free ones per account
    "dynamodb_write_million": 0.625,  # on-demand write request units
    "dynamodb_read_million": 0.125,  # on-demand read request units
    "sqs_million": 0.40,  # standard queue requests (each 64 KB chunk)
    "lambda_request_million": 0.20,
    "lambda_gb_second": 0.0000133334,  # arm64
    "logs_gb": 0.50,  # CloudWatch Logs ingestion (standard)
    "kms_key_month": 1.00,
    "secret_month": 0.40,
    # MWAA Serverless "AWS Managed Tasks", per task-hour, billed per second with a one-minute minimum: Asia Pacific
    # (Tokyo), the only rate found (aws.amazon.com/managed-workflows-for-apache-airflow/pricing/ as quoted by
    # dev.classmethod.jp/articles/amazon-mwaa-serverless-cost-comparison, 2025-11-30); us-east-1's is not known here.
    "mwaa_serverless_task_hour": 0.104,
}
MWAA_SERVERLESS_MINIMUM_SECONDS: Final = 60
RUN_STARTED_DETAIL_TYPE: Final = RUN_DETAIL_TYPE_PREFIX + RUN_DETAIL_BY_STATE[RunState.STARTING]
FAILED_RUN_DETAIL_TYPES: Final = {RUN_DETAIL_TYPE_PREFIX + RUN_DETAIL_BY_STATE[state] for state in FAILED_RUN_STATES}
LAMBDA_FULL_VCPU_MB: Final = 1769  # "at 1,769 MB, a function has the equivalent of one vCPU"
REQUEST_SECONDS: Final = 0.006  # assumed DynamoDB/SQS request latency inside a region (not measurable here)
PLATFORM_LOG_BYTES: Final = 350  # START, END and REPORT lines per invocation (assumed)
# The notify function per notice (every run end, and every retry): not run in this month, modeled (assumed).
NOTIFY: Final = {
    "seconds": 0.15,  # billed duration at 256 MB (tests' local runs: tens of ms of CPU plus its AWS calls)
    "log_bytes": 1000,  # its log lines
    "read_units": 1.0,  # GetItem of the workflow item (consistent, < 4 KB)
    "write_units": 4.0,  # TransactWriteItems: the run's decision and the workflow's health, 2 units per KB each
    "history_read_units": 15.0,  # a failure's: the workflow's last 100 runs, ~1.2 KB each, eventually consistent
}
SHARED_ALARMS: Final = {  # the 5 Metrics Insights alarms of template.yaml and the metric each queries
    "workflows-failed": "RunFailed",
    "workflows-timed-out": "RunTimedOut",
    "workflows-too-slow": "RunTooSlow",
    "workflows-retry-storm": "RetryStorm",
    "workflows-overdue": "ScheduleOverdue",
}


def definition(name: str, schedule: str | None, tasks: int) -> str:
    lines = [f"{name}:", f"  schedule: {json.dumps(schedule) if schedule else 'None'}", "  tasks:"]
    for number in range(tasks):
        upstream = f", dependencies: [t{number - 1}]" if number else ""
        operator = "airflow.providers.amazon.aws.operators.s3.S3ListOperator"
        lines.append(f"    t{number}: {{operator: {operator}, bucket: b{upstream}}}")
    return "\n".join(lines) + "\n"


class _Capture(io.TextIOBase):
    def __init__(self) -> None:
        self.bytes = 0
        self.emf: list[dict[str, Any]] = []

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        for line in text.splitlines():
            if line.startswith('{"_aws"'):
                self.emf.append(json.loads(line))
        return len(text)


def simulate(ingest: Any) -> dict[str, Any]:
    """The month, counted per workflow."""
    table = MemoryTable()
    table.stub(ingest.dynamodb)
    notices = Counter[str]()

    def send(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        notices["sent"] += 1
        return AWSResponse("", 200, HTTPHeaders(), None), {"MessageId": "bench", "MD5OfMessageBody": ""}

    ingest.sqs.meta.events.register("before-call.sqs.SendMessage", send)
    stub_settings(ingest.ssm, json.dumps(SETTINGS))
    published: list[dict[str, Any]] = []

    class Collect:
        def publish(self, entries: list[dict[str, Any]]) -> None:
            published.extend(entries)

        def log(self, group: str, stream: str, at: datetime, message: str) -> None:
            """Task logs are the workflow's, not ours."""

    texts = {f"{kind}.yaml": definition(kind, *KINDS[kind][:2]) for kind in KINDS}
    texts |= {path.name: path.read_text("utf-8") for path in sample_events.EXAMPLES.glob("*.yaml")}
    engine = Engine(Collect(), lambda location: texts[location["ObjectKey"]], start=START, seed=11)
    arns: dict[str, str] = {}
    for key in sorted(texts):
        name = key.removesuffix(".yaml")
        request = {"Name": name, "DefinitionS3Location": {"Bucket": "b", "ObjectKey": key}}
        arns[name] = engine.create_workflow({**request, "RoleArn": "arn:aws:iam::123456789012:role/r"}).arn
    for kind, (_, _, _, chance) in KINDS.items():
        engine.set_faults(kind, Faults(failure_rate={"t1": chance} if chance else {}))
    for name, faults in sample_events.FAULTS.items():
        engine.set_faults(name, faults)
    on_demand = {kind: per_day for kind, (_, _, per_day, _) in KINDS.items() if per_day}
    on_demand |= {name: 24 // every for name, every in sample_events.ON_DEMAND_EVERY_HOURS.items()}

    # As in a deployed stack: the reconciler describes each workflow at its first pass (GetWorkflow: its schedule),
    # and the notifier records each success on the workflow item (both outside this month's bill: see COST.md).
    workflows = Workflows(ingest.dynamodb, ingest.config.table_name)
    for arn in arns.values():
        schedule = engine.workflow(arn).definition.schedule
        answer = {"WorkflowArn": arn, **({"ScheduleConfiguration": {"CronExpression": schedule}} if schedule else {})}
        workflows.save_description(WorkflowAnswer.from_api(answer), START)
    runs = Runs(ingest.dynamodb, ingest.config.table_name)
    settings = parse_settings("{}")
    metrics = MetricHours()
    by_workflow: dict[str, dict[str, float]] = {name: defaultdict(float) for name in arns}
    totals = Counter[str]()
    telemetry.clock = lambda: engine.now
    real_stdout = sys.stdout
    try:
        steps = int(timedelta(days=DAYS) / STEP)
        for step in range(steps):
            for name, per_day in on_demand.items():
                every = int(timedelta(days=1) / STEP) // per_day
                if step % every == 4:  # an hour into each slot
                    engine.start_run(arns[name])
            engine.advance(engine.now + STEP)
            events = [
                sample_events.envelope(e["DetailType"], json.loads(e["Detail"]), e["Time"], e["Resources"][0])
                for e in published
            ]
            published.clear()
            for event in events:
                by_workflow[_workflow_of(event)]["task_seconds_billed"] += billed_task_seconds(event)
                by_workflow[_workflow_of(event)]["failed_runs"] += event["detail-type"] in FAILED_RUN_DETAIL_TYPES
                by_workflow[_workflow_of(event)]["runs"] += event["detail-type"] == RUN_STARTED_DETAIL_TYPE
            for start in range(0, len(events), 10):
                batch = events[start : start + 10]
                before = (table.bill.write_units, table.bill.index_write_units, notices["sent"], table.bill.total)
                capture = _Capture()
                sys.stdout = capture
                cpu = time.process_time()
                response = ingest.lambda_handler(sqs_event(batch), FakeLambdaContext())
                cpu = time.process_time() - cpu
                sys.stdout = real_stdout
                assert response == {"batchItemFailures": []}, response
                metrics.add_emf(capture.emf)
                # a batch holds one workflow's events in this simulation's order often enough to attribute by event
                share = 1 / len(batch)
                for event in batch:
                    counted = by_workflow[_workflow_of(event)]
                    counted["events"] += 1
                    counted["ingest_invocations_share"] += share
                    counted["write_units"] += share * (table.bill.write_units - before[0])
                    counted["index_write_units"] += share * (table.bill.index_write_units - before[1])
                    counted["notices"] += share * (notices["sent"] - before[2])
                    counted["write_requests"] += share * (table.bill.total - before[3])
                    counted["ingest_log_bytes"] += share * capture.bytes
                    counted["ingest_cpu_seconds"] += share * cpu
                totals["ingest_invocations"] += 1
            _record_successes(table)
            # the freshness check, as scheduled
            capture = _Capture()
            sys.stdout = capture
            queries_before = table.bill.queries
            sink = telemetry.MetricSink()
            check_all(engine.now, settings, workflows, runs, sink)
            from aws_lambda_powertools import Metrics  # noqa: PLC0415

            telemetry.publish(sink.points, Metrics(), engine.now)
            sys.stdout = real_stdout
            metrics.add_emf(capture.emf)
            totals["freshness_invocations"] += 1
            totals["freshness_queries"] += table.bill.queries - queries_before
            totals["freshness_log_bytes"] += capture.bytes
    finally:
        sys.stdout = real_stdout
        telemetry.clock = telemetry.wall_clock
    return _report(
        by_workflow, totals, metrics, table, {name: workflow_key(arn.rsplit("/", 1)[1]) for name, arn in arns.items()}
    )


def _workflow_of(event: dict[str, Any]) -> str:
    return str(event["resources"][0].rsplit("/", 1)[1].rsplit("-", 1)[0])


def billed_task_seconds(event: dict[str, Any]) -> float:
    """What MWAA Serverless bills for the task attempt an event ends (its start to its end, per second, one minute at
    least); 0 for any other event."""
    detail = event["detail"]
    if not event["detail-type"].startswith("MWAA Serverless Task") or not {"startedAt", "endedAt"} <= set(detail):
        return 0.0
    ran = datetime.fromisoformat(detail["endedAt"]) - datetime.fromisoformat(detail["startedAt"])
    return max(float(MWAA_SERVERLESS_MINIMUM_SECONDS), ran.total_seconds())


def _record_successes(table: MemoryTable) -> None:
    """What the notifier leaves on each workflow item after a successful run: the end of its latest success."""
    for (pk, sk), item in list(table.items.items()):
        if sk != "WORKFLOW":
            continue
        ends = [
            run["ended_at"]["S"]
            for run in table.raw("gsi1pk", pk)
            if run.get("status", {}).get("S") == RunState.SUCCESS and "ended_at" in run
        ]
        if ends:
            item["health"] = {"M": {"last_success_at": {"S": max(ends)}}}


def _report(
    by_workflow: dict[str, dict[str, float]],
    totals: Counter[str],
    metrics: MetricHours,
    table: MemoryTable,
    partitions: dict[str, str],  # workflow name -> its partition of the workflow-runs index
) -> dict[str, Any]:
    workflows = {}
    for name, counted in by_workflow.items():
        mine = f"WorkflowName={name}"
        metric_hours = metrics.of(lambda key, mine=mine: mine in key)
        analysed = {
            alarm: sum(hours for key, hours in metrics.analysed_hours(metric).items() if mine in key)
            for alarm, metric in SHARED_ALARMS.items()
        }
        workflows[name] = {
            "events": round(counted["events"]),
            "write_units": round(counted["write_units"]),
            "index_write_units": round(counted["index_write_units"]),
            "notices": round(counted["notices"], 1),
            "write_requests": round(counted["write_requests"]),
            "freshness_read_units": round(table.bill.read_units_by_partition[partitions[name]], 1),
            "ingest_invocations": round(counted["ingest_invocations_share"], 1),
            "ingest_cpu_seconds": round(counted["ingest_cpu_seconds"], 2),
            "ingest_log_bytes": round(counted["ingest_log_bytes"]),
            "metric_hours": metric_hours,
            "runs": round(counted["runs"]),
            "task_hours_billed": round(counted["task_seconds_billed"] / 3600, 2),
            "failed_runs": round(counted["failed_runs"]),
            "distinct_metrics": sum(1 for key in metrics.hours if mine in key),
            "alarm_analysed_metric_hours": analysed,
            # the series MAX(RunDuration) GROUP BY WorkflowName would see (only a workflow with full metrics has it)
            "run_duration_analysed_hours": sum(
                hours for key, hours in metrics.analysed_hours("RunDuration").items() if mine in key
            ),
        }
    fleet_hours = metrics.of(lambda key: not any(part.startswith("WorkflowName=") for part in key[2:]))
    return {
        "days": DAYS,
        "start": START.isoformat(),
        "kinds": {
            kind: {"schedule": s, "tasks": t, "on_demand_per_day": d, "failure_chance": c}
            for kind, (s, t, d, c) in KINDS.items()
        },
        "workflows": workflows,
        "fleet_metric_hours": fleet_hours,
        "fleet_distinct_metrics": sum(
            1 for key in metrics.hours if not any(p.startswith("WorkflowName=") for p in key[2:])
        ),
        "freshness": {
            "invocations": totals["freshness_invocations"],
            "queries": totals["freshness_queries"],
            "read_units": round(table.bill.read_units, 1),
            "log_bytes": totals["freshness_log_bytes"],
        },
        "ingest_invocations": totals["ingest_invocations"],
        "write_requests": dict(table.bill.requests),
        "prices": PRICES,
        "assumptions": {
            "request_seconds": REQUEST_SECONDS,
            "platform_log_bytes": PLATFORM_LOG_BYTES,
            "hours_per_month": HOURS_PER_MONTH,
            "lambda_full_vcpu_mb": LAMBDA_FULL_VCPU_MB,
            "notify": NOTIFY,
        },
    }


def priced(month: dict[str, Any], name: str, memory_mb: int = 256) -> dict[str, float]:
    """One workflow's month in dollars, by line (its own usage; the stack's fixed costs apart)."""
    w, p, assumed = month["workflows"][name], month["prices"], month["assumptions"]
    hours = month["assumptions"]["hours_per_month"]
    # billed duration: our CPU at the function's share of a vCPU, plus each request's wait (assumed)
    seconds = (
        w["ingest_cpu_seconds"] * month["assumptions"]["lambda_full_vcpu_mb"] / memory_mb
        + (w["write_requests"] + w["notices"]) * month["assumptions"]["request_seconds"]
    )
    lines = {
        "custom metrics": w["metric_hours"] / hours * p["metric_month"],
        "shared alarms": sum(w["alarm_analysed_metric_hours"].values()) / hours * p["alarm_metric_month"],
        "DynamoDB writes": (w["write_units"] + w["index_write_units"]) / 1e6 * p["dynamodb_write_million"],
        "DynamoDB reads (freshness)": w["freshness_read_units"] / 1e6 * p["dynamodb_read_million"],
        "SQS": (w["events"] * 1 + w["ingest_invocations"] * 2 + w["notices"] * 3) / 1e6 * p["sqs_million"],
        "Lambda": w["ingest_invocations"] / 1e6 * p["lambda_request_million"]
        + seconds * memory_mb / 1024 * p["lambda_gb_second"],
        "CloudWatch Logs": (w["ingest_log_bytes"] + w["ingest_invocations"] * assumed["platform_log_bytes"])
        / 1e9
        * p["logs_gb"],
        "notify (modeled)": _notify_dollars(w, p, assumed["notify"]),
    }
    return {line: round(dollars, 4) for line, dollars in lines.items()}


def _notify_dollars(w: dict[str, Any], p: dict[str, float], notify: dict[str, float]) -> float:
    """The notices' notify invocations: a request, its seconds at 256 MB, its reads and writes, its logs; a failed
    run's decision reads the history too (a success's does not, unless it may close an incident)."""
    notices = float(w["notices"])
    reads = notices * notify["read_units"] + float(w.get("failed_runs", 0)) * notify["history_read_units"]
    return float(
        notices * (p["lambda_request_million"] / 1e6 + notify["seconds"] * 0.25 * p["lambda_gb_second"])
        + reads / 1e6 * p["dynamodb_read_million"]
        + notices * notify["write_units"] / 1e6 * p["dynamodb_write_million"]
        + notices * (notify["log_bytes"] + PLATFORM_LOG_BYTES) / 1e9 * p["logs_gb"]
    )


def run(ingest: Any, out: Path = MONTH_JSON) -> dict[str, Any]:
    started = time.perf_counter()
    month = simulate(ingest)
    month["seconds"] = round(time.perf_counter() - started, 1)
    month["priced"] = {name: priced(month, name) for name in month["workflows"]}
    out.write_text(json.dumps(month, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return month
