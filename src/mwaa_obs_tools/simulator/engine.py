"""The simulated service: workflows, runs and task instances on a virtual clock, publishing what it does.

The engine holds the service's resources of one account and region and answers the API's requests on them; the
rooms it is made of: `scheduling` (the clock and cron fires), `runs` and `tasks` (execution), `events` (what is
published) and `task_logs`. `advance(until)` carries out every step due on the clock, then publishes.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mwaa_obs_tools.simulator.definition import DefinitionError, WorkflowDefinition, parse_definition
from mwaa_obs_tools.simulator.errors import ServiceError
from mwaa_obs_tools.simulator.events import Publisher, Sink
from mwaa_obs_tools.simulator.faults import Faults
from mwaa_obs_tools.simulator.model import TERMINAL_RUN, Run, Workflow
from mwaa_obs_tools.simulator.runs import RunLifecycle
from mwaa_obs_tools.simulator.scheduling import Clock, CronScheduler
from mwaa_obs_tools.simulator.task_logs import TaskLogs

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class Engine:
    def __init__(
        self,
        sink: Sink,
        read_definition: Callable[[dict[str, Any]], str],
        *,
        start: datetime,
        region: str = "us-east-1",
        account: str = "123456789012",
        seed: int = 1,
    ) -> None:
        self._read_definition = read_definition
        self.region, self.account = region, account
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not security
        self._clock = Clock(start)
        self._publisher = Publisher(sink, self._clock)
        self._runs = RunLifecycle(self._clock, self._rng, self._publisher, TaskLogs(sink, self._clock))
        self._cron = CronScheduler(self._clock, self._is_current, self._start_scheduled_run)
        self.lock = threading.RLock()
        self.workflows: dict[str, Workflow] = {}
        self.runs: dict[tuple[str, str], Run] = {}

    # --- time ------------------------------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self._clock.now

    def advance(self, until: datetime) -> None:
        """Carry out every action due up to `until`, in time order, then publish what happened."""
        with self.lock:
            self._clock.run_until(until)
            self.flush()

    def advance_until_idle(self, limit: datetime) -> None:
        """Advance until no run is in progress or `limit` is reached (cron fires beyond it are left pending)."""
        with self.lock:
            while (due := self._clock.next_due()) is not None and due <= limit:
                self.advance(due)
                if (
                    not any(run.state not in TERMINAL_RUN for run in self.runs.values())
                    and self._clock.only_cron_left()
                ):
                    break

    def flush(self) -> None:
        self._publisher.flush()

    # --- workflows -------------------------------------------------------------------------------------------------

    def create_workflow(self, request: dict[str, Any]) -> Workflow:
        with self.lock:
            name = request["Name"]
            if any(w.definition.name == name or w.arn.endswith(f"/{name}") for w in self.workflows.values()):
                raise ServiceError("ConflictException", f"A workflow named {name} already exists")
            definition = self._definition(request["DefinitionS3Location"])
            definition = dataclasses.replace(definition, name=name)
            workflow_id = f"{name}-{''.join(self._rng.choices(_ID_ALPHABET, k=10))}"
            arn = f"arn:aws:airflow-serverless:{self.region}:{self.account}:workflow/{workflow_id}"
            location = dict(request["DefinitionS3Location"])
            workflow = Workflow(
                arn=arn,
                workflow_id=workflow_id,
                definition=definition,
                created_at=self.now,
                modified_at=self.now,
                role_arn=request["RoleArn"],
                definition_location=location,
                trigger_mode=request.get("TriggerMode", "SCHEDULED" if definition.schedule else "MANUAL_ONLY"),
                versions=[("1", self.now, definition, location)],
                description=request.get("Description", ""),
                tags=dict(request.get("Tags", {})),
            )
            self.workflows[arn] = workflow
            self._cron.arm(workflow)
            return workflow

    def update_workflow(self, request: dict[str, Any]) -> Workflow:
        with self.lock:
            workflow = self.workflow(request["WorkflowArn"])
            definition = self._definition(request["DefinitionS3Location"])
            definition = dataclasses.replace(definition, name=workflow.definition.name)
            location = dict(request["DefinitionS3Location"])
            workflow.versions.append((str(len(workflow.versions) + 1), self.now, definition, location))
            workflow.definition, workflow.definition_location = definition, location
            workflow.role_arn = request["RoleArn"]
            workflow.trigger_mode = request.get("TriggerMode", workflow.trigger_mode)
            workflow.modified_at = self.now
            return workflow

    def delete_workflow(self, arn: str) -> Workflow:
        with self.lock:
            workflow = self.workflow(arn)
            del self.workflows[arn]
            return workflow

    def workflow(self, arn: str) -> Workflow:
        workflow = self.workflows.get(arn)
        if workflow is None:
            raise ServiceError("ResourceNotFoundException", f"Workflow {arn} not found")
        return workflow

    def set_faults(self, name: str, faults: Faults) -> None:
        with self.lock:
            for workflow in self.workflows.values():
                if workflow.definition.name == name:
                    workflow.faults = faults
                    return
            raise ServiceError("ResourceNotFoundException", f"No workflow named {name}")

    def _definition(self, location: dict[str, Any]) -> WorkflowDefinition:
        source = f"s3://{location['Bucket']}/{location['ObjectKey']}"
        try:
            return parse_definition(self._read_definition(location), source, now=self.now)
        except DefinitionError as error:
            raise ServiceError("ValidationException", str(error)) from None
        except KeyError:
            raise ServiceError("ValidationException", f"{source}: definition file not found") from None

    def _is_current(self, workflow: Workflow) -> bool:
        return self.workflows.get(workflow.arn) is workflow

    # --- runs ------------------------------------------------------------------------------------------------------

    def start_run(self, arn: str, override_parameters: dict[str, str] | None = None) -> Run:
        with self.lock:
            workflow = self.workflow(arn)
            run = self._start_run(workflow, "ON_DEMAND", override_parameters)
            self.flush()
            return run

    def stop_run(self, arn: str, run_id: str) -> Run:
        with self.lock:
            run = self.run(arn, run_id)
            if run.state not in TERMINAL_RUN:
                self._runs.stop(run)
                self.flush()
            return run

    def run(self, arn: str, run_id: str) -> Run:
        run = self.runs.get((arn, run_id))
        if run is None:
            raise ServiceError("ResourceNotFoundException", f"Run {run_id} of {arn} not found")
        return run

    def _start_scheduled_run(self, workflow: Workflow) -> None:
        self._start_run(workflow, "SCHEDULED")

    def _start_run(self, workflow: Workflow, run_type: str, override_parameters: dict[str, str] | None = None) -> Run:
        run = self._runs.start(workflow, run_type, self._new_run_id(), override_parameters)
        self.runs[(workflow.arn, run.run_id)] = run
        return run

    def _new_run_id(self) -> str:
        """Opaque, as the service's are (`d58cxqdClpTVjeN` in AWS's launch post), not Airflow's readable
        `manual__<time>`: nothing may rely on a run id saying when or how its run started."""
        while True:
            run_id = "".join(self._rng.choices(_ID_ALPHABET, k=15))
            if all(known != run_id for _, known in self.runs):
                return run_id
