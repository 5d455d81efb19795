"""checkov over the template CloudFormation deploys (after the SAM transform): every finding is one we accept, below.

Offline, checkov reports no severities, so every finding counts. A new finding fails this test, and so does an
accepted one that no longer fires (remove it from ACCEPTED).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from mwaa_obs_tools import emulator

REPO = Path(__file__).resolve().parents[2]

# check id -> (resource type it fires on, why we accept it). It must fire on every resource of that type and no other.
ACCEPTED: dict[str, tuple[str, str]] = {
    # False positive: the queues use SSE-SQS (SqsManagedSseEnabled), which this check does not read. A KMS key is no
    # option for the events queue: EventBridge cannot send to a queue encrypted with the AWS managed key.
    "CKV_AWS_27": ("AWS::SQS::Queue", "encrypted with SSE-SQS"),
    # The table is encrypted at rest with the AWS owned key (SSEEnabled false). A KMS key (AWS managed or customer
    # managed) adds KMS request charges, and a customer key $1/month, for no extra protection of run states that
    # the MWAA Serverless API itself returns to anyone allowed to read it (docs/COST.md).
    "CKV_AWS_119": ("AWS::DynamoDB::Table", "AWS owned key"),
    # CloudWatch Logs encrypts every log group at rest. A customer key needs a key policy for the logs service and
    # buys nothing here: a test proves no secret reaches the logs.
    "CKV_AWS_158": ("AWS::Logs::LogGroup", "encrypted by CloudWatch Logs"),
    # Function DLQs catch failed *asynchronous* invocations. Ingest and notify are invoked by SQS, whose redrive
    # policy ends in a DLQ; freshness, reconcile and provision are periodic, idempotent passes (the next run redoes
    # the work) carrying no event, and each has an errors alarm.
    "CKV_AWS_116": ("AWS::Lambda::Function", "SQS redrive or a periodic pass"),
    # Nothing to reach in a VPC: the functions call AWS APIs and Slack. A VPC would add NAT or endpoints (~$7+/month
    # each) and cold-start time.
    "CKV_AWS_117": ("AWS::Lambda::Function", "no private resources"),
    # Reserved concurrency is carved out of the account's pool and would throttle ingest under a burst (events then
    # wait in SQS; its queue's MaximumConcurrency bounds it instead). Only the functions with two triggers that must
    # not overlap reserve one (reconcile, provision: docs/CONTROLS.md); they pass.
    "CKV_AWS_115": ("AWS::Lambda::Function", "bounded by SQS and schedules"),
    # Lambda encrypts environment variables at rest with its AWS managed key; ours hold names, ARNs and numbers. The
    # Slack webhook URL is read from Secrets Manager at run time (a test proves it never reaches the logs).
    "CKV_AWS_173": ("AWS::Lambda::Function", "no secrets in the environment"),
}


@pytest.fixture(scope="module")
def deployed_template(template: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("checkov") / "transformed.json"
    path.write_text(json.dumps(emulator.sam_transform(template), default=str))
    return path


def checkov_failures(template_path: Path) -> dict[str, set[str]]:
    checkov = os.environ.get("CHECKOV", str(REPO / ".venv" / "checkov" / "bin" / "checkov"))
    assert Path(checkov).exists(), f"{checkov} not found: run `make checkov` (make test does)"
    command = [checkov, "-f", str(template_path), "--framework", "cloudformation", "--skip-download", "--quiet"]
    finished = subprocess.run([*command, "-o", "json"], capture_output=True, text=True, check=False, timeout=300)
    assert finished.returncode in (0, 1), finished.stderr  # 1 = findings, anything else = checkov broke
    failures: dict[str, set[str]] = defaultdict(set)
    for failed in json.loads(finished.stdout)["results"]["failed_checks"]:
        failures[failed["check_id"]].add(failed["resource"])
    return failures


def test_checkov_finds_nothing_but_the_accepted_exceptions(deployed_template: Path) -> None:
    deployed = json.loads(deployed_template.read_text())["Resources"]
    expected = {
        check: {
            f"{kind}.{name}"
            for name, resource in deployed.items()
            if resource["Type"] == kind and not _passes(check, resource["Properties"])
        }
        for check, (kind, _) in ACCEPTED.items()
    }
    assert checkov_failures(deployed_template) == expected


def _passes(check: str, properties: dict[str, Any]) -> bool:
    """A resource of an accepted kind that meets the check all the same."""
    return check == "CKV_AWS_115" and "ReservedConcurrentExecutions" in properties


def test_checkov_reports_an_unencrypted_topic(tmp_path: Path, deployed_template: Path) -> None:
    """Guards the scan itself: a regression checkov must catch does show up as a finding."""
    deployed = json.loads(deployed_template.read_text())
    del deployed["Resources"]["AlertTopic"]["Properties"]["KmsMasterKeyId"]
    weakened = tmp_path / "weakened.json"
    weakened.write_text(json.dumps(deployed))
    assert "AWS::SNS::Topic.AlertTopic" in checkov_failures(weakened)["CKV_AWS_26"]


def test_checkov_finds_nothing_in_the_forwarder_but_the_accepted_queue_encryption() -> None:
    """forwarder/template.yaml (plain CloudFormation): only the SSE-SQS false positive of its dead-letter queue."""
    assert checkov_failures(REPO / "forwarder" / "template.yaml") == {
        "CKV_AWS_27": {"AWS::SQS::Queue.ForwardDeadLetterQueue"}
    }
