"""`mwaa-obs`: run the local stack, simulate workflows, replay events, and query runs and tasks.

The reading commands work against the local stack (`--endpoint-url`) and against a deployed stack in AWS
(`--stack-name`, with the usual credentials and region).

Each command group is a module of this package with `register(commands)`; a new group is one more module and one
more entry in GROUPS. What the groups share (endpoints, errors, output) is in `common`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mwaa_obs_tools.cli import common, local, recovery, runs, simulate, views, watcher

GROUPS = (local, simulate, runs, views, recovery, watcher)  # in the order `mwaa-obs --help` lists them


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return common.run(args.command, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mwaa-obs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser
