"""Section "walltimes": `make demo` and the test suite as CI runs them (pytest over tests/), each timed; the ten
slowest tests."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

from harness import ROOT, Options, Row

_RED_LINES = ("FAILED ", "ERROR ")


def run(options: Options) -> dict[str, Any]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mwaa_obs_tools.demo"], cwd=ROOT, capture_output=True, check=True)
    demo = time.perf_counter() - started
    started = time.perf_counter()
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    slowest = [
        {"seconds": float(line.split("s", 1)[0]), "test": line.split()[-1]}
        for line in suite.stdout.splitlines()
        if re.match(r"^\d+\.\d+s (call|setup|teardown) ", line)
    ]
    return {
        "demo_seconds": round(demo, 1),
        "test_suite_seconds": round(seconds, 1),
        "test_suite_passed": suite.returncode == 0,
        # which ones, from the short summary (-ra): a red run under load is otherwise a mystery
        "failed_tests": [
            line.split()[1] for line in suite.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))
        ],
        "slowest_tests": slowest,
    }


def rows(walltimes: dict[str, Any]) -> list[Row]:
    failed = walltimes.get("failed_tests", [])
    red = f"RED: {', '.join(failed)}" if failed else "RED"
    suite = f"{walltimes['test_suite_seconds']} s ({'green' if walltimes['test_suite_passed'] else red})"
    return [
        ("make demo wall time", f"{walltimes['demo_seconds']} s", "< 120 s"),
        ("test suite wall time (pytest tests/)", suite, "reported"),
        *[(f"  slow test: {slow['test'][:70]}", f"{slow['seconds']} s", "") for slow in walltimes["slowest_tests"]],
    ]
