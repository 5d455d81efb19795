"""Benchmarks of the pipeline (`make bench`): runs the sections of bench/sections/, prints a table and writes
bench/results.json (each section's figures, the seconds each took and the day, any section that failed) and
docs/BENCH.md (the table, rendered from it).

    python bench/run.py                         # every section, in order (make bench)
    python bench/run.py --only cpu,metrics      # some of them (--only may be repeated; make bench ONLY=cpu,metrics)

Each section runs in a process of its own, started fresh from this script: no section sees another's patches, its
emulator state, its loaded handlers or its memory, so that its figures are the same run alone or after the others
(bench/harness.py sets the process up). That costs about 2 s of start-up a section, under a minute of a full run.
A section that fails is reported and the others still run; the exit status is then 1.

- calls: AWS API calls per event for a simulated day of the example workflows, the day replayed (duplicates), the
  notices it owed through the notify handler, a freshness check; events/s against moto server (emulator-bound).
- pipeline: the deployed pipeline in the local stack for the example day (as `make demo`), every AWS and MWAA
  Serverless API call counted per function; the scheduled functions' calls while nothing happens (idle); a backfill
  of that day into an empty table.
- duplicates: 100 failed runs, a third of their Failed events delivered twice, five notifiers in processes of their
  own and a Slack of mixed moods (slow, erroring, trickling, past the deadline): messages beyond one per run, per
  channel, and runs told none (DUPLICATES_ROOT=<checkout> measures another checkout's code).
- load: 10,000 events of 125 workflows, shuffled, a fifth delivered twice, through the ingest handler against the
  emulator: stored states and metric counts must be exact (its time is bounded by the emulator).
- cpu: ingest CPU time per event at batch sizes 1, 10 and 100 with DynamoDB stubbed in-process, against a floor
  measured in the same run: json.loads of each SQS body plus one stubbed UpdateItem through a boto3 client.
- metrics: distinct custom metrics (name + dimensions) a workflow publishes, for 5 and 50 tasks.
- memory: peak RSS of the ingest handler over 10,000 events (AWS stubbed).
- latency: in the local stack, PutEvents of a failed run to the run stored and to its Slack message (p50/p95).
- simulator: the MWAA Serverless simulator's per-call latency through botocore.
- discovery: the reconciler's pass with and without discovery over 10, 100 and 1,000 workflows: the calls
  discovery adds per pass and per day at its default hourly cadence.
- widget: the runs widget's reads, CPU and page size per render of 25 runs of 50 tasks.
- matrix: the fleet matrix over 1,000 workflows: DynamoDB requests, read units and page size per render.
- month: 30 simulated days of a fleet with every billed unit counted and priced: bench/month.json, docs/COST.md.
- insights: the series each shared Metrics Insights alarm matches at 10,000 workflows, from the month (limit 500).
- scale: the freshness and discovery passes at 100, 1,000 and 10,000 workflows, modeled in Lambda.
- provision: the provision function under CloudWatch's request rates (dedicated alarms, onboarding), time modelled.
- reads: the reads bounded at 10,000 workflows (failures view, notify's history, discovery's listing).
- emulator: the local stack's RSS over 20,000 events.
- cold: the layer built as `sam build` builds it, its size (and its SDK's); import time of each function's handler
  from it in a fresh interpreter against `import boto3` plus one client.
- walltimes: `make demo` and the test suite, timed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import report
from harness import ROOT, Options, Row, offline_process, quiet
from sections import SECTIONS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only", action="append", metavar="SECTION[,SECTION...]", help=f"of: {', '.join(SECTIONS)} (default: all)"
    )
    parser.add_argument("--repeat", type=int, default=Options.repeat, help="handler invocations per CPU sample")
    parser.add_argument("--cold-samples", type=int, default=Options.cold_samples)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs/BENCH.md", help="the table rendered as Markdown")
    parser.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)  # in the section's own process
    parser.add_argument("--figures", type=Path, help=argparse.SUPPRESS)  # where that process writes its figures
    args = parser.parse_args(argv)
    options = Options(repeat=args.repeat, cold_samples=args.cold_samples)
    if args.section:
        _run_here(args.section, options, args.figures)
        return 0
    wanted = [name.strip() for value in args.only for name in value.split(",") if name] if args.only else SECTIONS
    if unknown := sorted(set(wanted) - set(SECTIONS)):
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    # --only re-measures some sections: the others keep the figures the file has (a whole run rewrites it all)
    kept = json.loads(args.out.read_text(encoding="utf-8")) if args.only and args.out.exists() else {}
    results: dict[str, Any] = kept | {"python": sys.version.split()[0]}
    seconds: dict[str, float] = dict(kept.get("section_seconds", {}))
    dates: dict[str, str] = dict(kept.get("section_dates", {}))
    failed_before = [name for name in kept.get("failed", []) if name not in wanted]
    failed: list[str] = []
    for name in (section for section in SECTIONS if section in wanted):
        started = time.perf_counter()
        figures = _run_apart(name, options)
        seconds[name] = round(time.perf_counter() - started, 1)
        dates[name] = datetime.now(UTC).date().isoformat()
        print(f"{name}: {seconds[name]} s{'' if figures is not None else ' FAILED'}", flush=True)
        if figures is None:
            failed.append(name)
            results.pop(name, None)  # no figures kept from an earlier run beside its failure
        else:
            results[name] = figures
    results["section_seconds"] = seconds
    results["section_dates"] = dates
    results.pop("failed", None)
    if failed_before + failed:
        results["failed"] = failed_before + failed
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print()
    rows = [row for name in SECTIONS if name in results for row in _section(name).rows(results[name])]
    _print_table(rows)
    args.doc.write_text(report.render(results, rows), encoding="utf-8")
    print(f"\nwritten: {args.out}, {args.doc}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _section(name: str) -> Any:
    return importlib.import_module(f"sections.{name}")


def _run_apart(name: str, options: Options) -> dict[str, Any] | None:
    """One section in a fresh process of this script: its figures, or None when it failed (its error on stderr)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as folder:
        figures = Path(folder) / "figures.json"
        settings = ["--repeat", str(options.repeat), "--cold-samples", str(options.cold_samples)]
        command = [sys.executable, str(Path(__file__)), "--section", name, "--figures", str(figures), *settings]
        if subprocess.run(command, check=False).returncode != 0 or not figures.exists():
            return None
        loaded: dict[str, Any] = json.loads(figures.read_text(encoding="utf-8"))
        return loaded


def _run_here(name: str, options: Options, figures: Path) -> None:
    offline_process()
    quiet()
    measured = _section(name).run(options)
    figures.write_text(json.dumps(measured, indent=2) + "\n", encoding="utf-8")


def _print_table(rows: list[Row]) -> None:
    width = max((len(row[0]) for row in rows), default=0)
    print(f"{'figure'.ljust(width)}  {'measured':<52}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:<52}  {target}")


if __name__ == "__main__":
    sys.exit(main())
