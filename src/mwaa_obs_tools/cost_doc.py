"""docs/COST.md, rendered from the simulated month `make bench` counts (bench/month.json): every figure in the page
comes from that file and the prices it records (tests/unit/test_cost_doc.py checks that the page is this render).

    python -m mwaa_obs_tools.cost_doc      # rewrite docs/COST.md from bench/month.json
"""

from __future__ import annotations

import json
import sys
from typing import Any, Final

from mwaa_obs_tools.emulator import REPO_ROOT, load_template

MONTH_JSON: Final = REPO_ROOT / "bench" / "month.json"
COST_MD: Final = REPO_ROOT / "docs" / "COST.md"
FLEETS: Final = (10, 1_000, 10_000)
TARGET_KIND: Final = "daily_5"
TARGET_DOLLARS: Final = 0.50
SCHEDULED_SECONDS: Final = 0.5  # assumed billed duration of a scheduled pass at 256 MB with a small fleet
POLLER_REQUESTS_A_MONTH: Final = 2 * 5 * 3 * 43_800  # 2 queues, 5 pollers, a 20 s long poll each, 43,800 min


def fixed_lines(month: dict[str, Any], template: dict[str, Any]) -> dict[str, float]:
    """What the stack costs a month with no workflow at all."""
    p = month["prices"]
    resources = template["Resources"].values()
    # A single-account stack's: central mode's own alarm is counted in its cost per extra account (docs/CENTRAL.md).
    alarms = sum(1 for r in resources if r["Type"] == "AWS::CloudWatch::Alarm" and "Condition" not in r)
    shared = sum(1 for r in resources if r["Type"] == "AWS::CloudWatch::Alarm" and "Metrics" in r["Properties"])
    dashboards = sum(1 for r in resources if r["Type"] == "AWS::CloudWatch::Dashboard")
    parameters = template["Parameters"]
    passes = 30 * 24 * (  # invocations a month of the scheduled functions
        4 + 60 // int(parameters["ReconcileIntervalMinutes"]["Default"])
        + 60 // int(parameters["DiscoveryIntervalMinutes"]["Default"]) + 1
    )  # fmt: skip
    lambda_dollars = passes * (p["lambda_request_million"] / 1e6 + SCHEDULED_SECONDS * 0.25 * p["lambda_gb_second"])
    return {
        f"dashboards ({dashboards}; an account's first three are free, not counted here)": dashboards
        * p["dashboard_month"],
        f"pipeline alarms ({alarms - shared}, standard)": (alarms - shared) * p["alarm_metric_month"],
        f"fleet-wide metrics (no WorkflowName; {month['fleet_distinct_metrics']} of them live"
        f" {month['fleet_metric_hours']:,} metric-hours in the month measured)": month["fleet_metric_hours"]
        / month["assumptions"]["hours_per_month"]
        * p["metric_month"],
        "the alarm topic's KMS key": p["kms_key_month"],
        "the Slack webhook secret (if set)": p["secret_month"],
        f"scheduled passes ({passes:,} invocations a month, ~{SCHEDULED_SECONDS} s each, assumed)": lambda_dollars,
        "SQS long polling of the two queues by the event source mappings (assumed 5 pollers each)": (
            POLLER_REQUESTS_A_MONTH / 1e6 * p["sqs_million"]
        ),
    }


def _dollars(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:,.4f}"


def _per_workflow(month: dict[str, Any], name: str) -> float:
    return float(sum(month["priced"][name].values()))


