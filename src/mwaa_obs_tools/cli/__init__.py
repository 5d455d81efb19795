"""`mwaa-obs`: run the local stack, simulate workflows, replay events, and query runs and tasks.

The reading commands work against the local stack (`--endpoint-url`) and against a deployed stack in AWS
(`--stack-name`, with the usual credentials and region).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.exceptions

from mwaa_obs import DEFAULT_STACK_NAME
from mwaa_obs.events import Place
from mwaa_obs.states import RunState
from mwaa_obs.text import counted

if TYPE_CHECKING:  # imported by the commands that use them: the CLI starts without loading the layer's modules
    from mwaa_obs.store.runs import Runs
    from mwaa_obs.store.workflows import Workflows

LOCAL_ENDPOINT = "http://localhost:4566"
LOCAL_SIMULATOR = "http://localhost:4599"
ENDPOINT_URL_VARIABLE = "MWAA_OBS_ENDPOINT_URL"
SIMULATOR_URL_VARIABLE = "MWAA_OBS_SIMULATOR_URL"
SAMPLE_BODY_SHOWN = 300  # characters of a sampled event's body in text output (--json has it whole)
MAX_POINTS_PER_GRAPH = 1440  # a day of minutes: a render asks CloudWatch for each point of each graph
TABLE_CELL_SHOWN = 100  # characters of a table cell (an error message can be thousands)


@dataclass(frozen=True)
class Reader:
    runs: Runs
    workflows: Workflows


class CliError(Exception):
    """Reported as one line on stderr, with exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.command(args)
        sys.stdout.flush()  # a closed pipe fails here, where it is reported, not in the interpreter's last flush
        return code
    except (
        CliError,
        botocore.exceptions.BotoCoreError,
        botocore.exceptions.ClientError,
        BrokenPipeError,
        KeyboardInterrupt,
    ) as error:
        if isinstance(error, BrokenPipeError):
            # The reader went away (`| head`): stdout goes nowhere, or the interpreter's last flush fails again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"mwaa-obs: {_one_line(error)}", file=sys.stderr)
        return 2


