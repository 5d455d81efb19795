"""Section "metrics": distinct custom metrics (name + dimensions) a workflow publishes, for 5 and 50 tasks: they must
not grow with its task count. Against the emulator, not a stub: which durations are owed depends on what the table
already holds."""

from __future__ import annotations

from typing import Any

from harness import Options, Row, empty_emulator, ingest_capturing_emf, ingest_function, run_with_tasks


def run(options: Options) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with ingest_function() as ingest, empty_emulator():
        for tasks in (5, 50):
            events = run_with_tasks(f"wf{tasks}", tasks)
            _, documents = ingest_capturing_emf(ingest, events)
            distinct = {
                (metric["Name"], tuple(dimensions))
                for document in documents
                for directive in document["_aws"]["CloudWatchMetrics"]
                for metric in directive["Metrics"]
                for dimensions in directive["Dimensions"]
            }
            results[f"tasks_{tasks}"] = {
                "events": len(events),
                "per_workflow": sum(1 for _, dimensions in distinct if dimensions),
                "fleet": sum(1 for _, dimensions in distinct if not dimensions),
            }
    return results


def rows(metrics: dict[str, Any]) -> list[Row]:
    return [
        (
            f"custom metrics of a workflow with {tasks.removeprefix('tasks_')} tasks",
            f"{figures['per_workflow']} per workflow + {figures['fleet']} fleet-wide",
            "same for 5 and 50",
        )
        for tasks, figures in metrics.items()
    ]
