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
TARGET_DOLLARS: Final = 0.50  # per daily 5-task workflow at 1,000, the stack's fixed cost shared in
# Per workflow per month, its own usage (issue 38: monitoring well under 1 % of what a workflow costs to run)
TARGETS: Final = {"hourly_5": 0.06, "daily_5": 0.005, "idle": 0.0}
SCALE_KINDS: Final = ("daily_5", "hourly_5")
# What the account's free tier covers of each fixed part, when nothing else of the account uses it
FREE_TIER: Final = {
    "dashboards": "all, if the account has no more than one other dashboard (3 free)",
    "pipeline alarms": "10 of them (10 standard alarm metrics free)",
    "fleet-wide metrics": "10 of them (10 custom metrics free)",
    "the alarm topic's KMS key": "none",
    "the Slack webhook secret": "none (a 30-day trial)",
    "scheduled passes": "all (1 million requests and 400,000 GB-seconds free)",
    "SQS long polling of the two queues by the event source mappings": "all (1 million requests free)",
}
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


def run_cost(month: dict[str, Any], name: str) -> float:
    """What MWAA Serverless bills for the workflow's month: its billed task-hours at the list price."""
    return float(month["workflows"][name]["task_hours_billed"]) * float(month["prices"]["mwaa_serverless_task_hour"])


def render(month: dict[str, Any], template: dict[str, Any]) -> str:
    fixed = fixed_lines(month, template)
    lines = [
        "# Cost model",
        "",
        "Rendered by `make bench` (section `month`) from `bench/month.json`: **do not edit by hand**. Every usage",
        f"figure below is counted in a simulated month ({month['days']} days from {month['start'][:10]}) of a fleet"
        " run",
        "by the MWAA Serverless simulator through the real ingest handler and missed-schedule check, with AWS answered",
        "in-process (bench/month.py, bench/billing.py); the notify function is modeled per notice (below). Every AWS",
        "monitoring price is a us-east-1 list price as known on 2026-11-25, which this machine cannot check: verify",
        "them on the pricing pages.",
        "",
        *_against_run_cost(month, fixed),
        *_full_metrics(month),
        *_rules(month),
        *_by_line(month),
        *_fixed(month, fixed, template),
        *_at_scale(month, fixed),
    ]
    return "\n".join(lines)


