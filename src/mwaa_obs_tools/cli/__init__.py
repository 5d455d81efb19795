"""`mwaa-obs`: run the local stack, simulate workflows, replay events, and query runs and tasks.

The reading commands work against the local stack (`--endpoint-url`) and against a deployed stack in AWS
(`--stack-name`, with the usual credentials and region).

Each command group is a module of this package with `register(commands)`; a new group is one more module and one
more entry in GROUPS. What the groups share (endpoints, errors, output) is in `common`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

from mwaa_obs_tools.cli import common, local, logs, recovery, runs, simulate, views, watcher

GROUPS = (local, simulate, runs, logs, views, recovery, watcher)  # in the order `mwaa-obs --help` lists them


def main(argv: Sequence[str] | None = None) -> int:
    common.region_from_environment()
    args = common.parse(_parser(), argv)
    return common.run(args.command, args)


def _parser() -> argparse.ArgumentParser:
    parser = common.Parser(prog="mwaa-obs", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('mwaa-obs')}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    _know_their_parsers(commands)
    return parser


def _know_their_parsers(commands: argparse._SubParsersAction[Any]) -> None:
    """Each command's parser set as its own default `parser`: an option it does not take is refused by it."""
    for command in set(commands.choices.values()):
        command.set_defaults(parser=command)
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _know_their_parsers(action)
