"""The policy evaluator: @cloud-copilot/iam-simulate in a Node sidecar (evaluate.cjs), its answers remembered.

A decision depends only on the policies, the principal, the action, the resource and the context, so each is asked
once: the local stack and the tests repeat the same few hundred checks tens of thousands of times.

iam-simulate reads a `*` in the request's resource as a wildcard (it answers "could this principal act on some
resource like this?"): an Allow on alarm:mwaa-obs-* then allows a request on alarm:*, and any Allow allows a request
on "*" when the action has resource types. AWS compares the request's resource as a literal string. So a `*` inside
a request's ARN is sent as U+2217, which only a policy's own wildcard matches; and a check on "*" itself (an
operation AWS documents as needing a grant "scoped to *", like PutCompositeAlarm) is evaluated against the Allow
statements whose Resource is "*" (every Deny and NotResource statement kept), as AWS's literal comparison would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

SIDECAR: Final = Path(__file__).with_name("evaluate.cjs")
# `make venv` installs the evaluator (package.json beside this file, pinned by package-lock.json) here.
MODULES: Final = Path(sys.prefix) / "iam-simulate"
LITERAL_STAR: Final = "\u2217"  # a request ARN's "*", which iam-simulate would read as a wildcard
ALLOWED: Final = "Allowed"
EXPLICITLY_DENIED: Final = "ExplicitlyDenied"


class EvaluatorMissing(RuntimeError):
    """The evaluator is not installed: every check would have to pass or fail blindly."""


class InvalidCheck(RuntimeError):
    """iam-simulate refused the request itself (an action IAM does not have, an ARN of the wrong resource type):
    a mistake in mwaa_obs_tools.iam, never a denial."""


@dataclass(frozen=True)
class Check:
    """One authorisation AWS makes for a call: an action on a resource, with the request's condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str | tuple[str, ...]], ...] = ()
    resource_policy: str | None = None  # JSON, for calls authorised by the resource's own policy too (AssumeRole)

    @staticmethod
    def of(action: str, resource: str, context: dict[str, Any] | None = None, **extra: Any) -> Check:
        items = tuple(
            sorted(
                (key, tuple(value) if isinstance(value, list | tuple) else value)
                for key, value in (context or {}).items()
            )
        )
        return Check(action, resource, items, **extra)


@dataclass
class Evaluator:
    """One Node process per Python process, started at the first check; thread-safe (moto serves from threads)."""

    modules: Path = MODULES
    _process: subprocess.Popen[str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _decided: dict[tuple[str, str, Check], str] = field(default_factory=dict)
    asked: int = 0  # checks sent to the sidecar (the rest were remembered)
    checked: int = 0

    def decide(self, policies: str, principal: str, account: str, check: Check) -> str:
        """Allowed, ImplicitlyDenied or ExplicitlyDenied. `policies`: the principal's identity policies, a JSON list."""
        key = (policies, principal, check)
        with self._lock:
            self.checked += 1
            decided = self._decided.get(key)
            if decided is None:
                decided = self._ask(policies, principal, account, check)
                self._decided[key] = decided
            return decided

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                self._process.stdin.close()  # type: ignore[union-attr]
                self._process.wait(timeout=10)
                self._process = None

    def _ask(self, policies: str, principal: str, account: str, check: Check) -> str:
        process = self._started()
        documents = json.loads(policies)
        if check.resource == "*":
            documents = [_only_statements_on_everything(document) for document in documents]
        request = {
            "policies": documents,
            "resourcePolicy": json.loads(check.resource_policy) if check.resource_policy else None,
            "principal": principal,
            "action": check.action,
            "resource": check.resource if check.resource == "*" else check.resource.replace("*", LITERAL_STAR),
            "account": account,
            "context": {key: list(value) if isinstance(value, tuple) else value for key, value in check.context},
        }
        process.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]
        answer = json.loads(process.stdout.readline())  # type: ignore[union-attr]
        self.asked += 1
        if "error" in answer:
            raise InvalidCheck(f"iam-simulate refused {check.action} on {check.resource}: {answer['error']}")
        result: str = answer["result"]
        return result

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None:
            node = shutil.which("node")
            if node is None or not (self.modules / "node_modules").is_dir():
                raise EvaluatorMissing(
                    f"the IAM evaluator is not installed (node: {node}, modules: {self.modules}): run `make venv`"
                )
            self._process = subprocess.Popen(  # noqa: S603 - our own script, with the venv's modules
                [node, str(SIDECAR), str(self.modules)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
        return self._process


def _only_statements_on_everything(document: dict[str, Any]) -> dict[str, Any]:
    """The policy as it bears on a request on "*": its Allow statements that name other resources cannot match."""
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept = [
        statement
        for statement in statements
        if statement.get("Effect") == "Deny" or "NotResource" in statement or "*" in _listed(statement.get("Resource"))
    ]
    return {**document, "Statement": kept}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