def _against_run_cost(month: dict[str, Any], fixed: dict[str, float]) -> list[str]:
    p = month["prices"]
    lines = [
        "## Against what the workflow costs to run",
        "",
        f"MWAA Serverless bills task time: ${p['mwaa_serverless_task_hour']} per task-hour, per second with a"
        " one-minute",
        'minimum ("AWS Managed Tasks"). That rate is the **Asia Pacific (Tokyo)** one, the only one found',
        "(aws.amazon.com/managed-workflows-for-apache-airflow/pricing/, as quoted by dev.classmethod.jp on"
        " 2025-11-30);",
        "use your region's from the pricing page. A workflow's run cost below is its task attempts' billed time in the",
        "simulated month (each attempt from its start to its end, one minute at least) at that rate; its monitoring is",
        "its own usage of the stack (every line of the table further down), the stack's fixed cost apart.",
        "",
        "| workflow | runs | task-hours billed | run cost (MWAA Serverless) | monitoring | monitoring / run cost |"
        " target |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in _order(month):
        w, monitoring, ran = month["workflows"][name], _per_workflow(month, name), run_cost(month, name)
        share = f"{100 * monitoring / ran:.2f} %" if ran else "—"
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            verdict = f"≤ {_dollars(target)}: **{'met' if monitoring <= target else 'missed'}**"
        lines.append(
            f"| {_label(month, name)} | {w['runs']:,} | {w['task_hours_billed']:,} | {_dollars(ran)} | "
            f"**{_dollars(monitoring)}** | {share} | {verdict} |"
        )
    total = sum(fixed.values())
    lines += [
        "",
        "A workflow's own series carry only what is abnormal (docs/METRICS.md): a healthy hour of a workflow costs",
        "it no custom metric and no alarm metric, and its charts are drawn from the table when someone looks",
        f"(docs/VIEWS.md). The stack's fixed cost ({_dollars(total)} a month, below, most of it in the account's free",
        "tier) is shared by the fleet.",
        "",
    ]
    return lines


def _full_metrics(month: dict[str, Any]) -> list[str]:
    lines = [
        "## Opt-in: full metrics",
        "",
        'A workflow whose settings say `"metrics": "full"` (docs/METRICS.md) has its own series of every metric, its',
        "healthy runs' too, for its team's own alarms or anomaly detection; a dedicated workflow has them as well:",
        "",
        "| workflow | by exception (default) | full metrics | more a month |",
        "|---|---|---|---|",
    ]
    for name in sorted(month["workflows"]):
        full = f"{name}_full"
        if full in month["workflows"]:
            default, opted = _per_workflow(month, name), _per_workflow(month, full)
            lines.append(
                f"| {_label(month, name)} | {_dollars(default)} | {_dollars(opted)} | {_dollars(opted - default)} |"
            )
    return [*lines, ""]


def _rules(month: dict[str, Any]) -> list[str]:
    p, assumed = month["prices"], month["assumptions"]
    notify = assumed["notify"]
    return [
        "## Billing rules applied",
        "",
        f"- **Custom metrics**: ${p['metric_month']:.2f} a metric-month (first 10,000), prorated by the hour and"
        " metered only",
        "  in hours in which data is sent (the CloudWatch pricing page): a metric (name + dimensions) costs",
        f"  ${p['metric_month']:.2f} / {assumed['hours_per_month']} for each hour in which it got a datapoint. Counted"
        " from",
        "  the EMF documents the functions printed, by their timestamps.",
        f"- **Metrics Insights alarms** (the 5 shared alarms): ${p['alarm_metric_month']:.2f} per metric analysed,"
        " which we read",
        "  as each workflow's series the query returns, prorated by the hour too; a query looks at the last 3 hours,",
        "  so a series counts in each hour with a datapoint in the 3 hours before. **Our reading, not confirmed.**",
        f"- **DynamoDB on demand**: ${p['dynamodb_write_million']} per million write units, one per 1 KB of the"
        " larger of",
        "  the item before and after each write (a refused conditional write too); each index the item is in costs",
        "  the same again for its projection (ALL: the whole item), twice when its key changes. Item sizes by",
        "  DynamoDB's rules (attribute names and values). Reads (eventually consistent): half a unit per 4 KB,"
        f" ${p['dynamodb_read_million']} per million.",
        f"- **SQS**: ${p['sqs_million']:.2f} per million requests: the rule's SendMessage per event, a ReceiveMessage"
        " and a",
        "  DeleteMessageBatch per batch, a send, receive and delete per notice.",
        f"- **Lambda** (arm64): ${p['lambda_request_million']:.2f} per million requests and"
        f" ${p['lambda_gb_second']:.10f} per",
        "  GB-second; billed seconds = our measured CPU at the function's share of a vCPU (1 vCPU at"
        f" {assumed['lambda_full_vcpu_mb']} MB)",
        f"  plus {assumed['request_seconds'] * 1000:.0f} ms per AWS request (assumed: not measurable offline).",
        f"- **CloudWatch Logs**: ${p['logs_gb']:.2f} per GB ingested: the bytes the functions printed, plus"
        f" {assumed['platform_log_bytes']} bytes",
        "  of START/END/REPORT lines per invocation (assumed).",
        "- **Notify** (modeled, assumed): each notice (a run's end, a retry) is one invocation of"
        f" {notify['seconds']} s at 256 MB,"
        f"  {notify['read_units']:g} read unit (the workflow item), {notify['write_units']:g} write units (its"
        f" decision, in a transaction), {notify['log_bytes']:,} bytes",
        f"  of logs; a failed run's decision reads the history too ({notify['history_read_units']:g} read units: 100"
        " runs). A success",
        "  that closes nothing reads no history (docs/NOTIFICATIONS.md). A failure message's last log lines (up",
        "  to 3 `logs:GetLogEvents` pages per failed task shown, at most 3 tasks) are assumed free: the CloudWatch",
        "  pricing page names no per-request charge for it.",
        "- EventBridge: AWS service events on the default bus are free. MWAA Serverless API reads are not billed.",
        "",
    ]


def _by_line(month: dict[str, Any]) -> list[str]:
    lines = [
        "## Per workflow per month, by line (its own usage)",
        "",
        "| workflow | events | metrics (distinct / metric-hours) | alarm metric-hours analysed |"
        " write units (table + indexes) |"
        " metrics | alarms | DynamoDB | SQS | Lambda | Logs | notify | **total** |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in _order(month):
        w, cost = month["workflows"][name], month["priced"][name]
        lines.append(
            f"| {_label(month, name)} | {round(w['events']):,} | {w['distinct_metrics']} / {w['metric_hours']:,} | "
            f"{sum(w['alarm_analysed_metric_hours'].values()):,} | {w['write_units']:,} + {w['index_write_units']:,} | "
            f"{_dollars(cost['custom metrics'])} | {_dollars(cost['shared alarms'])} | "
            f"{_dollars(cost['DynamoDB writes'] + cost['DynamoDB reads (freshness)'])} | {_dollars(cost['SQS'])} | "
            f"{_dollars(cost['Lambda'])} | {_dollars(cost['CloudWatch Logs'])} | "
            f"{_dollars(cost['notify (modeled)'])} | "
            f"**{_dollars(sum(cost.values()))}** |"
        )
    idle = _per_workflow(month, "idle")
    return [
        *lines,
        "",
        f"A workflow that does nothing (`idle`) costs {_dollars(idle)}: no metric is written for it (ScheduleOverdue"
        " only",
        "while overdue), no alarm analyses it, and the missed-schedule check skips a workflow run on demand.",
        "",
    ]


def _fixed(month: dict[str, Any], fixed: dict[str, float], template: dict[str, Any]) -> list[str]:
    return [
        "## Fixed per stack (no workflow at all)",
        "",
        "| part | a month | in the account's free tier (when nothing else uses it) |",
        "|---|---|---|",
        *(f"| {part} | {_dollars(dollars)} | {FREE_TIER.get(_key(part), '')} |" for part, dollars in fixed.items()),
        f"| **total** | **{_dollars(sum(fixed.values()))}** | |",
        "",
        "Free tier: CloudWatch's is 10 custom metrics, 10 standard alarm metrics (not Metrics Insights alarms), 3",
        "dashboards of up to 50 metrics, 1 million API requests and 5 GB of logs a month; Lambda's 1 million requests",
        "and 400,000 GB-seconds; SQS's 1 million requests (the CloudWatch, Lambda and SQS pricing pages). A KMS",
        "customer managed key and a Secrets Manager secret have none.",
        "",
    ]


def _at_scale(month: dict[str, Any], fixed: dict[str, float]) -> list[str]:
    fixed_total = sum(fixed.values())
    lines = ["## At scale", "", "| workflows | kind | a month | per workflow |", "|---|---|---|---|"]
    for kind in SCALE_KINDS:
        each = _per_workflow(month, kind)
        for count in FLEETS:
            total = count * each + fixed_total
            lines.append(f"| {count:,} | {_label(month, kind)} | {_dollars(total)} | {_dollars(total / count)} |")
    at_1000 = _per_workflow(month, TARGET_KIND) + fixed_total / 1_000
    events = sum(w["events"] for w in month["workflows"].values())
    per_event = sum(
        cost[line]
        for cost in month["priced"].values()
        for line in ("DynamoDB writes", "SQS", "Lambda", "CloudWatch Logs")
    )
    verdict = "meets" if at_1000 <= TARGET_DOLLARS else "misses"
    return [
        *lines,
        "",
        f"At 1,000 daily 5-task workflows: **{_dollars(at_1000)} per workflow per month**, alarms and the fixed cost"
        f" included: {verdict}",
        f"the target of {_dollars(TARGET_DOLLARS)}. Per million events (DynamoDB, SQS, Lambda, logs; the month's"
        f" {round(events):,} events): {_dollars(per_event / events * 1e6)}.",
        "",
        "Not in these figures: dedicated alarms and dashboards (docs/ALARMS.md: $4.00 a month per dedicated",
        "workflow), the reconciler's and discovery's reads (one Query per workflow a pass, under $0.01 per workflow a",
        "month), storage ($0.25 per GB-month), and the runs widget (no cost while no dashboard with it is open; a",
        "render of 25 runs is about 27 Queries).",
        "",
    ]


def _order(month: dict[str, Any]) -> list[str]:
    """The kinds with a target first, then the other kinds, then the examples."""
    kinds = [name for name in month["workflows"] if name in month["kinds"] and not name.endswith("_full")]
    examples = sorted(name for name in month["workflows"] if name not in month["kinds"])
    return [*TARGETS, *sorted(set(kinds) - set(TARGETS)), *examples]


def _label(month: dict[str, Any], name: str) -> str:
    kind = month["kinds"].get(name)
    return f"`{name}`" + (f" ({kind['schedule'] or 'on demand'}, {kind['tasks']} tasks)" if kind else " (example)")


def _key(part: str) -> str:
    return part.split(" (", 1)[0]


def main(argv: list[str]) -> int:
    month = json.loads(MONTH_JSON.read_text(encoding="utf-8"))
    COST_MD.write_text(render(month, load_template()), encoding="utf-8")
    print(COST_MD)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
