"""Property: whatever a workflow's runs go through mid-run (StopWorkflowRun, UpdateWorkflow removing a task not yet
begun, DeleteWorkflow of the workflow or of one version, in any interleaving with time), and whatever becomes of
their events on the way (lost, delivered twice or thrice, in any order), once the reconciler has passed the table
holds what the API says, no attempt is left open, and each alert owed is sent once (issue 33).

Where the API no longer has a run (its workflow or version deleted: "cleaning up execution history",
DeleteWorkflow), nothing can tell its end but its own event: the table holds that end if the event came, else
STOPPED (the deletion stopped it)."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import botocore.exceptions
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import event as statistic
from hypothesis import strategies as st

from mwaa_obs.repairs import is_open
from mwaa_obs.states import RUN_DETAIL_TYPE_PREFIX, RUN_STATE_BY_DETAIL, TERMINAL_RUN_STATES
from mwaa_obs_tools import localstack
from mwaa_obs_tools.simulator.faults import Faults
from mwaa_obs_tools.simulator.model import Run

EMPTY = "airflow.providers.standard.operators.empty.EmptyOperator"
# begin, then two branches: `doomed` fails after about 5 minutes, `slow` runs about 15 before `extra`. Every run
# fails unless stopped (no success: no recovery message is owed), and `extra` waits long enough for an update to
# remove it mid-run.
TASKS = {"begin": [], "doomed": ["begin"], "slow": ["begin"], "extra": ["slow"]}
FAULTS = Faults(fail={"doomed"}, durations={"doomed": 300, "slow": 900})
ALERTED = frozenset({"FAILED", "TIMEOUT", "STOPPED"})  # STOPPED: the module's settings alert on stopped runs
_names = itertools.count()
# How the API refuses an action that no longer applies: a run that ended otherwise (stop), a workflow being deleted
# (start, update), one gone (any).
REFUSALS = frozenset({"ConflictException", "ResourceNotFoundException", "ValidationException"})

ACTIONS = st.one_of(
    st.tuples(st.just("start")),
    st.tuples(st.just("stop"), st.integers(0, 2)),
    st.tuples(st.just("update")),
    st.tuples(st.just("delete")),
    st.tuples(st.just("delete_version"), st.integers(0, 2)),
    st.tuples(st.just("wait"), st.integers(1, 8)),
    st.tuples(st.just("deliver")),
)


def definition(name: str, tasks: dict[str, list[str]]) -> bytes:
    lines = [f"{name}:", f"  dag_id: {name}", "  schedule: null", "  default_args:", "    retries: 0", "  tasks:"]
    for task, upstream in tasks.items():
        lines += [f"    {task}:", f"      operator: {EMPTY}"]
        lines += [f"      dependencies: [{', '.join(upstream)}]"] if upstream else []
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Example:
    """One workflow's life in one example: what it started, and what became of each of its events."""

    stack: localstack.LocalStack
    service: Any
    data: st.DataObject
    name: str
    arn: str = ""
    runs: dict[str, Run] = field(default_factory=dict)  # the simulator's own: its truth, even once forgotten
    versions: list[str] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)  # published, not yet delivered
    delivered: set[tuple[str, str]] = field(default_factory=set)  # (run id, detail-type) delivered at least once

    def upload(self, tasks: dict[str, list[str]]) -> dict[str, str]:
        location = {"Bucket": localstack.DEFINITIONS_BUCKET, "ObjectKey": f"workflows/{self.name}.yaml"}
        s3 = localstack.client(self.stack.endpoint, "s3")
        s3.put_object(Bucket=location["Bucket"], Key=location["ObjectKey"], Body=definition(self.name, tasks))
        return location

    def create(self) -> None:
        created = self.service.create_workflow(
            Name=self.name, DefinitionS3Location=self.upload(TASKS), RoleArn=localstack.WORKFLOW_ROLE_ARN
        )
        self.arn = created["WorkflowArn"]
        self.versions.append(created["WorkflowVersion"])
        self.stack.engine.set_faults(self.name, FAULTS)
        # Known to the pipeline before its first run, as a workflow of a deployed pipeline is: discovery looks for
        # the runs no event brought since the reconciler first described it (at most one pass, 30 minutes, later)
        self.advance(minutes=30)
        workflow_id = self.arn.rsplit("/", 1)[1]
        assert any(item.workflow_id == workflow_id for item in self.stack.workflows.all())
        self.stack.sink.on_the_way = self.hold

    def hold(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        if self.arn in entry["Resources"]:
            self.held.append(entry)
            return None
        return entry

    def act(self, action: tuple[Any, ...]) -> None:
        """One action; the API may refuse it (a run already ended, a workflow being deleted): that is its answer."""
        kind, *args = action
        try:
            if kind == "start":
                run_id = self.service.start_workflow_run(WorkflowArn=self.arn)["RunId"]
                self.runs[run_id] = self.stack.engine.runs[(self.arn, run_id)]
            elif kind == "stop" and self.runs:
                run_id = list(self.runs)[args[0] % len(self.runs)]
                self.service.stop_workflow_run(WorkflowArn=self.arn, RunId=run_id)
            elif kind == "update":
                without_extra = {task: upstream for task, upstream in TASKS.items() if task != "extra"}
                location = self.upload(without_extra)
                updated = self.service.update_workflow(
                    WorkflowArn=self.arn, DefinitionS3Location=location, RoleArn=localstack.WORKFLOW_ROLE_ARN
                )
                self.versions.append(updated["WorkflowVersion"])
            elif kind == "delete":
                self.service.delete_workflow(WorkflowArn=self.arn)
            elif kind == "delete_version":
                version = self.versions[args[0] % len(self.versions)]
                self.service.delete_workflow(WorkflowArn=self.arn, WorkflowVersion=version)
            elif kind == "wait":
                self.advance(minutes=args[0])
            elif kind == "deliver":
                self.deliver()
        except botocore.exceptions.ClientError as refused:
            if refused.response["Error"]["Code"] not in REFUSALS:
                raise

    def advance(self, minutes: int) -> None:
        self.stack.engine.advance(self.stack.engine.now + timedelta(minutes=minutes))
        self.stack.pump()

    def deliver(self) -> None:
        """What is held so far, in a drawn order, each event lost, delivered once, twice or thrice."""
        held, self.held = self.held, []
        # One draw whatever is held: how many events a step holds depends on the simulator, and draws whose number
        # varied with it made Hypothesis refuse the example (FlakyStrategyDefinition) instead of reporting it
        chance = random.Random(self.data.draw(st.integers(0, 2**32 - 1), label="delivery seed"))
        order = chance.sample(held, len(held))
        copies = [chance.randint(0, 3) for _ in order]
        entries = [entry for entry, count in zip(order, copies, strict=True) for _ in range(count)]
        events = localstack.client(self.stack.endpoint, "events")
        for start in range(0, len(entries), 10):
            batch = [{**entry, "EventBusName": "default"} for entry in entries[start : start + 10]]
            assert not events.put_events(Entries=batch).get("FailedEntryCount")
        for entry in entries:
            detail = json.loads(entry["Detail"])
            if "runId" in detail:  # the simulator's CloudTrail records of its API calls name no run
                self.delivered.add((detail["runId"], entry["DetailType"]))
        self.stack.pump()

    def run_event_came(self, run_id: str) -> bool:
        return any(
            delivered == run_id and detail_type.startswith(RUN_DETAIL_TYPE_PREFIX)
            for delivered, detail_type in self.delivered
        )

    def final_event_came(self, run_id: str, state: str) -> bool:
        return any(
            (run_id, RUN_DETAIL_TYPE_PREFIX + suffix) in self.delivered
            for suffix, announced in RUN_STATE_BY_DETAIL.items()
            if announced == state
        )


@pytest.fixture(scope="module", autouse=True)
def alert_on_every_failure_and_stop(stack: localstack.LocalStack) -> None:
    settings = {"defaults": {"group_window_minutes": 0, "alert_on_stopped": True}}
    localstack.client(stack.endpoint, "ssm").put_parameter(
        Name=stack.outputs["SettingsParameterName"], Value=json.dumps(settings), Type="String", Overwrite=True
    )


def api_truth(example: Example) -> dict[str, tuple[str, dict[str, str]]]:
    """Each run the API still has: its state and its task instances' (those past NONE), by instance id."""
    service, arn, truth = example.service, example.arn, {}
    for run_id in example.runs:
        try:
            run = service.get_workflow_run(WorkflowArn=arn, RunId=run_id)["RunDetail"]
        except service.exceptions.ResourceNotFoundException:
            continue
        listed = service.list_task_instances(WorkflowArn=arn, RunId=run_id)["TaskInstances"]
        tasks = {task["TaskInstanceId"]: task["Status"] for task in listed if task["Status"] != "NONE"}
        truth[run_id] = (run["RunState"], tasks)
    return truth


def failures_told_per_run(stack: localstack.LocalStack, name: str) -> Counter[str]:
    """The failure emails about the workflow, by the run their subject names ('... (run r1)' or '... run r1')."""
    told: Counter[str] = Counter()
    for message in stack.alerts():
        attributes = message.get("MessageAttributes", {})
        if attributes.get("workflow", {}).get("Value") != name or attributes["kind"]["Value"] != "failure":
            continue
        found = re.search(r"run (\S+?)\)?$", message["Subject"])
        assert found, message["Subject"]
        told[found[1]] += 1
    return told


# Each example lives hours on the simulator's clock (a few seconds of wall time): no shrinking, whose hundreds of
# examples would hold CI up; a failure prints its drawn actions and deliveries as they came.
@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(first_wait=st.integers(0, 12), actions=st.lists(ACTIONS, min_size=1, max_size=6), data=st.data())
def test_after_stop_update_and_delete_mid_run_the_table_is_the_apis_and_each_alert_owed_is_sent_once(
    stack: localstack.LocalStack, service: Any, first_wait: int, actions: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    # Given a workflow with a run started, then (minutes later) the drawn actions, waits and deliveries of what was
    # published
    example = Example(stack, service, data, f"lifecycle_{next(_names)}_wf")
    slack_before = len(stack.slack.delivered()) if stack.slack else 0
    example.create()
    try:
        for action in [("start",), ("wait", first_wait), *actions]:
            example.act(action)
        example.advance(minutes=25)  # every run ended (stopped, or failed after `slow`)
        example.deliver()
    finally:
        stack.sink.on_the_way = lambda entry: entry
    assert all(run.state in TERMINAL_RUN_STATES for run in example.runs.values())
    # When the reconciler has checked every run, its settle time after their ends past
    for _ in range(4):
        example.advance(minutes=35)
    # Then each run the API has is stored in the API's state, its task instances too
    workflow_id = example.arn.rsplit("/", 1)[1]
    truth = api_truth(example)
    stored: dict[str, tuple[str | None, dict[str, str | None]]] = {}
    for run_id, simulated in example.runs.items():
        run, attempts = stack.runs.load(workflow_id, run_id)
        kept = "kept by the API" if run_id in truth else "forgotten by the API"
        told = "its end delivered" if example.final_event_came(run_id, simulated.state) else "its end lost"
        statistic(f"run {simulated.state}, {kept}, {told}")
        statistic(f"task states {sorted({task.status for task in simulated.tasks.values()})}")
        if run is None and run_id not in truth:
            # KNOWN GAP (docs/EVENTS.md): none of the run's own events came, only some of its tasks', and the API
            # forgot it before discovery could import it: nothing lists it for the reconciler, its attempts stay
            statistic("forgotten run known by its tasks' events only")
            continue
        # And no attempt is left open
        assert not [attempt.task_id for attempt in attempts if is_open(attempt.status)], run_id
        if run is not None:
            latest: dict[str, str | None] = {}
            for attempt in sorted(attempts, key=lambda attempt: attempt.attempt):
                latest[str(attempt.task_instance_id)] = attempt.status
            stored[run_id] = (run.status, latest)
    assert {run_id: stored.get(run_id) for run_id in truth} == dict(truth.items())
    # And each run the API forgot is stored with the end its event told, else STOPPED; unknown if nothing came of it
    for run_id, simulated in example.runs.items():
        if run_id in truth or not example.run_event_came(run_id):
            continue
        expected = simulated.state if example.final_event_came(run_id, simulated.state) else "STOPPED"
        assert stored[run_id][0] == expected, run_id
    # And each run stored as failed or stopped was told once, by email and by Slack, and no other run was
    owed = {run_id for run_id, (status, _) in stored.items() if status in ALERTED}
    assert failures_told_per_run(stack, example.name) == Counter(owed)
    if stack.slack:
        payloads = [json.dumps(payload) for payload in stack.slack.delivered()[slack_before:]]
        assert len([payload for payload in payloads if example.name in payload]) == len(owed)