def _one_line(error: BaseException) -> str:
    """What went wrong, in the user's terms, without a traceback."""
    match error:
        case botocore.exceptions.EndpointConnectionError():
            return f"cannot reach {error.kwargs.get('endpoint_url')} (is `mwaa-obs local up` running?)"
        case botocore.exceptions.NoCredentialsError():
            return "no AWS credentials found (configure them, or use --endpoint-url for the local stack)"
        case botocore.exceptions.NoRegionError():
            return "no AWS region configured (set AWS_REGION, or use --endpoint-url for the local stack)"
        case BrokenPipeError():
            return "output closed before the end"
        case KeyboardInterrupt():
            return "interrupted"
    return " ".join(str(error).split())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mwaa-obs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    local = commands.add_parser("local", help="the local stack").add_subparsers(required=True, metavar="ACTION")
    up = local.add_parser("up", help="run the local stack in the foreground until Ctrl-C")
    up.add_argument("--port", type=int, default=4566, help="AWS emulator port (default 4566)")
    up.add_argument("--simulator-port", type=int, default=4599, help="MWAA Serverless simulator port (default 4599)")
    up.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second (default 60)")
    up.add_argument(
        "--slack-webhook-url",
        help="send Slack messages here (e.g. your own catcher on loopback); default: an embedded catcher that prints",
    )
    accounts_option(up)
    up.set_defaults(command=_local_up)

    simulate = commands.add_parser("simulate", help="create or update a workflow in the simulator and run it")
    simulate.add_argument("definition", type=Path, metavar="WORKFLOW.yaml")
    simulate.add_argument("--runs", type=_positive, default=1, help="on-demand runs to start (default 1)")
    simulate.add_argument("--fail", action="append", default=[], metavar="TASK", help="every attempt fails")
    simulate.add_argument("--fail-first", action="append", default=[], metavar="TASK=N", help="first N attempts fail")
    simulate.add_argument("--timeout", action="append", default=[], metavar="TASK", help="every attempt times out")
    simulate.add_argument("--duration", action="append", default=[], metavar="TASK=SECONDS", help="mean duration")
    simulate.add_argument(
        "--simulator-url",
        default=os.environ.get(SIMULATOR_URL_VARIABLE, LOCAL_SIMULATOR),
        help=f"the local MWAA Serverless simulator (default ${SIMULATOR_URL_VARIABLE}, else {LOCAL_SIMULATOR})",
    )
    _local_endpoint_option(simulate)
    simulate.set_defaults(command=_simulate)

    replay = commands.add_parser("replay", help="send raw EventBridge events (JSON lines) through the local bus")
    replay.add_argument("events", type=Path, metavar="EVENTS.jsonl")
    _local_endpoint_option(replay)
    replay.set_defaults(command=_replay)

    listing, show = _runs_parsers(commands)

    dashboard = commands.add_parser("dashboard", help="CloudWatch dashboards").add_subparsers(
        required=True, metavar="ACTION"
    )
    draw = dashboard.add_parser("render", help="draw a workflow dashboard's graphs into a PNG from metric data")
    draw.add_argument("workflow", metavar="WORKFLOW")
    draw.add_argument("--out", type=Path, required=True, metavar="FILE.png")
    draw.add_argument("--hours", type=_positive_number, default=24.0, help="how far back the graphs go (default 24)")
    draw.add_argument(
        "--end",
        type=_date,
        help="when the graphs end, ISO-8601 (default now: the simulator's clock on the local stack)",
    )
    draw.add_argument("--period", type=_positive, help="seconds per point (default: each widget's own)")
    _api_endpoint_option(draw)
    draw.set_defaults(command=_dashboard_render)

    dlq = commands.add_parser("dlq", help="the dead-letter queues").add_subparsers(required=True, metavar="ACTION")
    redrive = dlq.add_parser("redrive", help="move dead-lettered messages back to their queue, to be processed again")
    redrive.add_argument("queue", choices=sorted(DEAD_LETTER_QUEUES), help="which dead-letter queue")
    redrive.add_argument("--limit", type=_positive, help="move at most this many messages")
    redrive.set_defaults(command=_dlq_redrive)

    backfill = _backfill_parser(commands)

    doctor, samples = _watcher_parsers(commands)

    ui = commands.add_parser("ui", help="the runs grid, Gantt charts and failures on a local web page, until Ctrl-C")
    ui.add_argument("--port", type=int, default=8050, help="loopback port of the page (default 8050)")
    _api_endpoint_option(ui)
    ui.set_defaults(command=_ui)

    for reader in (listing, show, draw, redrive, backfill, doctor, samples, ui):
        reader.add_argument(
            "--endpoint-url",
            default=os.environ.get(ENDPOINT_URL_VARIABLE),
            help=f"the local stack's emulator, e.g. {LOCAL_ENDPOINT} (default ${ENDPOINT_URL_VARIABLE}; "
            "unset: the deployed stack in AWS, with your credentials and region)",
        )
        reader.add_argument(
            "--stack-name", default=DEFAULT_STACK_NAME, help=f"deployed stack (default {DEFAULT_STACK_NAME})"
        )
    listing.set_defaults(command=_runs_list)
    show.set_defaults(command=_runs_show)
    return parser


def _runs_parsers(commands: Any) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    runs = commands.add_parser("runs", help="query stored runs").add_subparsers(required=True, metavar="ACTION")
    listing = runs.add_parser("list", help="recent runs, newest first")
    listing.add_argument("--workflow", help="workflow name")
    listing.add_argument("--status", type=_run_state, help=f"run state: {', '.join(RunState)}")
    listing.add_argument("--limit", type=_positive, default=50, help="at most this many runs (default 50)")
    listing.add_argument(
        "--days",
        type=_positive,
        default=7,
        help="with --status FAILED or TIMEOUT and no --workflow: how many UTC days of failures (default 7)",
    )
    show = runs.add_parser("show", help="one run with its tasks")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--workflow", help="workflow name (needed only if several workflows share the run id)")
    for reader in (listing, show):
        reader.add_argument("--json", action="store_true", help="machine-readable output")
    return listing, show


