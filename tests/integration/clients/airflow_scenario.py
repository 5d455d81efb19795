"""Apache Airflow's Amazon provider against the local stack: its real MWAA Serverless operators and run sensor, in
one process (importing Airflow costs seconds; one `airflow tasks test` per task would pay it each time).

Run by tests/integration/test_real_clients.py with the Python of the Airflow venv (make airflow), never imported by
the suite: `python airflow_scenario.py '<json>'` prints one JSON line of what each step answered. The connection
is the env var AIRFLOW_CONN_AWS_DEFAULT the test sets (moto for STS and S3, the simulator for mwaa-serverless).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

from airflow.providers.amazon.aws.operators.mwaa_serverless import (
    MwaaServerlessCreateWorkflowOperator,
    MwaaServerlessDeleteWorkflowOperator,
    MwaaServerlessStartWorkflowRunOperator,
    MwaaServerlessStopWorkflowRunOperator,
    MwaaServerlessUpdateWorkflowOperator,
)
from airflow.providers.amazon.aws.sensors.mwaa_serverless import MwaaServerlessWorkflowRunSensor


def main(config: dict[str, Any]) -> dict[str, Any]:
    simulator, name, role = config["simulator_url"], config["name"], config["role_arn"]
    location = {"Bucket": config["bucket"], "ObjectKey": config["key"]}
    answers: dict[str, Any] = {}

    def admin(path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(f"{simulator}/_simulator/{path}", data=json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=60) as response:  # the simulator, on loopback
            response.read()

    def settle() -> None:
        admin("advance", {"seconds": 86400, "until_idle": True})

    def create(task_id: str) -> str:
        operator = MwaaServerlessCreateWorkflowOperator(
            task_id=task_id, workflow_name=name, definition_s3_location=location, role_arn=role, if_exists="skip"
        )
        arn: str = operator.execute({})
        return arn

    answers["created"] = arn = create("create")
    answers["created_again"] = create("create_again")  # a ConflictException, skipped: the same ARN

    def start(task_id: str) -> str:
        run_id: str = MwaaServerlessStartWorkflowRunOperator(task_id=task_id, workflow_arn=arn).execute({})
        return run_id

    def sensor(task_id: str, run_id: str) -> MwaaServerlessWorkflowRunSensor:
        return MwaaServerlessWorkflowRunSensor(
            task_id=task_id, workflow_arn=arn, run_id=run_id, poke_interval=0.05, timeout=60
        )

    def sensed(task_id: str, run_id: str) -> str:
        try:
            sensor(task_id, run_id).execute({})
        except RuntimeError as error:
            return f"error: {error}"
        return "success"

    succeeding = start("start")
    answers["first_poke"] = sensor("poke", succeeding).poke({})  # just started: not done yet
    settle()
    answers["succeeded"] = sensed("wait_success", succeeding)

    admin("faults", {"workflow": name, "fail": [config["task"]]})
    failing = start("start_failing")
    settle()
    answers["failed"] = sensed("wait_failed", failing)

    admin("faults", {"workflow": name, "durations": {config["task"]: 3000}})
    stopped = start("start_stopped")
    admin("advance", {"seconds": 60})
    answers["stop_status"] = MwaaServerlessStopWorkflowRunOperator(
        task_id="stop", workflow_arn=arn, run_id=stopped
    ).execute({})
    settle()
    answers["stopped"] = sensed("wait_stopped", stopped)

    answers["updated"] = MwaaServerlessUpdateWorkflowOperator(
        task_id="update",
        workflow_arn=arn,
        definition_s3_location={"Bucket": config["bucket"], "ObjectKey": config["updated_key"]},
        role_arn=role,
        description="updated by the provider",
    ).execute({})
    answers["deleted"] = MwaaServerlessDeleteWorkflowOperator(task_id="delete", workflow_arn=arn).execute({})
    return answers


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
