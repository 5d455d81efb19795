"""cfn-lint with the serverless rules (cfn-lint-serverless) and its informational rules, beside checkov: nothing is
reported but the findings accepted here, each with its reason."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Final

REPO = Path(__file__).resolve().parents[2]

# rule -> (how many findings, why we accept them). Each must still fire: a reason for nothing is a stale reason.
ACCEPTED: Final[dict[str, tuple[int, str]]] = {
    # The stream mapping of the provision function has no on-failure destination: a batch that fails its retries is
    # provisioned anyway by the hourly pass, which goes over every workflow (the mapping only makes it sooner).
    "ES1001": (1, "the hourly pass redoes what a failed stream batch missed"),
    # Freshness, reconcile and provision run on schedules: each pass is idempotent, carries no event worth keeping
    # and is redone at the next tick; each has an errors alarm. A DLQ or destination would hold empty events.
    # Four schedules: freshness, provision, and the reconciler's two (its pass and its discovery pass).
    "ES1007": (4, "periodic idempotent passes with errors alarms"),
    # ES4000 (a rule target without a DLQ): those four, and central mode's alarm rule to the alarm topic: its events
    # are the forwarders' alarm state changes, which EventBridge retries for 24 hours; a queue of them would be one
    # more thing nobody watches (the events DLQ would hand them to ingest on a redrive).
    "ES4000": (5, "periodic idempotent passes with errors alarms; the central alarm rule"),
    # The two DLQs are where messages end; a redrive policy on a DLQ would move them on to yet another queue.
    "ES6000": (2, "they are the dead-letter queues"),
    # Email subscriptions: SNS retries email delivery itself, and notify records per channel what SNS accepted.
    "ES7000": (2, "email subscriptions, retried by SNS"),
    # X-Ray tracing costs per trace for a pipeline whose steps already log and emit metrics per record.
    "WS1000": (7, "tracing left to the user: cost, and the logs and metrics tell each record's path"),
    # False positive: every function has its log group with RetentionInDays, named through LoggingConfig; the rule
    # looks only for /aws/lambda/<FunctionName>.
    "WS1004": (7, "log groups set through LoggingConfig"),
}


def findings(template: Path) -> Counter[str]:
    cfn_lint = str(Path(sys.executable).with_name("cfn-lint"))  # the one installed beside this interpreter
    command = [cfn_lint, "--format", "parseable", "-a", "cfn_lint_serverless.rules"]
    finished = subprocess.run(
        [*command, "-c", "I", "--", str(template)], capture_output=True, text=True, check=False, timeout=300
    )
    assert finished.returncode in (0, 2, 4, 6, 8, 10, 12, 14), finished.stderr  # bit flags: error, warning, info
    return Counter(line.split(":")[5] for line in finished.stdout.splitlines() if line.count(":") >= 6)


def test_the_serverless_and_informational_rules_find_nothing_but_the_accepted() -> None:
    assert findings(REPO / "template.yaml") == Counter({rule: count for rule, (count, _) in ACCEPTED.items()})


def test_the_rules_do_report_a_regression(tmp_path: Path) -> None:
    """Guards the scan itself: a queue left without explicit deletion policies is reported (I3011, twice)."""
    policies = "    DeletionPolicy: Delete\n    UpdateReplacePolicy: Delete\n"
    weakened = tmp_path / "template.yaml"
    weakened.write_text((REPO / "template.yaml").read_text().replace(policies, "", 1))
    assert findings(weakened)["I3011"] == 2