def render(month: dict[str, Any], template: dict[str, Any]) -> str:
    p, assumed = month["prices"], month["assumptions"]
    fixed = fixed_lines(month, template)
    fixed_total = sum(fixed.values())
    lines = [
        "# Cost model",
        "",
        "Rendered by `make bench` (section `month`) from `bench/month.json`: **do not edit by"
        " hand**. Every usage figure",
        f"below is counted in a simulated month ({month['days']} days from {month['start'][:10]}) of"
        " a fleet run by the",
        "MWAA Serverless simulator through the real ingest handler and missed-schedule check, with AWS answered",
        "in-process (bench/month.py, bench/billing.py); every price is a us-east-1 list price as known on 2026-11-25,",
        "which this machine cannot check: verify them on the pricing pages.",
        "",
        "## Billing rules applied",
        "",
        f"- **Custom metrics**: ${p['metric_month']:.2f} a metric-month (first 10,000), prorated by"
        " the hour and metered only",
        "  in hours in which data is sent (the CloudWatch pricing page): a metric (name + dimensions) costs",
        f"  ${p['metric_month']:.2f} / {assumed['hours_per_month']} for each hour in which it got a"
        " datapoint. Counted from",
        "  the EMF documents the functions printed, by their timestamps.",
        f"- **Metrics Insights alarms** (the 5 shared alarms): ${p['alarm_metric_month']:.2f} per"
        " metric analysed, which we read",
        "  as each workflow's series the query returns, prorated by the hour too; a query looks at the last 3 hours,",
        "  so a series counts in each hour with a datapoint in the 3 hours before. **Our reading, not confirmed.**",
        f"- **DynamoDB on demand**: ${p['dynamodb_write_million']} per million write units, one per 1"
        " KB of the larger of",
        "  the item before and after each write (a refused conditional write too); each index the item is in costs",
        "  the same again for its projection (ALL: the whole item), twice when its key changes. Item sizes by",
        "  DynamoDB's rules (attribute names and values). Reads (eventually consistent): half a unit per 4 KB,"
        f" ${p['dynamodb_read_million']} per million.",
        f"- **SQS**: ${p['sqs_million']:.2f} per million requests: the rule's SendMessage per event, a"
        " ReceiveMessage and a",
        "  DeleteMessageBatch per batch, a send, receive and delete per notice.",
        f"- **Lambda** (arm64): ${p['lambda_request_million']:.2f} per million requests and"
        f" ${p['lambda_gb_second']:.10f} per",
        f"  GB-second; billed seconds = our measured CPU at the function's share of a vCPU (1 vCPU at "
        f"{assumed['lambda_full_vcpu_mb']} MB)",
        f"  plus {assumed['request_seconds'] * 1000:.0f} ms per AWS request (assumed: not measurable offline).",
        f"- **CloudWatch Logs**: ${p['logs_gb']:.2f} per GB ingested: the bytes the functions printed, plus"
        f" {assumed['platform_log_bytes']} bytes",
        "  of START/END/REPORT lines per invocation (assumed).",
        "- EventBridge: AWS service events on the default bus are free. MWAA Serverless API reads are not billed.",
        "",
        "## Per workflow per month, by kind (its own usage)",
        "",
        "| workflow | events | metrics (distinct / metric-hours) | alarm metric-hours analysed |"
        " write units (table + indexes) |"
        " metrics | alarms | DynamoDB | SQS | Lambda | Logs | **total** |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in sorted(month["workflows"]):
        w, cost = month["workflows"][name], month["priced"][name]
        kind = month["kinds"].get(name)
        label = f"`{name}`" + (f" ({kind['schedule'] or 'on demand'}, {kind['tasks']} tasks)" if kind else " (example)")
        lines.append(
            f"| {label} | {round(w['events']):,} | {w['distinct_metrics']} / {w['metric_hours']:,} | "
            f"{sum(w['alarm_analysed_metric_hours'].values()):,} | {w['write_units']:,} + {w['index_write_units']:,} | "
            f"{_dollars(cost['custom metrics'])} | {_dollars(cost['shared alarms'])} | "
            f"{_dollars(cost['DynamoDB writes'] + cost['DynamoDB reads (freshness)'])} | {_dollars(cost['SQS'])} | "
            f"{_dollars(cost['Lambda'])} | {_dollars(cost['CloudWatch Logs'])} | **{_dollars(sum(cost.values()))}** |"
        )
    idle = _per_workflow(month, "idle")
    lines += [
        "",
        f"A workflow that does nothing (`idle`) costs {_dollars(idle)}: no metric is written for it"
        " (ScheduleOverdue only",
        "while overdue), no alarm analyses it, and the missed-schedule check skips a workflow run on demand.",
        "",
        "## Fixed per stack (no workflow at all)",
        "",
        "| part | a month |",
        "|---|---|",
        *(f"| {part} | {_dollars(dollars)} |" for part, dollars in fixed.items()),
        f"| **total** | **{_dollars(fixed_total)}** |",
        "",
        f"## At scale: `{TARGET_KIND}` workflows (daily, 5 tasks)",
        "",
        "| workflows | a month | per workflow |",
        "|---|---|---|",
    ]
    target = _per_workflow(month, TARGET_KIND)
    for count in FLEETS:
        total = count * target + fixed_total
        lines.append(f"| {count:,} | {_dollars(total)} | {_dollars(total / count)} |")
    at_1000 = target + fixed_total / 1_000
    events = sum(w["events"] for w in month["workflows"].values())
    per_event = sum(
        cost[line]
        for cost in month["priced"].values()
        for line in ("DynamoDB writes", "SQS", "Lambda", "CloudWatch Logs")
    )
    verdict = "meets" if at_1000 <= TARGET_DOLLARS else "misses"
    lines += [
        "",
        f"At 1,000 daily 5-task workflows: **{_dollars(at_1000)} per workflow per month**, alarms"
        f" included: {verdict} the",
        f"target of {_dollars(TARGET_DOLLARS)}. Per million events (DynamoDB, SQS, Lambda, logs; the month's"
        f" {round(events):,} events): {_dollars(per_event / events * 1e6)}.",
        "",
        "Not in these figures: dedicated alarms and dashboards (docs/ALARMS.md: $4.00 a month per dedicated",
        "workflow), notify's calls per failure notice (`make bench`, docs/PERFORMANCE.md: about 4 AWS calls",
        "each, plus 1-3 `logs:GetLogEvents` pages per failed task a message shows with its last lines, at most 3, of",
        "at most 50 events: the CloudWatch pricing page names no per-request charge, assumed free; NOTIFICATIONS.md),",
        "the reconciler's and discovery's reads (one Query per workflow a pass, under $0.01 per workflow a",
        "month), storage ($0.25 per GB-month), and the runs widget (no cost while no dashboard with it is open).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    month = json.loads(MONTH_JSON.read_text(encoding="utf-8"))
    COST_MD.write_text(render(month, load_template()), encoding="utf-8")
    print(COST_MD)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
