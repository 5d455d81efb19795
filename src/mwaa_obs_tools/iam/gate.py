"""The gate in front of moto server and the MWAA Serverless simulator: every call signed with a restricted principal's
credentials is authorised against that principal's policies, as IAM holds them, before the emulator sees it.

Restricted principals are the role sessions the harness hands to a function (`restrict`), and the sessions they
assume in turn (the reader roles of central mode). Every other signature (the harness's dummy keys, an operator's)
stands for an administrator and passes unchecked, as the tests' own setup must.

A denial is answered as the service answers it (wire.denial), so botocore raises the ClientError AWS would raise.
AssumeRole is checked against the target role's trust policy too, and the credentials it hands out are restricted
to that role.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any
from xml.etree import ElementTree

from mwaa_obs_tools.iam import actions, wire
from mwaa_obs_tools.iam.evaluator import ALLOWED, EXPLICITLY_DENIED, Check, Evaluator

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """A session of a role, as STS handed it out."""

    role_arn: str  # arn:aws:iam::ACCOUNT:role/NAME
    session: str

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[1]

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.session}"


@dataclass(frozen=True)
class Denied:
    """A call IAM refused: what the service answers with."""

    check: Check
    text: str


@dataclass
class Stats:
    """What the gate did: calls checked, calls denied, and the time it took (make bench: iam)."""

    calls: int = 0
    denied: int = 0
    seconds: float = 0.0
    denials: list[str] = field(default_factory=list)  # every denial's message (tests deny on purpose, rarely)


class Gate:
    """The registry of restricted principals and the authoriser they answer to (one per process)."""

    def __init__(self, evaluator: Evaluator | None = None) -> None:
        self.evaluator = evaluator or Evaluator()
        self._principals: dict[str, Principal] = {}
        self._lock = threading.Lock()
        self.stats = Stats()

    def restrict(self, access_key: str, principal: Principal) -> None:
        with self._lock:
            self._principals[access_key] = principal

    def principal(self, access_key: str) -> Principal | None:
        return self._principals.get(access_key)

    def authorize(self, principal: Principal, call: actions.Call) -> Denied | None:
        """None when IAM allows every check the call needs; else the first denied check."""
        started = time.perf_counter()
        try:
            try:
                needed = actions.checks(call)
            except actions.NoRule as missing:
                text = (
                    f"User: {principal.arn} is not authorized to perform: {missing} (mwaa-obs strict IAM: no rule "
                    "says what this call is authorised as; teach mwaa_obs_tools/iam/actions.py)"
                )
                return self._denied(Check(str(missing), "*"), text)
            policies = _identity_policies(principal)
            for check in needed:
                decided = self._decide(principal, policies, check)
                if decided != ALLOWED:
                    action = wire.spelt(call.service, check.action)
                    text = wire.message(principal.arn, action, check.resource, decided == EXPLICITLY_DENIED)
                    return self._denied(check, text)
            return None
        finally:
            with self._lock:
                self.stats.calls += 1
                self.stats.seconds += time.perf_counter() - started

    def authorize_api(self, authorization: str, operation: str, params: dict[str, Any]) -> Denied | None:
        """The MWAA Serverless simulator's call (JSON 1.0: `params` is the body), for a restricted principal."""
        signed = wire.signature(authorization)
        principal = self.principal(signed.access_key) if signed else None
        if principal is None or signed is None:
            return None
        call = actions.Call("mwaa-serverless", operation, params, signed.region, principal.account)
        return self.authorize(principal, call)

    def _decide(self, principal: Principal, policies: str, check: Check) -> str:
        if check.action == "sts:AssumeRole":
            trust = _trust_policy(check.resource)
            if trust is None:
                return "ImplicitlyDenied"  # no such role: AWS denies the AssumeRole
            context = dict(check.context) | {
                "aws:PrincipalArn": principal.role_arn,
                "aws:PrincipalAccount": principal.account,
            }
            check = Check.of(check.action, check.resource, context, resource_policy=trust)
        return self.evaluator.decide(policies, principal.arn, principal.account, check)

    def _denied(self, check: Check, text: str) -> Denied:
        with self._lock:
            self.stats.denied += 1
            self.stats.denials.append(text)
        logger.warning("strict IAM denied: %s", text)
        return Denied(check, text)

    # --- in front of moto server (WSGI) ---------------------------------------------------------------------------

    def wsgi(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """moto's WSGI application behind the gate."""

        def gated(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            signed = wire.signature(environ.get("HTTP_AUTHORIZATION", ""))
            principal = self.principal(signed.access_key) if signed else None
            if principal is None or signed is None:
                return app(environ, start_response)
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            try:
                request = wire.read(environ, body, signed, principal.account)
            except actions.NoRule as missing:
                denied = self._denied(Check(str(missing), "*"), f"mwaa-obs strict IAM cannot read: {missing}")
                return _answer(start_response, _unreadable(denied))
            denied_call = self.authorize(principal, request.call)
            if denied_call is not None:
                return _answer(start_response, wire.denial(request, denied_call.text))
            environ["wsgi.input"] = BytesIO(body)
            if request.call.service == "sts" and request.call.operation == "AssumeRole":
                return self._restricting_assumed(app, environ, start_response, request.call)
            return app(environ, start_response)

        return gated

    def _restricting_assumed(
        self,
        app: Callable[..., Iterable[bytes]],
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        call: Any,
    ) -> Iterator[bytes]:
        """A restricted principal's AssumeRole: the credentials handed out are restricted to the role assumed."""
        answer = b"".join(app(environ, start_response))
        key = ElementTree.fromstring(answer).find(".//{*}AccessKeyId")  # noqa: S314 - moto's own answer
        if key is not None and key.text:
            self.restrict(key.text, Principal(call.params["RoleArn"], call.params["RoleSessionName"]))
        yield answer


def _answer(start_response: Callable[..., Any], response: wire.Response) -> list[bytes]:
    status, headers, payload = response
    start_response(f"{status} Denied", [*headers, ("Content-Length", str(len(payload)))])
    return [payload]


def _unreadable(denied: Denied) -> wire.Response:
    payload = json.dumps({"__type": "AccessDeniedException", "message": denied.text}).encode()
    return 403, [("Content-Type", "application/json")], payload


def _role(role_arn: str) -> Any:
    from moto.iam.models import iam_backends  # noqa: PLC0415 - the emulator's IAM, in this process

    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[1]
    try:
        return iam_backends[account]["aws"].get_role(name)
    except Exception:
        return None


def _identity_policies(principal: Principal) -> str:
    """The role's inline and attached policies as IAM holds them (the stack's as deployed), one JSON list."""
    role = _role(principal.role_arn)
    if role is None:
        return "[]"  # a deleted role allows nothing
    documents = [json.loads(document) for _, document in sorted(role.policies.items())]
    for policy in role.managed_policies.values():
        documents.append(json.loads(next(v.document for v in policy.versions if v.is_default)))
    return json.dumps(documents, sort_keys=True)


def _trust_policy(role_arn: str) -> str | None:
    role = _role(role_arn)
    if role is None:
        return None
    document = role.assume_role_policy_document
    return json.dumps(json.loads(document) if isinstance(document, str) else document, sort_keys=True)


GATE = Gate()  # the process's: moto server and the simulator, when they serve in this process, answer to it