def _watcher_parsers(commands: Any) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    doctor: argparse.ArgumentParser = commands.add_parser(
        "doctor", help="check that the pipeline can see events and has seen some: one line per check, exit 1 on a fault"
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    _api_endpoint_option(doctor)
    doctor.set_defaults(command=_doctor)
    events = commands.add_parser("events", help="events the pipeline received").add_subparsers(
        required=True, metavar="ACTION"
    )
    samples: argparse.ArgumentParser = events.add_parser(
        "samples", help="the events ingest refused (invalid or of an unknown detail-type)"
    )
    samples.add_argument("--days", type=_positive, default=1, help="UTC days back, today included (default 1)")
    samples.add_argument("--json", action="store_true", help="machine-readable output")
    samples.set_defaults(command=_event_samples)
    return doctor, samples


def _place(text: str) -> Place:
    account, _, region = text.partition("/")
    if not (account.isdigit() and len(account) == 12 and region):
        raise argparse.ArgumentTypeError(f"{text!r} is not ACCOUNT/REGION (a 12-digit account id, then a region)")
    return Place(account, region)


def _backfill_parser(commands: Any) -> argparse.ArgumentParser:
    backfill: argparse.ArgumentParser = commands.add_parser(
        "backfill", help="import historic runs and tasks from the MWAA Serverless API (idempotent)"
    )
    backfill.add_argument("--workflow", help="only this workflow (name)")
    backfill.add_argument(
        "--place",
        action="append",
        default=[],
        type=_place,
        metavar="ACCOUNT/REGION",
        help="central stack: the account and region to import from, through its reader role (repeatable; "
        "default: the stack's own)",
    )
    backfill.add_argument("--since", type=_date, help="only runs created from this date or time on (ISO-8601, UTC)")
    backfill.add_argument(
        "--metrics", action="store_true", help="also publish the runs' metrics at their original times (2 weeks back)"
    )
    _api_endpoint_option(backfill)
    backfill.set_defaults(command=_backfill)
    return backfill


def accounts_option(parser: argparse.ArgumentParser) -> None:
    """The local stack's --accounts (`local up`, the demo)."""
    parser.add_argument(
        "--accounts",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: central mode, with a second simulated account and region behind its forwarder stack",
    )


def _api_endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-endpoint-url",
        default=os.environ.get(SIMULATOR_URL_VARIABLE),
        help=f"the MWAA Serverless API (default ${SIMULATOR_URL_VARIABLE}; unset: AWS's, or with --endpoint-url the "
        f"local simulator at {LOCAL_SIMULATOR})",
    )


def _local_endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get(ENDPOINT_URL_VARIABLE, LOCAL_ENDPOINT),
        help=f"the local stack's emulator (default ${ENDPOINT_URL_VARIABLE}, else {LOCAL_ENDPOINT}): this command "
        "works only on the local stack",
    )


def _run_state(text: str) -> str:
    if text.upper() not in RunState.__members__:
        raise argparse.ArgumentTypeError(f"{text!r} is not a run state ({', '.join(RunState)})")
    return text.upper()


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


# --- local up ------------------------------------------------------------------------------------------------------


STDOUT_FD, STDERR_FD = 1, 2
STOPPING = b"stopping: events still queued stay in the emulator's queue (Ctrl-C again: at once)\n"


def _local_up(args: argparse.Namespace) -> int:
    from mwaa_obs_tools import localstack  # noqa: PLC0415 - moto and the translator load only for this command

    for port, flag in ((args.port, "--port"), (args.simulator_port, "--simulator-port")):
        _refuse_taken_port(port, flag)
    stop = threading.Event()

    def on_signal(*_: object) -> None:
        if stop.is_set():  # a second Ctrl-C: at once (the servers are threads of this process and end with it)
            os.write(STDERR_FD, b"stopped at once\n")
            os._exit(2)
        stop.set()
        # os.write to the process's own stdout, not print: the handler may interrupt a print, or a handler call whose
        # output the local stack captures
        os.write(STDOUT_FD, STOPPING)

    for stopping in (signal.SIGINT, signal.SIGTERM):  # SIGINT explicitly: a background job inherits it ignored
        signal.signal(stopping, on_signal)
    with localstack.running(
        args.port, args.simulator_port, args.speed, args.slack_webhook_url, accounts=args.accounts
    ) as stack:
        print(f"AWS emulator        {stack.endpoint}")
        print(f"MWAA Serverless     {stack.simulator.url}  (simulated time x{args.speed:g})")
        # A real webhook URL is a secret: only the embedded catcher's (loopback, throwaway) is shown.
        slack = f"{stack.slack.url()}  (embedded catcher)" if stack.slack else "your webhook (--slack-webhook-url)"
        print(f"Slack webhook       {slack}")
        print(f"stack {localstack.STACK_NAME}: table {stack.outputs['StateTableName']}, "
              f"queue {stack.outputs['EventsQueueUrl'].rsplit('/', 1)[1]}")  # fmt: skip
        for engine in stack.other_engines:
            print(f"central mode        account {engine.account} in {engine.region}: same simulator, sign for its "
                  "account (an assumed role there) and region")  # fmt: skip
        print("ready (Ctrl-C stops)", flush=True)
        emailed = slacked = 0
        while not stop.wait(1.0):
            handled = stack.pump(should_stop=stop.is_set)
            if handled:
                print(f"ingested {handled} events", flush=True)
            alerts = stack.alerts()
            for message in alerts[emailed:]:
                print(f"email   {message['Subject']}", flush=True)
            emailed = len(alerts)
            delivered = stack.slack.delivered() if stack.slack else []
            for payload in delivered[slacked:]:
                print(f"slack   {payload['text']}", flush=True)
            slacked = len(delivered)
    print("stopped")
    return 0


