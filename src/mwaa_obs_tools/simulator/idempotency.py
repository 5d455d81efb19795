"""ClientToken, which CreateWorkflow ("prevents duplicate workflow creation requests") and StartWorkflowRun
("prevents duplicate workflow run requests") take, and no other operation (botocore's model; botocore fills in a
UUID when the caller gives none, so every call carries one).

A retried request with the same token and the same parameters answers what the first one did, without doing it
again. ASSUMED (AWS's convention, not documented for this service): the same token with other parameters is a
ConflictException, and a token is remembered for 24 hours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mwaa_obs_tools.simulator.errors import conflict

TOKEN_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class Remembered:
    request: str  # the request's parameters but the token, canonical JSON
    at: datetime
    resource_type: str
    resource_id: str  # what the first request made (a workflow id, a run id)


class ClientTokens:
    """The tokens of one account and region, by operation."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], Remembered] = {}

    def made(self, operation: str, body: dict[str, Any], now: datetime) -> str | None:
        """The id of what an earlier request with this token made, or None for a new token (or none)."""
        token = body.get("ClientToken")
        if token is None:
            return None
        remembered = self._seen.get((operation, token))
        if remembered is None or now - remembered.at > TOKEN_LIFETIME:
            return None
        if remembered.request != _canonical(body):
            raise conflict(
                remembered.resource_type,
                remembered.resource_id,
                f"ClientToken {token} was already used with other parameters for {operation}",
            )
        return remembered.resource_id

    def remember(
        self, operation: str, body: dict[str, Any], now: datetime, resource_type: str, resource_id: str
    ) -> None:
        token = body.get("ClientToken")
        if token is not None:
            self._seen[(operation, token)] = Remembered(_canonical(body), now, resource_type, resource_id)


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in body.items() if k != "ClientToken"}, sort_keys=True, default=str)
