"""Section "memory": the peak RSS of the ingest handler over 10,000 events (AWS answered in-process), measured in the
fresh process the runner gives each section: its peak after the imports, then after the events."""

from __future__ import annotations

from typing import Any

from harness import Options, Row, ingest_function, status_line, stub_ingest_clients

from mwaa_obs_tools import sample_events
from mwaa_obs_tools.factories import sqs_event
from mwaa_obs_tools.lambda_emulation import FakeLambdaContext

MEMORY_EVENTS = 10_000
LAMBDA_MEMORY_MB = 256


def _peak_mb() -> float:
    """The process's peak RSS (VmHWM: unlike getrusage's maximum, it does not carry the parent's over exec)."""
    return status_line("VmHWM") / 1024


def run(options: Options) -> dict[str, Any]:
    with ingest_function() as ingest:
        after_import = _peak_mb()
        stub_ingest_clients(ingest)
        day = sample_events.day_of_events()
        events = (day * (1 + MEMORY_EVENTS // len(day)))[:MEMORY_EVENTS]
        context = FakeLambdaContext()
        for start in range(0, len(events), 10):
            ingest.lambda_handler(sqs_event(events[start : start + 10]), context)
    return {
        "events": MEMORY_EVENTS,
        "after_import_mb": round(after_import, 1),
        "peak_mb": round(_peak_mb(), 1),
        "lambda_memory_mb": LAMBDA_MEMORY_MB,
    }


def rows(memory: dict[str, Any]) -> list[Row]:
    growth = round(memory["peak_mb"] - memory["after_import_mb"], 1)
    return [
        (
            f"ingest RSS growth over {memory['events']:,} events",
            f"{growth} MB (peak {memory['peak_mb']} MB, bench imports in)",
            f"well inside {memory['lambda_memory_mb']} MB",
        )
    ]