def _refuse_taken_port(port: int, flag: str) -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise CliError(f"port {port} is taken ({error.strerror}): free it or choose another with {flag}") from None


# --- simulate and replay -------------------------------------------------------------------------------------------


def _client(service: str, endpoint_url: str | None) -> Any:
    return boto3.session.Session().client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]


def _use_local(endpoint_url: str) -> None:
    """The local emulator takes any credentials; never let a real profile's reach it, nor need one."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    os.environ["AWS_ACCESS_KEY_ID"] = "local"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "local"  # noqa: S105 - the emulator's dummy, not a secret
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


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
    _use_local(args.endpoint_url)
    s3 = _client("s3", args.endpoint_url)
    location = {"Bucket": DEFINITIONS_BUCKET, "ObjectKey": f"workflows/{args.definition.name}"}
    s3.put_object(Body=text.encode(), **{"Bucket": location["Bucket"], "Key": location["ObjectKey"]})
    service = _client("mwaa-serverless", args.simulator_url)
    existing = {w["Name"]: w["WorkflowArn"] for w in service.list_workflows()["Workflows"]}
    if definition.name in existing:
        arn = existing[definition.name]
        service.update_workflow(WorkflowArn=arn, DefinitionS3Location=location, RoleArn=WORKFLOW_ROLE_ARN)
    else:
        arn = service.create_workflow(Name=definition.name, DefinitionS3Location=location, RoleArn=WORKFLOW_ROLE_ARN)[
            "WorkflowArn"
        ]
    _admin(args.simulator_url, "/_simulator/faults", faults)
    run_ids = [service.start_workflow_run(WorkflowArn=arn)["RunId"] for _ in range(args.runs)]
    _admin(args.simulator_url, "/_simulator/advance", {"seconds": 86400, "until_idle": True})
    for run_id in run_ids:
        detail = service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]
        print(f"{definition.name}  {run_id}  {detail['RunState']}  {detail.get('ErrorMessage', '')}".rstrip())
    print(f"next: mwaa-obs runs list --workflow {definition.name} --endpoint-url {args.endpoint_url}")
    return 0


def _admin(simulator_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    request = urllib.request.Request(  # noqa: S310 - the local simulator
        simulator_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            answer: dict[str, Any] = json.load(response)
            return answer
    except urllib.error.HTTPError as error:
        raise CliError(f"simulator refused {path}: {json.load(error).get('message')}") from None
    except urllib.error.URLError:
        raise CliError(f"cannot reach the simulator at {simulator_url} (is `mwaa-obs local up` running?)") from None


def _replay(args: argparse.Namespace) -> int:
    """Every good line is sent, whatever the lines around it; each bad one is reported with its number and reason,
    and the exit code is 1 if any line was bad or refused."""
    _use_local(args.endpoint_url)
    events = _client("events", args.endpoint_url)
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


# --- dlq redrive ---------------------------------------------------------------------------------------------------

# Dead-letter queue -> (its output, the queue its messages go back to).
DEAD_LETTER_QUEUES = {
    "events": ("EventsDeadLetterQueueUrl", "EventsQueueUrl"),
    "notices": ("NoticesDeadLetterQueueUrl", "NoticesQueueUrl"),
}


def _dlq_redrive(args: argparse.Namespace) -> int:
    """Each message is sent to the source queue before it is deleted from the DLQ: a failure in between leaves a
    copy in both, never in neither (ingest and notify are idempotent, so a copy is harmless)."""
    outputs = _stack_outputs(args)
    dead_output, source_output = DEAD_LETTER_QUEUES[args.queue]
    if dead_output not in outputs:
        raise CliError(f"stack {args.stack_name} has no {dead_output} output")
    sqs = _client("sqs", args.endpoint_url)
    dead_url, source_url = outputs[dead_output], outputs[source_output]
    moved = 0
    while args.limit is None or moved < args.limit:
        wanted = 10 if args.limit is None else min(10, args.limit - moved)
        messages = sqs.receive_message(QueueUrl=dead_url, MaxNumberOfMessages=wanted, VisibilityTimeout=60)
        batch = messages.get("Messages", [])
        if not batch:
            break
        for message in batch:
            sqs.send_message(QueueUrl=source_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dead_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    print(f"moved {counted(moved, 'message')} from {dead_url.rsplit('/', 1)[1]} to {source_url.rsplit('/', 1)[1]}")
    return 0


# --- backfill ------------------------------------------------------------------------------------------------------


def _date(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 date or time (2026-12-01, 2026-12-01T06:00)"
        ) from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _backfill(args: argparse.Namespace) -> int:
    from mwaa_obs.aws import dynamodb_client  # noqa: PLC0415
    from mwaa_obs.config import ReaderRole  # noqa: PLC0415
    from mwaa_obs.mwaa_api import MwaaApi, ReaderClients, api_client  # noqa: PLC0415
    from mwaa_obs.store.transitions import Transitions  # noqa: PLC0415
    from mwaa_obs_tools import backfill  # noqa: PLC0415

    outputs = _stack_outputs(args)
    _use_api(args)
    retention = timedelta(days=int(outputs.get("HistoryRetentionDays", "90")))
    sts = _client("sts", args.endpoint_url)
    home = Place(sts.get_caller_identity()["Account"], sts.meta.region_name)
    places = args.place or [home]
    reader = ReaderRole(outputs.get("ReaderRoleName", ""), outputs.get("ReaderExternalId", ""))
    store = Transitions(dynamodb_client(args.endpoint_url), outputs["StateTableName"], retention, home=home)
    now = datetime.now(UTC)
    report = backfill.BackfillReport()
    publish = (
        backfill.metric_publisher(_client("cloudwatch", args.endpoint_url), outputs["MetricNamespace"], now, report)
        if args.metrics
        else None
    )
    backfill.backfill(
        MwaaApi(api_client(), ReaderClients(home, reader, sts, time.time)),
        store,
        workflow=args.workflow,
        since=args.since,
        publish=publish,
        progress=backfill.Progress(),
        now=now,
        report=report,
        places=places,
    )
    if args.workflow and not report.workflows:
        raise CliError(f"no workflow named {args.workflow} in the MWAA Serverless API")
    print(
        f"imported {counted(report.runs, 'run')} and {counted(report.tasks, 'task instance')} of "
        f"{counted(report.workflows, 'workflow')} ({counted(report.events, 'transition')}, {report.new} new); "
        f"{counted(report.metrics_published, 'metric value')} published, "
        f"{report.metrics_too_old} too old for CloudWatch"
    )
    return 0


def _use_api(args: argparse.Namespace) -> str | None:
    """Point the MWAA Serverless client at the simulator for the local stack (or where asked); its URL, if any."""
    api_url: str | None = args.api_endpoint_url or (LOCAL_SIMULATOR if args.endpoint_url else None)
    if api_url:
        os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"] = api_url
    return api_url


# --- doctor and event samples --------------------------------------------------------------------------------------


def _doctor(args: argparse.Namespace) -> int:
    from mwaa_obs.aws import dynamodb_client  # noqa: PLC0415
    from mwaa_obs.mwaa_api import MwaaApi, api_client  # noqa: PLC0415
    from mwaa_obs_tools import doctor  # noqa: PLC0415

    outputs = _stack_outputs(args)
    api_url = _use_api(args)
    clients = doctor.Clients(
        events=_client("events", args.endpoint_url),
        sqs=_client("sqs", args.endpoint_url),
        lambda_=_client("lambda", args.endpoint_url),
        ssm=_client("ssm", args.endpoint_url),
        secrets=_client("secretsmanager", args.endpoint_url),
        cloudwatch=_client("cloudwatch", args.endpoint_url),
        dynamodb=dynamodb_client(args.endpoint_url),
        api=MwaaApi(api_client(max_attempts=2)),
    )
    now = _stack_now(args, api_url)
    checks = doctor.Doctor(outputs, clients, now).checks()
    print(doctor.report(checks, args.json))
    return doctor.exit_code(checks)


def _stack_now(args: argparse.Namespace, api_url: str | None) -> datetime:
    """Now for the stack read: the local stack lives on the simulator's clock, which runs ahead of the wall clock."""
    if args.endpoint_url and api_url:
        try:
            return datetime.fromisoformat(_admin(api_url, "/_simulator/clock", {})["now"]).astimezone(UTC)
        except CliError:
            pass  # no simulator answering: the wall clock
    return datetime.now(UTC)


