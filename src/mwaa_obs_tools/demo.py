"""`make demo`: the whole pipeline offline, on the embedded local stack.

moto server starts on loopback, template.yaml is deployed into it, the MWAA Serverless simulator runs the three
example workflows over a simulated day (with injected failures, so some tasks retry and some runs fail), its
events go through EventBridge -> rule -> SQS -> the ingest handler -> DynamoDB, and the result is summarised
from the stored runs, as `mwaa-obs runs list` reads them. The failed runs' notices go through the notify handler
to the alert topic (read back through an SQS subscription, as an email subscriber would get them) and to Slack
(a catcher on loopback); the demo prints both.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from mwaa_obs.metrics import ALERTS_GROUPED, WORKFLOW_DIMENSION
from mwaa_obs.states import FAILED_RUN_STATES, TASK_ERROR_STATES, RunState
from mwaa_obs.stats import percentile
from mwaa_obs.text import counted
from mwaa_obs_tools import cli, localstack
from mwaa_obs_tools.alarm_evaluator import INSUFFICIENT, EmulatorAlarms, Transition
from mwaa_obs_tools.cli.local import accounts_option
from mwaa_obs_tools.sample_events import EXAMPLES, FAULTS, run_example_day
from mwaa_obs_tools.simulator.faults import Faults

DEMO_OUTPUT = Path("demo-output")


# A fixed simulated day (and the simulator's fixed seed): the demo prints the same figures, run ids and pictures
# whenever it runs, so that the README's pictures (`make screenshots`) stay true.
DEMO_DAY = datetime(2026, 12, 1, tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo", description=__doc__.splitlines()[0])
    accounts_option(parser)
    parser.add_argument(
        "--screenshots",
        type=Path,
        metavar="DIR",
        help="also write the README's pictures there: the runs grid and the first Slack alert (`make screenshots`)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    with localstack.running(start=DEMO_DAY, accounts=args.accounts) as stack:
        print(
            f"emulator   moto server on {stack.endpoint}; stack '{localstack.STACK_NAME}' deployed from template.yaml"
        )
        print(f"simulator  MWAA Serverless API on {stack.simulator.url}")
        arns = create_workflows(stack)
        print(f"workflows  {', '.join(sorted(arns))} (from examples/workflows/)")
        service = _service(stack)
        elsewhere = _create_elsewhere(stack)
        day_started = stack.engine.now
        ingested: list[int] = []

        names = {arn: name for name, arn in arns.items()}

        def start_run(arn: str) -> None:
            service.start_workflow_run(WorkflowArn=arn)
            for client, their_arns in elsewhere:
                client.start_workflow_run(WorkflowArn=their_arns[names[arn]])

        run_example_day(stack.engine, arns, start_run=start_run, after_each_step=lambda: ingested.append(stack.pump()))
        for engine in stack.other_engines:
            engine.advance_until_idle(stack.engine.now + timedelta(hours=2))
            stack.engine.advance(engine.now)
            ingested.append(stack.pump())
        events = sum(ingested)
        print(f"simulated  one day: {events} events ingested through EventBridge -> SQS -> Lambda handler")
        failed = _summarise(stack)
        _print_alerts(stack)
        transitions = _print_alarm_transitions(stack, day_started)
        _render_dashboards(stack, sorted(arns), day_started, transitions)
        _render_views(stack, day_started, args.screenshots)
        if failed:
            workflow, run_id = failed
            command = ["runs", "show", run_id, "--workflow", workflow, "--endpoint-url", stack.endpoint]
            print(f"\n$ mwaa-obs {' '.join(command)}")
            cli.main(command)
        command = ["doctor", "--endpoint-url", stack.endpoint, "--api-endpoint-url", stack.simulator.url]
        print(f"\n$ mwaa-obs {' '.join(command)}")
        cli.main(command)
    print(f"\ndone in {time.monotonic() - started:.0f} s; everything stopped.")
    print("dig in: `.venv/bin/mwaa-obs local up`, then in another terminal")
    print("        `.venv/bin/mwaa-obs simulate examples/workflows/create_s3_objects.yaml --fail create_object_2`")
    print("        `.venv/bin/mwaa-obs runs list --endpoint-url http://localhost:4566`")
    return 0


def _create_elsewhere(stack: localstack.LocalStack) -> list[tuple[Any, dict[str, str]]]:
    """Central mode: the example workflows created in the other account too (its faults the same); its client and
    their ARNs by name."""
    created = []
    for engine in stack.other_engines:
        client = localstack.other_account_service(stack)
        arns = {}
        for path in sorted(EXAMPLES.glob("*.yaml")):
            location = localstack.definition_location(path)
            request = {"Name": path.stem, "DefinitionS3Location": location, "RoleArn": localstack.WORKFLOW_ROLE_ARN}
            arns[path.stem] = client.create_workflow(**request)["WorkflowArn"]
            engine.set_faults(path.stem, FAULTS.get(path.stem, Faults()))
        print(f"central    the same workflows in account {engine.account} ({engine.region}), through its forwarder")
        created.append((client, arns))
    return created


def _service(stack: localstack.LocalStack) -> Any:
    return boto3.client("mwaa-serverless", endpoint_url=stack.simulator.url, region_name="us-east-1")


def create_workflows(stack: localstack.LocalStack) -> dict[str, str]:
    s3 = localstack.client(stack.endpoint, "s3")
    service = _service(stack)
    arns = {}
    for path in sorted(EXAMPLES.glob("*.yaml")):
        location = localstack.definition_location(path)
        s3.put_object(Bucket=location["Bucket"], Key=location["ObjectKey"], Body=path.read_bytes())
        arn = service.create_workflow(
            Name=path.stem, DefinitionS3Location=location, RoleArn=localstack.WORKFLOW_ROLE_ARN
        )["WorkflowArn"]
        arns[path.stem] = arn
    return arns


def _summarise(stack: localstack.LocalStack) -> tuple[str, str] | None:
    """Per workflow: runs, success rate, p50/p95 duration, failed runs with their failed tasks; returns one of them."""
    first_failed = None
    print()
    workflows = sorted(stack.workflows.all(), key=lambda w: w.workflow_name)
    width = max((len(w.workflow_name) for w in workflows), default=0) + 2
    for workflow in workflows:
        runs = stack.runs.recent(workflow.workflow_id, limit=500)
        outcomes = Counter(run.status for run in runs)
        durations = sorted(
            (run.ended_at - run.started_at).total_seconds() for run in runs if run.ended_at and run.started_at
        )
        rate = outcomes[RunState.SUCCESS] / len(runs) if runs else 0
        line = f"{workflow.workflow_name:<{width}} {counted(len(runs), 'run'):>8}  {rate:>4.0%} succeeded"
        print(line + duration_figures(durations))
        for run in runs:
            if run.status in FAILED_RUN_STATES:
                first_failed = first_failed or (workflow.workflow_name, run.run_id)
                _, attempts = stack.runs.load(workflow.workflow_id, run.run_id)
                print(f"    {run.status:<7} {run.run_id}")
                for attempt in sorted(attempts, key=lambda a: (a.started_at is None, a.started_at, a.attempt)):
                    if attempt.status in TASK_ERROR_STATES:
                        task = f"{attempt.task_id} (attempt {attempt.attempt})"
                        print(f"      {task} {attempt.status}: {attempt.error_message}")
    print("\nmetrics in CloudWatch (from the handler's EMF):", _metric_totals(stack))
    return first_failed


def duration_figures(durations: list[float]) -> str:
    """p50 and p95 by the project's one percentile (nearest rank): never above the longest run."""
    if not durations:
        return ""
    return f"  duration p50 {percentile(durations, 50):.0f} s, p95 {percentile(durations, 95):.0f} s"


def alerts_summary(*, emails: int, slack: int, failure_alerts: int, failed_runs: int, grouped: int) -> list[str]:
    """What the alerts did, in the demo's words, from the counts: grouping is claimed only where it happened."""
    resolved = emails - failure_alerts
    lines = [
        f"{emails} emails (SNS) and {slack} Slack messages for {counted(failed_runs, 'failed run')}: "
        f"{counted(failure_alerts, 'failure alert')} and {resolved} 'resolved'."
    ]
    if grouped:
        lines.append(
            f"{counted(grouped, 'failed run')} had no message of {'its' if grouped == 1 else 'their'} own: each came "
            "within the grouping window (an hour) of its incident's last message, and was named in the incident's "
            "next message."
        )
    else:
        lines.append(
            "Each failed run had a message of its own: none came within the grouping window (an hour) of an earlier "
            "message of its incident, so none was grouped (a success in between ends an incident)."
        )
    return lines


def _print_alerts(stack: localstack.LocalStack) -> None:
    emails = stack.alerts()
    slack = stack.slack.delivered() if stack.slack else []
    failures = sum("RESOLVED" not in message["Subject"] for message in emails)
    failed_runs = sum(
        run.status in FAILED_RUN_STATES
        for workflow in stack.workflows.all()
        for run in stack.runs.recent(workflow.workflow_id, limit=500)
    )
    summary = alerts_summary(
        emails=len(emails),
        slack=len(slack),
        failure_alerts=failures,
        failed_runs=failed_runs,
        grouped=round(_metric_total(stack, ALERTS_GROUPED.name)),
    )
    print()
    for number, line in enumerate(summary):
        print(f"{'alerts' if number == 0 else '':<10} " + "\n           ".join(textwrap.wrap(line, 106)))
    for message in emails:
        print(f"  email  {message['Subject']}")
    for payload in slack:
        print(f"  slack  {payload['text']}")
    first = next((message for message in emails if "RESOLVED" not in message["Subject"]), None)
    if first:
        print(f"\n--- the first email, as sent ---\nSubject: {first['Subject']}\n\n{first['Message'].rstrip()}")
    if slack:
        print("\n--- the first Slack message, its blocks as text ---")
        print(_slack_as_text(slack[0]))


def _print_alarm_transitions(stack: localstack.LocalStack, day_started: datetime) -> list[Transition]:
    """What the alarms did over the day, evaluated offline with CloudWatch's semantics (moto evaluates none)."""
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    alarms = EmulatorAlarms(cloudwatch)
    transitions = alarms.transitions(day_started, stack.engine.now)
    grouped = {alarm.name for alarm in alarms.metric_alarms if alarm.group_by}
    # Per workflow (a contributor) or per alarm without contributors; not each alarm's first evaluation
    moved = [t for t in transitions if t.contributor or (t.alarm not in grouped and t.old != INSUFFICIENT)]
    pages = sum(t.paged for t in transitions)
    print(f"\nalarms     {len(alarms.metric_alarms)} metric and {len(alarms.composites)} composite alarms evaluated")
    print(f"           offline over the day: {len(moved)} transitions, {pages} page(s) (run failures page through")
    print("           the messages above, not through alarms)")
    for transition in moved:
        print(f"  {transition.line()}")
    return transitions


def _render_dashboards(
    stack: localstack.LocalStack, workflows: list[str], day_started: datetime, transitions: list[Transition]
) -> None:
    """The workflow dashboard drawn for each workflow over the simulated day, as `mwaa-obs dashboard render` does:
    the runs widget's charts from the table, the metric graphs, and the alarms as the evaluator saw them."""
    from mwaa_obs.widget import ViewReader, read_charts  # noqa: PLC0415
    from mwaa_obs_tools import render  # noqa: PLC0415 - matplotlib loads only when drawing

    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    name = stack.outputs["WorkflowDashboardName"]
    print(f"\ndashboards the '{name}' dashboard, its charts from the table and its metric graphs, for each workflow:")
    for workflow in workflows:
        reader = ViewReader(stack.runs, stack.workflows)
        threshold = stack.policies(workflow).too_slow_seconds
        charts = read_charts(reader, workflow, day_started, stack.engine.now, too_slow_seconds=threshold)
        out = DEMO_OUTPUT / f"dashboard-{workflow}.png"
        scheduled = render.scheduled(stack.workflows.named(workflow))
        render.render(
            cloudwatch,
            name,
            workflow,
            out,
            start=day_started,
            end=stack.engine.now,
            transitions=transitions,
            scheduled=scheduled,
            charts=charts,
        )
        print(f"           {_shown(out)}")


def _render_views(stack: localstack.LocalStack, day_started: datetime, pictures: Path | None) -> None:
    """The runs widget's grid, the Gantt and graph of the latest failed run, the charts, the fleet matrix and the
    failures, as `mwaa-obs ui` serves them: screenshots when
    a Chromium is here, else the pages as HTML files. With `pictures`, the README's two there too (a browser is
    then required)."""
    from mwaa_obs_tools import browser  # noqa: PLC0415
    from mwaa_obs_tools.ui import Site, UiServer, log_reader  # noqa: PLC0415

    hours = f"{(stack.engine.now - day_started).total_seconds() / 3600:.1f}"
    pages = {
        "grid-nightly_sales_etl": f"/view?view=grid&workflow=nightly_sales_etl&hours={hours}",
        "gantt-nightly_sales_etl": f"/view?view=gantt&workflow=nightly_sales_etl&hours={hours}",
        "graph-nightly_sales_etl": f"/view?view=graph&workflow=nightly_sales_etl&hours={hours}",
        "charts-nightly_sales_etl": f"/view?view=charts&workflow=nightly_sales_etl&hours={hours}",
        "matrix": f"/view?view=matrix&hours={hours}",
        "failures": f"/?hours={hours}",
    }
    logs = log_reader(stack.endpoint)  # a failed cell's and a bar's log page
    site = Site(
        stack.runs, stack.workflows, "us-east-1", localstack.STACK_NAME, lambda: stack.engine.now, stack.policies,
        logs=logs,
    )  # fmt: skip
    server = UiServer(site).start()
    print(
        "\nviews      the runs widget's grid, the Gantt chart and graph (latest failed run), charts, the fleet matrix "
        "and the failures, as in CloudWatch:"
    )
    try:
        try:
            with browser.chromium() as chromium:
                for name, path in pages.items():
                    shot = browser.screenshot(chromium, server.url + path, DEMO_OUTPUT / f"{name}.png")
                    print(f"           {_shown(shot)}")
                if pictures:
                    _readme_pictures(stack, chromium, server.url + pages["grid-nightly_sales_etl"], pictures)
        except browser.NoBrowser as missing:
            if pictures:
                raise
            print(f"           ({missing}; the pages are saved as HTML instead)")
            for name, path in pages.items():
                _, body = site.page(*_split(path))
                out = DEMO_OUTPUT / f"{name}.html"
                out.write_text(body, encoding="utf-8")
                print(f"           {_shown(out)}")
    finally:
        server.stop()


