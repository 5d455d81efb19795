"""Section "month": the simulated month of bench/month.py through an ingest function loaded for it (its clients
answered by billing.MemoryTable), written to bench/month.json; docs/COST.md rendered from that file."""

from __future__ import annotations

from collections import Counter
from typing import Any

import month as simulated
from harness import Options, Row, ingest_function

from mwaa_obs_tools import cost_doc, emulator


def run(options: Options) -> dict[str, Any]:
    with ingest_function() as ingest:
        figures = simulated.run(ingest)
    cost_doc.main([])  # docs/COST.md from bench/month.json
    return figures


def rows(month: dict[str, Any]) -> list[Row]:
    fixed = sum(cost_doc.fixed_lines(month, emulator.load_template()).values())
    target = sum(month["priced"][cost_doc.TARGET_KIND].values())
    lines: list[Row] = []
    for name, priced in sorted(month["priced"].items()):
        ran = cost_doc.run_cost(month, name)
        share = f"; {100 * sum(priced.values()) / ran:.2f} % of its run cost" if ran else ""
        goal = cost_doc.TARGETS.get(name)
        lines.append(
            (
                f"month: {name} workflow, $ a month ({month['workflows'][name]['metric_hours']} metric-hours{share})",
                f"{sum(priced.values()):.4f}",
                f"<= {goal}" if goal is not None else "reported",
            )
        )
    bill: Counter[str] = Counter()
    for priced in month["priced"].values():
        bill.update(priced)
    lines += [(f"month: the fleet's bill, {line}, $", f"{dollars:.4f}", "reported") for line, dollars in bill.items()]
    lines += [
        ("month: fixed per stack, $ a month", f"{fixed:.2f}", "reported"),
        (
            f"month: {cost_doc.TARGET_KIND} at 1,000 workflows, $ per workflow-month (alarms in)",
            f"{target + fixed / 1000:.3f}",
            f"<= {cost_doc.TARGET_DOLLARS}",
        ),
    ]
    return lines