def _event_samples(args: argparse.Namespace) -> int:
    from mwaa_obs.aws import dynamodb_client  # noqa: PLC0415
    from mwaa_obs.store.samples import EventSamples  # noqa: PLC0415
    from mwaa_obs.times import event_time  # noqa: PLC0415

    table_name = _stack_outputs(args)["StateTableName"]
    found = EventSamples(dynamodb_client(args.endpoint_url), table_name).recent(days=args.days)
    rows = [
        {
            "kind": item.sample_kind,
            "detail_type": item.detail_type,
            "received_at": event_time(record.received_at),
            "reason": record.reason,
            "body": record.body,
        }
        for item in found
        for record in item.samples or []
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no refused event sampled in the last {args.days} UTC day(s)")
    for row in rows:
        print(f"{row['received_at']}  {row['kind']}  {row['detail_type']}: {row['reason']}")
        print(f"  {row['body'][:SAMPLE_BODY_SHOWN]}{'...' if len(row['body']) > SAMPLE_BODY_SHOWN else ''}")
    return 0


# --- dashboard render ----------------------------------------------------------------------------------------------


def _dashboard_render(args: argparse.Namespace) -> int:
    try:
        from mwaa_obs_tools import render  # noqa: PLC0415 - matplotlib loads only for this command
    except ImportError:
        raise CliError("dashboard render needs matplotlib: pip install 'mwaa-obs[render]'") from None
    if not args.out.parent.is_dir():
        raise CliError(f"--out: folder {args.out.parent} does not exist")
    if args.period and args.hours * 3600 / args.period > MAX_POINTS_PER_GRAPH:
        shortest = math.ceil(args.hours * 3600 / MAX_POINTS_PER_GRAPH)
        raise CliError(f"--period {args.period} over {args.hours:g} hours is more than {MAX_POINTS_PER_GRAPH} points "
                       f"per graph: use --period {shortest} or more, or fewer --hours")  # fmt: skip
    outputs = _stack_outputs(args)
    if "WorkflowDashboardName" not in outputs:
        raise CliError(f"stack {args.stack_name} has no workflow dashboard (deployed before dashboards existed?)")
    api_url = _use_api(args)
    now = _stack_now(args, api_url)
    end = (args.end or now).astimezone(UTC)
    start = end - timedelta(hours=args.hours)
    cloudwatch = _client("cloudwatch", args.endpoint_url)
    name = outputs["WorkflowDashboardName"]
    drawn = render.render(cloudwatch, name, args.workflow, args.out, start=start, end=end, period=args.period)
    if drawn.empty:
        print(f"mwaa-obs: no data from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC in: "
              f"{'; '.join(drawn.empty)}", file=sys.stderr)  # fmt: skip
    print(drawn.path)
    return 0


# --- ui ------------------------------------------------------------------------------------------------------------


def _ui(args: argparse.Namespace) -> int:
    from mwaa_obs_tools.ui import Site, UiServer  # noqa: PLC0415

    _refuse_taken_port(args.port, "--port")
    reader = _reader(args)
    api_url = _use_api(args)
    region = boto3.session.Session().region_name or "us-east-1"
    site = Site(reader.runs, reader.workflows, region, args.stack_name, now=lambda: _stack_now(args, api_url))
    server = UiServer(site, args.port).start()
    print(f"runs grid, Gantt charts and failures: {server.url}  (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    finally:
        server.stop()
    return 0


# --- runs ----------------------------------------------------------------------------------------------------------


def _reader(args: argparse.Namespace) -> Reader:
    """The stack's table (from the local emulator or a deployed stack's outputs), to read runs and workflows."""
    from mwaa_obs.aws import dynamodb_client  # noqa: PLC0415
    from mwaa_obs.store.runs import Runs  # noqa: PLC0415
    from mwaa_obs.store.workflows import Workflows  # noqa: PLC0415

    table_name = _stack_outputs(args)["StateTableName"]
    dynamodb = dynamodb_client(args.endpoint_url)
    return Reader(Runs(dynamodb, table_name), Workflows(dynamodb, table_name))


def _stack_outputs(args: argparse.Namespace) -> dict[str, str]:
    if args.endpoint_url:
        _use_local(args.endpoint_url)
    cloudformation = boto3.client("cloudformation", endpoint_url=args.endpoint_url)
    try:
        stack = cloudformation.describe_stacks(StackName=args.stack_name)["Stacks"][0]
    except botocore.exceptions.ClientError as error:
        if "does not exist" in str(error):
            raise CliError(f"stack {args.stack_name} not found") from None
        raise
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    if "StateTableName" not in outputs:
        raise CliError(f"stack {args.stack_name} has no StateTableName output: is it an mwaa-obs stack?")
    return outputs


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
    }


def _runs_list(args: argparse.Namespace) -> int:
    from mwaa_obs.states import FAILED_RUN_STATES  # noqa: PLC0415

    reader = _reader(args)
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
    rows = [_run_json(run) for run in runs[: args.limit]]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    _table(
        ["WORKFLOW", "RUN ID", "STATUS", "STARTED", "DURATION", "ERROR"],
        [
            [
                r["workflow_name"],
                r["run_id"],
                r["status"],
                r["started_at"] or "-",
                _duration(r),
                r["error_message"] or "",
            ]
            for r in rows
        ],
    )
    return 0


def _runs_show(args: argparse.Namespace) -> int:
    reader = _reader(args)
    found = []
    for workflow_id in _workflow_ids(reader, args.workflow):
        run, attempts = reader.runs.load(workflow_id, args.run_id)
        if run is not None or attempts:
            found.append((workflow_id, run, attempts))
    if not found:
        raise CliError(f"no run {args.run_id} found")
    if len(found) > 1:
        names = sorted({_workflow_name(run, attempts) for _, run, attempts in found})
        raise CliError(f"run id {args.run_id} exists in several workflows ({', '.join(names)}): add --workflow NAME")
    _, run, attempts = found[0]
    shown = _show_json(run, attempts, args.run_id)
    if args.json:
        print(json.dumps(shown, indent=2))
        return 0
    version = f"  version {shown['workflow_version']}" if shown.get("workflow_version") else ""
    print(f"{shown['workflow_name']}  {shown['run_id']}  {shown['status']}  ({_duration(shown)}){version}")
    if shown.get("error_message"):
        print(f"error: {shown['error_message']}")
    _table(
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
        _table(["TASK", "ATTEMPT", "STATUS", "ERROR"], earlier)
    return 0


def _show_json(run: Any, attempts: list[Any], run_id: str) -> dict[str, Any]:
    by_task: dict[str, list[Any]] = {}
    for attempt in sorted(attempts, key=lambda item: item.attempt):
        by_task.setdefault(attempt.task_key, []).append(attempt)
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


def _table(header: list[str], rows: list[list[str]]) -> None:
    """Aligned columns, each cell on one line and cut to TABLE_CELL_SHOWN characters (--json has them whole)."""
    rows = [[_cell(cell) for cell in row] for row in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())
    if not rows:
        print("(none)")


def _cell(value: str) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= TABLE_CELL_SHOWN else text[: TABLE_CELL_SHOWN - 1] + "…"


if __name__ == "__main__":
    sys.exit(main())
