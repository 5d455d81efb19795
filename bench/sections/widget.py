"""Section "widget": the runs widget's grid and Gantt over 25 runs of 50 tasks (one retried, one timed out, one
upstream-failed each), stored through the ingest handler: reads per render, the CPU of building and rendering the page
(scaled to the function's share of a vCPU), the page's size, and the wall time against the emulator
(emulator-bound)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import (
    FUNCTIONS,
    Options,
    Row,
    cpu_seconds,
    empty_emulator,
    ingest_capturing_emf,
    ingest_function,
    run_with_tasks,
)

from mwaa_obs.aws import dynamodb_client
from mwaa_obs.store.runs import Runs
from mwaa_obs_tools import emulator

WIDGET_RUNS, WIDGET_TASKS, WIDGET_RENDERS = 25, 50, 20
LAMBDA_FULL_VCPU_MB = 1769  # Lambda: "at 1,769 MB, a function has the equivalent of one vCPU" (configuration-memory)
WIDGET_MEMORY_MB = int(emulator.load_template()["Resources"]["WidgetFunction"]["Properties"]["MemorySize"])
TARGET_WIDGET_MS = 1000


def run(options: Options) -> dict[str, Any]:
    from mwaa_obs.store.workflows import Workflows  # noqa: PLC0415
    from mwaa_obs.view_html import Viewer, render_gantt, render_grid  # noqa: PLC0415
    from mwaa_obs.views import gantt, grid  # noqa: PLC0415
    from mwaa_obs.widget import ViewReader, render  # noqa: PLC0415
    from mwaa_obs.widget_request import ViewRequest  # noqa: PLC0415
    from mwaa_obs_tools.ui import LocalNavigation  # noqa: PLC0415

    start = datetime(2026, 11, 24, tzinfo=UTC)
    events = [
        e
        for r in range(WIDGET_RUNS)
        for e in run_with_tasks("wide", WIDGET_TASKS, f"r{r:02d}", start + timedelta(hours=r))
    ]
    viewer, nav = Viewer("us-east-1", "mwaa-obs"), LocalNavigation({})
    end = start + timedelta(hours=WIDGET_RUNS + 1)
    with ingest_function() as ingest, empty_emulator() as endpoint:
        failures, _ = ingest_capturing_emf(ingest, events)
        dynamodb = dynamodb_client(endpoint)
        runs, workflows = Runs(dynamodb, FUNCTIONS.table_name), Workflows(dynamodb, FUNCTIONS.table_name)
        figures: dict[str, Any] = {"events_stored": len(events), "failed_records": failures}
        for view in ("grid", "gantt"):
            request = ViewRequest.of({"view": view, "workflow": "wide", "runs": WIDGET_RUNS}, start, end, "light")
            reader = ViewReader(runs, workflows)
            started = time.perf_counter()
            page = render(request, reader, nav, viewer, end)
            wall = time.perf_counter() - started
            raw = _raw_partitions(dynamodb, runs.between("wide-BENCHBENCH", start, end, WIDGET_RUNS))

            def build(view: str = view, raw: list[list[dict[str, Any]]] = raw) -> None:
                """What the function does with the items read: parse them, build the view, write the page."""
                views = [_run_view_of(items) for items in (raw if view == "grid" else raw[:1])]
                if view == "grid":
                    render_grid("wide", grid(views), nav, viewer)
                else:
                    render_gantt(gantt(views[0], end), viewer)

            cpu = cpu_seconds(build, WIDGET_RENDERS)  # the median render
            scaled = cpu * LAMBDA_FULL_VCPU_MB / WIDGET_MEMORY_MB
            figures[view] = {
                "reads": reader.reads,
                "page_kb": round(len(page.encode()) / 1024, 1),
                "cpu_ms_here": round(cpu * 1000, 1),
                f"cpu_ms_at_{WIDGET_MEMORY_MB}_mb": round(scaled * 1000, 1),
                "wall_ms_against_emulator": round(wall * 1000, 1),
            }
    return figures | {"runs": WIDGET_RUNS, "tasks": WIDGET_TASKS, "target_ms": TARGET_WIDGET_MS}


def _raw_partitions(dynamodb: Any, found: list[Any]) -> list[list[dict[str, Any]]]:
    """Each run's partition as the widget's Query returns it: raw items, run and task attempts."""
    return [
        dynamodb.query(
            TableName=FUNCTIONS.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": run.pk}},
        )["Items"]
        for run in found
    ]


def _run_view_of(items: list[dict[str, Any]]) -> Any:
    from mwaa_obs.store.schema import RunItem, item_from_raw  # noqa: PLC0415
    from mwaa_obs.views import run_view  # noqa: PLC0415

    parsed = [item_from_raw(item) for item in items]
    (run,) = [item for item in parsed if isinstance(item, RunItem)]
    return run_view(run, [item for item in parsed if not isinstance(item, RunItem)])  # type: ignore[misc]


def rows(widget: dict[str, Any]) -> list[Row]:
    return [
        (
            f"runs widget {view}, {widget['runs']} runs x {widget['tasks']} tasks: reads; CPU ms at "
            f"{WIDGET_MEMORY_MB} MB",
            f"{widget[view]['reads']} reads; {widget[view][f'cpu_ms_at_{WIDGET_MEMORY_MB}_mb']} ms "
            f"({widget[view]['page_kb']} KB page; {widget[view]['wall_ms_against_emulator']} ms vs emulator)",
            f"CPU + reads < {widget['target_ms']} ms",
        )
        for view in ("grid", "gantt")
    ]
