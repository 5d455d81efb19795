"""AWS clients: one botocore session per process, one client configuration for every function."""

from __future__ import annotations

from functools import cache
from typing import Any, Final

import botocore.session
from botocore.config import Config

# The error codes AWS services answer a request refused for its rate (refused, not applied: safe to ask again later)
THROTTLING_CODES: Final = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)
READ_TIMEOUT_SECONDS = 5  # a budget for AWS; the bench gives its emulator longer (bench/harness.py)


def aws_config(**overrides: Any) -> Config:
    """What every function's AWS client uses: standard retries with backoff, short timeouts."""
    return Config(
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=3,
        read_timeout=READ_TIMEOUT_SECONDS,
        **overrides,
    )


@cache
def aws_session() -> botocore.session.Session:
    """One botocore session per process: each new session reloads the endpoint data (about 50 ms of cold start)."""
    return botocore.session.get_session()


def client(service: str, endpoint_url: str | None = None) -> Any:
    """A client of `service` with the functions' configuration."""
    return aws_session().create_client(service, endpoint_url=endpoint_url, config=aws_config())


def once_client(service: str, endpoint_url: str | None = None) -> Any:
    """A client that sends each request once: for a call whose repetition after a lost answer would be seen twice
    (an alert published); its caller repeats only what was refused."""
    config = aws_config().merge(Config(retries={"mode": "standard", "max_attempts": 0}))
    return aws_session().create_client(service, endpoint_url=endpoint_url, config=config)


class LazyClient:
    """A client made at its first call: for a service most invocations never call (a client costs tens of ms of
    cold start)."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = client(self._service)
        return getattr(self._client, name)


def dynamodb_client(endpoint_url: str | None = None) -> Any:
    """The client the repositories read and write through.

    Client-side parameter validation is off: the request builder (mwaa_obs.store.update) builds well-formed requests
    and DynamoDB validates them again, while botocore's validation of an UpdateItem with a dozen attribute values
    cost a fifth of ingest CPU.
    """
    config = aws_config(parameter_validation=False)
    return aws_session().create_client("dynamodb", endpoint_url=endpoint_url, config=config)
