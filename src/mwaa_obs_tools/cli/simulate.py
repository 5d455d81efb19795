"""`mwaa-obs simulate` and `replay`: workflows run in the simulator, raw events sent through the local bus.

Both write to the local stack only (its emulator and simulator), never to a deployed stack.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from mwaa_obs.text import counted
from mwaa_obs_tools.cli.common import (
    LOCAL_SIMULATOR,
    SIMULATOR_URL_VARIABLE,
    CliError,
    client,
    local_endpoint_option,
    positive,
    signal_ignored,
    simulator_admin,
    use_local,
)

if TYPE_CHECKING:
    from mwaa_obs_tools.cli.common import Commands


MAX_RUNS: Final = 100  # each run is simulated, with all its events through the local stack: about 0.3 s each to start
ADVANCE_STEP: Final = {"seconds": 3600, "until_idle": True}  # simulated time per step: progress between steps
MAX_STEPS: Final = 24  # a simulated day at most, as before
TERMINAL: Final = frozenset({"SUCCESS", "FAILED", "TIMEOUT", "STOPPED"})


def register(commands: Commands) -> None:
    simulate = commands.add_parser("simulate", help="create or update a workflow in the simulator and run it")
    simulate.add_argument("definition", type=Path, metavar="WORKFLOW.yaml")
    simulate.add_argument(
        "--runs", type=run_count, default=1, help=f"on-demand runs to start (default 1, at most {MAX_RUNS})"
    )
    simulate.add_argument("--fail", action="append", default=[], metavar="TASK", help="every attempt fails")
    simulate.add_argument("--fail-first", action="append", default=[], metavar="TASK=N", help="first N attempts fail")
    simulate.add_argument("--timeout", action="append", default=[], metavar="TASK", help="every attempt times out")
    simulate.add_argument("--duration", action="append", default=[], metavar="TASK=SECONDS", help="mean duration")
    simulate.add_argument(
        "--simulator-url",
        default=os.environ.get(SIMULATOR_URL_VARIABLE, LOCAL_SIMULATOR),
        help=f"the local MWAA Serverless simulator (default ${SIMULATOR_URL_VARIABLE}, else {LOCAL_SIMULATOR})",
    )
    local_endpoint_option(simulate)
    simulate.set_defaults(command=_simulate)

    replay = commands.add_parser("replay", help="send raw EventBridge events (JSON lines) through the local bus")
    replay.add_argument("events", type=Path, metavar="EVENTS.jsonl")
    local_endpoint_option(replay)
    replay.set_defaults(command=_replay)


def run_count(text: str) -> int:
    count = positive(text)
    if count > MAX_RUNS:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_RUNS} runs at once, not {count} (each is simulated with all its events through the local "
            "stack; run simulate again for more)"
        )
    return count


class Progress:
    """On stderr: one line redrawn on a terminal, else a line each tenth of the way."""

    def __init__(self, total: int, out: TextIO | None = None) -> None:
        self._total = total
        self._out = out or sys.stderr  # resolved now: a test's capture may be gone by a later call
        self._live = self._out.isatty()
        self._told: set[tuple[str, int]] = set()

    def update(self, doing: str, done: int) -> None:
        if self._total == 1:  # one run: its outcome follows at once
            return
        if self._live:
            self._out.write(f"\r{doing} {done} of {self._total} runs")
            if done == self._total:
                self._out.write("\n")
        else:
            tenth = done * 10 // self._total
            if (doing, tenth) in self._told or not (done == self._total or tenth > 0):
                return
            self._told.add((doing, tenth))
            self._out.write(f"{doing} {done} of {self._total} runs\n")
        self._out.flush()


class Runs:
    """The runs one `simulate` starts, watched to their end, or stopped."""

    def __init__(self, service: Any, arn: str, count: int, progress: Progress) -> None:
        self._service, self._arn, self._count, self._progress = service, arn, count, progress
        self.ids: list[str] = []
        self.since: datetime | None = None  # the simulator's clock before the first start

    def start_all(self) -> None:
        for number in range(1, self._count + 1):
            self.ids.append(self._service.start_workflow_run(WorkflowArn=self._arn)["RunId"])
            self._progress.update("started", number)

    def finish(self, advance: Callable[[], Any]) -> dict[str, dict[str, Any]]:
        """Move the simulated clock an hour at a time until every run ended (a day at most); their summaries."""
        states = self._states()
        for _ in range(MAX_STEPS):
            if all(states[run_id]["Status"] in TERMINAL for run_id in self.ids):
                break
            advance()
            states = self._states()
            self._progress.update("ended", sum(states[run_id]["Status"] in TERMINAL for run_id in self.ids))
        return {run_id: self._detail(run_id, states[run_id]) for run_id in self.ids}

    def stop_unfinished(self) -> int:
        """Stop every run this command started that has not ended, those whose start was cut short by the
        interruption too (on demand, created since it began); how many."""
        mine = set(self.ids)
        stopped = 0
        for run_id, summary in self._states().items():
            created = summary.get("CreatedOn")
            started_here = run_id in mine or (
                summary.get("RunType") == "ON_DEMAND" and self.since is not None and created and created >= self.since
            )
            if started_here and summary["Status"] not in TERMINAL:
                self._service.stop_workflow_run(WorkflowArn=self._arn, RunId=run_id)
                stopped += 1
        return stopped

    def _states(self) -> dict[str, dict[str, Any]]:
        """Every run of the workflow: its status, type and creation time (ListWorkflowRuns, all pages)."""
        found: dict[str, dict[str, Any]] = {}
        for page in self._service.get_paginator("list_workflow_runs").paginate(WorkflowArn=self._arn):
            for run in page["WorkflowRuns"]:
                found[run["RunId"]] = {**run["RunDetailSummary"], "RunType": run.get("RunType")}
        return found

    def _detail(self, run_id: str, summary: dict[str, Any]) -> dict[str, Any]:
        if summary["Status"] in {"FAILED", "TIMEOUT"}:  # its error is in the run's detail only
            detail: dict[str, Any] = self._service.get_workflow_run(WorkflowArn=self._arn, RunId=run_id)["RunDetail"]
            return {"Status": detail["RunState"], "ErrorMessage": detail.get("ErrorMessage", "")}
        return summary


def _task_numbers[Number: (int, float)](
    items: list[str], flag: str, tasks: set[str], number: Callable[[str], Number]
) -> dict[str, Number]:
    """TASK=N options: each task one of the workflow's, each N a number of 0 or more."""
    pairs = {}
    for item in items:
        task, _, text = item.partition("=")
        try:
            value = number(text)
        except ValueError:
            raise CliError(f"{flag} takes TASK=N with N a number, not {item!r}") from None
        if value < 0:
            raise CliError(f"{flag} takes TASK=N with N 0 or more, not {item!r}")
        pairs[_task(task, flag, tasks)] = value
    return pairs


