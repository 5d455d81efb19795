"""`mwaa-obs simulate` and `replay`: workflows run in the simulator, raw events sent through the local bus.

Both write to the local stack only (its emulator and simulator), never to a deployed stack.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mwaa_obs.text import counted
from mwaa_obs_tools.cli.common import (
    LOCAL_SIMULATOR,
    SIMULATOR_URL_VARIABLE,
    CliError,
    client,
    local_endpoint_option,
    positive,
    simulator_admin,
    use_local,
)

if TYPE_CHECKING:
    from mwaa_obs_tools.cli.common import Commands


def register(commands: Commands) -> None:
    simulate = commands.add_parser("simulate", help="create or update a workflow in the simulator and run it")
    simulate.add_argument("definition", type=Path, metavar="WORKFLOW.yaml")
    simulate.add_argument("--runs", type=positive, default=1, help="on-demand runs to start (default 1)")
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
    simulator_admin(args.simulator_url, "/_simulator/faults", faults)
    run_ids = [service.start_workflow_run(WorkflowArn=arn)["RunId"] for _ in range(args.runs)]
    simulator_admin(args.simulator_url, "/_simulator/advance", {"seconds": 86400, "until_idle": True})
    for run_id in run_ids:
        detail = service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]
        print(f"{definition.name}  {run_id}  {detail['RunState']}  {detail.get('ErrorMessage', '')}".rstrip())
    print(f"next: mwaa-obs runs list --workflow {definition.name} --endpoint-url {args.endpoint_url}")
    return 0


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
    """What ingest's own parser says of a sent event: None if it takes it, else (invalid or unknown, why)."""
    from mwaa_obs.events import InvalidEvent, UnknownEventType, parse_event  # noqa: PLC0415

    try:
        parse_event(event)
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