def _readme_pictures(stack: localstack.LocalStack, chromium: Any, grid_url: str, pictures: Path) -> None:
    """The README's pictures: the runs grid (as narrow as it draws), and the first Slack failure alert drawn from
    its payload."""
    from mwaa_obs_tools import browser, slack_preview  # noqa: PLC0415

    pictures.mkdir(parents=True, exist_ok=True)
    browser.screenshot(chromium, grid_url, pictures / "runs-grid.png", width=720, height=100)
    assert stack.slack is not None  # the demo's stack always has its catcher
    header = slack_preview.EMOJI_FAILURE
    first = next(
        payload for payload in stack.slack.delivered() if payload["blocks"][0]["text"]["text"].startswith(header)
    )
    shot = browser.screenshot_html(chromium, slack_preview.page(first), pictures / "slack-alert.png")
    print(f"           {_shown(pictures / 'runs-grid.png')}, {_shown(shot)}: the README's pictures")


def _split(path: str) -> tuple[str, dict[str, str]]:
    from urllib.parse import parse_qsl, urlsplit  # noqa: PLC0415

    parts = urlsplit(path)
    return parts.path, dict(parse_qsl(parts.query))


def _shown(path: Path) -> Path:
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def _slack_as_text(payload: dict[str, Any]) -> str:
    lines = []
    for block in payload["blocks"]:
        if "text" in block:
            lines.append(block["text"]["text"])
        lines.extend(field["text"].replace("\n", ": ") for field in block.get("fields", []))
        if "accessory" in block:
            lines.append(f"  [{block['accessory']['text']['text']}]")
        for element in block.get("elements", []):
            label = element["text"]["text"] if element["type"] == "button" else element["text"]
            lines.append(f"[{label}]" if element["type"] == "button" else label)
    return "\n".join(lines)


def _metric_totals(stack: localstack.LocalStack) -> str:
    names = ("RunStarted", "RunSucceeded", "RunFailed", "RetryStorm", "TaskFailed")
    return ", ".join(f"{name}={_metric_total(stack, name):g}" for name in names)


def _metric_total(stack: localstack.LocalStack, name: str) -> float:
    """The fleet rollup's sum (the series without dimensions every metric has; a healthy run's RunStarted is only
    there since metrics by exception). moto answers a request naming no dimension with every series of the name
    summed, where CloudWatch answers the rollup alone (docs/LOCAL_STACK.md): the rollup is that sum less the
    per-workflow series."""
    cloudwatch = localstack.client(stack.endpoint, "cloudwatch")
    every_series = _sum(cloudwatch, stack, name, [])
    per_workflow = sum(
        _sum(cloudwatch, stack, name, [{"Name": WORKFLOW_DIMENSION, "Value": workflow.workflow_name}])
        for workflow in stack.workflows.all()
    )
    return every_series - per_workflow


def _sum(cloudwatch: Any, stack: localstack.LocalStack, name: str, dimensions: list[dict[str, str]]) -> float:
    data = cloudwatch.get_metric_statistics(
        Namespace=stack.outputs["MetricNamespace"],
        MetricName=name,
        Dimensions=dimensions,
        StartTime=stack.engine.now - timedelta(days=2),  # metrics carry the simulator's clock
        EndTime=stack.engine.now + timedelta(hours=1),
        Period=86400 * 3,
        Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(point["Sum"] for point in data))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers were stopped on the way out of `localstack.running`
        print("demo: interrupted; everything stopped", file=sys.stderr)
        sys.exit(2)
