"""`mwaa-obs ui` and `dashboard render`: the stack's runs and metrics seen offline, on a loopback page or in a PNG."""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from mwaa_obs_tools.cli.common import (
    CliError,
    api_endpoint_option,
    client,
    date,
    positive,
    positive_number,
    refuse_taken_port,
    stack_now,
    stack_options,
    stack_outputs,
    stack_policies,
    table_reader,
    use_api,
)

if TYPE_CHECKING:
    from mwaa_obs.charts import Charts
    from mwaa_obs_tools.alarm_evaluator import Transition
    from mwaa_obs_tools.cli.common import Commands, Reader

MAX_POINTS_PER_GRAPH = 1440  # a day of minutes: more points than a graph's width can show


def register(commands: Commands) -> None:
    dashboard = commands.add_parser("dashboard", help="CloudWatch dashboards").add_subparsers(
        required=True, metavar="ACTION"
    )
    draw = dashboard.add_parser("render", help="draw a workflow dashboard's graphs into a PNG from metric data")
    draw.add_argument("workflow", metavar="WORKFLOW")
    draw.add_argument("--out", type=Path, required=True, metavar="FILE.png")
    draw.add_argument("--hours", type=positive_number, default=24.0, help="how far back the graphs go (default 24)")
    draw.add_argument(
        "--end",
        type=date,
        help="when the graphs end, ISO-8601 (default now: the simulator's clock on the local stack)",
    )
    draw.add_argument("--period", type=positive, help="seconds per point (default: each widget's own)")
    api_endpoint_option(draw)
    stack_options(draw)
    draw.set_defaults(command=_dashboard_render)

    ui = commands.add_parser("ui", help="the runs grid, Gantt charts and failures on a local web page, until Ctrl-C")
    ui.add_argument("--port", type=int, default=8050, help="loopback port of the page (default 8050)")
    api_endpoint_option(ui)
    stack_options(ui)
    ui.set_defaults(command=_ui)


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
    outputs = stack_outputs(args)
    if "WorkflowDashboardName" not in outputs:
        raise CliError(f"stack {args.stack_name} has no workflow dashboard (deployed before dashboards existed?)")
    table = table_reader(args)
    workflows = table.workflows
    items = workflows.named(args.workflow)
    if not items:
        known = sorted({item.workflow_name for item in workflows.all()})
        shown = ", ".join(known[:10]) + (", …" if len(known) > 10 else "") if known else "none yet"
        raise CliError(f"no workflow {args.workflow!r} in the stack's table (its workflows: {shown})")
    api_url = use_api(args)
    now = stack_now(args, api_url)
    end = (args.end or now).astimezone(UTC)
    start = end - timedelta(hours=args.hours)
    cloudwatch = client("cloudwatch", args.endpoint_url)
    name = outputs["WorkflowDashboardName"]
    drawn = render.render(
        cloudwatch,
        name,
        args.workflow,
        args.out,
        start=start,
        end=end,
        period=args.period,
        transitions=_evaluated_alarms(cloudwatch, start, end) if args.endpoint_url else None,
        scheduled=render.scheduled(items),
        charts=_charts(table, args, start, end),
    )
    if drawn.empty:
        print(f"mwaa-obs: no data from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC in: "
              f"{'; '.join(drawn.empty)}", file=sys.stderr)  # fmt: skip
    print(drawn.path)
    return 0


def _charts(table: Reader, args: argparse.Namespace, start: datetime, end: datetime) -> Charts | None:
    """The runs widget's charts of the workflow, read from the table as the dashboard's widget reads them."""
    from mwaa_obs.widget import ViewReader, read_charts  # noqa: PLC0415

    threshold = stack_policies(args)(args.workflow).too_slow_seconds
    return read_charts(ViewReader(table.runs, table.workflows), args.workflow, start, end, too_slow_seconds=threshold)


def _evaluated_alarms(cloudwatch: Any, start: datetime, end: datetime) -> list[Transition]:
    """The local stack's alarms over the window, as CloudWatch would have evaluated them (the emulator does not)."""
    from mwaa_obs_tools.alarm_evaluator import EmulatorAlarms  # noqa: PLC0415

    return EmulatorAlarms(cloudwatch).transitions(start, end)


def _actions(args: argparse.Namespace, function_arn: str | None) -> Callable[[Mapping[str, str]], str] | None:
    """The Re-run and Stop buttons' answers: from the stack's actions function, invoked with your credentials as a
    dashboard invokes it; on the local stack its code run here against the simulator (the local stack's functions
    run inside `local up`). None (no buttons) for a stack deployed before the function existed."""
    if function_arn is None:
        return None
    if args.endpoint_url:
        from mwaa_obs.action_widget import handle  # noqa: PLC0415
        from mwaa_obs.mwaa_api import api_client  # noqa: PLC0415

        api = cache(api_client)

        def log(message: str, fields: dict[str, Any]) -> None:
            print(f"{message}: {json.dumps(fields, default=str)}", file=sys.stderr)

        return lambda request: handle(request, function_arn, api, log)
    functions = client("lambda", None)

    def invoke(request: Mapping[str, str]) -> str:
        answer = functions.invoke(FunctionName=function_arn, Payload=json.dumps(dict(request)).encode())
        payload = json.loads(answer["Payload"].read() or b"null")
        return payload if isinstance(payload, str) else html.escape(json.dumps(payload))

    return invoke


def _teams(args: argparse.Namespace, parameter: str | None) -> Callable[[str], str] | None:
    """Each workflow's team from the stack's settings, as the widget reads them (None: no settings, no teams)."""
    if parameter is None:
        return None
    from mwaa_obs.settings import SettingsSource  # noqa: PLC0415

    source = SettingsSource(client("ssm", args.endpoint_url), parameter)
    return lambda name: source.get().route_for(name).team


def _ui(args: argparse.Namespace) -> int:
    from mwaa_obs_tools.ui import Site, UiServer, log_reader  # noqa: PLC0415

    refuse_taken_port(args.port, "--port")
    reader = table_reader(args)
    api_url = use_api(args)
    region = boto3.session.Session().region_name or "us-east-1"
    outputs = stack_outputs(args)
    act = _actions(args, outputs.get("ActionsFunctionArn"))
    now = lambda: stack_now(args, api_url)  # noqa: E731
    teams = _teams(args, outputs.get("SettingsParameterName"))
    site = Site(reader.runs, reader.workflows, region, args.stack_name, now, stack_policies(args), act,
                log_reader(args.endpoint_url), teams)  # fmt: skip
    server = UiServer(site, args.port).start()
    try:  # from before the line that tells it is up: a Ctrl-C right after it is a stop too
        print(f"runs grid, Gantt charts and failures: {server.url}  (Ctrl-C stops)", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:  # how it is meant to end: as `local up` does, not as a command interrupted
        pass
    finally:
        server.stop()
    print("stopped")
    return 0
