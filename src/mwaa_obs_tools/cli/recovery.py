"""`mwaa-obs dlq redrive` and `backfill`: what the pipeline missed, put back into it.

Dead-lettered messages go back to their queue once the cause is fixed; runs from before the stack existed are
imported from the MWAA Serverless API.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from mwaa_obs.events import Place
from mwaa_obs.text import counted
from mwaa_obs_tools.cli.common import (
    CliError,
    api_endpoint_option,
    client,
    date,
    positive,
    stack_options,
    stack_outputs,
    stack_policies,
    use_api,
)

if TYPE_CHECKING:
    from mwaa_obs_tools.cli.common import Commands

# Dead-letter queue -> (its output, the queue its messages go back to).
DEAD_LETTER_QUEUES = {
    "events": ("EventsDeadLetterQueueUrl", "EventsQueueUrl"),
    "notices": ("NoticesDeadLetterQueueUrl", "NoticesQueueUrl"),
}


def register(commands: Commands) -> None:
    dlq = commands.add_parser("dlq", help="the dead-letter queues").add_subparsers(required=True, metavar="ACTION")
    redrive = dlq.add_parser("redrive", help="move dead-lettered messages back to their queue, to be processed again")
    redrive.add_argument("queue", choices=sorted(DEAD_LETTER_QUEUES), help="which dead-letter queue")
    redrive.add_argument("--limit", type=positive, help="move at most this many messages")
    stack_options(redrive)
    redrive.set_defaults(command=_dlq_redrive)

    backfill = commands.add_parser(
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
    backfill.add_argument("--since", type=date, help="only runs created from this date or time on (ISO-8601, UTC)")
    backfill.add_argument(
        "--metrics", action="store_true", help="also publish the runs' metrics at their original times (2 weeks back)"
    )
    api_endpoint_option(backfill)
    stack_options(backfill)
    backfill.set_defaults(command=_backfill)


def _place(text: str) -> Place:
    account, _, region = text.partition("/")
    if not (account.isdigit() and len(account) == 12 and region):
        raise argparse.ArgumentTypeError(f"{text!r} is not ACCOUNT/REGION (a 12-digit account id, then a region)")
    return Place(account, region)


def _dlq_redrive(args: argparse.Namespace) -> int:
    """Each message is sent to the source queue before it is deleted from the DLQ: a failure in between leaves a
    copy in both, never in neither (ingest and notify are idempotent, so a copy is harmless)."""
    outputs = stack_outputs(args)
    dead_output, source_output = DEAD_LETTER_QUEUES[args.queue]
    if dead_output not in outputs:
        raise CliError(f"stack {args.stack_name} has no {dead_output} output")
    sqs = client("sqs", args.endpoint_url)
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


def _backfill(args: argparse.Namespace) -> int:
    from mwaa_obs.aws import dynamodb_client  # noqa: PLC0415
    from mwaa_obs.config import ReaderRole  # noqa: PLC0415
    from mwaa_obs.mwaa_api import MwaaApi, ReaderClients, api_client  # noqa: PLC0415
    from mwaa_obs.store.samples import EventSamples  # noqa: PLC0415
    from mwaa_obs.store.transitions import Transitions  # noqa: PLC0415
    from mwaa_obs_tools import backfill  # noqa: PLC0415

    outputs = stack_outputs(args)
    use_api(args)
    retention = timedelta(days=int(outputs.get("HistoryRetentionDays", "90")))
    sts = client("sts", args.endpoint_url)
    home = Place(sts.get_caller_identity()["Account"], sts.meta.region_name)
    places = args.place or [home]
    reader = ReaderRole(outputs.get("ReaderRoleName", ""), outputs.get("ReaderExternalId", ""))
    dynamodb = dynamodb_client(args.endpoint_url)
    store = Transitions(dynamodb, outputs["StateTableName"], retention, home=home)
    now = datetime.now(UTC)
    report = backfill.BackfillReport()
    publish = (
        backfill.metric_publisher(client("cloudwatch", args.endpoint_url), outputs["MetricNamespace"], now, report)
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
        samples=EventSamples(dynamodb, outputs["StateTableName"]),
        policies=stack_policies(args),
    )
    if args.workflow and not report.workflows:
        raise CliError(f"no workflow named {args.workflow} in the MWAA Serverless API")
    print(
        f"imported {counted(report.runs, 'run')} and {counted(report.tasks, 'task instance')} of "
        f"{counted(report.workflows, 'workflow')} ({counted(report.events, 'transition')}, {report.new} new); "
        f"{counted(report.metrics_published, 'metric value')} published, "
        f"{report.metrics_too_old} too old for CloudWatch"
        + (
            f"; {counted(report.unknown_states, 'state')} this version does not know, not imported "
            "(mwaa-obs events samples)"
            if report.unknown_states
            else ""
        )
    )
    return 0
