"""Workflows as CreateWorkflow and UpdateWorkflow make them: the S3 objects read (the definition and the code
package, each copied at the request), the definition parsed against the code package, and each request's
configuration kept as an immutable version.

What an update does not name: its Environment is replaced whole ("If you don't specify this parameter, the
workflow has no environment variables", UpdateWorkflow); the rest of an earlier version's configuration
(Description, TriggerMode, LoggingConfiguration, NetworkConfiguration, EngineVersion) carries over (ASSUMED: the
reference does not say).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mwaa_obs_tools.simulator.code_package import CodePackage
from mwaa_obs_tools.simulator.definition import DefinitionError, WorkflowDefinition, parse_definition
from mwaa_obs_tools.simulator.errors import invalid
from mwaa_obs_tools.simulator.model import Version
from mwaa_obs_tools.simulator.requests import MANUAL_ONLY, SCHEDULED

# What reads an S3 object for the service: the location (Bucket, ObjectKey, VersionId), its bytes (or text); a
# KeyError when it cannot (no such bucket, key or version).
ObjectReader = Callable[[dict[str, Any]], "bytes | str"]
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_id(rng: random.Random, length: int, alphabet: str = ID_ALPHABET) -> str:
    return "".join(rng.choices(alphabet, k=length))


def version_id(rng: random.Random) -> str:
    """32 lowercase alphanumerics, as WorkflowVersion's pattern; hex, as AWS's examples
    (`7bcd36ce4d42f5cf23bfee67a0f816c6`)."""
    return f"{rng.getrandbits(128):032x}"


class VersionMaker:
    def __init__(self, read_object: ObjectReader, rng: random.Random) -> None:
        self._read_object = read_object
        self._rng = rng

    def make(self, request: dict[str, Any], name: str, now: datetime, previous: Version | None = None) -> Version:
        """The version a CreateWorkflow (no `previous`) or UpdateWorkflow request makes."""
        code_location = (request.get("Code") or {}).get("S3Location")
        code = self._code(code_location, now) if code_location else None
        location = dict(request["DefinitionS3Location"])
        definition = dataclasses.replace(self._definition(location, code, now), name=name)
        default_mode = SCHEDULED if definition.schedule else MANUAL_ONLY

        def given(member: str, field: str, default: Any = None) -> Any:
            if member in request:
                return request[member]
            return getattr(previous, field) if previous is not None else default

        return Version(
            version_id=version_id(self._rng),
            created_at=now,
            definition=definition,
            definition_location=location,
            role_arn=request["RoleArn"],
            trigger_mode=given("TriggerMode", "trigger_mode", default_mode),
            description=given("Description", "description"),
            environment=dict(request["Environment"].get("Variables", {})) if "Environment" in request else None,
            code_location=dict(code_location) if code_location else None,
            code=code,
            logging=given("LoggingConfiguration", "logging"),
            network=given("NetworkConfiguration", "network"),
            engine_version=given("EngineVersion", "engine_version", 1),
        )

    def _read(self, location: dict[str, Any], member: str) -> bytes:
        try:
            data = self._read_object(location)
        except KeyError:
            where = f"s3://{location['Bucket']}/{location['ObjectKey']}"
            if location.get("VersionId"):
                where += f" (version {location['VersionId']})"
            raise invalid(
                f"{where}: the object cannot be read (no such bucket, key or version, or no access to it)",
                [(member, "The Amazon S3 location is inaccessible")],
            ) from None
        return data.encode() if isinstance(data, str) else data

    def _code(self, location: dict[str, Any], now: datetime) -> CodePackage:
        return CodePackage.from_object(location["ObjectKey"], self._read(location, "Code.S3Location"), now)

    def _definition(self, location: dict[str, Any], code: CodePackage | None, now: datetime) -> WorkflowDefinition:
        source = f"s3://{location['Bucket']}/{location['ObjectKey']}"
        text = self._read(location, "DefinitionS3Location").decode("utf-8", errors="replace")
        try:
            return parse_definition(text, source, now=now, code=code)
        except DefinitionError as error:
            raise invalid(str(error), [("DefinitionS3Location", str(error))]) from None
