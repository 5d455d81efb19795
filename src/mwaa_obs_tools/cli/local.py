"""`mwaa-obs local up`: the local stack in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import re
import signal
import threading
from typing import TYPE_CHECKING

from mwaa_obs_tools.cli.common import ENDPOINT_URL_VARIABLE, SIMULATOR_URL_VARIABLE, refuse_taken_port

if TYPE_CHECKING:
    from mwaa_obs_tools.cli.common import Commands

STDOUT_FD, STDERR_FD = 1, 2
STOPPING = b"stopping: events still queued stay in the emulator's queue (Ctrl-C again: at once)\n"


def register(commands: Commands) -> None:
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


# The email body's lines that name runs (mwaa_obs.messages.email): the lead, the others listed, a resolved one's
_LEAD = re.compile(r"^Run:\s+(\S+)$", re.MULTILINE)
_NAMED = re.compile(r"^\* (\S+) [A-Z_]+ at ", re.MULTILINE)
_INCIDENT = re.compile(r"with \d+ failed run\(s\): (.+?)(?: and \d+ more)?\.$", re.MULTILINE)


def runs_named(body: str) -> list[str]:
    """The runs an alert email names: its own run, the other failures it lists, or the runs a resolved closes."""
    named = _LEAD.findall(body)[:1] + _NAMED.findall(body)
    for incident in _INCIDENT.findall(body):
        named += [run_id for run_id in incident.split(", ") if run_id not in named]
    return named


def accounts_option(parser: argparse.ArgumentParser) -> None:
    """The local stack's --accounts (`local up`, the demo)."""
    parser.add_argument(
        "--accounts",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: central mode, with a second simulated account and region behind its forwarder stack",
    )


def _local_up(args: argparse.Namespace) -> int:
    from mwaa_obs_tools import localstack  # noqa: PLC0415 - moto and the translator load only for this command

    for port, flag in ((args.port, "--port"), (args.simulator_port, "--simulator-port")):
        refuse_taken_port(port, flag)
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
        # The reading commands go to AWS unless told otherwise: these make every later command use this stack
        print("in another terminal, for every mwaa-obs command to use this local stack:")
        print(f"  export {ENDPOINT_URL_VARIABLE}={stack.endpoint} {SIMULATOR_URL_VARIABLE}={stack.simulator.url}")
        print("ready (Ctrl-C stops)", flush=True)
        emailed = slacked = 0
        while not stop.wait(1.0):
            handled = stack.pump(should_stop=stop.is_set)
            if handled:
                print(f"ingested {handled} events", flush=True)
            alerts = stack.alerts()
            for message in alerts[emailed:]:
                named = runs_named(message.get("Message", ""))
                print(f"email   {message['Subject']}" + (f"  (runs: {', '.join(named)})" if named else ""), flush=True)
            emailed = len(alerts)
            delivered = stack.slack.delivered() if stack.slack else []
            for payload in delivered[slacked:]:
                print(f"slack   {payload['text']}", flush=True)
            slacked = len(delivered)
    print("stopped")
    return 0
