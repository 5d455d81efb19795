"""`mwaa-obs doctor` and `events samples`: is the pipeline seeing events, and which did it refuse."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mwaa_obs_tools.cli.common import (
    api_endpoint_option,
    client,
    positive,
    print_json,
    stack_now,
    stack_options,
    stack_outputs,
    use_api,
)

if TYPE_CHECKING:
    from mwaa_obs_tools.cli.common import Commands

SAMPLE_BODY_SHOWN = 300  # characters of a sampled event's body in text output (--json has it whole)


def register(commands: Commands) -> None:
    doctor = commands.add_parser(
        "doctor", help="check that the pipeline can see events and has seen some: one line per check, exit 1 on a fault"
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    api_endpoint_option(doctor)
    stack_options(doctor)
    doctor.set_defaults(command=_doctor)
    events = commands.add_parser("events", help="events the pipeline received").add_subparsers(
        required=True, metavar="ACTION"
    )
    samples = events.add_parser("samples", help="the events ingest refused (invalid or of an unknown detail-type)")
    samples.add_argument("--days", type=positive, default=1, help="UTC days back, today included (default 1)")
    samples.add_argument("--json", action="store_true", help="machine-readable output")
    api_endpoint_option(samples)  # on the local stack, days are the simulator's, as ingest stamped the samples
    stack_options(samples)
    samples.set_defaults(command=_event_samples)


def _doctor(args: argparse.Namespace) -> int:
    from mwaa_obs.aws import dynamodb_client  # noqa: PLC0415
    from mwaa_obs.mwaa_api import MwaaApi, api_client  # noqa: PLC0415
    from mwaa_obs_tools import doctor  # noqa: PLC0415

    outputs = stack_outputs(args)
    api_url = use_api(args)
    clients = doctor.Clients(
        events=client("events", args.endpoint_url),
        sqs=client("sqs", args.endpoint_url),
        lambda_=client("lambda", args.endpoint_url),
        ssm=client("ssm", args.endpoint_url),
        secrets=client("secretsmanager", args.endpoint_url),
        cloudwatch=client("cloudwatch", args.endpoint_url),
        dynamodb=dynamodb_client(args.endpoint_url),
        api=MwaaApi(api_client(max_attempts=2)),
    )
    now = stack_now(args, api_url)
    checks = doctor.Doctor(outputs, clients, now).checks()
    print(doctor.report(checks, args.json))
    return doctor.exit_code(checks)


def _event_samples(args: argparse.Namespace) -> int:
    from mwaa_obs.aws import dynamodb_client  # noqa: PLC0415
    from mwaa_obs.store.samples import EventSamples  # noqa: PLC0415
    from mwaa_obs.times import event_time  # noqa: PLC0415

    table_name = stack_outputs(args)["StateTableName"]
    now = stack_now(args, use_api(args))
    found = EventSamples(dynamodb_client(args.endpoint_url), table_name, clock=lambda: now).recent(days=args.days)
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
        print_json(rows)
        return 0
    if not rows:
        print(f"no refused event sampled in the last {args.days} UTC day(s)")
    for row in rows:
        print(f"{row['received_at']}  {row['kind']}  {row['detail_type']}: {row['reason']}")
        print(f"  {row['body'][:SAMPLE_BODY_SHOWN]}{'...' if len(row['body']) > SAMPLE_BODY_SHOWN else ''}")
    return 0
