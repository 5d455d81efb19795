"""The emulator as the local stack talks to it: clients in any account and region, CloudWatch Logs lines, and the
simulator's side effects (its events and task logs) sent into it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import botocore.session

from mwaa_obs.events import Place
from mwaa_obs_tools.simulator.events import MAX_EVENTS_PER_PUT


def client(endpoint: str, service: str, place: Place | None = None, *, credentials: Any = None) -> Any:
    """A client of the emulator; with `place`, acting in that account (moto's x-moto-account-id) and region; with
    `credentials` (botocore's frozen credentials), signed with them (else the harness's, an operator's)."""
    region = place.region if place else "us-east-1"
    keys = (
        {
            "aws_access_key_id": credentials.access_key,
            "aws_secret_access_key": credentials.secret_key,
            "aws_session_token": credentials.token,
        }
        if credentials
        else {}
    )
    made = botocore.session.get_session().create_client(service, endpoint_url=endpoint, region_name=region, **keys)
    if place is not None:

        def act_in_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = place.account

        made.meta.events.register("before-sign", act_in_account)
    return made


def write_log_lines(
    logs: Any,
    group: str,
    stream: str,
    lines: list[tuple[datetime, str]],
    known: set[tuple[str, str]],
    *,
    group_exists: bool = False,
) -> None:
    """Put the lines into the stream, creating its group (unless it exists) and the stream first unless `known` has
    them."""
    if (group, stream) not in known:
        creations = [] if group_exists else [(logs.create_log_group, {"logGroupName": group})]
        creations.append((logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}))
        for create, kwargs in creations:
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                create(**kwargs)
        known.add((group, stream))
    events = [{"timestamp": int(at.timestamp() * 1000), "message": message} for at, message in lines]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


class EmulatorSink:
    """The simulator's side effects, sent to the emulator: events to the default bus, task logs to CloudWatch."""

    def __init__(self, endpoint: str, place: Place | None = None) -> None:
        self._events = client(endpoint, "events", place)
        self._logs = client(endpoint, "logs", place)
        self._streams: set[tuple[str, str]] = set()
        # What happens to each event on its way to the bus: tests lose or trim some (None: lost).
        self.on_the_way: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda entry: entry

    def publish(self, entries: list[dict[str, Any]]) -> None:
        entries = [passed for entry in entries if (passed := self.on_the_way(entry)) is not None]
        for start in range(0, len(entries), MAX_EVENTS_PER_PUT):
            batch = [{**entry, "EventBusName": "default"} for entry in entries[start : start + MAX_EVENTS_PER_PUT]]
            response = self._events.put_events(Entries=batch)
            if response.get("FailedEntryCount"):
                raise RuntimeError(f"EventBridge refused events: {response['Entries']}")

    def log(self, group: str, stream: str, at: datetime, message: str) -> None:
        write_log_lines(self._logs, group, stream, [(at, message)], self._streams)
