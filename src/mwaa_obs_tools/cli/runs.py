"""`mwaa-obs runs list` and `runs show`: the stored runs and their tasks, as tables or JSON."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mwaa_obs.failures import one_per_attempt, task_name
from mwaa_obs.states import RunState
from mwaa_obs_tools.cli import run_actions
from mwaa_obs_tools.cli.common import CliError, positive, print_json, print_table, stack_options, table_reader

if TYPE_CHECKING:
    from mwaa_obs_tools.cli.common import Commands, Reader

PARALLEL_READS = 8  # failed runs whose tasks are read at once


def register(commands: Commands) -> None:
    runs = commands.add_parser("runs", help="stored runs: list, show, re-run, stop").add_subparsers(
        required=True, metavar="ACTION"
    )
    listing = runs.add_parser("list", help="recent runs, newest first")
    listing.add_argument("--workflow", help="workflow name")
    listing.add_argument("--status", type=_run_state, help=f"run state: {', '.join(RunState)}")
    listing.add_argument("--limit", type=positive, default=50, help="at most this many runs (default 50)")
    listing.add_argument(
        "--days",
        type=positive,
        default=7,
        help="with --status FAILED or TIMEOUT and no --workflow: how many UTC days of failures (default 7)",
    )
    show = runs.add_parser("show", help="one run with its tasks")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--workflow", help="workflow name (needed only if several workflows share the run id)")
    for parser in (listing, show):
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        stack_options(parser)
    listing.set_defaults(command=_runs_list)
    show.set_defaults(command=_runs_show)
    run_actions.register(runs)


def _run_state(text: str) -> str:
    if text.upper() not in RunState.__members__:
        raise argparse.ArgumentTypeError(f"{text!r} is not a run state ({', '.join(RunState)})")
    return text.upper()


def _workflow_ids(reader: Reader, name: str | None) -> list[str]:
    workflows = reader.workflows.all()
    if name is None:
        return [workflow.workflow_id for workflow in workflows]
    ids = [workflow.workflow_id for workflow in workflows if workflow.workflow_name == name]
    if not ids:
        raise CliError(f"no workflow named {name} has been seen")
    return ids


def _run_json(run: Any) -> dict[str, Any]:
    return {
        "workflow_name": run.workflow_name,
        "workflow_arn": run.workflow_arn,
        "run_id": run.run_id,
        "run_type": run.run_type,
        "workflow_version": run.workflow_version,
        "status": run.status,
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "duration_seconds": _seconds(run.started_at, run.ended_at),
        "queued_at": _iso(run.queued_at),
        "error_message": run.error_message,
        "triggered_by": run.triggered_by,  # from CloudTrail: who started it on demand, who stopped it
        "stopped_by": run.stopped_by,
    }


def _runs_list(args: argparse.Namespace) -> int:
    from mwaa_obs.states import FAILED_RUN_STATES  # noqa: PLC0415

    reader = table_reader(args)
    status = args.status
    if status in FAILED_RUN_STATES and args.workflow is None:
        # Across all workflows, from the failures index: every failure of the last days, however busy the workflow.
        runs = [run for run in reader.runs.recent_failures(days=args.days) if run.status == status]
        runs.sort(key=lambda run: run.gsi2sk or "", reverse=True)
    else:
        workflow_ids = _workflow_ids(reader, args.workflow)
        runs = [run for workflow_id in workflow_ids for run in reader.runs.recent(workflow_id, args.limit)]
        runs = [run for run in runs if status is None or run.status == status]
        runs.sort(key=lambda run: run.gsi1sk or "", reverse=True)
    runs = runs[: args.limit]
    failed = _failed_tasks(reader, runs)
    rows = [_run_json(run) | {"failed_tasks": failed.get((run.workflow_id, run.run_id), [])} for run in runs]
    if args.json:
        print_json(rows)
        return 0
    # The time the list is in order of: failures by when they ended (the failures index), the rest by start
    when = "ended_at" if status in FAILED_RUN_STATES and args.workflow is None else "started_at"
    print_table(
        ["WORKFLOW", "RUN ID", "STATUS", when.removesuffix("_at").upper(), "DURATION", "ERROR"],
        [
            [
                r["workflow_name"],
                r["run_id"],
                r["status"],
                r[when] or "-",
                _duration(r),
                _error_cell(r),
            ]
            for r in rows
        ],
    )
    return 0


def _failed_tasks(reader: Reader, runs: list[Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The failed tasks of each failed run (one Query of its partition each, PARALLEL_READS at a time), the first
    to fail first, each with its attempt and the first line of its error."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    from mwaa_obs.failures import error_line, failed_tasks, task_name  # noqa: PLC0415
    from mwaa_obs.states import FAILED_RUN_STATES  # noqa: PLC0415

    def of(run: Any) -> tuple[tuple[str, str], list[dict[str, Any]]]:
        _, attempts = reader.runs.load(run.workflow_id, run.run_id, consistent=False)
        found = [
            {"task_id": task_name(attempt), "attempt": attempt.attempt, "status": attempt.status}
            | {"error": error_line(attempt.error_message) or None}
            for attempt in failed_tasks(attempts)
        ]
        return (run.workflow_id, run.run_id), found

    failed = [run for run in runs if run.status in FAILED_RUN_STATES]
    with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
        return dict(pool.map(of, failed))


def _error_cell(row: dict[str, Any]) -> str:
    """The failed task and its error's first line (`load: KeyError 'id'`), else the run's own error."""
    from mwaa_obs.failures import failed_at  # noqa: PLC0415

    tasks = row["failed_tasks"]
    if not tasks:
        return str(row["error_message"] or "")
    beyond = f" (and {len(tasks) - 1} more)" if len(tasks) > 1 else ""
    return failed_at(tasks[0]["task_id"], tasks[0]["error"]) + beyond


def find_run(reader: Reader, run_id: str, workflow: str | None) -> tuple[Any, list[Any]]:
    """The stored run (None if only its tasks are stored) and its task attempts; refused when no workflow has it, or
    several do and `workflow` does not say which."""
    found = []
    for workflow_id in _workflow_ids(reader, workflow):
        run, attempts = reader.runs.load(workflow_id, run_id)
        if run is not None or attempts:
            found.append((run, attempts))
    if not found:
        raise CliError(f"no run {run_id} found")
    if len(found) > 1:
        names = sorted({_workflow_name(run, attempts) for run, attempts in found})
        raise CliError(f"run id {run_id} exists in several workflows ({', '.join(names)}): add --workflow NAME")
    return found[0]


def _runs_show(args: argparse.Namespace) -> int:
    run, attempts = find_run(table_reader(args), args.run_id, args.workflow)
    shown = _show_json(run, attempts, args.run_id)
    if args.json:
        print_json(shown)
        return 0
    version = f"  version {shown['workflow_version']}" if shown.get("workflow_version") else ""
    print(f"{shown['workflow_name']}  {shown['run_id']}  {shown['status']}  ({_duration(shown)}){version}")
    if shown.get("error_message"):
        print(f"error: {shown['error_message']}")
    for field, words in (("triggered_by", "triggered by"), ("stopped_by", "stopped by")):
        if shown.get(field):
            print(f"{words} {shown[field]}")
    print_table(
        ["TASK", "STATUS", "ATTEMPT", "STARTED", "DURATION", "ERROR"],
        [
            [
                t["task_id"],
                t["status"],
                str(t["attempt"]),
                t["started_at"] or "-",
                _duration(t),
                t["error_message"] or "",
            ]
            for t in shown["tasks"]
        ],
    )
    earlier = [
        [t["task_id"], str(a["attempt"]), a["status"] or "-", a["error_message"] or ""]
        for t in shown["tasks"]
        for a in t["attempts"][:-1]
    ]
    if earlier:
        print("\nearlier attempts:")
        print_table(["TASK", "ATTEMPT", "STATUS", "ERROR"], earlier)
    return 0


def _show_json(run: Any, attempts: list[Any], run_id: str) -> dict[str, Any]:
    by_task: dict[str, list[Any]] = {}
    for attempt in sorted(one_per_attempt(attempts), key=lambda item: item.attempt):
        by_task.setdefault(task_name(attempt), []).append(attempt)
    tasks = []
    for history in sorted(by_task.values(), key=lambda h: (h[0].started_at is None, h[0].started_at or 0)):
        latest = history[-1]
        tasks.append(
            {
                "task_id": latest.task_id,
                "task_instance_id": latest.task_instance_id,
                "status": latest.status,
                "attempt": latest.attempt,
                "operator": latest.operator,
                "started_at": _iso(latest.started_at),
                "ended_at": _iso(latest.ended_at),
                "duration_seconds": _seconds(latest.started_at, latest.ended_at),
                "error_message": latest.error_message,
                "log_stream": latest.log_stream,
                "attempts": [
                    {"attempt": a.attempt, "status": a.status, "error_message": a.error_message} for a in history
                ],
            }
        )
    shown = (
        _run_json(run) if run else {"run_id": run_id, "status": None, "workflow_name": _workflow_name(run, attempts)}
    )
    return shown | {"tasks": tasks}


def _workflow_name(run: Any, attempts: list[Any]) -> str:
    return str(run.workflow_name if run is not None else attempts[0].workflow_name)


def _iso(at: datetime | None) -> str | None:
    from mwaa_obs.times import event_time  # noqa: PLC0415

    return event_time(at) if at else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _duration(row: dict[str, Any]) -> str:
    seconds = row.get("duration_seconds")
    return "-" if seconds is None else str(timedelta(seconds=int(seconds)))
