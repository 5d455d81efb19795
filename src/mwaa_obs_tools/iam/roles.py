"""The functions' roles as a deployment holds them, and the functions' calls signed with them.

Roles: each AWS::IAM::Role of a template, its references resolved as CloudFormation resolves them and its
conditions (IsCentral, HasSlackSecret, HasCustomerManagedKey...) as deployed, written into the emulator's IAM.
(moto's CloudFormation stores a role's inline policies as Python reprs with `None` for AWS::NoValue, and gives a
log group's GetAtt Arn without the ":*" CloudFormation gives: what it made is overwritten with the true documents.)

Credentials: a function runs with a session of its role (STS AssumeRole, as Lambda does), restricted by the gate.
The layer's clients all come from one botocore session (mwaa_obs.aws); `sign_as_acting` makes that session hand
out the credentials of the function that is acting (`acting_as`) to every client made meanwhile, at import (Lambda's
init phase) and during an invocation, so that in-process handlers, which share the session, each sign as their own
role. Outside `acting_as` it hands out what it always did: the harness's dummy keys, which stand for an operator.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any

import botocore.session
from botocore.credentials import Credentials

from mwaa_obs_tools import emulator
from mwaa_obs_tools.iam.gate import GATE, Gate, Principal
from mwaa_obs_tools.sample_events import ACCOUNT, REGION

_acting: ContextVar[Credentials | None] = ContextVar("mwaa_obs_acting_credentials", default=None)


@dataclass(frozen=True)
class RoleDocuments:
    """A role as IAM holds it: its trust policy and its inline policies, references resolved."""

    trust: dict[str, Any]
    policies: dict[str, dict[str, Any]]


def template_roles(
    template: Mapping[str, Any], refs: Mapping[str, Any], attributes: Mapping[str, Any], conditions: Mapping[str, bool]
) -> dict[str, RoleDocuments]:
    """Every role of the template (that its conditions create) by logical id, as CloudFormation would create it."""
    roles = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role" or not conditions.get(resource.get("Condition", ""), True):
            continue
        properties = emulator.resolve(resource["Properties"], refs, attributes, conditions)
        policies = {policy["PolicyName"]: policy["PolicyDocument"] for policy in properties.get("Policies", [])}
        roles[logical_id] = RoleDocuments(properties["AssumeRolePolicyDocument"], policies)
    return roles


def function_roles(template: Mapping[str, Any]) -> dict[str, str]:
    """Each function's role, by logical ids (`Role: !GetAtt XRole.Arn`)."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        role = resource.get("Properties", {}).get("Role") if resource["Type"] == "AWS::Serverless::Function" else None
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            target = role["Fn::GetAtt"]
            found[logical_id] = (target if isinstance(target, str) else ".".join(target)).split(".")[0]
    return found


def log_group_arn(region: str, account: str, name: str) -> str:
    """GetAtt LogGroup.Arn as CloudFormation gives it: with ":*" (AWS::Logs::LogGroup return values)."""
    return f"arn:aws:logs:{region}:{account}:log-group:{name}:*"


def write_roles(iam: Any, names: Mapping[str, str], roles: Mapping[str, RoleDocuments], *, create: bool) -> None:
    """Put the documents on the roles named (logical id -> role name), creating them first if `create`."""
    for logical_id, documents in roles.items():
        name = names[logical_id]
        trust = json.dumps(documents.trust)
        if create:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        else:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            for stale in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=stale)
        for policy_name, document in documents.policies.items():
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))