def _task(task: str, flag: str, tasks: set[str]) -> str:
    if task not in tasks:
        raise CliError(f"{flag}: the workflow has no task {task!r} (its tasks: {', '.join(sorted(tasks))})")
    return task


def _simulate(args: argparse.Namespace) -> int:
    from mwaa_obs_tools.localstack import DEFINITIONS_BUCKET, WORKFLOW_ROLE_ARN  # noqa: PLC0415
    from mwaa_obs_tools.simulator.definition import DefinitionError, parse_definition  # noqa: PLC0415

    try:
        text = args.definition.read_text(encoding="utf-8")
        definition = parse_definition(text, str(args.definition))
    except OSError as error:
        raise CliError(f"cannot read {args.definition}: {error.strerror}") from None
    except DefinitionError as error:
        raise CliError(str(error)) from None
    if definition.ignored:  # accepted, as the service accepts them, but a user expecting their effect should know
        print(f"mwaa-obs: note: MWAA Serverless ignores {', '.join(definition.ignored)}", file=sys.stderr)
    tasks = {task.task_id for task in definition.tasks}
    faults = {
        "workflow": definition.name,
        "fail": [_task(task, "--fail", tasks) for task in args.fail],
        "fail_first": _task_numbers(args.fail_first, "--fail-first", tasks, int),
        "time_out": [_task(task, "--timeout", tasks) for task in args.timeout],
        "durations": _task_numbers(args.duration, "--duration", tasks, float),
    }
    use_local(args.endpoint_url)
    s3 = client("s3", args.endpoint_url)
    location = {"Bucket": DEFINITIONS_BUCKET, "ObjectKey": f"workflows/{args.definition.name}"}
    s3.put_object(Body=text.encode(), **{"Bucket": location["Bucket"], "Key": location["ObjectKey"]})
    service = client("mwaa-serverless", args.simulator_url)
    existing = {w["Name"]: w["WorkflowArn"] for w in service.list_workflows()["Workflows"]}
    if definition.name in existing:
        arn = existing[definition.name]
        service.update_workflow(WorkflowArn=arn, DefinitionS3Location=location, RoleArn=WORKFLOW_ROLE_ARN)
    else:
        arn = service.create_workflow(Name=definition.name, DefinitionS3Location=location, RoleArn=WORKFLOW_ROLE_ARN)[
            "WorkflowArn"
        ]
    runs = Runs(service, arn, args.runs, Progress(args.runs))
    try:
        _start(runs, args.simulator_url, faults)
        states = runs.finish(lambda: simulator_admin(args.simulator_url, "/_simulator/advance", ADVANCE_STEP))
    except KeyboardInterrupt:
        with signal_ignored(signal.SIGINT):  # a second Ctrl-C must not leave runs going, nor the faults set
            stopped = runs.stop_unfinished()
            simulator_admin(args.simulator_url, "/_simulator/faults", {"workflow": definition.name})
        raise CliError(
            f"interrupted: stopped {counted(stopped, 'run')} still going of the {len(runs.ids)} it started"
        ) from None
    for run_id in runs.ids:
        detail = states[run_id]
        print(f"{definition.name}  {run_id}  {detail['Status']}  {detail.get('ErrorMessage', '')}".rstrip())
    print(f"next: mwaa-obs runs list --workflow {definition.name} --endpoint-url {args.endpoint_url}")
    return 0


