"""`mwaa-obs logs RUN_ID [TASK]`: a run's task logs as CloudWatch Logs holds them, each attempt headed; with
`--follow`, what its tasks write while it runs, until it ends.

The run and its attempts come from the stack's table (as `runs show`); each attempt's stream is the one its events
named (else the service's naming), in the log group its workflow names (GetWorkflow's LoggingConfiguration, stored
by the reconciler) or the service's default, read with GetLogEvents in the workflow's region with the caller's own
credentials. Airflow 3's JSON records are shown as Airflow's log view shows them as text; nothing is masked: the
reader may read the log anyway.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from mwaa_obs.aws import THROTTLING_CODES
from mwaa_obs_tools.cli.common import CliError, client, positive, stack_options, table_reader

if TYPE_CHECKING:
    from mwaa_obs_tools.cli.common import Commands, Reader

FOLLOW_SECONDS: Final = 2.0  # between two reads of a running run's logs
# GetLogEvents has a hard, account-wide rate quota shared with every other reader in the region; AWS's advice for a
# reader it throttles is to back off exponentially (re:Post knowledge center, "How do I determine throttling in my
# CloudWatch logs?": https://repost.aws/knowledge-center/cloudwatch-logs-throttling). A follow that is refused after
# botocore's own retries waits twice as long before its next read, up to this, and back to FOLLOW_SECONDS once a
# read goes through.
FOLLOW_MAX_SECONDS: Final = 30.0


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "logs", help="a run's task logs, each attempt headed (its failed tasks' by default); --follow while it runs"
    )
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument(
        "task", metavar="TASK", nargs="?", help="one task (default: the run's failed tasks; every task if none failed)"
    )
    parser.add_argument("--attempt", type=positive, help="only this attempt (default: every attempt)")
    parser.add_argument(
        "--follow", action="store_true", help="while the run is running, print what its tasks write, until it ends"
    )
    parser.add_argument("--workflow", help="workflow name (needed only if several workflows share the run id)")
    parser.add_argument(
        "--json", action="store_true", help="one object a line: task_id, attempt, status, timestamp, message"
    )
    stack_options(parser)
    parser.set_defaults(command=_logs)


@dataclass
class Stream:
    """One attempt's log stream, and how far it has been read."""

    task_id: str
    attempt: int
    status: str | None
    group: str
    name: str
    token: str | None = None
    missing: bool = False  # CloudWatch Logs has no such stream (yet)

    @property
    def title(self) -> str:
        return f"==> {self.task_id}, attempt {self.attempt} ({self.status or 'unknown'}) <=="


def _logs(args: argparse.Namespace) -> int:
    from mwaa_obs.events import place_of  # noqa: PLC0415
    from mwaa_obs_tools.cli.runs import find_run  # noqa: PLC0415

    reader = table_reader(args)
    run, attempts = find_run(reader, args.run_id, args.workflow)
    workflow_id = run.workflow_id if run is not None else attempts[0].workflow_id
    place = place_of(run.workflow_arn or "") if run is not None else None
    logs = client("logs", args.endpoint_url) if place is None else _regional_logs(args.endpoint_url, place.region)
    printer = Printer(json_lines=args.json)
    group = LogGroup(reader, workflow_id)
    if not args.follow:
        streams = chosen_streams(attempts, group.name, args.task, args.attempt, every_task=False)
        for stream in streams:
            printer.header(stream)
            for event in read_new(logs, stream):
                printer.event(stream, event)
            if stream.missing:
                printer.note(stream, "no log: CloudWatch Logs has not received this attempt's log (yet)")
        return 0
    try:
        follow(reader, logs, Asked(workflow_id, args.run_id, group.name, args.task, args.attempt), printer, _pause)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


def _pause(seconds: float) -> None:
    time.sleep(seconds)


def _regional_logs(endpoint_url: str | None, region: str) -> Any:
    import boto3  # noqa: PLC0415

    return boto3.session.Session().client("logs", endpoint_url=endpoint_url, region_name=region)


class LogGroup:
    """The workflow's task log group: the one it names (as stored), else the service's default."""

    def __init__(self, reader: Reader, workflow_id: str) -> None:
        from mwaa_obs.links import task_log_group  # noqa: PLC0415

        self.name = reader.workflows.log_group(workflow_id) or task_log_group(workflow_id)


