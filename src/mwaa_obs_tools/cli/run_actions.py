"""`mwaa-obs runs rerun` and `runs stop`: act on a stored run through the MWAA Serverless API, once confirmed.

They call the API with the caller's own credentials (so CloudTrail names the caller) in the workflow's own region;
what a re-run and a stop do, and why a re-run asked twice starts one run, is in mwaa_obs.actions.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from mwaa_obs_tools.cli.common import CliError, api_endpoint_option, print_json, stack_options, table_reader, use_api

if TYPE_CHECKING:
    from mwaa_obs_tools.cli.common import Commands

QUESTIONS = {
    "rerun": "Start {workflow} again, as a new run of its latest version with run {run}'s parameters?",
    "stop": "Stop {workflow} run {run}? Its running tasks are ended and no new task starts.",
}
YES = ("y", "yes")


def register(runs: Commands) -> None:
    helps = {"rerun": "start an ended run's workflow again (once, however often asked)", "stop": "stop a run"}
    for action, help_text in helps.items():
        parser = runs.add_parser(action, help=help_text)
        parser.add_argument("run_id", metavar="RUN_ID")
        parser.add_argument("--workflow", help="workflow name (needed only if several workflows share the run id)")
        parser.add_argument("--yes", action="store_true", help="do it without asking")
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        api_endpoint_option(parser)
        stack_options(parser)
        parser.set_defaults(command=_act, action=action)


def _act(args: argparse.Namespace) -> int:
    from mwaa_obs.actions import ActionRefused, act  # noqa: PLC0415
    from mwaa_obs.events import place_of  # noqa: PLC0415
    from mwaa_obs.mwaa_api import api_client  # noqa: PLC0415
    from mwaa_obs_tools.cli.runs import find_run  # noqa: PLC0415 - runs registers this module

    run, _attempts = find_run(table_reader(args), args.run_id, args.workflow)
    arn = run.workflow_arn if run is not None else None
    place = place_of(arn) if arn else None
    if arn is None or place is None:
        raise CliError(f"run {args.run_id}: its workflow's ARN is not stored yet (run `mwaa-obs backfill` first)")
    name = run.workflow_name
    if not args.yes and not _confirmed(QUESTIONS[args.action].format(workflow=name, run=args.run_id), run.status):
        print("not confirmed: nothing done", file=sys.stderr)
        return 1
    use_api(args)
    try:
        outcome = act(api_client(region=place.region), args.action, arn, args.run_id)
    except ActionRefused as refused:
        raise CliError(str(refused)) from None
    if args.json:
        print_json(
            {"action": outcome.action, "workflow_name": name, "workflow_arn": arn, "run_id": outcome.run_id}
            | {"status": outcome.state, "new_run_id": outcome.new_run_id}
        )
    else:
        print(outcome.sentence)
    return 0


def _confirmed(question: str, status: Any) -> bool:
    """The question on stderr, the answer from stdin; anything but y or yes (or no answer at all) is a no."""
    print(f"{question} (stored status: {status or 'unknown'}) [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    if not answer:
        print(file=sys.stderr)
    return answer.strip().lower() in YES