def assume(sts: Any, role_arn: str, session_name: str, gate: Gate = GATE) -> Credentials:
    """A session of the role, as Lambda gets one for a function, restricted by the gate. `sts`: an operator's client."""
    answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    gate.restrict(answer["AccessKeyId"], Principal(role_arn, session_name))
    return Credentials(answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"])


def as_environment(credentials: Credentials) -> dict[str, str]:
    """The credentials as a process's environment carries them (a CLI run as that principal)."""
    frozen = credentials.get_frozen_credentials()
    return {
        "AWS_ACCESS_KEY_ID": frozen.access_key or "",
        "AWS_SECRET_ACCESS_KEY": frozen.secret_key or "",
        "AWS_SESSION_TOKEN": frozen.token or "",
    }


@contextmanager
def acting_as(credentials: Credentials | None) -> Iterator[None]:
    """Clients made meanwhile from a session `sign_as_acting` prepared sign with `credentials`."""
    token = _acting.set(credentials)
    try:
        yield
    finally:
        _acting.reset(token)


def acting(credentials: Credentials | None, handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler, each invocation acting as the function (the clients it makes lazily sign as its role)."""

    @wraps(handler)
    def invoke(*args: Any, **kwargs: Any) -> Any:
        with acting_as(credentials):
            return handler(*args, **kwargs)

    return invoke


def sign_as_acting(session: botocore.session.Session) -> None:
    """Make the session hand out the acting function's credentials to the clients made from it (idempotent)."""
    if getattr(session, "_mwaa_obs_acting", False):
        return
    own = session.get_credentials

    def get_credentials() -> Credentials | None:
        return _acting.get() or own()

    session.get_credentials = get_credentials  # type: ignore[method-assign]
    session._mwaa_obs_acting = True  # type: ignore[attr-defined]


def named_references(
    template: Mapping[str, Any], refs: Mapping[str, Any], region: str, account: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What Ref and GetAtt Arn give for the template's resources that have a name of their own (queues, topics,
    parameters, log groups), as a deployment of those names would give them; `refs`: parameters and pseudo
    parameters."""
    refs, attributes = dict(refs), {}
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::SQS::Queue":
            name = emulator.resolve(properties["QueueName"], refs, {})
            refs[logical_id] = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            attributes[f"{logical_id}.Arn"] = f"arn:aws:sqs:{region}:{account}:{name}"
            attributes[f"{logical_id}.QueueName"] = name
        elif kind == "AWS::SNS::Topic":
            refs[logical_id] = f"arn:aws:sns:{region}:{account}:{emulator.resolve(properties['TopicName'], refs, {})}"
        elif kind == "AWS::SSM::Parameter":
            refs[logical_id] = emulator.resolve(properties["Name"], refs, {})
        elif kind == "AWS::Logs::LogGroup":
            attributes[f"{logical_id}.Arn"] = log_group_arn(
                region, account, emulator.resolve(properties["LogGroupName"], refs, {})
            )
    return refs, attributes


class FunctionRoles:
    """The template's function roles deployed into the emulator under names of one environment (the tests' and the
    bench's, which run the handlers without a stack), and a session of each, restricted by the gate."""

    def __init__(
        self, iam: Any, sts: Any, template: Mapping[str, Any], parameters: Mapping[str, Any], prefix: str
    ) -> None:
        self._iam, self._sts, self._prefix = iam, sts, prefix
        self._functions = function_roles(template)
        values = {name: spec.get("Default") for name, spec in template["Parameters"].items()} | dict(parameters)
        refs = emulator.typed_parameters(template, values) | {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": prefix,
        }
        named, attributes = named_references(template, refs, REGION, ACCOUNT)
        self.documents = template_roles(template, named, attributes, emulator.conditions(template, refs))
        self._credentials: dict[str, Credentials] = {}

    def role_name(self, role_logical_id: str) -> str:
        return f"{self._prefix}-{role_logical_id}"

    def ensure(self) -> None:
        """Create the roles unless they exist (an emulator reset removes them)."""
        from moto.iam.models import iam_backends  # noqa: PLC0415 - a look at the emulator's IAM, in this process

        existing = {role.name for role in iam_backends[ACCOUNT]["aws"].get_roles()}
        missing = {
            logical_id: docs
            for logical_id, docs in self.documents.items()
            if self.role_name(logical_id) not in existing
        }
        write_roles(self._iam, {logical_id: self.role_name(logical_id) for logical_id in missing}, missing, create=True)

    def credentials(self, function_logical_id: str) -> Credentials:
        if function_logical_id not in self._credentials:
            role = self.role_name(self._functions[function_logical_id])
            self._credentials[function_logical_id] = assume(
                self._sts, f"arn:aws:iam::{ACCOUNT}:role/{role}", f"{self._prefix}-{function_logical_id}"
            )
        return self._credentials[function_logical_id]

    @contextmanager
    def as_function(self, function_logical_id: str) -> Iterator[None]:
        """Meanwhile, clients made (and calls of the clients made) sign as the function's role."""
        self.ensure()
        with acting_as(self.credentials(function_logical_id)):
            yield

    def acting(self, function_logical_id: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        """The handler invoked as the function: its roles made sure of, its credentials acting."""
        credentials = self.credentials(function_logical_id)

        @wraps(handler)
        def invoke(*args: Any, **kwargs: Any) -> Any:
            self.ensure()
            with acting_as(credentials):
                return handler(*args, **kwargs)

        return invoke