def _start(runs: Runs, simulator_url: str, faults: dict[str, Any]) -> None:
    """The runs started with the faults asked for; the faults cleared once they have started, so that they do not
    reach the workflow's later runs (its next scheduled one)."""
    runs.since = datetime.fromisoformat(simulator_admin(simulator_url, "/_simulator/faults", faults)["now"])
    try:
        runs.start_all()
    finally:
        simulator_admin(simulator_url, "/_simulator/faults", {"workflow": faults["workflow"]})


def _replay(args: argparse.Namespace) -> int:
    """Every good line is sent, whatever the lines around it; each bad one is reported with its number and reason,
    and the exit code is 1 if any line was bad or refused."""
    use_local(args.endpoint_url)
    events = client("events", args.endpoint_url)
    try:
        lines = args.events.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {args.events}: {getattr(error, 'strerror', None) or error}") from None
    entries: list[tuple[int, dict[str, Any]]] = []
    refusals: dict[str, list[str]] = {}
    bad = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event, entry = _bus_entry(line)
        except ValueError as error:
            bad += 1
            print(f"{args.events}:{number}: not sent: {error}", file=sys.stderr)
            continue
        entries.append((number, entry))
        refusal = _ingest_refusal(event)
        if refusal:
            refusals.setdefault(refusal[0], []).append(f"line {number}: {refusal[1]}")
    refused = 0
    for start in range(0, len(entries), 10):
        batch = entries[start : start + 10]
        answer = events.put_events(Entries=[entry for _, entry in batch])
        for (number, _), result in zip(batch, answer.get("Entries", []), strict=False):
            if "ErrorCode" in result:
                refused += 1
                print(f"{args.events}:{number}: refused by the bus: {result.get('ErrorMessage')}", file=sys.stderr)
    sent = len(entries) - refused
    print(f"sent {counted(sent, 'event')} through the local bus ({bad} not events, {refused} refused)")
    for kind, reasons in refusals.items():
        print(f"ingest will refuse {counted(len(reasons), kind + ' event')}, first: {reasons[0]}")
    return 1 if bad or refused else 0


def _ingest_refusal(event: dict[str, Any]) -> tuple[str, str] | None:
    """What ingest's own parser says of a sent event: None if it takes it, else (invalid or unknown, why). The bus
    gives the event the local stack's account and region, whatever the line said."""
    from mwaa_obs.events import InvalidEvent, UnknownEventType, parse_event  # noqa: PLC0415
    from mwaa_obs_tools.sample_events import HOME  # noqa: PLC0415

    try:
        parse_event({**event, "account": HOME.account, "region": HOME.region})
    except UnknownEventType as error:
        return "unknown", str(error)
    except InvalidEvent as error:
        return "invalid", str(error)
    return None


def _bus_entry(line: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One JSON line of an EventBridge event and its PutEvents entry; ValueError says what is wrong with it."""
    try:
        event = json.loads(line)
    except ValueError as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(event, dict):
        raise ValueError("not a JSON object")
    missing = [key for key in ("source", "detail-type") if not isinstance(event.get(key), str) or not event[key]]
    if missing:
        raise ValueError(f"no {' or '.join(missing)}")
    detail = event.get("detail", {})
    if not isinstance(detail, dict):  # PutEvents takes a JSON object as Detail, nothing else
        raise ValueError(f"detail is a {type(detail).__name__}, not a JSON object")
    resources = event.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(arn, str) for arn in resources):
        raise ValueError("resources is not a list of ARNs")
    try:
        at = datetime.fromisoformat(event["time"]) if "time" in event else datetime.now(UTC)
    except (TypeError, ValueError):
        raise ValueError(f"time {event['time']!r} is not ISO-8601") from None
    return event, {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(detail),
        "Resources": resources,
        "Time": at,
        "EventBusName": "default",
    }
