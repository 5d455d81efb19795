"""What every command group of `mwaa-obs` shares: where it connects, how it fails, how it prints.

The CLI is built on argparse, and stays on it: it is in the standard library, so `pip install mwaa-obs` pulls in no
runtime dependency for it (click and rich come only with sam, in the dev lock); a usage error ends in one
`mwaa-obs: error: ...` line with exit code 2, the contract the commands' own errors follow (`run`); and the tests are
written against both.

A command group is a module of this package with `register(commands)`: it adds its parsers to the `mwaa-obs`
subcommands and sets each one's `command` to a function of the parsed arguments that returns the exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import boto3
import botocore.exceptions

from mwaa_obs import DEFAULT_STACK_NAME
from mwaa_obs_tools.cli.terminal import terminal_safe_output

if TYPE_CHECKING:  # imported by the commands that use them: the CLI starts without loading the layer's modules
    from mwaa_obs.metrics import Policies
    from mwaa_obs.store.runs import Runs
    from mwaa_obs.store.workflows import Workflows

    type Commands = argparse._SubParsersAction[argparse.ArgumentParser]

type Command = Callable[[argparse.Namespace], int]

LOCAL_ENDPOINT = "http://localhost:4566"
LOCAL_SIMULATOR = "http://localhost:4599"
ENDPOINT_URL_VARIABLE = "MWAA_OBS_ENDPOINT_URL"
SIMULATOR_URL_VARIABLE = "MWAA_OBS_SIMULATOR_URL"
TABLE_CELL_SHOWN = 100  # characters of a table cell (an error message can be thousands)


# --- errors: one line on stderr, exit code 2 -----------------------------------------------------------------------


class CliError(Exception):
    """Reported as one line on stderr, with exit code 2."""


def run(command: Command, args: argparse.Namespace) -> int:
    """The command's exit code; what the user can fix or could not help (a CliError, AWS or the network failing, a
    closed pipe, Ctrl-C) as one line on stderr and exit code 2, never a traceback. What it prints is terminal-safe."""
    with terminal_safe_output():
        try:
            code = command(args)
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


@contextmanager
def signal_ignored(number: int) -> Iterator[None]:
    """The signal ignored for the block (cleaning up after a Ctrl-C must not be cut short by another)."""
    previous = signal.signal(number, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(number, previous)


def _one_line(error: BaseException) -> str:
    """What went wrong, in the user's terms, without a traceback."""
    match error:
        case botocore.exceptions.EndpointConnectionError():
            url = str(error.kwargs.get("endpoint_url"))
            hint = "is `mwaa-obs local up` running?" if _is_loopback(url) else "check the network, a proxy, the region"
            return f"cannot reach {url} ({hint})"
        case botocore.exceptions.NoCredentialsError():
            return "no AWS credentials found (configure them, or use --endpoint-url for the local stack)"
        case botocore.exceptions.NoRegionError():
            return (
                "no AWS region configured (set AWS_REGION, or region in your AWS profile; or use --endpoint-url for "
                "the local stack)"
            )
        case BrokenPipeError():
            return "output closed before the end"
        case KeyboardInterrupt():
            return "interrupted"
    return " ".join(str(error).split())


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit  # noqa: PLC0415

    return urlsplit(url).hostname in {"localhost", "127.0.0.1", "::1"}


def region_from_environment() -> None:
    """AWS_REGION, which the AWS SDKs and CLI v2 read before AWS_DEFAULT_REGION ("Region", AWS SDKs and Tools
    Reference Guide: docs.aws.amazon.com/sdkref/latest/guide/feature-region.html), is honoured: botocore reads only
    AWS_DEFAULT_REGION and the profile, so a user who set AWS_REGION was told no region was configured."""
    if os.environ.get("AWS_REGION"):
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"]


# --- the parser: argparse, with suggestions for a mistyped command or option ---------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors suggest the nearest command or option (difflib)."""

    def error(self, message: str) -> NoReturn:
        super().error(message + suggestion(message, self))


def suggestion(message: str, parser: argparse.ArgumentParser) -> str:
    """ " (did you mean ...?)" for argparse's `invalid choice: 'X'` and `unrecognized arguments: --X`; else ""."""
    import difflib  # noqa: PLC0415
    import re  # noqa: PLC0415

    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        choices = [name.strip(" '") for name in choice[2].split(",")]
        close = difflib.get_close_matches(choice[1], choices, n=1, cutoff=0.5)
    else:
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        options = [option for action in parser._actions for option in action.option_strings]
        close = difflib.get_close_matches(unknown[1], options, n=1, cutoff=0.6) if unknown else []
    return f" (did you mean {close[0]}?)" if close else ""


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments; an option the command does not take is refused by the command's own parser, with its usage
    and a suggestion (argparse leaves it to the top-level parser, whose usage names no option)."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        leaf: argparse.ArgumentParser = getattr(args, "parser", parser)
        leaf.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