def chosen_streams(
    attempts: list[Any], group: str, task: str | None, attempt: int | None, *, every_task: bool
) -> list[Stream]:
    """The attempts asked for, tasks in the order they started, each task's attempts in order: TASK's (or, without
    TASK, the failed tasks' when some failed and `every_task` is false, else every task's), only `attempt` if given.
    Attempts that never ran (no log) are left out."""
    from mwaa_obs.failures import failed_tasks, task_name  # noqa: PLC0415
    from mwaa_obs.links import stream_name, task_log_stream  # noqa: PLC0415
    from mwaa_obs.states import TASK_NEVER_RAN_STATES  # noqa: PLC0415

    names = sorted({task_name(found) for found in attempts})
    if task is not None and task not in names:
        raise CliError(f"the run has no task {task} (its tasks: {', '.join(names) or 'none stored yet'})")
    wanted = {task} if task is not None else {task_name(found) for found in failed_tasks(attempts)}
    if task is None and (every_task or not wanted):
        wanted = set(names)
    picked = [found for found in attempts if task_name(found) in wanted]
    if attempt is not None:
        picked = [found for found in picked if found.attempt == attempt]
        if not picked:
            raise CliError(f"no attempt {attempt} of {task or 'the tasks shown'} is stored")
    first_start: dict[str, datetime] = {}
    for found in attempts:
        started = found.started_at or datetime.max.replace(tzinfo=UTC)
        first_start[task_name(found)] = min(first_start.get(task_name(found), started), started)
    picked.sort(key=lambda found: (first_start[task_name(found)], task_name(found), found.attempt))
    return [
        Stream(
            task_name(found),
            found.attempt,
            found.status,
            group,
            stream_name(found.log_stream)
            if found.log_stream
            else task_log_stream(found.workflow_id, found.run_id, task_name(found), found.attempt),
        )
        for found in picked
        if found.status not in TASK_NEVER_RAN_STATES
    ]


def read_new(logs: Any, stream: Stream) -> Iterator[dict[str, Any]]:
    """The stream's events not read yet, oldest first (GetLogEvents from the head, page after page: the last page
    answers the token it was given)."""
    while True:
        request: dict[str, Any] = {"logGroupName": stream.group, "logStreamName": stream.name, "startFromHead": True}
        if stream.token is not None:
            request["nextToken"] = stream.token
        try:
            answer = logs.get_log_events(**request)
        except logs.exceptions.ResourceNotFoundException:
            stream.missing = True
            return
        stream.missing = False
        yield from answer.get("events", [])
        token = answer.get("nextForwardToken")
        if token is None or token == stream.token:
            return
        stream.token = token


@dataclass(frozen=True)
class Asked:
    """Whose logs: a run of a workflow, in its log group; one task (None: every task), one attempt (None: all)."""

    workflow_id: str
    run_id: str
    group: str
    task: str | None = None
    attempt: int | None = None


def follow(reader: Reader, logs: Any, asked: Asked, printer: Printer, pause: Callable[[float], None]) -> None:
    """Print what the run's attempts write, new attempts as they appear, until a read after the run has ended (and
    one more, for what CloudWatch Logs received late). Throttled reads are taken again after a longer pause, from
    where each stream was left: nothing is printed twice or skipped."""
    from mwaa_obs.failures import task_name  # noqa: PLC0415
    from mwaa_obs.states import TERMINAL_RUN_STATES  # noqa: PLC0415

    streams: dict[tuple[str, int], Stream] = {}
    ended_reads = 0
    wait = FOLLOW_SECONDS
    while ended_reads < 2:
        run, attempts = reader.runs.load(asked.workflow_id, asked.run_id)
        ended = run is not None and run.status in TERMINAL_RUN_STATES
        started = asked.task is None or any(task_name(found) == asked.task for found in attempts)  # else not yet
        try:
            for found in chosen_streams(attempts, asked.group, asked.task, None, every_task=True) if started else []:
                if asked.attempt is not None and found.attempt != asked.attempt:
                    continue
                stream = streams.setdefault((found.task_id, found.attempt), found)
                stream.status = found.status
                for event in read_new(logs, stream):
                    printer.event(stream, event)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in THROTTLING_CODES:
                raise
            wait = min(wait * 2, FOLLOW_MAX_SECONDS)
            printer.notice(f"CloudWatch Logs is throttling reads; next read in {wait:g} s")
        else:
            wait = FOLLOW_SECONDS
            ended_reads += ended  # a read that went through whole after the run had ended
        if ended_reads < 2:
            pause(wait)


class Printer:
    """Events as text under their attempt's header (printed again whenever another attempt's events follow, as
    `tail -f` does with several files), or as JSON lines."""

    def __init__(self, *, json_lines: bool) -> None:
        self._json = json_lines
        self._current: Stream | None = None

    def header(self, stream: Stream) -> None:
        if self._json:
            return
        if self._current is not None:
            print()
        print(stream.title)
        self._current = stream

    def event(self, stream: Stream, event: dict[str, Any]) -> None:
        from mwaa_obs.task_logs import readable  # noqa: PLC0415
        from mwaa_obs.times import event_time  # noqa: PLC0415

        at = event_time(datetime.fromtimestamp(int(event.get("timestamp", 0)) / 1000, UTC))
        message = str(event.get("message", ""))
        if self._json:
            print(
                json.dumps(
                    {"task_id": stream.task_id, "attempt": stream.attempt, "status": stream.status}
                    | {"timestamp": at, "message": message}
                ),
                flush=True,
            )
            return
        if self._current is not stream:
            self.header(stream)
        lines = readable(message) or [""]
        print(f"{at}  {lines[0]}")
        for line in lines[1:]:
            print(" " * (len(at) + 2) + line)
        sys.stdout.flush()

    def note(self, stream: Stream, text: str) -> None:
        if self._json:
            print(f"{stream.task_id}, attempt {stream.attempt}: {text}", file=sys.stderr)
            return
        print(f"({text})")

    @staticmethod
    def notice(text: str) -> None:
        """About the reading, not a stream's content: on stderr, so that --json's stdout stays JSON lines."""
        print(f"mwaa-obs: {text}", file=sys.stderr, flush=True)
