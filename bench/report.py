"""docs/BENCH.md: the bench's table as the last runs measured it, rendered from bench/results.json by bench/run.py
after every run (a run of some sections keeps the others' figures, each section with the day it was measured)."""

from __future__ import annotations

import os
from typing import Any

Row = tuple[str, str, str]


def render(results: dict[str, Any], rows: list[Row]) -> str:
    dates = results.get("section_dates", {})
    seconds = results.get("section_seconds", {})
    sections = ", ".join(
        f"{name} {seconds[name]:g} s ({dates.get(name, 'undated')})" for name in seconds if name in results
    )
    failed = results.get("failed", [])
    lines = [
        "# Bench results (generated)",
        "",
        f"Rendered by `make bench` (bench/run.py) from bench/results.json: Python {results.get('python', '?')}, "
        f"{os.cpu_count()} cores. Do not edit: run `make bench` (every section) or `make bench ONLY=section` again. "
        "What the figures mean, how they are measured and their history: [PERFORMANCE.md](PERFORMANCE.md); the "
        "month's bill: [COST.md](COST.md).",
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        *(f"| {_cell(name)} | {_cell(value)} | {_cell(target)} |" for name, value, target in rows),
        "",
        f"Sections (seconds, day measured): {sections}.",
    ]
    if failed:
        lines += ["", f"**Failed in the last run of their section: {', '.join(failed)}** (their figures are absent)."]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
