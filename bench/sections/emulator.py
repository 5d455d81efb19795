"""Section "emulator": the RSS of this process (moto server runs in it, with the handlers: the fresh process the
runner gives each section) while 20,000 events of a fleet, 30 % of whose runs fail, go through the local stack:
PutEvents, the rule, the events queue, ingest, the notices queue, notify (one transaction per finished run)."""

from __future__ import annotations

import time
from typing import Any

from harness import PORT, Options, Row, kept_environment, put_events_entry, status_line

from mwaa_obs_tools.factories import fleet_history
from sections.load import LOAD_RUNS, LOAD_TASKS

EMULATOR_MILESTONES = (1_000, 5_000, 20_000)
TARGET_EMULATOR_GROWTH_MB = 200


def run(options: Options) -> dict[str, Any]:
    from mwaa_obs_tools import localstack  # noqa: PLC0415

    workflows = EMULATOR_MILESTONES[-1] // (LOAD_RUNS * 16) + 1  # a run of 3 tasks is 16 events
    events, _, _ = fleet_history(workflows, LOAD_RUNS, LOAD_TASKS, seed=7)
    rss: dict[str, float] = {}
    started = time.perf_counter()
    with kept_environment(), localstack.running(port=PORT) as stack:
        bus = localstack.client(stack.endpoint, "events")
        ingest_target, notify_target = stack.functions
        sent = 0
        for milestone in EMULATOR_MILESTONES:
            while sent < milestone:
                chunk = events[sent : min(milestone, sent + 100)]
                for first in range(0, len(chunk), 10):
                    bus.put_events(Entries=[put_events_entry(event) for event in chunk[first : first + 10]])
                stack.drain(ingest_target)
                stack.drain(notify_target)
                sent += len(chunk)
            rss[f"{milestone}_events_mb"] = round(status_line("VmRSS") / 1024, 1)
    return {
        "events": sent,
        "rss": rss,
        "growth_1k_to_20k_mb": round(rss[f"{EMULATOR_MILESTONES[-1]}_events_mb"] - rss["1000_events_mb"], 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def rows(emulator: dict[str, Any]) -> list[Row]:
    rss = ", ".join(f"{key.split('_')[0]}: {value} MB" for key, value in emulator["rss"].items())
    return [
        ("local stack RSS after events (emulator in-process)", rss, "reported"),
        (
            "local stack RSS growth, 1k to 20k events",
            f"{emulator['growth_1k_to_20k_mb']} MB ({emulator['seconds']} s)",
            f"< {TARGET_EMULATOR_GROWTH_MB} MB",
        ),
    ]