# --- endpoint options and argument types ---------------------------------------------------------------------------


def stack_options(parser: argparse.ArgumentParser) -> None:
    """The stack a reading command reads: the local stack's emulator, or a deployed stack in AWS."""
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get(ENDPOINT_URL_VARIABLE),
        help=f"the local stack's emulator, e.g. {LOCAL_ENDPOINT} (default ${ENDPOINT_URL_VARIABLE}; "
        "unset: the deployed stack in AWS, with your credentials and region)",
    )
    parser.add_argument(
        "--stack-name", default=DEFAULT_STACK_NAME, help=f"deployed stack (default {DEFAULT_STACK_NAME})"
    )


def api_endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-endpoint-url",
        default=os.environ.get(SIMULATOR_URL_VARIABLE),
        help=f"the MWAA Serverless API (default ${SIMULATOR_URL_VARIABLE}; unset: AWS's, or with --endpoint-url the "
        f"local simulator at {LOCAL_SIMULATOR})",
    )


def local_endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get(ENDPOINT_URL_VARIABLE, LOCAL_ENDPOINT),
        help=f"the local stack's emulator (default ${ENDPOINT_URL_VARIABLE}, else {LOCAL_ENDPOINT}): this command "
        "works only on the local stack",
    )


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def date(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 date or time (2026-12-01, 2026-12-01T06:00)"
        ) from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- connections: the stack, its table, the MWAA Serverless API, the simulator -------------------------------------


@dataclass(frozen=True)
class Reader:
    runs: Runs
    workflows: Workflows


def client(service: str, endpoint_url: str | None) -> Any:
    return boto3.session.Session().client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]


def use_local(endpoint_url: str) -> None:
    """The local emulator takes any credentials; never let a real profile's reach it, nor need one."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    os.environ["AWS_ACCESS_KEY_ID"] = "local"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "local"  # noqa: S105 - the emulator's dummy, not a secret
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def use_api(args: argparse.Namespace) -> str | None:
    """Point the MWAA Serverless client at the simulator for the local stack (or where asked); its URL, if any."""
    api_url: str | None = args.api_endpoint_url or (LOCAL_SIMULATOR if args.endpoint_url else None)
    if api_url:
        os.environ["AWS_ENDPOINT_URL_MWAA_SERVERLESS"] = api_url
    return api_url


def stack_outputs(args: argparse.Namespace) -> dict[str, str]:
    if args.endpoint_url:
        use_local(args.endpoint_url)
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


def table_reader(args: argparse.Namespace) -> Reader:
    """The stack's table (from the local emulator or a deployed stack's outputs), to read runs and workflows."""
    from mwaa_obs.aws import dynamodb_client  # noqa: PLC0415
    from mwaa_obs.store.runs import Runs  # noqa: PLC0415
    from mwaa_obs.store.workflows import Workflows  # noqa: PLC0415

    table_name = stack_outputs(args)["StateTableName"]
    dynamodb = dynamodb_client(args.endpoint_url)
    return Reader(Runs(dynamodb, table_name), Workflows(dynamodb, table_name))


def stack_policies(args: argparse.Namespace) -> Policies:
    """Each workflow's metric series policy, from the stack's settings document, DurationAlarmSeconds and
    RetryStormThreshold (a stack that names none: no retry storm is judged)."""
    from mwaa_obs.settings import SeriesPolicies, SettingsSource  # noqa: PLC0415

    outputs = stack_outputs(args)
    settings = SettingsSource(client("ssm", args.endpoint_url), outputs["SettingsParameterName"])
    retry_threshold = outputs.get("RetryStormThreshold")
    return SeriesPolicies(
        settings, int(outputs.get("DurationAlarmSeconds", "3600")), int(retry_threshold) if retry_threshold else None
    )


def stack_now(args: argparse.Namespace, api_url: str | None) -> datetime:
    """Now for the stack read: the local stack lives on the simulator's clock, which runs ahead of the wall clock."""
    if args.endpoint_url and api_url:
        try:
            return datetime.fromisoformat(simulator_admin(api_url, "/_simulator/clock", {})["now"]).astimezone(UTC)
        except CliError:
            pass  # no simulator answering: the wall clock
    return datetime.now(UTC)


def simulator_admin(simulator_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
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


def refuse_taken_port(port: int, flag: str) -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise CliError(f"port {port} is taken ({error.strerror}): free it or choose another with {flag}") from None


# --- output: JSON whole, tables cut to fit -------------------------------------------------------------------------


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def print_table(header: list[str], rows: list[list[str]]) -> None:
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
